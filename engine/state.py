"""One student's state in one course, folded from events in log order.

``StudentState.apply(event, params)`` is the heart of the write side: it
changes the state and returns what changed. ``summary()`` is what the read
side (a course's live view) needs; it never reaches into this object.

Rules (docs/architecture.md, "Folding"):
- per-activity progress is the max seen; ``activity_completed`` or progress 1 sets 1;
- course completion is the unweighted mean over the course's activities;
- time on task: the gap between consecutive learning events (by event time),
  charged to the earlier event's activity, capped at ``idle_after_s``;
  ``duration_s``, when sent, replaces the gap;
- heartbeats show presence; they are not learning events.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

from engine.course import FoldParams
from engine.events import Event

TAIL_LIMIT = 40  # interactions kept for the struggling rule (window <= 20)


@dataclass(slots=True)
class ActivityProgress:
    progress: float = 0.0
    time_on_task_s: float = 0.0
    attempts: int = 0
    errors: int = 0
    hints: int = 0
    first_ts: float | None = None
    completed_ts: float | None = None


class StudentSummary(NamedTuple):
    """What a course's read model needs about one student (sent shard -> hub)."""

    course_id: str
    student_id: str
    seq: int
    completion: float
    time_on_task_s: float
    current_activity_id: str | None
    tail: str  # recent interactions on the current activity: c(orrect) x(wrong) h(int)
    started: bool
    completed_all: bool
    attempts: int
    errors: int
    hints: int
    last_learning_ts: float | None
    last_learning_received_at: float | None
    last_seen_ts: float | None
    last_event_id: str | None
    last_event_ts: float | None
    expected_s_done: float  # expected seconds of the work done so far (pace)
    current_done: bool = False  # the current activity is at progress 1 (its struggle is over)


def summary_rows(summaries: Iterable[StudentSummary]) -> list[tuple]:
    """Summaries as plain tuples for the shard -> hub call: Ray's cloudpickle reduces a NamedTuple
    in Python, per object (~2 us each), and a plain tuple in C (~0.2 us)."""
    return list(map(tuple, summaries))


def summaries_of(rows: Iterable[tuple]) -> list[StudentSummary]:
    """The summaries back from ``summary_rows`` (summaries pass through unchanged), built in C."""
    return list(map(tuple.__new__, repeat(StudentSummary), rows))


