"""Comparative progress: where each student stands against the class.

* Distribution (from the live view): completion and pace (completion points
  per hour of time on task) as a histogram and quantiles.
* Each student's percentile: the share of the class at or below them
  (``100 * #{c <= mine} / n``), for completion and for pace.
* Fewer than ``MIN_STUDENTS`` students who have started (live status other than
  ``not_started``): ``insufficient_data`` (a roster that has done nothing would
  put everyone at the 100th percentile of a class median of 0).
* Trajectory (SQL over the log): completion at the end of each session bucket
  for every student who has started, the class median and quartiles, and the
  chosen student's own line (``student_id``) against them.
"""
from __future__ import annotations

import statistics
from typing import Any

import duckdb
import numpy as np

from engine.analytics.params import AnalyticsParams
from engine.analytics.sources import Session, run

MIN_STUDENTS = 3


def query(cur: duckdb.DuckDBPyConnection, p: AnalyticsParams, session: Session | None,
          activities: int) -> list[tuple]:
    if session is None:
        return []
    by_bucket = """SELECT student_id, least(greatest(floor((e - $start) / $width), -1), $nb - 1)::BIGINT AS k,
                          gain FROM facts WHERE gain > 0"""
    started = "SELECT student_id FROM facts"
    if p.since is not None:  # the range starts later: what each student had reached by then (sources.prepare)
        by_bucket += " UNION ALL SELECT student_id, -1, gain FROM facts_before WHERE gain > 0"
        started += " UNION SELECT student_id FROM facts_before"
    return run(cur, TRAJECTORY.format(
        by_bucket=f"SELECT student_id, k, sum(gain) AS gain FROM ({by_bucket}) GROUP BY ALL",
        started=f"SELECT DISTINCT student_id FROM ({started})"), values(p, session, activities))


def values(p: AnalyticsParams, session: Session, activities: int) -> dict:
    return {"start": session.start, "width": session.width_s, "nb": session.buckets,
            "n": max(activities, 1), "student": p.student_id or ""}


# the trajectory from per-(student, bucket) gains (``by_bucket``, bucket -1: before the session) and the
# students who have started; shared by the per-event path and the rollups (engine/analytics/rollups.py)
TRAJECTORY = """
        WITH b AS ({by_bucket}),
        base AS (SELECT student_id, gain FROM b WHERE k = -1),
        started AS ({started}),
        grid AS (SELECT s.student_id, r.k FROM started s CROSS JOIN range(0, $nb) r(k)),
        cum AS (SELECT g.student_id, g.k,
                       (coalesce(base.gain, 0) + sum(coalesce(b.gain, 0)) OVER (PARTITION BY g.student_id ORDER BY g.k))
                           / $n AS done
                FROM grid g LEFT JOIN b ON b.student_id = g.student_id AND b.k = g.k
                LEFT JOIN base ON base.student_id = g.student_id)
        SELECT k, count(*), quantile_cont(done, 0.5), quantile_cont(done, 0.25), quantile_cont(done, 0.75),
               max(done) FILTER (WHERE student_id = $student)
        FROM cum GROUP BY k ORDER BY k"""


def percentiles(values: np.ndarray, ordered: np.ndarray) -> list[float]:
    """Each value's percentile among ``ordered`` (the share at or below it, rounded to 0.1), all at once:
    a class of tens of thousands answers in milliseconds."""
    counts = np.searchsorted(ordered, values, side="right").tolist()
    share = {c: round(100 * c / len(ordered), 1) for c in set(counts)} if len(ordered) else {}
    return [share.get(c) for c in counts]


def shape(students: list[dict], trajectory: list[tuple], session: Session | None,
          student_id: str | None) -> dict[str, Any]:
    completion = np.array([s["completion"] for s in students], dtype=float)
    on_task = np.array([s["time_on_task_s"] for s in students], dtype=float)
    ordered = np.sort(completion)
    done = sorted(s["completion"] for s in students)  # as given (an int 0 stays 0 in the median)
    if sum(s["status"] != "not_started" for s in students) < MIN_STUDENTS:
        return {"insufficient_data": True, "students": [], "histogram": [], "trajectory": []}
    paced = on_task > 0
    pace = np.zeros(len(students))
    pace[paced] = completion[paced] / (on_task[paced] / 3600)  # completion points per hour on task
    pace_ordered = np.sort(pace[paced])
    pace_values = pace_ordered.tolist()
    q = statistics.quantiles(done, n=10, method="inclusive")
    buckets = np.bincount(np.minimum((ordered * 10).astype(np.int64), 9), minlength=10).tolist()
    shares, pace_shares = percentiles(completion, ordered), percentiles(pace, pace_ordered)
    paces, has_pace = pace.tolist(), paced.tolist()
    rows = [{"student_id": s["student_id"], "completion": s["completion"], "percentile": shares[i],
             "pace_per_hour": round(paces[i], 3) if has_pace[i] else None,
             "pace_percentile": pace_shares[i] if has_pace[i] else None} for i, s in enumerate(students)]
    line = [{"t": session.start + (k + 1) * session.width_s, "students": n, "median": round(med, 4),
             "p25": round(lo, 4), "p75": round(hi, 4), "student": None if own is None else round(own, 4)}
            for k, n, med, lo, hi, own in trajectory] if session else []
    out = {"insufficient_data": False, "median": statistics.median(done), "p10": q[0], "p90": q[-1],
           "histogram": [{"from": i / 10, "to": (i + 1) / 10, "students": b} for i, b in enumerate(buckets)],
           "pace": ({"median": round(statistics.median(pace_values), 3),
                     "p10": round(pace_values[int(0.1 * (len(pace_values) - 1))], 3),
                     "p90": round(pace_values[int(0.9 * (len(pace_values) - 1))], 3)} if pace_values else None),
           "students": rows, "trajectory": line}
    if student_id:
        out["student"] = next((r for r in rows if r["student_id"] == student_id), None)
    return out
