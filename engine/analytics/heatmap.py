"""Engagement heatmaps: when the class (or one student) works.

Two views of the same learning events: day-of-week x hour over the whole range
(``isodow``: 1 = Monday, hours in UTC), and equal buckets within the live
session (events and distinct students per bucket). ``student_id`` narrows both
to one student.
"""
from __future__ import annotations

from typing import Any

import duckdb

from engine.analytics.params import AnalyticsParams
from engine.analytics.sources import Session, run


def query(cur: duckdb.DuckDBPyConnection, p: AnalyticsParams, session: Session | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    who = ""
    if p.student_id:
        who, values = " AND student_id = $student", values | {"student": p.student_id}
    cells = run(cur, f"SELECT isodow(ts), hour(ts), count(*), count(DISTINCT student_id) "
                        f"FROM facts WHERE true{who} GROUP BY ALL ORDER BY ALL",
                        values)
    buckets: list[tuple] = []
    if session is not None:
        buckets = run(cur, 
            f"SELECT floor((e - $start) / $width)::BIGINT AS k, count(*), count(DISTINCT student_id) "
            f"FROM facts WHERE e >= $start AND e < $end{who} GROUP BY k ORDER BY k",
            values | {"start": session.start, "end": session.end, "width": session.width_s})
    return {"cells": cells, "buckets": buckets}


def shape(raw: dict[str, Any], session: Session | None, student_id: str | None) -> dict[str, Any]:
    by_bucket = {k: (n, s) for k, n, s in raw["buckets"]}
    minutes = []
    if session is not None:  # every bucket, empty ones too, so a chart has no gaps
        for k in range(session.buckets):
            n, s = by_bucket.get(k, (0, 0))
            minutes.append({"minute": session.start + k * session.width_s, "events": n, "students": s})
    return {"insufficient_data": not raw["cells"], "student_id": student_id,
            "by_weekday_hour": [{"weekday": d, "hour": h, "events": n, "students": s}
                                for d, h, n, s in raw["cells"]],
            "by_minute": minutes,
            "session": session.to_dict() if session else None}
