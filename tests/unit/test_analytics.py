"""Analytics on constructed logs whose answers can be worked out by hand (in-memory DuckDB, real schema)."""
from __future__ import annotations

import math

import pytest

from engine import analytics
from engine.analytics import ParamError, effectiveness, sources
from engine.analytics.params import AnalyticsParams, parse
from tests.unit.analytics_log import Log, both_paths, live

CAP = 180.0


def run(log: Log, students: list[dict], **params) -> dict:
    """Every hand-computed answer below holds for both paths: derived from the log per request, and read
    from the derived tables kept after commits (asserted equal in ``both_paths``)."""
    p = AnalyticsParams(**params)
    return analytics.combine(both_paths(log.cursor(), log.course, CAP, p), log.course, live(students), 0.7)


def roster(*ids: str, **fields) -> list[dict]:
    return [{"student_id": s} | fields for s in ids]


# -- query parameters -----------------------------------------------------------------------------

def test_parameters_parse_and_every_bad_one_is_named():
    p = parse({"since": "2026-01-07T10:00:00Z", "until": "2026-01-07T11:00:00+00:00", "bucket": "15m",
               "window_minutes": "1h", "student_id": "s-1"})
    assert (p.since, p.until, p.bucket_minutes, p.window_minutes, p.student_id) == (
        1767780000.0, 1767783600.0, 15, 60, "s-1")
    with pytest.raises(ParamError) as bad:
        parse({"since": "yesterday", "bucket": "0", "window_minutes": "abc", "student_id": "no spaces"})
    assert [e["field"] for e in bad.value.errors] == ["since", "bucket", "window_minutes", "student_id"]
    with pytest.raises(ParamError) as bad:
        parse({"since": "2026-01-07T11:00:00Z", "until": "2026-01-07T10:00:00Z", "session_minutes": "99999"})
    assert [e["field"] for e in bad.value.errors] == ["until", "session_minutes"]
    with pytest.raises(ParamError) as bad:  # parseable, but no datetime can format them; digits not ASCII
        parse({"since": "0001-01-01T00:00:00+14:00", "until": "9999-12-31T23:59:59-14:00", "bucket": "²",
               "window_minutes": "١٠"})
    assert [e["field"] for e in bad.value.errors] == ["since", "until", "bucket", "window_minutes"]


def test_minutes_with_thousands_of_digits_are_out_of_range_not_a_crash():
    """int() refuses more than 4,300 digits (ValueError): that was a 500 on the analytics routes."""
    with pytest.raises(ParamError) as bad:
        parse({"bucket": "9" * 4301, "window_minutes": "1" * 5000 + "h", "session_minutes": "5" * 4400})
    assert [e["field"] for e in bad.value.errors] == ["bucket", "window_minutes", "session_minutes"]
    assert all("between" in e["error"] for e in bad.value.errors)
    assert parse({"bucket": "0000000015m", "session_minutes": "10080"}).bucket_minutes == 15


# -- heatmaps ---------------------------------------------------------------------------------------

def heat_log() -> Log:
    log = Log()
    for i, s in enumerate(("s1", "s2", "s3")):  # Wednesday 2026-01-07 at 10:0i, Thursday 14:30
        log.add(s, "activity_started", f"2026-01-07T10:0{i}:00Z")
        log.add(s, "attempt", f"2026-01-07T10:0{i}:30Z", correct=True)
        log.add(s, "heartbeat", f"2026-01-07T10:0{i}:40Z", activity=None)  # presence, not learning
    log.add("s1", "attempt", "2026-01-08T14:30:00Z", correct=False)
    log.add("s1", "attempt", "2026-01-08T14:36:00Z", correct=True)
    return log


def test_heatmap_cells_per_course_and_per_student():
    log = heat_log()
    a = run(log, roster("s1", "s2", "s3"))
    cells = {(c["weekday"], c["hour"]): (c["events"], c["students"]) for c in a["heatmap"]["by_weekday_hour"]}
    assert cells == {(3, 10): (6, 3), (4, 14): (2, 1)}
    one = run(log, roster("s1", "s2", "s3"), student_id="s2")
    assert {(c["weekday"], c["hour"]): c["events"] for c in one["heatmap"]["by_weekday_hour"]} == {(3, 10): 2}


