"""Learning patterns: when and how students in this course learn best.

Success rate (correct attempts / attempts) and pace (activities completed per
hour of active time; an activity counts once, at the event that brought it to
progress 1, however many completion events follow) grouped four ways:

* by hour of day (UTC) of the attempt;
* by session length: a student's work splits into sessions at gaps longer
  than the idle threshold (``idle_after_s``); a session's length runs from its
  first event to its last plus the time charged to that last event;
* by spacing: students whose work spans two or more sessions ("spaced")
  against those who did it in one ("massed");
* by hint use: attempts right after a hint on the same activity against the
  others, and students by hints per activity started (none, some < 1, heavy >= 1; an activity
  is started by the student's first learning event on it, not by each ``activity_started``:
  xAPI's initialized, launched, resumed and attempted all map to that type).

A group with fewer than ``MIN_ATTEMPTS`` attempts says ``insufficient_data``.
"""
from __future__ import annotations

from typing import Any

import duckdb

from engine.analytics.params import AnalyticsParams
from engine.analytics.sources import run

MIN_ATTEMPTS = 10
LENGTHS = ((0, 10, "under 10 min"), (10, 30, "10-30 min"), (30, 60, "30-60 min"), (60, None, "60 min or more"))

# the event that completes an activity: a completion mark that raised the activity's progress to 1
DONE_SQL = "((type = 'activity_completed' OR (type = 'progress' AND progress >= 1)) AND gain > 0)"
# the student's first learning event on an activity
FIRST_SQL = "(activity_id IS NOT NULL AND prev_type IS NULL)"


def query(cur: duckdb.DuckDBPyConnection, p: AnalyticsParams, cap: float) -> dict[str, list]:
    values: dict[str, Any] = {"cap": cap}
    who = ""
    if p.student_id:
        who, values = "WHERE student_id = $student", values | {"student": p.student_id}
    events = run(cur, f"""
        WITH t AS (SELECT * FROM facts {who})
        SELECT GROUPING(hour(ts)) = 0 AS by_hour, hour(ts) AS hour, coalesce(prev_type = 'hint_requested', false) AS after_hint,
               count(*) FILTER (WHERE type = 'attempt'), count(*) FILTER (WHERE type = 'attempt' AND correct),
               count(*) FILTER (WHERE {DONE_SQL}), sum(spent)
        FROM t GROUP BY GROUPING SETS ((hour(ts)), (coalesce(prev_type = 'hint_requested', false)))""", values)
    groups = run(cur, f"""
        WITH t AS (SELECT *, sum(CASE WHEN gap_before IS NULL OR gap_before > $cap THEN 1 ELSE 0 END)
                            OVER (PARTITION BY student_id ORDER BY seq) AS session FROM facts {who}),
        sessions AS (
            SELECT student_id, session,
                   (epoch(max(ts)) - epoch(min(ts)) + arg_max(spent, seq)) / 60 AS minutes,
                   count(*) FILTER (WHERE type = 'attempt') AS attempts,
                   count(*) FILTER (WHERE type = 'attempt' AND correct) AS correct,
                   count(*) FILTER (WHERE {DONE_SQL}) AS done, sum(spent) AS active,
                   count(*) FILTER (WHERE type = 'hint_requested') AS hints,
                   count(*) FILTER (WHERE {FIRST_SQL}) AS started
            FROM t GROUP BY ALL),
        {GROUPS}""", values)
    return {"events": events, "groups": groups}


