"""The virtual office-hours queue of one course (``OfficeHoursQueue``).

Order is fair, then first come first served: students not helped in the last
``HELPED_WINDOW_S`` (12 hours: a rolling window, not the calendar day, which
reset fairness at midnight UTC in the middle of an evening session; tier 0)
before those helped already (tier 1), then by ``position`` (join
order). Deferring lets the next student go first and keeps the place right
after them (the entry takes their tier and a position between theirs and the
following one), so nobody loses their place by being polite.

Estimated waits come from the course's history of help durations (the median
of the recent ones, so one marathon session does not skew it), with a
default before there is any history. Office hours are a human, real-time
activity: times are wall-clock seconds, whatever the course clock.
"""
from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

WAITING, IN_PROGRESS, DONE, LEFT = "waiting", "in_progress", "done", "left"
DEFAULT_HELP_S = 300.0
HISTORY_KEEP = 50
MAX_TOPIC = 500
HELPED_WINDOW_S = 12 * 3600.0  # helped within this long counts as "helped today" (tier 1)


class QueueError(ValueError):
    """A queue action that cannot be done: ``status`` is the HTTP code, ``field`` names the problem."""

    def __init__(self, status: int, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.status, self.field, self.error = status, field, error


@dataclass(frozen=True, slots=True)
class Entry:
    entry_id: str
    course_id: str
    student_id: str
    topic: str
    joined_at: float
    tier: int  # 0: not helped within HELPED_WINDOW_S when joining; 1: helped already
    position: float
    state: str = WAITING
    defers: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    helped_by: str | None = None
    nudged: bool = False

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


class OfficeHoursQueue:
    """Waiting entries, sessions in progress, who was helped recently, and recent help durations."""

    def __init__(self, course_id: str, entries: Iterable[Entry] = (), durations: Iterable[float] = (),
                 helped: Iterable[tuple[str, float]] = ()) -> None:
        self.course_id = course_id
        self.entries: dict[str, Entry] = {}
        self.durations: list[float] = list(durations)[-HISTORY_KEEP:]
        self._helped_at: dict[str, float] = {}  # student -> when their latest help started
        for sid, ts in helped:
            self._helped_at[sid] = max(ts, self._helped_at.get(sid, ts))
        self._next_position = 1.0
        for e in entries:
            self._keep(e)
            self._next_position = max(self._next_position, e.position + 1)

    # -- reads ---------------------------------------------------------------

    def waiting(self) -> list[Entry]:
        """Waiting entries in the order they will be helped."""
        return sorted((e for e in self.entries.values() if e.state == WAITING),
                      key=lambda e: (e.tier, e.position))

    def in_progress(self) -> list[Entry]:
        return sorted((e for e in self.entries.values() if e.state == IN_PROGRESS),
                      key=lambda e: e.started_at or 0)

    def entry_of(self, student_id: str) -> Entry | None:
        """The student's open entry (waiting or being helped), if any."""
        for e in self.entries.values():
            if e.student_id == student_id:
                return e
        return None

    def forget(self, student_id: str) -> None:
        """Erasure: the student's entries and history go (their rows are deleted with the rest)."""
        for entry in [e for e in self.entries.values() if e.student_id == student_id]:
            self._close(entry)
        self._helped_at.pop(student_id, None)

    def helped_recently(self, student_id: str, now: float) -> bool:
        """Helped within the last ``HELPED_WINDOW_S`` (the API calls it ``helped_today``)."""
        at = self._helped_at.get(student_id)
        return at is not None and now - at < HELPED_WINDOW_S

    def typical_help_s(self) -> float:
        """Median of recent help durations; the default before there is history."""
        return statistics.median(self.durations) if self.durations else DEFAULT_HELP_S

    def estimated_waits(self, now: float) -> dict[str, float]:
        """Seconds until each waiting student is expected to be taken (one helper, sessions in turn)."""
        typical = self.typical_help_s()
        ahead = sum(max(0.0, typical - (now - (e.started_at or now))) for e in self.in_progress())
        waits = {}
        for e in self.waiting():
            waits[e.entry_id] = ahead
            ahead += typical
        return waits

    def overdue(self, now: float, max_help_s: float) -> list[Entry]:
        return [e for e in self.in_progress() if now - (e.started_at or now) > max_help_s]

    def view(self, now: float, max_help_s: float, names: dict[str, str] | None = None) -> dict[str, Any]:
        """The queue as the professor sees it."""
        names = names or {}
        waits = self.estimated_waits(now)
        waiting = [{"entry_id": e.entry_id, "student_id": e.student_id,
                    "name": names.get(e.student_id, e.student_id), "topic": e.topic, "position": i + 1,
                    "joined_at": e.joined_at, "waited_s": round(now - e.joined_at, 1),
                    "estimated_wait_s": round(waits[e.entry_id], 1), "helped_today": bool(e.tier),
                    "defers": e.defers} for i, e in enumerate(self.waiting())]
        helping = [{"entry_id": e.entry_id, "student_id": e.student_id,
                    "name": names.get(e.student_id, e.student_id), "topic": e.topic,
                    "started_at": e.started_at, "helped_by": e.helped_by,
                    "elapsed_s": round(now - (e.started_at or now), 1),
                    "over_time": now - (e.started_at or now) > max_help_s} for e in self.in_progress()]
        return {"course_id": self.course_id, "waiting": waiting, "in_progress": helping,
                "typical_help_s": round(self.typical_help_s(), 1), "history_size": len(self.durations),
                "max_help_s": max_help_s}

    # -- changes (each returns the entry it changed, to persist) ----------------

    def join(self, student_id: str, topic: str, now: float | None = None) -> tuple[Entry, bool]:
        """The student's entry and whether it is new (joining twice keeps the first place)."""
        now = time.time() if now is None else now
        topic = (topic or "").strip()
        if len(topic) > MAX_TOPIC:
            raise QueueError(422, "topic", f"must be at most {MAX_TOPIC} characters")
        current = self.entry_of(student_id)
        if current is not None:
            return current, False
        entry = Entry(f"{self.course_id}:oh_{uuid.uuid4().hex}", self.course_id, student_id, topic, now,
                      int(self.helped_recently(student_id, now)), self._next_position)
        self._next_position += 1
        return self._keep(entry), True

    def leave(self, entry_id: str, now: float | None = None) -> Entry:
        entry = self._waiting_entry(entry_id)
        return self._close(replace(entry, state=LEFT, ended_at=time.time() if now is None else now))

    def remove(self, student_id: str, now: float | None = None) -> Entry:
        """The professor takes a waiting student off the queue (recorded as left)."""
        entry = next((e for e in self.waiting() if e.student_id == student_id), None)
        if entry is None:
            raise QueueError(404, "student_id", f"student '{student_id}' is not waiting in the queue")
        return self.leave(entry.entry_id, now)

    def close(self, now: float | None = None) -> list[Entry]:
        """Office hours are over: every waiting entry is left (sessions in progress go on until
        finished). Without this, waiting entries stayed forever, across restarts."""
        now = time.time() if now is None else now
        return [self.leave(e.entry_id, now) for e in self.waiting()]

    def defer(self, entry_id: str) -> Entry:
        """Let the next student go first; keep the place right after them."""
        entry = self._waiting_entry(entry_id)
        order = self.waiting()
        i = order.index(entry)
        if i + 1 >= len(order):
            raise QueueError(409, "entry_id", "nobody is waiting behind you; there is no one to let go first")
        nxt = order[i + 1]
        after = order[i + 2] if i + 2 < len(order) else None
        position = (nxt.position + after.position) / 2 if after is not None and after.tier == nxt.tier \
            else nxt.position + 1
        self._next_position = max(self._next_position, position + 1)
        return self._keep(replace(entry, tier=nxt.tier, position=position, defers=entry.defers + 1))

    def take(self, professor_id: str, student_id: str | None = None, now: float | None = None) -> Entry:
        """Start helping ``student_id``, or the next in order when None."""
        now = time.time() if now is None else now
        order = self.waiting()
        if student_id is None:
            if not order:
                raise QueueError(404, "queue", "nobody is waiting")
            entry = order[0]
        else:
            entry = next((e for e in order if e.student_id == student_id), None)
            if entry is None:
                raise QueueError(404, "student_id", f"student '{student_id}' is not waiting in the queue")
        self._helped_at[entry.student_id] = now
        return self._keep(replace(entry, state=IN_PROGRESS, started_at=now, helped_by=professor_id))

    def finish(self, student_id: str, now: float | None = None) -> Entry:
        now = time.time() if now is None else now
        entry = next((e for e in self.in_progress() if e.student_id == student_id), None)
        if entry is None:
            raise QueueError(404, "student_id", f"student '{student_id}' is not being helped")
        self.durations = (self.durations + [max(0.0, now - (entry.started_at or now))])[-HISTORY_KEEP:]
        return self._close(replace(entry, state=DONE, ended_at=now))

    def mark_nudged(self, entry_id: str) -> Entry:
        return self._keep(replace(self.entries[entry_id], nudged=True))

    def owned(self, entry_id: str, student_id: str) -> Entry:
        """The open entry ``entry_id`` if it is ``student_id``'s: 404 unknown, 403 someone else's."""
        entry = self.entries.get(entry_id)
        if entry is None:
            raise QueueError(404, "entry_id", f"no open office-hours entry '{entry_id}'")
        if entry.student_id != student_id:
            raise QueueError(403, "entry_id", "this place in the queue is not yours")
        return entry

    # -- internals -------------------------------------------------------------

    def _waiting_entry(self, entry_id: str) -> Entry:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise QueueError(404, "entry_id", f"no open office-hours entry '{entry_id}'")
        if entry.state != WAITING:
            raise QueueError(409, "entry_id", f"entry '{entry_id}' is {entry.state}, not waiting")
        return entry

    def _keep(self, entry: Entry) -> Entry:
        if entry.state in (WAITING, IN_PROGRESS):
            self.entries[entry.entry_id] = entry
        return entry

    def _close(self, entry: Entry) -> Entry:
        self.entries.pop(entry.entry_id, None)
        return entry
