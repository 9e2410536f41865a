"""Real-time analytics for one course: SQL over the event log plus the live view.

``query(cursor, course, idle_after_s)`` runs the DuckDB part (in the process
that owns the file); ``combine(...)`` joins it with the course's live view.
Every analysis that lacks data says so (``"insufficient_data": true``) instead
of guessing. The analytics issue deepens each section; the shapes stay.
"""
from __future__ import annotations

import statistics
from typing import Any

import duckdb

from engine import risk, voiding
from engine.course import Course

MIN_STARTED = 3
MIN_ATTEMPTS_PER_HOUR = 10

_LEARNING = f"course_id = $course AND type <> 'heartbeat' AND {voiding.COUNTS_SQL}"  # voided events never count


def query(cur: duckdb.DuckDBPyConnection, course_id: str, idle_after_s: float) -> dict[str, Any]:
    p = {"course": course_id}
    heat = cur.execute(f"SELECT isodow(ts) AS weekday, hour(ts) AS hour, count(*) FROM student_activity_log "
                       f"WHERE {_LEARNING} GROUP BY ALL ORDER BY ALL", p).fetchall()
    minutes = cur.execute(
        f"SELECT epoch(date_trunc('minute', ts)), count(*), count(DISTINCT student_id) FROM student_activity_log "
        f"WHERE {_LEARNING} AND ts >= (SELECT max(ts) FROM student_activity_log WHERE {_LEARNING}) "
        f"- INTERVAL 60 MINUTE GROUP BY ALL ORDER BY 1", p).fetchall()
    activities = cur.execute(f"""
        WITH e AS (SELECT * FROM student_activity_log WHERE {_LEARNING}),
        gaps AS (SELECT student_id, activity_id,
                        least(coalesce(epoch(lead(ts) OVER (PARTITION BY student_id ORDER BY seq)) - epoch(ts), 0),
                              $cap) AS spent FROM e),
        per_student AS (SELECT activity_id, student_id, sum(greatest(spent, 0)) AS spent
                        FROM gaps GROUP BY ALL)
        SELECT a.activity_id, a.started, a.completed, a.attempts, a.errors, a.hints,
               (SELECT median(spent) FROM per_student ps WHERE ps.activity_id = a.activity_id)
        FROM (SELECT activity_id, count(DISTINCT student_id) AS started,
                     count(DISTINCT student_id) FILTER (WHERE type = 'activity_completed'
                                                        OR (type = 'progress' AND progress >= 1)) AS completed,
                     count(*) FILTER (WHERE type = 'attempt') AS attempts,
                     count(*) FILTER (WHERE type = 'attempt' AND NOT correct) AS errors,
                     count(*) FILTER (WHERE type = 'hint_requested') AS hints
              FROM e GROUP BY activity_id) a""", p | {"cap": idle_after_s}).fetchall()
    by_hour = cur.execute(
        f"SELECT hour(ts), count(*), avg(correct::INT) FROM student_activity_log "
        f"WHERE {_LEARNING} AND type = 'attempt' GROUP BY ALL ORDER BY 1", p).fetchall()
    after_hint = cur.execute(f"""
        WITH a AS (SELECT type, correct, lag(type) OVER (PARTITION BY student_id, activity_id ORDER BY seq) AS prev
                   FROM student_activity_log WHERE {_LEARNING})
        SELECT prev = 'hint_requested' AS after_hint, count(*), avg(correct::INT)
        FROM a WHERE type = 'attempt' GROUP BY ALL""", p).fetchall()
    interventions = cur.execute("SELECT kind, count(*), count(DISTINCT student_id) FROM intervention_records "
                                "WHERE course_id = $course GROUP BY ALL ORDER BY 2 DESC", p).fetchall()
    return {"heat": heat, "minutes": minutes, "activities": activities, "by_hour": by_hour,
            "after_hint": after_hint, "interventions": interventions}


def combine(raw: dict[str, Any], course: Course, live: dict[str, Any], risk_threshold: float) -> dict[str, Any]:
    students = live["students"]
    return {"course_id": course.course_id, "as_of": live["as_of"],
            "heatmap": _heatmap(raw),
            "bottlenecks": _bottlenecks(raw, course, students),
            "at_risk": _at_risk(students, risk_threshold, live.get("risk_model")),
            "patterns": _patterns(raw),
            "comparative": _comparative(students),
            "interventions": {"by_kind": [{"kind": k, "count": n, "students": s}
                                          for k, n, s in raw["interventions"]],
                              "effectiveness": {"insufficient_data": True,
                                                "note": "measured once the analytics issue lands"}}}