def test_session_minute_buckets_cover_the_last_session_minutes():
    log = heat_log()
    a = run(log, roster("s1", "s2", "s3"), bucket_minutes=5, session_minutes=60)
    buckets = a["heatmap"]["by_minute"]
    # the session is the last 60 min before 14:36 -> from 13:36, aligned down to 13:35; 5-minute buckets
    assert buckets[0]["minute"] == 1767879300.0  # 2026-01-08T13:35:00Z
    counts = {b["minute"]: b["events"] for b in buckets if b["events"]}
    assert counts == {1767882600.0: 1, 1767882900.0: 1}  # 14:30 and 14:35
    assert len(buckets) == 13


# -- bottlenecks ------------------------------------------------------------------------------------

def test_bottlenecks_ranked_with_exact_measures_and_stuck_students():
    log = Log(activities=3, expected_minutes=1)
    for i, s in enumerate(("s1", "s2", "s3", "s4")):
        log.add(s, "activity_started", f"2026-01-07T10:0{i}:00Z", activity="a0")
        log.add(s, "activity_completed", f"2026-01-07T10:0{i}:30Z", activity="a0", duration_s=30)
        log.add(s, "activity_started", f"2026-01-07T10:1{i}:00Z", activity="a1", duration_s=0)
        for k in range(4):  # a1: 3 of 4 attempts wrong, one hint each, half never complete
            log.add(s, "attempt", f"2026-01-07T10:1{i}:{10 + k}Z", activity="a1", correct=k == 3, duration_s=60)
        log.add(s, "hint_requested", f"2026-01-07T10:1{i}:20Z", activity="a1", duration_s=0)
        if i < 2:
            log.add(s, "activity_completed", f"2026-01-07T10:1{i}:30Z", activity="a1", duration_s=0)
    students = roster("s1", "s2") + [{"student_id": "s3", "status": "struggling", "current_activity_id": "a1"},
                                     {"student_id": "s4", "status": "active", "current_activity_id": "a1"}]
    b = run(log, students)["bottlenecks"]
    assert [x["activity_id"] for x in b] == ["a1", "a0", "a2"]
    a1, a0 = b[0], b[1]
    assert (a1["error_rate"], a1["hint_rate"], a1["drop_off"], a1["started"], a1["completed"]) == (0.75, 1.0, 0.5, 4, 2)
    assert a1["median_time_s"] == 240.0 and a1["time_ratio"] == 4.0  # 4 attempts x 60 s against 1 min
    assert a1["score"] == round(0.35 * 1 + 0.3 * 0.75 + 0.15 * (1 / 3) + 0.2 * 0.5, 3)
    assert a1["stuck_students"] == ["s3"] and a1["ranks"] == {"time": 1, "error_rate": 1, "hint_rate": 1,
                                                               "drop_off": 1}
    # a0: 30 s, the completion's duration, which replaces the 30 s gap after the start (as the fold
    # charges it; both counted once each was 60 s), against 60 s expected
    assert (a0["median_time_s"], a0["error_rate"], a0["drop_off"]) == (30.0, 0.0, 0.0)
    assert b[2]["insufficient_data"] and b[2]["ranks"] == {}


def test_time_charged_per_activity_is_the_folds_with_and_without_durations():
    """The live view (the fold) and the analytics charge the same seconds to each activity: a
    ``duration_s`` replaces the gap before its event and is charged to its own activity."""
    from engine.course import FoldParams
    from engine.state import StudentState
    from tests.factories import ev

    steps = [("activity_started", "a0", 0, None), ("attempt", "a1", 60, 30.0), ("attempt", "a1", 100, None),
             ("attempt", "a1", 130, None), ("hint_requested", "a2", 200, 15.0), ("attempt", "a2", 900, None),
             ("activity_completed", "a2", 905, None)]
    log, state, params = Log(activities=3), StudentState("c1", "s1"), FoldParams(3, 180.0)
    for kind, activity, t, duration in steps:
        minute, second = divmod(t, 60)
        log.add("s1", kind, f"2026-01-07T10:{minute:02d}:{second:02d}Z", activity=activity,
                correct=False if kind == "attempt" else None, duration_s=duration)
        state.apply(ev(kind, "s1", activity, float(t), correct=False if kind == "attempt" else None,
                       duration=duration), params)
    cur = log.cursor()
    sources.prepare(cur, "c1", AnalyticsParams(), 180.0)
    charged = dict(cur.execute("SELECT activity_id, sum(spent) FROM facts GROUP BY ALL").fetchall())
    folded = {a: s.time_on_task_s for a, s in state.activities.items()}
    assert folded == {"a0": 0.0, "a1": 100.0, "a2": 200.0}  # 30 + 40 + 30; 15 + 180 (capped) + 5
    assert {a: charged.get(a, 0.0) for a in folded} == folded