_CASES = " ".join(f"WHEN minutes < {hi} THEN '{label}'" for _, hi, label in LENGTHS if hi is not None)
# from per-session rows (``sessions``: student_id, minutes, attempts, correct, done, active, hints,
# started) to the groups; shared with the rollups (engine/analytics/rollups.py)
GROUPS = f"""students AS (
            SELECT student_id, count(*) AS sessions, sum(attempts) AS attempts, sum(correct) AS correct,
                   sum(done) AS done, sum(active) AS active,
                   sum(hints) / greatest(sum(started), 1) AS hints_per_activity
            FROM sessions GROUP BY ALL)
        SELECT 'length' AS dim, CASE {_CASES} ELSE '{LENGTHS[-1][2]}' END AS grp, count(*),
               sum(attempts), sum(correct), sum(done), sum(active), avg(minutes)
        FROM sessions GROUP BY ALL
        UNION ALL
        SELECT 'spacing', CASE WHEN sessions >= 2 THEN 'spaced' ELSE 'massed' END, count(*),
               sum(attempts), sum(correct), sum(done), sum(active), avg(sessions)
        FROM students GROUP BY ALL
        UNION ALL
        SELECT 'hints', CASE WHEN hints_per_activity = 0 THEN 'none' WHEN hints_per_activity < 1 THEN 'some'
                             ELSE 'heavy' END, count(*),
               sum(attempts), sum(correct), sum(done), sum(active), avg(hints_per_activity)
        FROM students GROUP BY ALL"""


def _measures(attempts: int, correct: int, done: int, active_s: float) -> dict[str, Any]:
    hours = (active_s or 0.0) / 3600
    return {"attempts": int(attempts), "success_rate": round(correct / attempts, 3) if attempts else None,
            "pace_per_hour": round(done / hours, 2) if hours > 0 else None,
            "active_minutes": round((active_s or 0.0) / 60, 1),
            "insufficient_data": attempts < MIN_ATTEMPTS}


def shape(raw: dict[str, list]) -> dict[str, Any]:
    hours, hint = [], {}
    for by_hour, hour, after_hint, attempts, correct, done, active in raw["events"]:
        if by_hour:
            hours.append({"hour": hour} | _measures(attempts, correct, done, active))
        elif attempts:
            hint["after_hint" if after_hint else "without_hint"] = _measures(attempts, correct, 0, 0) | {
                "pace_per_hour": None}
    hours.sort(key=lambda h: h["hour"])
    groups: dict[str, list] = {"length": [], "spacing": [], "hints": []}
    for dim, grp, n, attempts, correct, done, active, mean in raw["groups"]:
        label = {"length": "sessions", "spacing": "students", "hints": "students"}[dim]
        extra = {"length": "mean_minutes", "spacing": "mean_sessions", "hints": "hints_per_activity"}[dim]
        groups[dim].append({"group": grp, label: n, extra: round(mean or 0.0, 2)}
                           | _measures(attempts or 0, correct or 0, done or 0, active or 0.0))
    order = {label: i for i, (_, _, label) in enumerate(LENGTHS)} | {"massed": 0, "spaced": 1, "none": 0,
                                                                      "some": 1, "heavy": 2}
    for rows in groups.values():
        rows.sort(key=lambda r: order.get(r["group"], 9))
    usable = [h for h in hours if not h["insufficient_data"]]
    best = max(usable, key=lambda h: (h["success_rate"], -h["hour"])) if usable else None
    return {"insufficient_data": not usable, "min_attempts": MIN_ATTEMPTS,
            "by_hour": hours, "best_hour": best["hour"] if best else None,
            "by_session_length": groups["length"], "spacing": groups["spacing"],
            "hint_use": hint, "by_hint_use": groups["hints"],
            "summary": _summary(groups, hint, best)}


def _summary(groups: dict[str, list], hint: dict[str, Any], best: dict | None) -> list[str]:
    """A few sentences a professor can read, only from groups with enough data."""
    lines = []
    if best:
        lines.append(f"Highest success rate at {best['hour']:02d}:00 UTC ({best['success_rate']:.0%}).")
    spacing = {r["group"]: r for r in groups["spacing"] if not r["insufficient_data"]}
    if {"spaced", "massed"} <= spacing.keys():
        s, m = spacing["spaced"], spacing["massed"]
        lines.append(f"Students who split their work into several sessions succeed {s['success_rate']:.0%} "
                     f"of the time, those who did it in one session {m['success_rate']:.0%}.")
    if all(k in hint and not hint[k]["insufficient_data"] for k in ("after_hint", "without_hint")):
        lines.append(f"Attempts right after a hint succeed {hint['after_hint']['success_rate']:.0%} of the time "
                     f"(others {hint['without_hint']['success_rate']:.0%}).")
    return lines
