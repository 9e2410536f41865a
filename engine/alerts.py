"""Alerts and their lifecycle.

An alert opens when a student's condition (struggling, idle, behind, at_risk)
becomes true and resolves when it clears. A professor may acknowledge it
(stays until resolved) or snooze it until a time (it reopens then if the
condition still holds). Each change bumps the alert's ``seq`` so streams send
it once.
"""
from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.events import iso
from engine.status import PRIORITY

OPEN, ACKNOWLEDGED, SNOOZED, RESOLVED = "open", "acknowledged", "snoozed", "resolved"
_CHANGEABLE = frozenset({"state", "snoozed_until", "resolved_ts"})


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    course_id: str
    student_id: str
    kind: str
    priority: int
    message: str
    ts: float
    state: str = OPEN
    snoozed_until: float | None = None
    resolved_ts: float | None = None
    seq: int = 0

    @property
    def active(self) -> bool:
        return self.state != RESOLVED

    def to_wire(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "course_id": self.course_id,
                "student_id": self.student_id, "kind": self.kind, "priority": self.priority,
                "message": self.message, "ts": iso(self.ts), "state": self.state,
                "snoozed_until": iso(self.snoozed_until), "resolved_ts": iso(self.resolved_ts)}


class AlertBook:
    """The alerts of one course, keyed by (student, kind) for the active ones."""

    def __init__(self, course_id: str, next_seq: Callable[[], int], history: int = 2000) -> None:
        self.course_id = course_id
        self._next_seq = next_seq
        self._active: dict[tuple[str, str], Alert] = {}
        self._by_id: dict[str, Alert] = {}
        self._history = history
        self._opened = 0  # alerts opened by this book: part of each id (``now`` alone can repeat)
        # (seq, id) of resolved alerts in the order they resolved (= seq order): the oldest to forget.
        # A resolved alert never changes again, so an entry is stale only if the id was forgotten
        # or reused by an alert that opened since (checked when it is popped).
        self._resolved: deque[tuple[int, str]] = deque()
        self._students: dict[str, int] = {}  # student -> number of their active alerts (> 0)
        self.snoozed_students: set[str] = set()
        # the newest change ``since`` can no longer report (a forgotten alert's resolution): a reader
        # behind it needs a snapshot (engine/live_view.py)
        self.forgotten_through = 0

    def update(self, student_id: str, conditions: Iterable[tuple[str, str]], now: float) -> list[Alert]:
        """Open alerts for new conditions, resolve those that cleared; return the changed ones."""
        if not conditions and student_id not in self._students:
            return []  # nothing holds and nothing is open: the common case, checked in O(1)
        holding = dict(conditions)
        changed: list[Alert] = []
        for kind, message in holding.items():
            key = (student_id, kind)
            current = self._active.get(key)
            if current is None:
                self._opened += 1
                alert = Alert(_alert_id(self.course_id, student_id, kind, now, self._opened), self.course_id,
                              student_id, kind, PRIORITY[kind], message, now)
                changed.append(self._store(alert))
            elif current.state == SNOOZED and current.snoozed_until is not None and now >= current.snoozed_until:
                changed.append(self._store(current, state=OPEN, snoozed_until=None))
        for kind in PRIORITY:  # a handful of kinds: no scan over every open alert of the course
            current = self._active.get((student_id, kind))
            if current is not None and kind not in holding:
                changed.append(self._store(current, state=RESOLVED, resolved_ts=now))
        return changed

    def acknowledge(self, alert_id: str) -> Alert | None:
        alert = self._by_id.get(alert_id)
        if alert is None or not alert.active:
            return alert
        return self._store(alert, state=ACKNOWLEDGED)

    def snooze(self, alert_id: str, until: float) -> Alert | None:
        alert = self._by_id.get(alert_id)
        if alert is None or not alert.active:
            return alert
        return self._store(alert, state=SNOOZED, snoozed_until=until)

    def forget_student(self, student_id: str) -> None:
        """Erasure: no alert, open or past, keeps naming the student."""
        for kind in PRIORITY:
            self._active.pop((student_id, kind), None)
        self._students.pop(student_id, None)
        self._by_id = {i: a for i, a in self._by_id.items() if a.student_id != student_id}
        self.snoozed_students.discard(student_id)

    def get(self, alert_id: str) -> Alert | None:
        return self._by_id.get(alert_id)

    def active(self) -> list[Alert]:
        return sorted(self._active.values(), key=lambda a: (a.priority, a.ts))

    def since(self, seq: int) -> list[Alert]:
        return [a for a in self._by_id.values() if a.seq > seq]

    def _store(self, alert: Alert, **changes: Any) -> Alert:
        """Keep ``alert`` with ``changes`` (state, snoozed_until, resolved_ts) and a new seq. Built
        directly rather than with dataclasses.replace, which costs ~4x as much (alerts churn under load)."""
        unknown = changes.keys() - _CHANGEABLE
        if unknown:
            raise TypeError(f"an alert's {', '.join(sorted(unknown))} cannot change")
        a, get = alert, changes.get
        alert = Alert(a.alert_id, a.course_id, a.student_id, a.kind, a.priority, a.message, a.ts,
                      get("state", a.state), get("snoozed_until", a.snoozed_until),
                      get("resolved_ts", a.resolved_ts), self._next_seq())
        key = (alert.student_id, alert.kind)
        self._by_id[alert.alert_id] = alert
        if alert.active:
            if self._active.get(key) is None:
                self._students[alert.student_id] = self._students.get(alert.student_id, 0) + 1
            self._active[key] = alert
        else:
            if self._active.pop(key, None) is not None:
                self._count_down(alert.student_id)
            self._resolved.append((alert.seq, alert.alert_id))
            if len(self._resolved) > 2 * self._history:  # stale entries (forgotten or reused ids): compact
                self._resolved = deque(e for e in self._resolved if self._holds(*e))
        # a student is in snoozed_students iff one of their active alerts is snoozed: only a snooze,
        # or a change to an alert of a student already in the set, can change that
        if alert.state == SNOOZED or alert.student_id in self.snoozed_students:
            if any(getattr(self._active.get((alert.student_id, k)), "state", None) == SNOOZED for k in PRIORITY):
                self.snoozed_students.add(alert.student_id)
            else:
                self.snoozed_students.discard(alert.student_id)
        if len(self._by_id) > self._history:
            self._forget_oldest_resolved()
        return alert

    def _forget_oldest_resolved(self) -> None:
        """Drop the oldest resolved alerts (by seq) until the history fits; O(1) amortised."""
        while len(self._by_id) > self._history and self._resolved:
            seq, alert_id = self._resolved.popleft()
            if self._holds(seq, alert_id):
                del self._by_id[alert_id]
                self.forgotten_through = max(self.forgotten_through, seq)

    def _count_down(self, student_id: str) -> None:
        left = self._students[student_id] - 1
        if left:
            self._students[student_id] = left
        else:
            del self._students[student_id]

    def _holds(self, seq: int, alert_id: str) -> bool:
        held = self._by_id.get(alert_id)
        return held is not None and held.seq == seq


def _alert_id(course_id: str, student_id: str, kind: str, opened: float, nth: int) -> str:
    """``course:hash``: ':' is not an id character, so the course can be read back from it. ``nth``
    (the book's count of alerts opened) keeps a reopened alert from taking the resolved one's id: on
    an event-clock course ``opened`` (the watermark) stands still while a student's own events are
    older than the class's newest, and a reused id was taken for "already notified"."""
    raw = f"{course_id}|{student_id}|{kind}|{opened:.6f}|{nth}".encode()
    return f"{course_id}:{hashlib.blake2b(raw, digest_size=8).hexdigest()}"


def course_of(alert_id: str) -> str | None:
    course_id, sep, _ = alert_id.rpartition(":")
    return course_id if sep else None
