"""The analyses read from the derived tables (``derived.py``) instead of the whole log.

Same answers as the per-event path (``sources.prepare`` + each section's ``query``): the rollups
hold every final learning event, and each student's tail (last event) is added at read time with
the same aggregates. Used for requests over the whole log (no ``since``/``until``): the rollups are
not kept per range, so ranged requests derive their facts per request (over the whole log, then
cut to the range: ``sources.prepare``).

Session buckets that are whole multiples of the 5-minute block read the blocks; other widths read
the per-event derived rows (``analytics_facts``), still without sorting the log.
"""
from __future__ import annotations

import math
import re
from typing import Any

import duckdb
import numpy as np

from engine.analytics import comparative, derived, effectiveness, patterns
from engine.analytics.params import AnalyticsParams
from engine.analytics.sources import Session, run, span

BLOCKS = "(SELECT * FROM analytics_blocks WHERE course_id = $course)"
ACTIVITIES = "(SELECT * FROM analytics_activities WHERE course_id = $course)"
SESSIONS = "(SELECT * FROM analytics_sessions WHERE course_id = $course)"
_FACT_COLS = "student_id, activity_id, type, ts, e, seq, correct, progress, spent, gap_before, prev_type, gain"


def usable(cur: duckdb.DuckDBPyConnection, course_id: str, cap: float, p: AnalyticsParams) -> bool:
    """Whether the rollups answer exactly: a whole-log request, and the course derived with this idle
    threshold (or not derived at all: no events yet)."""
    if p.since is not None or p.until is not None:
        return False
    row = cur.execute("SELECT cap FROM analytics_courses WHERE course_id = ?", (course_id,)).fetchone()
    return row is None or row[0] == cap


def query(cur: duckdb.DuckDBPyConnection, course_id: str, activities: int, cap: float,
          p: AnalyticsParams) -> dict[str, Any]:
    """The raw analyses (as ``analytics.query`` returns them) from the derived tables."""
    v: dict[str, Any] = {"course": course_id, "cap": cap}
    who = ""
    if p.student_id:
        who, v = " AND student_id = $student", v | {"student": p.student_id}
    cur.execute("BEGIN TRANSACTION")  # every section reads the same snapshot
    try:
        cur.execute(f"CREATE OR REPLACE TEMP VIEW facts AS SELECT {_FACT_COLS} FROM analytics_facts "
                    f"WHERE course_id = {_quote(course_id)} UNION ALL SELECT {_FACT_COLS} FROM analytics_tails "
                    f"WHERE course_id = {_quote(course_id)}")
        first, last = run(cur, f"SELECT min(min_e), max(max_e) FROM {BLOCKS}", v)[0]
        session = span(first, last, p)
        blocked = session is not None and session.width_s % derived.BLOCK_S == 0
        return {"params": p, "session": session,
                "heatmap": _heatmap(cur, v, who, session, blocked),
                "activities": _bottlenecks(cur, v),
                "patterns": _patterns(cur, v, who),
                "trajectory": _trajectory(cur, v, p, session, activities, blocked),
                "interventions": effectiveness.query(
                    cur, course_id, p, activities,
                    students=f"SELECT student_id FROM analytics_tails WHERE course_id = {_quote(course_id)}")}
    finally:
        cur.execute("ROLLBACK")  # read only; the view goes with it


def _heatmap(cur: duckdb.DuckDBPyConnection, v: dict[str, Any], who: str, session: Session | None,
             blocked: bool) -> dict[str, Any]:
    cells = run(cur, f"""
        WITH h AS (SELECT student_id, block // 3600 * 3600 AS hr, sum(events) AS n FROM {BLOCKS} b
                   WHERE true{who} GROUP BY ALL)
        SELECT isodow(make_timestamp(hr * 1000000)) AS d, hour(make_timestamp(hr * 1000000)) AS h, sum(n),
               count(DISTINCT student_id)
        FROM h GROUP BY ALL ORDER BY ALL""", v)
    buckets: list[tuple] = []
    if session is not None:
        values = v | {"start": session.start, "end": session.end, "width": session.width_s}
        if blocked:  # a block lies wholly inside one bucket (both aligned to the clock)
            buckets = run(cur, f"""
                SELECT floor((block - $start) / $width)::BIGINT AS k, sum(events), count(DISTINCT student_id)
                FROM {BLOCKS} b WHERE block >= $start AND block < $end{who} GROUP BY k ORDER BY k""", values)
        else:
            buckets = run(cur, f"""
                SELECT floor((e - $start) / $width)::BIGINT AS k, count(*), count(DISTINCT student_id)
                FROM facts WHERE e >= $start AND e < $end{who} GROUP BY k ORDER BY k""", values)
    return {"cells": cells, "buckets": buckets}