def _heatmap(raw: dict[str, Any]) -> dict[str, Any]:
    return {"insufficient_data": not raw["heat"],
            "by_weekday_hour": [{"weekday": d, "hour": h, "events": n} for d, h, n in raw["heat"]],
            "by_minute": [{"minute": m, "events": n, "students": s} for m, n, s in raw["minutes"]]}


def _bottlenecks(raw: dict[str, Any], course: Course, students: list[dict]) -> list[dict[str, Any]]:
    rows = {r[0]: r for r in raw["activities"]}
    out = []
    for activity in course.activities:
        _, started, completed, attempts, errors, hints, median_s = rows.get(
            activity.activity_id, (activity.activity_id, 0, 0, 0, 0, 0, None))
        expected_s = activity.expected_minutes * 60
        error_rate = errors / attempts if attempts else 0.0
        hint_rate = hints / started if started else 0.0
        drop_off = (started - completed) / started if started else 0.0
        time_ratio = (median_s or 0.0) / expected_s if expected_s else 0.0
        stuck = [s["student_id"] for s in students if s["current_activity_id"] == activity.activity_id
                 and s["status"] in ("struggling", "idle")]
        score = (0.35 * min(time_ratio / 2, 1.0) + 0.3 * error_rate + 0.15 * min(hint_rate / 3, 1.0)
                 + 0.2 * drop_off)
        out.append({"activity_id": activity.activity_id, "title": activity.title, "score": round(score, 3),
                    "median_time_s": None if median_s is None else round(median_s, 1),
                    "expected_s": expected_s, "error_rate": round(error_rate, 3),
                    "hint_rate": round(hint_rate, 3), "drop_off": round(drop_off, 3),
                    "started": started, "completed": completed, "stuck_students": stuck,
                    "insufficient_data": started < MIN_STARTED})
    return sorted(out, key=lambda b: (b["insufficient_data"], -b["score"]))


def _at_risk(students: list[dict], threshold: float, model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Students at or above the threshold, each with reasons; ``model`` is live progress's ``risk_model``."""
    flagged = sorted((s for s in students if s["risk"] >= threshold), key=lambda s: -s["risk"])
    model = model or {"in_use": risk.MODEL_NAME, "active": False, "fallback_reason": "no model information"}
    note = (f"trained model {model['name']} {model['version']} (passed its held-out acceptance gate)"
            if model["active"] else f"transparent rules (fallback: {model['fallback_reason']})")
    return {"model": model["in_use"], "risk_model": model, "threshold": threshold, "note": note,
            "students": [{"student_id": s["student_id"], "name": s["name"], "risk": s["risk"],
                          "reasons": s["reasons"]} for s in flagged]}


def _patterns(raw: dict[str, Any]) -> dict[str, Any]:
    hours = [{"hour": h, "attempts": n, "success_rate": round(rate, 3)} for h, n, rate in raw["by_hour"]
             if n >= MIN_ATTEMPTS_PER_HOUR]
    hint = {("after_hint" if flag else "without_hint"): {"attempts": n, "success_rate": round(rate or 0, 3)}
            for flag, n, rate in raw["after_hint"]}
    best = max(hours, key=lambda h: h["success_rate"]) if hours else None
    return {"insufficient_data": not hours, "by_hour": hours, "hint_use": hint,
            "best_hour": best["hour"] if best else None}


def _comparative(students: list[dict]) -> dict[str, Any]:
    done = sorted(s["completion"] for s in students)
    if len(done) < MIN_STARTED:
        return {"insufficient_data": True, "students": []}
    n = len(done)
    q = statistics.quantiles(done, n=10, method="inclusive")
    buckets = [0] * 10
    for c in done:
        buckets[min(int(c * 10), 9)] += 1
    return {"insufficient_data": False, "median": statistics.median(done), "p10": q[0], "p90": q[-1],
            "histogram": [{"from": i / 10, "to": (i + 1) / 10, "students": b} for i, b in enumerate(buckets)],
            "students": [{"student_id": s["student_id"], "completion": s["completion"],
                          "percentile": round(100 * sum(c <= s["completion"] for c in done) / n, 1)}
                         for s in students]}
