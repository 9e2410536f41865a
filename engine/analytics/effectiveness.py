"""Intervention effectiveness: did students change after the professor helped?

For each intervention at time ``t`` (the record's ``created_at``) and window
``w`` (``window_minutes``), three measures of the student in ``[t - w, t)``
(before) and ``[t, t + w)`` (after):

* ``progress_rate``: completion gained per hour (the rise of per-activity
  progress, as the fold counts it, over the number of activities);
* ``error_rate``: wrong attempts / attempts (only when both windows have attempts);
* ``active_minutes``: time on task charged to the window's events, each charge cut at the
  window's end (an event at ``t - 1 min`` followed by the next at ``t + 2 min`` adds 1 minute
  before, not 3: the rest of its gap is after the help).

The outcome of one intervention is the change, after - before. Per kind the
effect is estimated one of two ways (``method``):

* ``randomized_holdout`` (preferred, used whenever the kind has at least
  ``MIN_ARM`` distinct held-out and ``MIN_ARM`` distinct randomized helped
  students): interventions sent with a ``holdout`` share leave a random part of
  the eligible students out; they are recorded (``intervention_records.holdout``)
  but not delivered. Within one send (its ``send_id``: a stratum) the helped
  students (``randomized`` in the record's payload, ``engine.holdout.stamp``)
  and the held-out ones were split by a coin alone, so the effect is the
  difference of their mean changes per send, combined over the sends by size
  (``estimates.stratified``); pooling sends would not be unbiased, since their
  holdout shares differ. Every held-out record counts (intention to treat),
  even when the professor later helped that student for real: leaving those
  out would drop held-out students by what happened after the coin, in one arm
  only. Sends to a single student are pooled by kind and holdout share (the
  same coin held each out), one stratum. A send with no one held out or no one
  helped compares nothing. The
  standard error treats records as independent; a student in several sends
  is not clustered. Help sent with no coin is never in this arm: it is
  measured the matched way beside it (``ad_hoc``).
* ``matched_comparison``: each treated student against comparable students
  who got nothing within ``w`` of ``t``: same course, same state before ``t``
  (``idle``: no learning event in the window; ``struggling``: at least 3
  attempts, half or more wrong; else ``active``); per intervention the
  difference of changes (difference-in-differences), averaged. Not
  randomized: professors help the students who need it, so say so.

Both come with a 95% confidence interval and an effect size (``estimates``).
A kind whose before and after windows hold no event at all has measured
nothing: ``insufficient_data``, not an effect of 0.
"""
from __future__ import annotations

from typing import Any

import duckdb

from engine.analytics import estimates
from engine.analytics.params import AnalyticsParams
from engine.analytics.sources import run

MIN_ARM = 5
MAX_INTERVENTIONS = 5000
METRICS = ("progress_rate", "error_rate", "active_minutes")
_MEASURES = ("g_b", "g_a", "a_b", "e_b", "a_a", "e_a", "s_b", "s_a", "randomized", "n_b", "n_a", "send_id")
NOT_RANDOMIZED = "not randomized: send with a holdout share (e.g. 0.1) for an unbiased estimate"
NO_EVENTS = "no events in any before or after window: nothing to compare"


