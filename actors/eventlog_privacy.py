"""The EventLog's part in the right of access and the right to erasure (mixed into ``EventLog``):
the SQL is engine/privacy.py; this runs it on the file and tells the shard and hubs."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from actors.topology import DomainError
from engine import privacy
from engine.events import iso


class LogPrivacy:
    """Uses the EventLog's ``catalog``, ``_registry``, ``_commit``, ``_xapi``, ``_handles``, ``_topology``,
    ``_read``."""

    # students taken off the roster whose erasure has not finished (a shard slow to catch up, a
    # failed delete): a retry carries on from here instead of answering 404 with their rows still
    # stored; -> their courses. (After a restart the roster, read from the file, still holds them.)
    _erasing: dict[str, list[str]] | None = None

    def _known_student(self, student_id: str) -> None:
        if student_id not in self.catalog.students:
            raise DomainError(404, "student_id", f"unknown student '{student_id}'")

    async def export_student(self, student_id: str) -> dict[str, Any]:
        """Every stored row about one student (the right of access)."""
        self._known_student(student_id)
        await self.wait_delivered()
        tables = await asyncio.to_thread(self._read, privacy.export, student_id)
        await self.audit("admin", "admin", "export_student", privacy.erased_id(student_id))
        return {"student_id": student_id, "exported_at": iso(time.time()), "tables": tables}

    async def _stop_new_events(self, student_id: str) -> list[str]:
        """Take the student off the roster: no new event of theirs passes from here on; -> their
        courses. A statement being checked and stored holds the xAPI desk until its events are
        queued, so it is waited for too."""
        async with self._xapi.planning:
            self._known_student(student_id)  # again: another erasure of theirs may have run meanwhile
            return self._registry.forget_student(student_id)

    async def erase_student(self, student_id: str) -> dict[str, Any]:
        """Purge one student everywhere: log rows, statements, snapshots, derived rows, live state.

        Their event ids are kept only as hashes, so a retried batch is still a duplicate. If it fails
        part way, asking again finishes it."""
        if self._erasing is None:
            self._erasing = {}
        courses = self._erasing.get(student_id)
        if courses is None:
            self._known_student(student_id)
            courses = self._erasing[student_id] = await self._stop_new_events(student_id)
        # what was queued before the cut-off must be done before the delete: a batch of theirs
        # committing after it would bring them back (a retry waits for those still running)
        await self._commit.settle_queued()
        await self.wait_delivered()
        async with self._derive_paused():  # no analytics round re-derives their rows meanwhile
            removed, events = await asyncio.to_thread(self._store.erase_student, student_id)
        self._erasing.pop(student_id, None)
        self._commit.forget(events)
        await asyncio.to_thread(self._read, lambda cur: cur.execute("CHECKPOINT"))
        shard = self._handles.shard(self._topology.shard_of(student_id))
        await shard.forget.remote(student_id)
        await asyncio.gather(*(self._handles.hub_for(cid).forget_student.remote(cid, student_id)
                               for cid in courses))
        await self.audit("admin", "admin", "erase_student", privacy.erased_id(student_id),
                         {"rows": sum(removed.values())})
        return {"student_id": student_id, "erased": removed, "courses": courses}
