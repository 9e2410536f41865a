"""The catalogue: professors, courses, rosters, alert configs; and the roster check.

Events are roster-bound: an event whose course, student or activity is not in
the catalogue is rejected with an error naming the field. Live-clock courses
also reject event times more than five minutes in the future.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.config import AlertConfig
from engine.course import Course, FoldParams
from engine.events import Event, EventBatch

MAX_FUTURE_S = 300.0
VECTOR_CHECK_MIN = 64  # batches at least this long are checked a column at a time first


@dataclass(slots=True)
class Catalog:
    professors: dict[str, dict[str, Any]] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    configs: dict[str, AlertConfig] = field(default_factory=dict)
    students: dict[str, str] = field(default_factory=dict)  # student_id -> name
    rosters: dict[str, dict[str, str]] = field(default_factory=dict)  # course -> {student: name}
    xapi_actors: dict[str, str] = field(default_factory=dict)  # xAPI actor identifier -> student_id
    _roster_ids: dict[str, pa.Array] = field(default_factory=dict, compare=False, repr=False)  # see roster_changed

    def roster_changed(self, course_id: str | None = None) -> None:
        """Call after changing a roster (None: any roster), so the column check sees it."""
        if course_id is None:
            self._roster_ids.clear()
        else:
            self._roster_ids.pop(course_id, None)

    def _roster_array(self, course_id: str) -> pa.Array:
        roster = self.rosters.get(course_id, {})
        ids = self._roster_ids.get(course_id)
        if ids is None or len(ids) != len(roster):  # the length: a second guard against a missed call
            ids = self._roster_ids[course_id] = pa.array(list(roster), pa.string())
        return ids

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
        table = getattr(events, "table", None)  # an engine.event_arrow.ArrowBatch
        if isinstance(table, pa.Table) and table.num_rows >= VECTOR_CHECK_MIN and self._all_fit(table, now):
            return []
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

    def _all_fit(self, table: pa.Table, now: float) -> bool:
        """Whether every row of a wire table fits, a column at a time (the per-event loop in
        ``Catalog.check`` then only runs to name the errors of a batch that has some)."""
        course_ids = pc.unique(table.column("course_id")).to_pylist()
        if not all(c in self.courses for c in course_ids):
            return False
        for course_id in course_ids:
            rows = table if len(course_ids) == 1 else table.filter(pc.equal(table.column("course_id"), course_id))
            if not pc.all(pc.is_in(rows.column("student_id"), value_set=self._roster_array(course_id))).as_py():
                return False
            course = self.courses[course_id]
            activities = pc.unique(rows.column("activity_id")).to_pylist()
            if not all(a is None or course.has_activity(a) for a in activities):
                return False
            if course.clock == "live":
                ahead = pc.and_(rows.column("ts_given"), pc.greater(rows.column("ts"), now + MAX_FUTURE_S))
                if pc.any(ahead).as_py():
                    return False
        return True


def _err(index: int, field_name: str, error: str) -> dict[str, Any]:
    return {"index": index, "field": field_name, "error": error}
