"""The hub's part in communication: professor-bound live frames and the latest work states.

A student's frames (chat, typing, work state) and receipts for the professor
go to the hub that owns the course, keyed by professor; the professor's chat
socket long-polls ``professor_inbox_since`` on each hub of its courses
(professors are few: a poll each; students' inboxes are polled once per replica,
``CourseHub.inboxes_since``). Nothing here is durable: chat and
receipts are in the log first; typing and work states are ephemeral by design.
"""
from __future__ import annotations

import collections
from typing import Any

from actors.topology import DomainError
from actors.wakeups import INBOXES

PROFESSOR_INBOX_KEEP = 500  # frames kept per professor for a socket between two polls


class HubComms:
    """Mixed into CourseHub (uses its ``_seqs``, ``_wakeups``, ``_long_poll``, ``_ensure_ready``)."""

    def _comms_state(self) -> tuple[dict[str, collections.deque], dict[tuple[str, str], dict[str, Any]]]:
        if not hasattr(self, "_prof_inbox"):
            self._prof_inbox: dict[str, collections.deque] = {}
            self._work: dict[tuple[str, str], dict[str, Any]] = {}
        return self._prof_inbox, self._work

    async def post_professor(self, professor_id: str, message: dict[str, Any]) -> int:
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        seq = self._seqs.next()
        inbox.setdefault(professor_id, collections.deque(maxlen=PROFESSOR_INBOX_KEEP)).append((seq, message))
        self._wakeups.notify(("professor", professor_id))
        return seq

    async def post_professor_many(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Many professor-bound frames at once (receipts of a bulk message): one wake-up for all."""
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        seq = 0
        for professor_id, message in items:
            seq = self._seqs.next()
            inbox.setdefault(professor_id, collections.deque(maxlen=PROFESSOR_INBOX_KEEP)).append((seq, message))
        self._wakeups.notify_many(("professor", p) for p, _ in items)
        return seq

    async def professor_inbox_since(self, professor_id: str, seq: int, timeout: float = 15.0) -> dict[str, Any]:
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        return await self._long_poll(
            lambda: [m | {"seq": s} for s, m in inbox.get(professor_id, ()) if s > seq], timeout,
            ("professor", professor_id))

    async def deliver_many(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Many student deliveries at once (a bulk message): one wake-up for all."""
        await self._ensure_ready()
        seq = 0
        for student_id, message in items:
            seq = self._to_inbox(student_id, message)
            self._note_help(student_id, message)  # ignored help escalates, however it was sent
        if items:
            self._wakeups.notify(INBOXES)
        return seq

    async def _consent_set(self) -> set[tuple[str, str]]:
        """Who shares their work (course, student), loaded from the EventLog on first use."""
        if getattr(self, "_consent", None) is None:
            self._consent = set(map(tuple, await self._handles.log.work_consents_for_hub.remote(self.index)))
        return self._consent

    async def set_work_consent(self, professor_id: str, course_id: str, student_id: str, consent: bool,
                               stopped: dict[str, Any]) -> None:
        """The EventLog stored a consent change; revoking drops the state and tells the professor."""
        await self._ensure_ready()
        consents = await self._consent_set()
        key = (course_id, student_id)
        if consent:
            consents.add(key)
        elif key in consents:
            consents.discard(key)
            self._comms_state()[1].pop(key, None)
            await self.post_professor(professor_id, stopped)

    async def share_work(self, professor_id: str, state: dict[str, Any]) -> None:
        """Keep a student's latest work state and pass it on, only while they consent (403 otherwise)."""
        await self._ensure_ready()
        key = (state["course_id"], state["student_id"])
        if key not in await self._consent_set():
            raise DomainError(403, "consent", "share your work first: send consent: true "
                                              "(or PUT /api/student/work-view/consent)")
        self._comms_state()[1][key] = state
        await self.post_professor(professor_id, state)

    async def latest_work_state(self, course_id: str, student_id: str) -> dict[str, Any] | None:
        await self._ensure_ready()
        _, work = self._comms_state()
        return work.get((course_id, student_id))
