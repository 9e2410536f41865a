"""What every analysis starts from: the course's learning events with their derived columns.

``prepare`` reads ``student_activity_log`` for one course, learning events only
(heartbeats show presence, not learning), once per request into the cursor's
temporary ``facts`` table: the columns are derived over the course's whole log,
then the caller's time range is kept (an event's ``gain`` and ``spent`` do not
depend on where a range starts or ends). ``spent`` and ``gain`` follow the
fold's rules (docs/architecture.md "Folding rules") with the course's current
idle threshold, as the live view does (the shards fold a course again when it changes).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from engine import voiding
from engine.analytics.params import MAX_BUCKETS, AnalyticsParams

# voided xAPI statements' events never count (engine/voiding.py)
LEARNING = "course_id = $course AND type <> 'heartbeat' AND " + voiding.COUNTS_SQL

_MARK = "CASE WHEN type = 'activity_completed' THEN 1.0 WHEN type = 'progress' THEN progress END"


def prepare(cur: duckdb.DuckDBPyConnection, course_id: str, p: AnalyticsParams, cap: float) -> None:
    """Build ``facts`` (a temporary table private to this cursor): the course's learning events in
    range, each with what the analyses derive from its neighbours, computed in one pass over the
    course's whole log (a range cut first would make the first event in it gain its whole progress
    mark, and the last spend nothing):

    * ``spent``: seconds charged to the event's activity, as the fold charges them
      (``StudentState._charge_time``): its own ``duration_s`` if sent, plus the gap to the
      student's next learning event capped at the idle threshold, unless that next event sent a
      ``duration_s`` (which then replaces the gap before it); never negative;
    * ``gap_before``: seconds since the student's previous learning event (sessions split there);
    * ``prev_type``: the type of the student's previous event on the same activity;
    * ``gain``: completion points the event adds on its activity: the rise of the per-activity
      maximum progress (``activity_completed`` sets 1), as the fold keeps it.

    Every section then reads ``facts`` with plain aggregates instead of sorting the log again.
    """
    run(cur, f"""
        CREATE OR REPLACE TEMP TABLE facts AS
        SELECT * FROM (
        SELECT student_id, activity_id, type, ts, epoch(ts) AS e, seq, correct, progress,
               coalesce(duration_s, 0) + CASE WHEN lead(duration_s) OVER w IS NULL
                   THEN least(greatest(coalesce(epoch(lead(ts) OVER w) - epoch(ts), 0), 0), $cap) ELSE 0 END
                   AS spent,
               epoch(ts) - epoch(lag(ts) OVER w) AS gap_before,
               lag(type) OVER wa AS prev_type,
               greatest(coalesce({_MARK}, 0) - coalesce(max({_MARK}) OVER (wa ROWS BETWEEN UNBOUNDED PRECEDING
                                                                         AND 1 PRECEDING), 0), 0) AS gain
        FROM student_activity_log WHERE {LEARNING}
        WINDOW w AS (PARTITION BY student_id ORDER BY seq), wa AS (PARTITION BY student_id, activity_id ORDER BY seq)
        ) WHERE ts >= $since AND ts < $until""", bind(course_id, p, cap))
    if p.since is not None:  # completion reached before the range: where the trajectory starts from
        run(cur, f"""
            CREATE OR REPLACE TEMP TABLE facts_before AS
            SELECT student_id, sum(mark) AS gain FROM (
                SELECT student_id, activity_id, coalesce(max({_MARK}), 0) AS mark FROM student_activity_log
                WHERE {LEARNING} AND ts < $since GROUP BY ALL) GROUP BY ALL""", bind(course_id, p, cap))


@dataclass(frozen=True, slots=True)
class Session:
    """The span the live-session views cover, cut into equal buckets (epoch seconds)."""

    start: float
    end: float
    width_s: float

    @property
    def buckets(self) -> int:
        return max(1, math.ceil((self.end - self.start) / self.width_s))

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "bucket_minutes": self.width_s / 60,
                "buckets": self.buckets}


def bind(course_id: str, p: AnalyticsParams, cap: float) -> dict[str, Any]:
    return {"course": course_id, "cap": cap, **p.sql()}


def session(cur: duckdb.DuckDBPyConnection, p: AnalyticsParams) -> Session | None:
    """(After ``prepare``.) The last ``session_minutes`` of the range that holds events (None: no events at all).

    Buckets are aligned to the clock (a 5-minute bucket starts at :00, :05, ...) and widened when
    the span would need more than ``MAX_BUCKETS`` of them.
    """
    first, last = run(cur, "SELECT min(e), max(e) FROM facts", {})[0]
    return span(first, last, p)


def span(first: float | None, last: float | None, p: AnalyticsParams) -> Session | None:
    """The session from the first and last learning event times (epoch seconds)."""
    if last is None:
        return None
    end = float(last) + 1e-6 if p.until is None else min(float(p.until), float(last) + 1e-6)
    start = max(float(first), end - 60 * p.session_minutes)
    if p.since is not None:
        start = max(start, float(p.since))
    width = 60.0 * p.bucket_minutes
    if (end - start) / width > MAX_BUCKETS:
        width = 60.0 * math.ceil((end - start) / MAX_BUCKETS / 60)
    start = math.floor(start / width) * width
    return Session(start, end, width)


def run(cur: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any]) -> list[tuple]:
    """Execute with only the ``$names`` the statement uses (DuckDB refuses unused ones)."""
    used = set(re.findall(r"\$([a-z_]+)", sql))
    return cur.execute(sql, {k: v for k, v in values.items() if k in used}).fetchall()
