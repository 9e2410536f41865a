"""Small builders for tests: events, courses, summaries."""
from __future__ import annotations

import itertools

from engine.course import Activity, Course, FoldParams
from engine.events import Event

_ids = itertools.count(1)
T0 = 1_800_000_000.0  # a fixed epoch for event times


def ev(kind: str, student: str = "s1", activity: str | None = "a1", t: float = 0.0, *,
       course: str = "c1", progress: float | None = None, correct: bool | None = None,
       duration: float | None = None, received: float | None = None, seq: int | None = None,
       event_id: str | None = None) -> Event:
    n = next(_ids)
    e = Event(event_id or f"e{n}", student, course, activity, kind, T0 + t, progress, correct,
              duration, True, T0 + (t if received is None else received), 0, n if seq is None else seq)
    return e._replace(fingerprint=e.content_fingerprint())


def course(n_activities: int = 4, clock: str = "event", course_id: str = "c1") -> Course:
    acts = tuple(Activity(f"a{i + 1}", f"Activity {i + 1}", 10.0) for i in range(n_activities))
    return Course(course_id, "p1", "Course", clock, acts)


def params(n_activities: int = 4, idle_after_s: float = 180.0) -> FoldParams:
    return FoldParams(n_activities, idle_after_s)