# -- comparative ------------------------------------------------------------------------------------

def test_percentiles_pace_and_trajectory_against_the_class_median():
    log = Log(activities=2)
    # s1 completes a0 at 10:02 and a1 at 10:07; s2 a0 at 10:07; s3 reaches 0.5 on a0 at 10:02
    log.add("s1", "activity_completed", "2026-01-07T10:02:00Z", activity="a0")
    log.add("s1", "activity_completed", "2026-01-07T10:07:00Z", activity="a1")
    log.add("s2", "activity_started", "2026-01-07T10:01:00Z", activity="a0")
    log.add("s2", "activity_completed", "2026-01-07T10:07:00Z", activity="a0")
    log.add("s3", "progress", "2026-01-07T10:02:00Z", activity="a0", progress=0.5)
    log.add("s3", "progress", "2026-01-07T10:06:00Z", activity="a0", progress=0.25)  # the max is kept
    log.add("s4", "activity_started", "2026-01-07T10:00:00Z", activity="a0")
    students = [{"student_id": "s1", "completion": 1.0, "time_on_task_s": 1800},
                {"student_id": "s2", "completion": 0.5, "time_on_task_s": 1800},
                {"student_id": "s3", "completion": 0.25, "time_on_task_s": 3600},
                {"student_id": "s4", "completion": 0.0, "time_on_task_s": 0}]
    c = run(log, students, bucket_minutes=5, student_id="s3")["comparative"]
    assert {s["student_id"]: s["percentile"] for s in c["students"]} == {"s1": 100.0, "s2": 75.0, "s3": 50.0,
                                                                         "s4": 25.0}
    assert c["median"] == 0.375
    # pace: completion per hour on task = 2.0, 1.0, 0.25 (s4 has no time): percentiles among those three
    assert {s["student_id"]: s["pace_percentile"] for s in c["students"]} == {"s1": 100.0, "s2": 66.7,
                                                                              "s3": 33.3, "s4": None}
    # buckets 10:00-10:05 and 10:05-10:10: completions after each = (0.5, 0, 0.25, 0) then (1, 0.5, 0.25, 0)
    line = [(round(x["median"], 4), x["student"]) for x in c["trajectory"]]
    assert line == [(0.125, 0.25), (0.375, 0.25)]
    assert c["student"]["student_id"] == "s3"


# -- learning patterns ------------------------------------------------------------------------------

def test_sessions_split_at_the_idle_threshold_and_spacing_groups():
    log = Log()
    for base in ("2026-01-07T09", "2026-01-07T11"):  # s1: two sessions 2 h apart, 10 attempts each, 8 right
        for k in range(10):
            log.add("s1", "attempt", f"{base}:0{k // 2}:{(k % 2) * 30:02d}Z", correct=k % 5 != 0)
    for k in range(10):  # s2: one session, 10 attempts a minute apart, half right
        log.add("s2", "attempt", f"2026-01-07T11:{k:02d}:00Z", correct=k % 2 == 0)
    p = run(log, roster("s1", "s2"))["patterns"]
    spacing = {g["group"]: g for g in p["spacing"]}
    assert spacing["spaced"]["students"] == 1 and spacing["spaced"]["mean_sessions"] == 2
    assert spacing["spaced"]["attempts"] == 20 and spacing["spaced"]["success_rate"] == 0.8
    assert spacing["massed"]["success_rate"] == 0.5
    hours = {h["hour"]: (h["attempts"], h["success_rate"]) for h in p["by_hour"]}
    assert hours == {9: (10, 0.8), 11: (20, 0.65)} and p["best_hour"] == 9