def query(cur: duckdb.DuckDBPyConnection, course_id: str, p: AnalyticsParams, activities: int,
          students: str = "SELECT DISTINCT student_id FROM facts") -> dict[str, list]:
    """(After ``sources.prepare``, or over the derived facts.) Per intervention the subject's windows, and
    comparison means. Only events within a window of some intervention are read."""
    values = {"course": course_id, **p.sql(), "w": 60.0 * p.window_minutes, "limit": MAX_INTERVENTIONS,
              "n": max(activities, 1)}
    by_kind = run(cur, "SELECT kind, count(*) FILTER (WHERE NOT holdout), count(*) FILTER (WHERE holdout), "
                       "count(DISTINCT student_id) FROM intervention_records WHERE course_id = $course "
                       "AND created_at >= $since AND created_at < $until GROUP BY ALL ORDER BY 2 DESC, 1", values)
    if not by_kind:
        return {"by_kind": [], "subjects": [], "controls": []}
    rows = run(cur, f"""
        WITH sends AS (SELECT intervention_id, student_id, kind, holdout, epoch(created_at) AS t,
                           payload->>'$.holdout_share' AS share,
                           -- a coin chose (engine.holdout.stamp); records kept before that was noted: held
                           -- out, or stored with a held-out record of their send (same professor and kind,
                           -- within a second)
                           coalesce(TRY_CAST(payload->>'$.randomized' AS BOOLEAN), holdout OR EXISTS (
                               SELECT 1 FROM intervention_records h WHERE h.holdout AND h.course_id = $course
                               AND h.professor_id = i.professor_id AND h.kind = i.kind
                               AND abs(epoch(h.created_at) - epoch(i.created_at)) < 1)) AS randomized,
                           -- the send (stratum); records kept before send_id was noted: professor, kind, second
                           coalesce(payload->>'$.send_id', concat_ws('/', professor_id, kind,
                                    floor(epoch(created_at))::BIGINT)) AS send
                    FROM intervention_records i WHERE course_id = $course AND created_at >= $since
                    AND created_at < $until
                    -- both windows inside [since, until): ``facts`` holds only that range, and a cut
                    -- window reads as a change (a before-window missing its start, say)
                    AND epoch(created_at) - $w >= epoch($since) AND epoch(created_at) + $w <= epoch($until)
                    -- every held-out record stays (intention to treat): dropping one because the professor
                    -- helped that student for real afterwards would select one arm on what followed the coin
                    ORDER BY created_at DESC LIMIT $limit),
        -- a send to one student compares nothing within itself: such sends of a kind and holdout share
        -- are one stratum (each held out by the same coin); kept before the share was noted: one per kind
        iv AS (SELECT * EXCLUDE (send, share), CASE WHEN count(*) OVER (PARTITION BY send) > 1 THEN send
                      ELSE concat_ws('/', 'single', kind, coalesce(share, '?')) END AS send_id FROM sends),
        times AS (SELECT DISTINCT t FROM iv),
        ev AS (SELECT student_id, e, type, correct, spent, gain FROM facts
               WHERE e >= (SELECT min(t) FROM times) - $w AND e < (SELECT max(t) FROM times) + $w),
        students AS ({students}),
        per AS (SELECT times.t, ev.student_id,
                       sum(gain) FILTER (WHERE e < t) AS g_b, sum(gain) FILTER (WHERE e >= t) AS g_a,
                       count(*) FILTER (WHERE e < t AND type = 'attempt') AS a_b,
                       count(*) FILTER (WHERE e < t AND type = 'attempt' AND NOT correct) AS e_b,
                       count(*) FILTER (WHERE e >= t AND type = 'attempt') AS a_a,
                       count(*) FILTER (WHERE e >= t AND type = 'attempt' AND NOT correct) AS e_a,
                       -- a charge runs from its event to the next: cut it at the window's end
                       sum(least(spent, t - e)) FILTER (WHERE e < t) AS s_b,
                       sum(least(spent, t + $w - e)) FILTER (WHERE e >= t) AS s_a,
                       count(*) FILTER (WHERE e < t) AS n_b, count(*) FILTER (WHERE e >= t) AS n_a
                FROM times JOIN ev ON ev.e >= times.t - $w AND ev.e < times.t + $w GROUP BY ALL),
        grid AS MATERIALIZED (
            SELECT times.t, s.student_id,
                   coalesce(g_b, 0) AS g_b, coalesce(g_a, 0) AS g_a, coalesce(a_b, 0) AS a_b,
                   coalesce(e_b, 0) AS e_b, coalesce(a_a, 0) AS a_a, coalesce(e_a, 0) AS e_a,
                   coalesce(s_b, 0) AS s_b, coalesce(s_a, 0) AS s_a,
                   coalesce(n_b, 0) AS n_b, coalesce(n_a, 0) AS n_a,
                   CASE WHEN coalesce(n_b, 0) = 0 THEN 'idle'
                        WHEN a_b >= 3 AND e_b >= 0.5 * a_b THEN 'struggling' ELSE 'active' END AS state,
                   (coalesce(g_a, 0) - coalesce(g_b, 0)) / $n / ($w / 3600) AS d_progress,
                   CASE WHEN a_a > 0 AND a_b > 0 THEN e_a / a_a - e_b / a_b END AS d_error,
                   (coalesce(s_a, 0) - coalesce(s_b, 0)) / 60 AS d_active
            FROM times CROSS JOIN students s
            LEFT JOIN per ON per.t = times.t AND per.student_id = s.student_id),
        -- a comparison student is one whose windows no intervention of theirs reaches: none from
        -- 2 windows before t (its after-window would overlap the before-window) to 1 after
        helped AS (SELECT DISTINCT times.t, r.student_id FROM times JOIN intervention_records r
                   ON r.course_id = $course AND NOT r.holdout AND epoch(r.created_at) > times.t - 2 * $w
                   AND epoch(r.created_at) < times.t + $w)
        SELECT 'subject', iv.intervention_id, iv.kind, iv.holdout, iv.t, iv.student_id,
               coalesce(g.state, 'idle'), coalesce(g.d_progress, 0), g.d_error, coalesce(g.d_active, 0),
               coalesce(g.g_b, 0), coalesce(g.g_a, 0), coalesce(g.a_b, 0), coalesce(g.e_b, 0),
               coalesce(g.a_a, 0), coalesce(g.e_a, 0), coalesce(g.s_b, 0), coalesce(g.s_a, 0),
               iv.randomized, coalesce(g.n_b, 0), coalesce(g.n_a, 0), iv.send_id
        FROM iv LEFT JOIN grid g ON g.t = iv.t AND g.student_id = iv.student_id
        UNION ALL
        SELECT 'control', NULL, NULL, NULL, g.t, NULL, g.state, avg(d_progress), avg(d_error), avg(d_active),
               count(*), count(d_error), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM grid g ANTI JOIN helped h ON h.t = g.t AND h.student_id = g.student_id
        GROUP BY g.t, g.state""", values)
    subjects = sorted((r[1:] for r in rows if r[0] == "subject"), key=lambda r: (-r[3], r[0]))
    controls = [(r[4], r[6], r[10], r[7], r[8], r[11], r[9]) for r in rows if r[0] == "control"]
    return {"by_kind": by_kind, "subjects": subjects, "controls": controls}