def _bottlenecks(cur: duckdb.DuckDBPyConnection, v: dict[str, Any]) -> list[tuple]:
    # one row per student and activity: started = rows, completed = rows with a completion
    return run(cur, f"""
        SELECT nullif(activity_id, '') AS activity_id, count(*), count(*) FILTER (WHERE done > 0), sum(attempts),
               sum(errors), sum(hints), median(spent)
        FROM {ACTIVITIES} a GROUP BY ALL""", v)


def _patterns(cur: duckdb.DuckDBPyConnection, v: dict[str, Any], who: str) -> dict[str, list]:
    events = run(cur, f"""
        WITH t AS (SELECT hour(make_timestamp(block * 1000000)) AS hr, after_hint, sum(attempts) AS a,
                          sum(correct) AS c, sum(done) AS d, sum(spent) AS s
                   FROM {BLOCKS} b WHERE true{who} GROUP BY ALL)
        SELECT GROUPING(hr) = 0 AS by_hour, hr AS hour, after_hint, sum(a), sum(c), sum(d), sum(s)
        FROM t GROUP BY GROUPING SETS ((hr), (after_hint))""", v)
    groups = run(cur, f"""
        WITH sessions AS (
            SELECT student_id, session, (max_e - min_e + last_spent) / 60 AS minutes, attempts, correct, done,
                   active, hints, started
            FROM {SESSIONS} x WHERE true{who}),
        {patterns.GROUPS}""", v)
    return {"events": events, "groups": groups}


def _trajectory(cur: duckdb.DuckDBPyConnection, v: dict[str, Any], p: AnalyticsParams, session: Session | None,
                activities: int, blocked: bool) -> list[tuple]:
    """``comparative.query``'s answer without its students x buckets grid in SQL: per-(student, bucket)
    gains come from the rollup, the cumulative completion and its quartiles per bucket from NumPy
    (linear interpolation between order statistics, as ``quantile_cont``)."""
    if session is None:
        return []
    source, t = (BLOCKS, "block") if blocked else ("facts", "e")
    values = v | comparative.values(p, session, activities)
    nb = session.buckets
    total = run(cur, "SELECT count(*) FROM analytics_tails WHERE course_id = $course", values)[0][0]
    if not total:
        return []
    # cell = student row x (nb + 1) + bucket + 1 (bucket -1: gained before the session); the chosen
    # student's row comes back as a negative cell
    rows = _fetch(cur, f"""
        WITH s AS MATERIALIZED (SELECT student_id, (row_number() OVER () - 1)::BIGINT AS i
                                FROM analytics_tails WHERE course_id = $course)
        SELECT s.i * ($nb + 1) + least(greatest(floor(({t} - $start) / $width), -1), $nb - 1)::BIGINT + 1 AS cell,
               x.gain FROM {source} x JOIN s USING (student_id) WHERE x.gain > 0
        UNION ALL SELECT -1 - i, 0.0 FROM s WHERE student_id = $student""", values)
    mine = rows["cell"] < 0
    own = int(-1 - rows["cell"][mine][0]) if mine.any() else None
    grid = np.bincount(rows["cell"][~mine], weights=rows["gain"][~mine], minlength=total * (nb + 1))
    grid = grid.reshape(total, nb + 1)
    done = (grid[:, :1] + np.cumsum(grid[:, 1:], axis=1)) / values["n"]
    return [(k, total, *(_quantile(done[:, k], q) for q in (0.5, 0.25, 0.75)),
             None if own is None else float(done[own, k])) for k in range(nb)]


def _quantile(values: np.ndarray, q: float) -> float:
    rank = (len(values) - 1) * q
    lo_i, hi_i = math.floor(rank), math.ceil(rank)
    part = np.partition(values, [lo_i, hi_i])
    lo, hi = float(part[lo_i]), float(part[hi_i])
    return lo if lo_i == hi_i else lo + (hi - lo) * (rank - lo_i)


def _fetch(cur: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any]) -> dict[str, np.ndarray]:
    used = set(re.findall(r"\$([a-z_]+)", sql))
    return cur.execute(sql, {k: val for k, val in values.items() if k in used}).fetchnumpy()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
