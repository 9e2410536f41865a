"""Bottlenecks: the activities where the class loses time, fails, asks for hints or gives up.

Per activity (SQL over the log): median time-on-task of the students who
worked on it against its expected minutes, error rate (wrong attempts /
attempts), hint rate (hints per student who started), drop-off (started, not
completed / started); ranked worst first by a weighted score, with each
measure's own rank and the students stuck there now (from the live view:
current activity is this one and status struggling or idle).
"""
from __future__ import annotations

from typing import Any

import duckdb

from engine.analytics.sources import run
from engine.course import Course

MIN_STARTED = 3
WEIGHTS = {"time": 0.35, "error_rate": 0.3, "hint_rate": 0.15, "drop_off": 0.2}


def query(cur: duckdb.DuckDBPyConnection) -> list[tuple]:
    return run(cur, """
        WITH per_student AS (SELECT activity_id, student_id, sum(spent) AS spent FROM facts GROUP BY ALL),
        times AS (SELECT activity_id, median(spent) AS median_s FROM per_student GROUP BY ALL),
        counts AS (
            SELECT activity_id, count(DISTINCT student_id) AS started,
                   count(DISTINCT student_id) FILTER (WHERE type = 'activity_completed'
                                                      OR (type = 'progress' AND progress >= 1)) AS completed,
                   count(*) FILTER (WHERE type = 'attempt') AS attempts,
                   count(*) FILTER (WHERE type = 'attempt' AND NOT correct) AS errors,
                   count(*) FILTER (WHERE type = 'hint_requested') AS hints
            FROM facts GROUP BY activity_id)
        SELECT c.activity_id, c.started, c.completed, c.attempts, c.errors, c.hints, t.median_s
        FROM counts c LEFT JOIN times t USING (activity_id)""", {})


def shape(rows: list[tuple], course: Course, students: list[dict]) -> list[dict[str, Any]]:
    by_id = {r[0]: r for r in rows}
    stuck_at: dict[str, list[str]] = {}  # current activity -> students struggling or idle there, in order
    for s in students:
        if s["status"] in ("struggling", "idle"):
            stuck_at.setdefault(s["current_activity_id"], []).append(s["student_id"])
    out = []
    for activity in course.activities:
        _, started, completed, attempts, errors, hints, median_s = by_id.get(
            activity.activity_id, (activity.activity_id, 0, 0, 0, 0, 0, None))
        expected_s = activity.expected_minutes * 60
        measures = {"time": (median_s or 0.0) / expected_s if expected_s else 0.0,
                    "error_rate": errors / attempts if attempts else 0.0,
                    "hint_rate": hints / started if started else 0.0,
                    "drop_off": (started - completed) / started if started else 0.0}
        stuck = list(stuck_at.get(activity.activity_id, ()))
        out.append({"activity_id": activity.activity_id, "title": activity.title,
                    "score": round(score(measures), 3),
                    "median_time_s": None if median_s is None else round(median_s, 1),
                    "expected_s": expected_s, "time_ratio": round(measures["time"], 3),
                    "error_rate": round(measures["error_rate"], 3), "hint_rate": round(measures["hint_rate"], 3),
                    "drop_off": round(measures["drop_off"], 3), "started": started, "completed": completed,
                    "attempts": attempts, "stuck_students": stuck, "insufficient_data": started < MIN_STARTED})
    ranked = sorted(out, key=lambda b: (b["insufficient_data"], -b["score"], b["activity_id"]))
    with_data = [b for b in ranked if not b["insufficient_data"]]
    for measure, key in (("time", "time_ratio"), ("error_rate", "error_rate"), ("hint_rate", "hint_rate"),
                         ("drop_off", "drop_off")):
        order = sorted(with_data, key=lambda b: (-b[key], b["activity_id"]))
        for i, b in enumerate(order, 1):
            b.setdefault("ranks", {})[measure] = i
    for b in ranked:
        b.setdefault("ranks", {})
    return ranked


def score(m: dict[str, float]) -> float:
    """0..1: time counts fully at twice the expected time, hints at three per student."""
    return (WEIGHTS["time"] * min(m["time"] / 2, 1.0) + WEIGHTS["error_rate"] * m["error_rate"]
            + WEIGHTS["hint_rate"] * min(m["hint_rate"] / 3, 1.0) + WEIGHTS["drop_off"] * m["drop_off"])