@dataclass(slots=True)
class StudentState:
    course_id: str
    student_id: str
    activities: dict[str, ActivityProgress] = field(default_factory=dict)
    current_activity_id: str | None = None
    tail: str = ""
    last_learning_ts: float | None = None
    last_learning_received_at: float | None = None
    last_learning_activity_id: str | None = None
    last_seen_ts: float | None = None
    last_event_id: str | None = None
    last_event_ts: float | None = None
    seq: int = 0
    completion_sum: float = 0.0

    def apply(self, event: Event, params: FoldParams) -> frozenset[str]:
        """Fold one event; return the names of what changed (empty for a no-op)."""
        changed = {"presence"}
        self.seq = event.seq
        self.last_event_id = event.event_id
        self.last_event_ts = event.ts
        if self.last_seen_ts is None or event.ts > self.last_seen_ts:
            self.last_seen_ts = event.ts
        if event.type == "heartbeat":
            return frozenset(changed)

        activity_id = event.activity_id or ""
        activity = self.activities.get(activity_id)
        if activity is None:
            activity = self.activities[activity_id] = ActivityProgress(first_ts=event.ts)
        self._charge_time(event, params, changed)
        if activity_id != self.current_activity_id:
            self.current_activity_id = activity_id
            self.tail = ""
            changed.add("current_activity")

        kind = event.type
        if kind == "attempt":
            activity.attempts += 1
            if not event.correct:
                activity.errors += 1
            self._push_tail("c" if event.correct else "x")
            changed.add("attempts")
        elif kind == "hint_requested":
            activity.hints += 1
            self._push_tail("h")
            changed.add("hints")
        new_progress = 1.0 if kind == "activity_completed" else (event.progress or 0.0)
        if kind in ("progress", "activity_completed") and new_progress > activity.progress:
            self.completion_sum += new_progress - activity.progress
            activity.progress = new_progress
            if new_progress >= 1.0 and activity.completed_ts is None:
                activity.completed_ts = event.ts
            changed.add("progress")

        self.last_learning_ts = event.ts
        self.last_learning_received_at = event.received_at
        self.last_learning_activity_id = activity_id
        return frozenset(changed)

    def _charge_time(self, event: Event, params: FoldParams, changed: set[str]) -> None:
        if event.duration_s is not None:
            spent, charged_to = event.duration_s, event.activity_id
        elif self.last_learning_ts is not None:
            gap = event.ts - self.last_learning_ts
            spent, charged_to = min(max(gap, 0.0), params.idle_after_s), self.last_learning_activity_id
        else:
            return
        if spent > 0 and charged_to in self.activities:
            self.activities[charged_to].time_on_task_s += spent
            changed.add("time_on_task")

    def _push_tail(self, mark: str) -> None:
        self.tail = (self.tail + mark)[-TAIL_LIMIT:]

    def completion(self, params: FoldParams) -> float:
        if params.activity_count <= 0:
            return 0.0
        return min(1.0, self.completion_sum / params.activity_count)

    def summary(self, params: FoldParams, expected_minutes: dict[str, float]) -> StudentSummary:
        # one pass over the activities (sums in the same order as sum() would: same floats)
        spent, attempts, errors, hints, expected = 0, 0, 0, 0, 0
        minutes = expected_minutes.get
        for activity_id, a in self.activities.items():
            spent += a.time_on_task_s
            attempts += a.attempts
            errors += a.errors
            hints += a.hints
            expected += 60.0 * minutes(activity_id, 0.0) * a.progress
        completion = self.completion(params)
        current = self.activities.get(self.current_activity_id)
        return StudentSummary(
            self.course_id, self.student_id, self.seq, round(completion, 4), round(spent, 1),
            self.current_activity_id, self.tail, self.last_learning_ts is not None,
            params.activity_count > 0 and completion >= 1.0 - 1e-9, attempts, errors, hints,
            self.last_learning_ts, self.last_learning_received_at, self.last_seen_ts, self.last_event_id,
            self.last_event_ts, expected, current is not None and current.progress >= 1.0)

    def detail(self) -> dict[str, Any]:
        """Per-activity breakdown for the drill-down view."""
        return {k: {"progress": a.progress, "time_on_task_s": round(a.time_on_task_s, 1),
                    "attempts": a.attempts, "errors": a.errors, "hints": a.hints,
                    "first_ts": a.first_ts, "completed_ts": a.completed_ts}
                for k, a in self.activities.items()}


def to_snapshot(state: StudentState) -> dict[str, Any]:
    """A JSON-ready copy of the state (stored in real_time_progress_snapshots)."""
    return {
        "course_id": state.course_id, "student_id": state.student_id,
        "activities": {k: [a.progress, a.time_on_task_s, a.attempts, a.errors, a.hints,
                           a.first_ts, a.completed_ts] for k, a in state.activities.items()},
        "current_activity_id": state.current_activity_id, "tail": state.tail,
        "last_learning_ts": state.last_learning_ts,
        "last_learning_received_at": state.last_learning_received_at,
        "last_learning_activity_id": state.last_learning_activity_id,
        "last_seen_ts": state.last_seen_ts, "last_event_id": state.last_event_id,
        "last_event_ts": state.last_event_ts, "seq": state.seq,
        "completion_sum": state.completion_sum,
    }


def from_snapshot(data: dict[str, Any]) -> StudentState:
    fields = dict(data)
    fields["activities"] = {k: ActivityProgress(*v) for k, v in data["activities"].items()}
    return StudentState(**fields)
