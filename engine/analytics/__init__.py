"""Real-time analytics for one course: SQL over the event log plus the live view.

``query(cursor, course, idle_after_s, params)`` runs the DuckDB part (in the
process that owns the file); ``combine(raw, course, live, risk_threshold, params)``
joins it with the course's live view into the response of
``GET .../analytics/real-time``. Each section lives in its own module; every
analysis that lacks data says so (``"insufficient_data": true``) instead of
guessing. docs/researcher-guide.md says how each is computed.
"""
from __future__ import annotations

from typing import Any

import duckdb

from engine.analytics import (
    at_risk,
    bottlenecks,
    comparative,
    effectiveness,
    heatmap,
    patterns,
    rollups,
    sources,
)
from engine.analytics.params import AnalyticsParams, ParamError, parse
from engine.course import Course

__all__ = ["SECTIONS", "AnalyticsParams", "ParamError", "combine", "parse", "query"]
SECTIONS = ("heatmap", "bottlenecks", "at_risk", "patterns", "comparative", "interventions")


def query(cur: duckdb.DuckDBPyConnection, course: Course | str, idle_after_s: float,
          params: AnalyticsParams | None = None, derived: bool = False) -> dict[str, Any]:
    """``derived``: read the derived tables (kept by ``derived.catch_up``, which the caller has run up to
    the log position it wants answered) when the parameters allow; else derive from the log."""
    p = params or AnalyticsParams()
    course_id = course if isinstance(course, str) else course.course_id
    activities = 1 if isinstance(course, str) else len(course.activities)
    if derived and rollups.usable(cur, course_id, idle_after_s, p):
        return rollups.query(cur, course_id, activities, idle_after_s, p)
    sources.prepare(cur, course_id, p, idle_after_s)
    try:
        span = sources.session(cur, p)
        return {"params": p, "session": span,
                "heatmap": heatmap.query(cur, p, span),
                "activities": bottlenecks.query(cur),
                "patterns": patterns.query(cur, p, idle_after_s),
                "trajectory": comparative.query(cur, p, span, activities),
                "interventions": effectiveness.query(cur, course_id, p, activities)}
    finally:
        cur.execute("DROP TABLE IF EXISTS facts")  # its memory back at once, not when the cursor goes
        cur.execute("DROP TABLE IF EXISTS facts_before")


def combine(raw: dict[str, Any], course: Course, live: dict[str, Any], risk_threshold: float) -> dict[str, Any]:
    p: AnalyticsParams = raw["params"]
    students = live["students"]
    return {"course_id": course.course_id, "as_of": live["as_of"], "params": p.to_dict(),
            "heatmap": heatmap.shape(raw["heatmap"], raw["session"], p.student_id),
            "bottlenecks": bottlenecks.shape(raw["activities"], course, students),
            "at_risk": at_risk.shape(students, risk_threshold, live.get("risk_model")),
            "patterns": patterns.shape(raw["patterns"]),
            "comparative": comparative.shape(students, raw["trajectory"], raw["session"], p.student_id),
            "interventions": effectiveness.shape(raw["interventions"], p)}
