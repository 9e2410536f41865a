"""Alerts and their lifecycle.

An alert opens when a student's condition (struggling, idle, behind, at_risk)
becomes true and resolves when it clears. A professor may acknowledge it
(stays until resolved) or snooze it until a time (it reopens then if the
condition still holds). Each change bumps the alert's ``seq`` so streams send
it once.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from engine.events import iso
from engine.status import PRIORITY

OPEN, ACKNOWLEDGED, SNOOZED, RESOLVED = "open", "acknowledged", "snoozed", "resolved"


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
        self.snoozed_students: set[str] = set()

    def update(self, student_id: str, conditions: Iterable[tuple[str, str]], now: float) -> list[Alert]:
        """Open alerts for new conditions, resolve those that cleared; return the changed ones."""
        holding = dict(conditions)
        changed: list[Alert] = []
        for kind, message in holding.items():
            key = (student_id, kind)
            current = self._active.get(key)
            if current is None:
                alert = Alert(_alert_id(self.course_id, student_id, kind, now), self.course_id,
                              student_id, kind, PRIORITY[kind], message, now)
                changed.append(self._store(alert))
            elif current.state == SNOOZED and current.snoozed_until is not None and now >= current.snoozed_until:
                changed.append(self._store(replace(current, state=OPEN, snoozed_until=None)))
        for kind in PRIORITY:  # a handful of kinds: no scan over every open alert of the course
            current = self._active.get((student_id, kind))
            if current is not None and kind not in holding:
                changed.append(self._store(replace(current, state=RESOLVED, resolved_ts=now)))
        return changed

    def acknowledge(self, alert_id: str) -> Alert | None:
        alert = self._by_id.get(alert_id)
        if alert is None or not alert.active:
            return alert
        return self._store(replace(alert, state=ACKNOWLEDGED))

    def snooze(self, alert_id: str, until: float) -> Alert | None:
        alert = self._by_id.get(alert_id)
        if alert is None or not alert.active:
            return alert
        return self._store(replace(alert, state=SNOOZED, snoozed_until=until))

    def forget_student(self, student_id: str) -> None:
        """Erasure: no alert, open or past, keeps naming the student."""
        for kind in PRIORITY:
            self._active.pop((student_id, kind), None)
        self._by_id = {i: a for i, a in self._by_id.items() if a.student_id != student_id}
        self.snoozed_students.discard(student_id)

    def get(self, alert_id: str) -> Alert | None:
        return self._by_id.get(alert_id)

    def active(self) -> list[Alert]:
        return sorted(self._active.values(), key=lambda a: (a.priority, a.ts))

    def since(self, seq: int) -> list[Alert]:
        return [a for a in self._by_id.values() if a.seq > seq]

    def _store(self, alert: Alert) -> Alert:
        alert = replace(alert, seq=self._next_seq())
        key = (alert.student_id, alert.kind)
        if alert.active:
            self._active[key] = alert
        else:
            self._active.pop(key, None)
        self._by_id[alert.alert_id] = alert
        if any(getattr(self._active.get((alert.student_id, k)), "state", None) == SNOOZED for k in PRIORITY):
            self.snoozed_students.add(alert.student_id)
        else:
            self.snoozed_students.discard(alert.student_id)
        if len(self._by_id) > self._history:
            self._forget_oldest_resolved()
        return alert

    def _forget_oldest_resolved(self) -> None:
        resolved = sorted((a for a in self._by_id.values() if not a.active), key=lambda a: a.seq)
        for alert in resolved[: len(self._by_id) - self._history]:
            del self._by_id[alert.alert_id]


def _alert_id(course_id: str, student_id: str, kind: str, opened: float) -> str:
    """``course:hash``: ':' is not an id character, so the course can be read back from it."""
    raw = f"{course_id}|{student_id}|{kind}|{opened:.6f}".encode()
    return f"{course_id}:{hashlib.blake2b(raw, digest_size=8).hexdigest()}"


def course_of(alert_id: str) -> str | None:
    course_id, sep, _ = alert_id.rpartition(":")
    return course_id if sep else None
