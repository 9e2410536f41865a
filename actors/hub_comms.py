"""The hub's part in communication: professor-bound live frames and the latest work states.

A student's frames (chat, typing, work state) and receipts for the professor
go to the hub that owns the course, keyed by professor; the professor's chat
socket long-polls ``professor_inbox_since`` on each hub of its courses, the
same way student sockets poll their inbox. Nothing here is durable: chat and
receipts are in the log first; typing and work states are ephemeral by design.
"""
from __future__ import annotations

import collections
from typing import Any

PROFESSOR_INBOX_KEEP = 500  # frames kept per professor for a socket between two polls
STUDENT_INBOX_KEEP = 200  # as CourseHub.deliver keeps


class HubComms:
    """Mixed into CourseHub (uses its ``_seqs``, ``_changed``, ``_long_poll``, ``_ensure_ready``)."""

    def _comms_state(self) -> tuple[dict[str, collections.deque], dict[tuple[str, str], dict[str, Any]]]:
        if not hasattr(self, "_prof_inbox"):
            self._prof_inbox: dict[str, collections.deque] = {}
            self._work: dict[tuple[str, str], dict[str, Any]] = {}
        return self._prof_inbox, self._work

    async def _wake(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def post_professor(self, professor_id: str, message: dict[str, Any]) -> int:
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        seq = self._seqs.next()
        inbox.setdefault(professor_id, collections.deque(maxlen=PROFESSOR_INBOX_KEEP)).append((seq, message))
        await self._wake()
        return seq

    async def post_professor_many(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Many professor-bound frames at once (receipts of a bulk message): one wake-up for all."""
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        seq = 0
        for professor_id, message in items:
            seq = self._seqs.next()
            inbox.setdefault(professor_id, collections.deque(maxlen=PROFESSOR_INBOX_KEEP)).append((seq, message))
        await self._wake()
        return seq

    async def professor_inbox_since(self, professor_id: str, seq: int, timeout: float = 15.0) -> dict[str, Any]:
        await self._ensure_ready()
        inbox, _ = self._comms_state()
        return await self._long_poll(
            lambda: [m | {"seq": s} for s, m in inbox.get(professor_id, ()) if s > seq], timeout)

    async def deliver_many(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Many student deliveries at once (a bulk message): one wake-up for all."""
        await self._ensure_ready()
        seq = 0
        for student_id, message in items:
            seq = self._seqs.next()
            box = self._inbox.setdefault(student_id, collections.deque(maxlen=STUDENT_INBOX_KEEP))
            box.append((seq, message))
        await self._wake()
        return seq

    async def put_work_state(self, professor_id: str, state: dict[str, Any]) -> None:
        """Keep a student's latest work state (or its end, ``shared: false``) and pass it on."""
        _, work = self._comms_state()
        key = (state["course_id"], state["student_id"])
        if state["shared"]:
            work[key] = state
        else:
            work.pop(key, None)
        await self.post_professor(professor_id, state)

    async def latest_work_state(self, course_id: str, student_id: str) -> dict[str, Any] | None:
        await self._ensure_ready()
        _, work = self._comms_state()
        return work.get((course_id, student_id))