def test_an_activity_completes_once_and_is_started_once_however_often_it_is_reported():
    """s1 reports progress 1.0 then activity_completed (one activity done, not two) and resumes the same
    activity three times (xAPI launched/resumed map to activity_started) with 2 hints: 2 per activity."""
    log = Log(activities=1)
    for minute in (0, 3, 6):
        log.add("s1", "activity_started", f"2026-01-07T09:{minute:02d}:00Z")
    log.add("s1", "hint_requested", "2026-01-07T09:01:00Z")
    log.add("s1", "hint_requested", "2026-01-07T09:02:00Z")
    for k in range(10):
        log.add("s1", "attempt", f"2026-01-07T09:0{k}:30Z", correct=True)
    log.add("s1", "progress", "2026-01-07T09:10:00Z", progress=1.0)
    log.add("s1", "activity_completed", "2026-01-07T09:10:10Z")
    p = run(log, roster("s1"))["patterns"]
    hour = p["by_hour"][0]
    assert hour["pace_per_hour"] == pytest.approx(1 / (hour["active_minutes"] / 60), rel=0.01)
    assert [(g["group"], g["hints_per_activity"]) for g in p["by_hint_use"]] == [("heavy", 2.0)]


# -- intervention effectiveness ---------------------------------------------------------------------

def one_activity_log() -> Log:
    return Log(activities=1)


