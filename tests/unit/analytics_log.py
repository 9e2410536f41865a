"""A constructed event log in an in-memory DuckDB with the real schema (engine/schema.sql)."""
from __future__ import annotations

import json
import math
from datetime import datetime
from importlib import resources
from typing import Any

import duckdb

from engine import analytics
from engine.analytics import derived
from engine.analytics.params import AnalyticsParams
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

    def intervention(self, iid: str, student: str, kind: str, ts: str, holdout: bool = False,
                     **payload: Any) -> None:
        """``payload``: what the record keeps beside its columns (``randomized``, ``send_id``, ...)."""
        self.db.execute("INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, "
                        "kind, payload, created_at, holdout) VALUES (?, ?, ?, 'p1', ?, ?, ?, ?)",
                        (iid, self.course.course_id, student, kind, json.dumps(payload),
                         datetime.fromisoformat(ts.replace("Z", "")), holdout))

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.db.cursor()


def live(students: list[dict]) -> dict:
    """A live-progress body with the fields analytics read."""
    full = [{"name": s["student_id"], "status": "active", "current_activity_id": None, "risk": 0.0,
             "reasons": [], "time_on_task_s": 0.0, "completion": 0.0} | s for s in students]
    return {"as_of": "2026-01-07T12:00:00Z", "students": full}


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Two raw analytics results are the same: counts and ids exactly, sums up to float rounding (the
    order DuckDB adds a column's values in is not fixed, so sums may differ in the last bits)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def canonical(raw: dict) -> dict:
    """Rows SQL returns in no particular order, sorted."""
    return raw | {"activities": sorted(raw["activities"], key=lambda r: str(r[0])),
                  "patterns": {k: sorted(v, key=lambda r: tuple(str(i) for i in r[:3]))
                               for k, v in raw["patterns"].items()},
                  "interventions": raw["interventions"] | {
                      "controls": sorted(raw["interventions"].get("controls", []), key=lambda r: r[:2])}}


def both_paths(cur: duckdb.DuckDBPyConnection, course: Course, cap: float, p: AnalyticsParams,
               caps: dict[str, float] | None = None) -> dict:
    """The analytics from the log (per event) and from the derived tables after a catch-up: asserted the
    same, returned once."""
    target = cur.execute("SELECT coalesce(max(seq), 0) FROM student_activity_log").fetchone()[0]
    derived.catch_up(cur, target, caps if caps is not None else {course.course_id: cap})
    full = analytics.query(cur, course, cap, p)
    fast = analytics.query(cur, course, cap, p, derived=True)
    assert_same(canonical(full), canonical(fast))
    return full
