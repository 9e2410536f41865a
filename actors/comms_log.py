"""The EventLog's part in communication: it owns the DuckDB file, so office-hours history,
peer groups and pairs, notification preferences and the delivery log are written and read
here (each call in a worker thread, on its own cursor). Mixed into ``EventLog``."""
from __future__ import annotations

import asyncio
from typing import Any

from engine import support_store
from engine.office_hours import Entry


class CommsLog:
    _store: Any  # engine.store.Store, set by EventLog
    catalog: Any

    async def save_office_hours_entry(self, entry: Entry) -> None:
        await asyncio.to_thread(support_store.save_entry, self._store, entry)

    async def office_hours_state(self, course_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await asyncio.to_thread(support_store.office_hours_state, self._store, course_ids)

    async def office_hours_history(self, course_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return await asyncio.to_thread(support_store.office_hours_history, self._store, course_id, limit)

    async def peer_stats(self, course_id: str, activity_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(support_store.peer_stats, self._store, course_id, activity_id)

    async def save_peer_groups(self, course_id: str, activity_id: str | None, groups: list[dict[str, Any]],
                               by: str) -> None:
        await asyncio.to_thread(support_store.save_groups, self._store, course_id, activity_id, groups, by)

    async def peer_groups(self, course_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(support_store.groups_of, self._store, course_id)

    async def notification_preferences(self) -> dict[str, dict[str, Any]]:
        return await asyncio.to_thread(support_store.load_preferences, self._store)

    async def save_notification_preferences(self, professor_id: str, prefs: dict[str, Any]) -> None:
        await asyncio.to_thread(support_store.save_preferences, self._store, professor_id, prefs)

    async def save_deliveries(self, rows: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(support_store.save_deliveries, self._store, rows)

    async def last_notified(self, since: float) -> list[tuple[str, str, str, float]]:
        return await asyncio.to_thread(support_store.last_notified, self._store, since)

    async def fail_unfinished_deliveries(self, before: float, reason: str) -> int:
        return await asyncio.to_thread(support_store.fail_unfinished, self._store, before, reason)

    async def deliveries(self, professor_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return await asyncio.to_thread(support_store.deliveries, self._store, professor_id, limit)

    async def professor_email(self, professor_id: str) -> str | None:
        return (self.catalog.professors.get(professor_id) or {}).get("email")