def test_holdout_effect_size_and_interval_by_hand():
    log = one_activity_log()
    t = "2026-01-07T10:00:00Z"
    for k in range(1, 6):  # treated gain 0.1k after t, held out 0.05k; nothing before t
        log.add(f"t{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.1 * k)
        log.add(f"h{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.05 * k)
        log.intervention(f"it{k}", f"t{k}", "hint", t)
        log.intervention(f"ih{k}", f"h{k}", "hint", t, holdout=True)
    kinds = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["kinds"]
    hint = kinds[0]
    assert (hint["kind"], hint["method"], hint["treated"], hint["held_out"]) == ("hint", "randomized_holdout", 5, 5)
    e = hint["effects"]["progress_rate"]
    # per hour: treated 0.6k, held out 0.3k -> means 1.8 and 0.9; variances 0.9 and 0.225
    se = math.sqrt(0.9 / 5 + 0.225 / 5)
    assert e["effect"] == pytest.approx(0.9, abs=1e-4) and e["se"] == pytest.approx(se, abs=1e-4)
    assert e["ci_low"] == pytest.approx(0.9 - 1.959964 * se, abs=1e-4)
    assert e["effect_size_d"] == pytest.approx(0.9 / math.sqrt(0.5625), abs=1e-4)
    assert e["ci_excludes_zero"] is False  # 0.9 +- 0.93: five a side is not enough to be sure


def test_matched_comparison_against_students_who_got_nothing():
    log = one_activity_log()
    for k in range(1, 6):
        log.add(f"t{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.1 * k)
        log.intervention(f"it{k}", f"t{k}", "message", "2026-01-07T10:00:00Z")
    for k in range(1, 4):  # three students nobody helped, each gains 0.05 after t
        log.add(f"c{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.05)
    hint = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["kinds"][0]
    assert hint["method"] == "matched_comparison" and "not randomized" in hint["note"]
    e = hint["effects"]["progress_rate"]
    assert e["control_mean"] == pytest.approx(0.3) and e["effect"] == pytest.approx(1.8 - 0.3, abs=1e-4)
    assert e["se"] == pytest.approx(math.sqrt(0.9) / math.sqrt(5), abs=1e-4)


def test_windows_cut_by_since_are_not_measured():
    log = one_activity_log()
    for minute in range(45):  # a steady student: +0.02 a minute, before and after the help alike
        log.add("s1", "progress", f"2026-01-07T10:{minute:02d}:00Z", progress=0.02 * (minute + 1))
    log.intervention("iv1", "s1", "hint", "2026-01-07T10:20:30Z")
    whole = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["records"]
    assert [r["intervention_id"] for r in whole] == ["iv1"]
    assert whole[0]["change"]["progress_rate"] == pytest.approx(0.0, abs=1e-9)
    # since=10:19 would leave a before-window of 1.5 of its 10 minutes (read as a false effect): not measured
    cut = run(log, roster(), window_minutes=10, since=1767780000.0 + 19 * 60)["interventions"]
    assert cut["by_kind"][0]["count"] == 1 and cut["effectiveness"]["records"] == []


def test_a_range_around_the_windows_changes_nothing_they_measure():
    """The columns are derived over the whole log, then the range kept: the first event in range does not
    gain its whole progress mark (0.85 here, a false burst before the help), nor the trajectory start at 0."""
    log = one_activity_log()
    for s in ("s1", "s2", "s3"):
        log.add(s, "progress", "2026-01-07T08:50:00Z", progress=0.8)
        log.add(s, "progress", "2026-01-07T09:25:00Z", progress=0.85)
        log.add(s, "progress", "2026-01-07T09:35:00Z", progress=0.9)
    log.intervention("iv1", "s1", "hint", "2026-01-07T09:30:00Z")
    since, until = 1767776400.0, 1767780000.0  # 09:00 to 10:00
    answers = [run(log, roster("s1", "s2", "s3", completion=0.9), window_minutes=10, student_id="s1", **r)
               for r in ({}, {"since": since}, {"since": since, "until": until})]
    records = [a["interventions"]["effectiveness"]["records"] for a in answers]
    assert all(len(r) == 1 for r in records)
    assert [r[0]["before"]["completion_gained"] for r in records] == pytest.approx([0.05] * 3)
    assert [r[0]["change"]["progress_rate"] for r in records] == pytest.approx([0.0] * 3, abs=1e-9)
    last = [a["comparative"]["trajectory"] for a in answers]
    assert [t[-1]["student"] for t in last] + [t[-1]["median"] for t in last] == pytest.approx([0.9] * 6)


def test_a_student_whose_own_help_reaches_the_windows_is_no_comparison():
    log = one_activity_log()
    for student in ("t1", "c1", "c2"):
        log.add(student, "progress", "2026-01-07T10:25:00Z", progress=0.1)
        log.add(student, "progress", "2026-01-07T10:35:00Z", progress=0.2)
    log.intervention("iv-t1", "t1", "hint", "2026-01-07T10:30:00Z")
    log.intervention("iv-c1", "c1", "hint", "2026-01-07T10:15:00Z")  # its after-window is t1's before-window
    records = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["records"]
    t1 = next(r for r in records if r["intervention_id"] == "iv-t1")
    assert t1["comparison"]["n"] == 1  # c2 only


def test_a_held_out_student_helped_for_real_meanwhile_stays_held_out():
    """Intention to treat: the coin's assignment counts, whatever the professor did afterwards."""
    log = one_activity_log()
    log.add("h1", "progress", "2026-01-07T10:05:00Z", progress=0.5)
    log.intervention("held", "h1", "hint", "2026-01-07T10:00:00Z", holdout=True)
    log.intervention("real", "h1", "message", "2026-01-07T10:03:00Z")  # within the 10-minute window
    records = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["records"]
    assert [(r["intervention_id"], r["holdout"]) for r in records] == [("real", False), ("held", True)]


def test_help_sent_without_a_coin_is_not_in_the_randomized_arm():
    """One send with a holdout coin: 5 helped gain 0.1k, 5 held out 0.05k. Five more got the same kind
    ad hoc (the professor chose them, no coin) and gain far more: they must not join the helped arm."""
    log = one_activity_log()
    t = "2026-01-07T10:00:00Z"
    for k in range(1, 6):
        log.add(f"t{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.1 * k)
        log.add(f"h{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.05 * k)
        log.add(f"a{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.9)
        log.intervention(f"it{k}", f"t{k}", "hint", t, randomized=True, send_id="send_1")
        log.intervention(f"ih{k}", f"h{k}", "hint", t, holdout=True, randomized=True, send_id="send_1")
        log.intervention(f"ia{k}", f"a{k}", "hint", t, randomized=False, send_id=f"send_adhoc{k}")
    out = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]
    hint = out["kinds"][0]
    assert (hint["method"], hint["treated"], hint["held_out"]) == ("randomized_holdout", 5, 5)
    assert hint["effects"]["progress_rate"]["effect"] == pytest.approx(0.9, abs=1e-4)  # as with no ad-hoc help
    assert hint["ad_hoc"]["method"] == "matched_comparison" and hint["ad_hoc"]["treated"] == 5
    assert "not randomized" in hint["ad_hoc"]["note"]
    assert {r["intervention_id"]: r["randomized"] for r in out["records"]}["ia1"] is False


def test_records_kept_before_the_coin_was_noted_count_as_randomized_only_beside_a_held_out_one():
    """Older files: a helped record stored with a held-out one of its send (same professor, kind and
    second) was randomized; one sent on its own was the professor's choice."""
    log = one_activity_log()
    for k in range(1, 6):
        log.add(f"t{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.1 * k)
        log.add(f"h{k}", "progress", f"2026-01-07T10:0{k}:00Z", progress=0.05 * k)
        log.intervention(f"it{k}", f"t{k}", "hint", "2026-01-07T10:00:00Z")
        log.intervention(f"ih{k}", f"h{k}", "hint", "2026-01-07T10:00:00Z", holdout=True)
    log.add("a1", "progress", "2026-01-07T10:25:00Z", progress=0.5)
    log.intervention("ia1", "a1", "hint", "2026-01-07T10:20:00Z")
    hint = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]["kinds"][0]
    assert (hint["method"], hint["treated"], hint["held_out"], hint["ad_hoc"]["treated"]) == (
        "randomized_holdout", 5, 5, 1)


def test_windows_without_any_event_measure_nothing():
    """Help stamped far from every event (say by the wall clock in a replayed course): every window is
    empty, so the kind has insufficient data, not an effect of 0 with an interval of [0, 0]."""
    log = one_activity_log()
    for k in range(1, 6):
        log.add(f"t{k}", "progress", "2026-01-07T08:00:00Z", progress=0.2)
        log.add(f"h{k}", "progress", "2026-01-07T08:00:00Z", progress=0.2)
        log.intervention(f"it{k}", f"t{k}", "hint", "2026-01-07T10:00:00Z", randomized=True)
        log.intervention(f"ih{k}", f"h{k}", "hint", "2026-01-07T10:00:00Z", holdout=True, randomized=True)
    out = run(log, roster(), window_minutes=10)["interventions"]["effectiveness"]
    hint = out["kinds"][0]
    assert hint["insufficient_data"] and out["insufficient_data"]
    assert all(e["insufficient_data"] for e in hint["effects"].values())
    assert "no events" in hint["note"]
    assert out["records"][0]["before"]["events"] == out["records"][0]["after"]["events"] == 0


# -- an empty course --------------------------------------------------------------------------------

def test_empty_course_gives_well_formed_insufficient_analyses():
    log = Log()
    a = run(log, roster("s1", "s2", "s3", status="not_started"), student_id="s1")
    assert set(a) >= set(analytics.SECTIONS)
    assert a["heatmap"]["insufficient_data"] and a["heatmap"]["by_minute"] == []
    # three on the roster, none started: no median of 0 with everyone at the 100th percentile
    assert a["patterns"]["insufficient_data"] and a["comparative"]["insufficient_data"]
    assert a["comparative"]["students"] == [] and "median" not in a["comparative"]
    assert a["at_risk"]["insufficient_data"] and a["at_risk"]["students"] == []
    assert all(b["insufficient_data"] for b in a["bottlenecks"])
    assert a["interventions"]["effectiveness"]["insufficient_data"]


def test_effectiveness_shape_has_no_kinds_without_interventions():
    out = effectiveness.shape({"by_kind": [], "subjects": [], "controls": []}, AnalyticsParams())
    assert out["effectiveness"]["kinds"] == [] and out["effectiveness"]["insufficient_data"]