def shape(raw: dict[str, list], p: AnalyticsParams, limit: int | None = 200) -> dict[str, Any]:
    """``limit``: how many intervention records to list (the estimates use all of them)."""
    counts = [{"kind": k, "count": n, "held_out": h, "students": s} for k, n, h, s in raw["by_kind"]]
    controls = {(t, state): {"n": n, "progress_rate": dp, "error_rate": de, "n_error": ne, "active_minutes": da}
                for t, state, n, dp, de, ne, da in raw["controls"]}
    records = []
    for row in raw["subjects"]:
        iv, kind, holdout, t, student, state, dp, de, da = row[:9]
        m = dict(zip(_MEASURES, row[9:]))
        ctl = controls.get((t, state))
        records.append({"intervention_id": iv, "kind": kind, "holdout": bool(holdout),
                        "randomized": bool(m["randomized"]), "send_id": m["send_id"], "at": t, "student_id": student,
                        "state_before": state,
                        "change": {"progress_rate": dp, "error_rate": de, "active_minutes": da},
                        "comparison": ({k: ctl[k] for k in ("n", "n_error", *METRICS)} if ctl else None),
                        "before": _window(m, "b", p), "after": _window(m, "a", p)})
    kinds = [_per_kind(kind, [r for r in records if r["kind"] == kind]) for kind in dict.fromkeys(
        c["kind"] for c in counts)]
    return {"by_kind": counts, "window_minutes": p.window_minutes, "effectiveness": {
        "insufficient_data": not any(not k["insufficient_data"] for k in kinds), "min_per_arm": MIN_ARM,
        "kinds": kinds, "records": records[:limit]}}


def _window(m: dict[str, Any], side: str, p: AnalyticsParams) -> dict[str, Any]:
    attempts = m[f"a_{side}"]
    return {"events": m[f"n_{side}"], "attempts": attempts,
            "error_rate": (m[f"e_{side}"] / attempts) if attempts else None,
            "active_minutes": round(m[f"s_{side}"] / 60, 3), "completion_gained": m[f"g_{side}"]}


