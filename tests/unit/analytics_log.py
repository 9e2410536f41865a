"""A constructed event log in an in-memory DuckDB with the real schema (engine/schema.sql)."""
from __future__ import annotations

from datetime import datetime
from importlib import resources

import duckdb

from engine.course import Activity, Course


class Log:
    def __init__(self, course_id: str = "c1", activities: int = 3, expected_minutes: float = 5) -> None:
        self.db = duckdb.connect()
        self.db.execute(resources.files("engine").joinpath("schema.sql").read_text())
        self.course = Course(course_id, "p1", "Course", "event",
                             tuple(Activity(f"a{i}", f"A{i}", expected_minutes) for i in range(activities)))
        self.seq = 0

    def add(self, student: str, kind: str, ts: str, activity: str | None = "a0", correct: bool | None = None,
            progress: float | None = None, duration_s: float | None = None) -> None:
        self.seq += 1
        when = datetime.fromisoformat(ts.replace("Z", ""))
        self.db.execute("INSERT INTO student_activity_log VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, true, 0)",
                        (self.seq, f"e{self.seq}", student, self.course.course_id, activity, kind, when, when,
                         progress, correct, duration_s))

    def intervention(self, iid: str, student: str, kind: str, ts: str, holdout: bool = False) -> None:
        self.db.execute("INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, "
                        "kind, payload, created_at, holdout) VALUES (?, ?, ?, 'p1', ?, '{}', ?, ?)",
                        (iid, self.course.course_id, student, kind,
                         datetime.fromisoformat(ts.replace("Z", "")), holdout))

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.db.cursor()


def live(students: list[dict]) -> dict:
    """A live-progress body with the fields analytics read."""
    full = [{"name": s["student_id"], "status": "active", "current_activity_id": None, "risk": 0.0,
             "reasons": [], "time_on_task_s": 0.0, "completion": 0.0} | s for s in students]
    return {"as_of": "2026-01-07T12:00:00Z", "students": full}
