"""The catalogue: professors, courses, rosters, alert configs; and the roster check.

Events are roster-bound: an event whose course, student or activity is not in
the catalogue is rejected with an error naming the field. Live-clock courses
also reject event times more than five minutes in the future.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.config import AlertConfig
from engine.course import Course, FoldParams
from engine.events import Event, EventBatch

MAX_FUTURE_S = 300.0


@dataclass(slots=True)
class Catalog:
    professors: dict[str, dict[str, Any]] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    configs: dict[str, AlertConfig] = field(default_factory=dict)
    students: dict[str, str] = field(default_factory=dict)  # student_id -> name
    rosters: dict[str, dict[str, str]] = field(default_factory=dict)  # course -> {student: name}
    xapi_actors: dict[str, str] = field(default_factory=dict)  # xAPI actor identifier -> student_id

    def config(self, course_id: str) -> AlertConfig:
        return self.configs.get(course_id) or AlertConfig()

    def enrolled(self, course_id: str, student_id: str) -> bool:
        return student_id in self.rosters.get(course_id, ())

    def courses_of(self, professor_id: str) -> list[Course]:
        return [c for c in self.courses.values() if c.professor_id == professor_id]

    def fold_params(self, course_id: str) -> tuple[FoldParams, dict[str, float]]:
        course = self.courses[course_id]
        params = FoldParams(len(course.activities), self.config(course_id).idle_after_s)
        return params, {a.activity_id: a.expected_minutes for a in course.activities}

    def check(self, events: Iterable[Event] | EventBatch, now: float) -> list[dict[str, Any]]:
        """Errors for events that do not fit the catalogue (empty when all fit)."""
        if hasattr(events, "column"):  # EventBatch or engine.event_arrow.ArrowBatch
            rows = zip(*(events.column(n) for n in ("course_id", "student_id", "activity_id", "ts", "ts_given")))
        else:
            rows = ((e.course_id, e.student_id, e.activity_id, e.ts, e.ts_given) for e in events)
        errors = []
        horizon = now + MAX_FUTURE_S
        courses, rosters = self.courses, self.rosters
        for index, (course_id, student_id, activity_id, ts, ts_given) in enumerate(rows):
            course = courses.get(course_id)
            if course is None:
                errors.append(_err(index, "course_id", f"unknown course '{course_id}'"))
            elif student_id not in rosters.get(course_id, ()):
                errors.append(_err(index, "student_id",
                                   f"student '{student_id}' is not on the roster of '{course_id}'"))
            elif activity_id is not None and not course.has_activity(activity_id):
                errors.append(_err(index, "activity_id", f"unknown activity '{activity_id}' in course '{course_id}'"))
            elif ts_given and ts > horizon and course.clock == "live":
                errors.append(_err(index, "ts", "more than 5 minutes in the future"))
        return errors


def _err(index: int, field_name: str, error: str) -> dict[str, Any]:
    return {"index": index, "field": field_name, "error": error}