def _per_kind(kind: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The kind's effect: randomized when enough helped students of sends with a holdout coin and
    enough held-out ones; help sent without a coin (the professor chose) goes the matched way,
    beside it (``ad_hoc``) or alone."""
    held = [r for r in records if r["holdout"]]
    randomized = [r for r in records if not r["holdout"] and r["randomized"]]
    ad_hoc = [r for r in records if not r["holdout"] and not r["randomized"]]
    out: dict[str, Any] = {"kind": kind, "treated": len(randomized) + len(ad_hoc), "held_out": len(held),
                           "students": {"treated": _students(randomized + ad_hoc), "held_out": _students(held)}}
    if _students(randomized) >= MIN_ARM and _students(held) >= MIN_ARM:
        out |= {"method": "randomized_holdout", "treated": len(randomized),
                "students": {"treated": _students(randomized), "held_out": _students(held)},
                "effects": _randomized(randomized, held)}
        if ad_hoc:
            out["ad_hoc"] = {"method": "matched_comparison", "treated": len(ad_hoc), "note": NOT_RANDOMIZED,
                             "effects": _matched(ad_hoc)}
            out["ad_hoc"]["insufficient_data"] = _insufficient(out["ad_hoc"], ad_hoc)
    else:
        treated = randomized + ad_hoc
        out |= {"method": "matched_comparison", "note": NOT_RANDOMIZED if treated else "only held-out students so far",
                "effects": _matched(treated)}
    out["insufficient_data"] = _insufficient(out, records)
    return out


def _insufficient(out: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    """No measure has enough data; windows that all hold no event measure nothing (a change of 0
    with an interval of [0, 0] would read as a precise null effect)."""
    if not any(r["before"]["events"] or r["after"]["events"] for r in records):
        out["effects"] = {m: {"insufficient_data": True, "n_treated": 0, "n_control": 0} for m in METRICS}
        out["note"] = NO_EVENTS
    return all(e.get("insufficient_data") for e in out["effects"].values())


def _students(records: list[dict[str, Any]]) -> int:
    return len({r["student_id"] for r in records})


def _randomized(treated: list[dict[str, Any]], held: list[dict[str, Any]]) -> dict[str, Any]:
    """Per send (stratum) helped against held out, combined over the sends that have both arms."""
    effects = {}
    for metric in METRICS:
        arms: dict[str, tuple[list[dict], list[dict]]] = {}
        for side, records in enumerate((treated, held)):
            for r in records:
                if r["change"][metric] is not None:
                    arms.setdefault(r["send_id"], ([], []))[side].append(r)
        strata = [(t, c) for t, c in arms.values() if t and c]
        t_students = _students([r for t, _ in strata for r in t])
        c_students = _students([r for _, c in strata for r in c])
        if min(t_students, c_students) >= MIN_ARM:
            est = estimates.stratified([([r["change"][metric] for r in t], [r["change"][metric] for r in c])
                                        for t, c in strata])
            effects[metric] = est.to_dict() | {"strata": len(strata), "students_treated": t_students,
                                               "students_control": c_students}
        else:
            effects[metric] = {"insufficient_data": True, "n_treated": t_students, "n_control": c_students}
    return effects


def _matched(treated: list[dict[str, Any]]) -> dict[str, Any]:
    effects = {}
    for metric in METRICS:
        paired = [r for r in treated if r["comparison"] and r["change"][metric] is not None
                  and r["comparison"][metric] is not None]
        pairs = [(r["change"][metric], r["comparison"][metric]) for r in paired]
        if _students(paired) >= MIN_ARM:  # the records of one student are not independent evidence
            diffs = [a - b for a, b in pairs]
            # the comparison students behind the pairs used (an error rate needs attempts)
            n_ctl = sum(r["comparison"]["n_error" if metric == "error_rate" else "n"] for r in paired)
            effects[metric] = estimates.one_sample(diffs, sum(a for a, _ in pairs) / len(pairs),
                                                   sum(b for _, b in pairs) / len(pairs), n_ctl).to_dict()
        else:
            effects[metric] = {"insufficient_data": True, "n_treated": len(pairs), "n_control": 0}
    return effects
