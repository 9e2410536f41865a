"""The randomized-holdout estimate on constructed logs with a known null effect: sends with different
holdout shares, follow-up help after the coin, and the same students in several sends."""
from __future__ import annotations

import pytest

from engine import analytics
from engine.analytics import estimates
from engine.analytics.params import AnalyticsParams
from tests.unit.analytics_log import Log, both_paths, live

CAP = 180.0


def kinds(log: Log, **params) -> dict[str, dict]:
    p = AnalyticsParams(**params)
    out = analytics.combine(both_paths(log.cursor(), log.course, CAP, p), log.course, live([]), 0.7)
    return {k["kind"]: k for k in out["interventions"]["effectiveness"]["kinds"]}


def test_sends_with_different_holdout_shares_are_compared_within_each_send():
    """No effect at all: in send A (half held out) everyone completes, in send B (a tenth held out)
    nobody does anything. Pooled, the held-out arm is mostly A's completers: a false harm of -2.4/h."""
    log = Log(activities=1)
    for i in range(10):
        log.add(f"a{i}", "activity_started", "2026-01-05T09:25:00")
        log.add(f"a{i}", "activity_completed", "2026-01-05T09:35:00")
        log.intervention(f"ivA{i}", f"a{i}", "hint", "2026-01-05T09:30:00", holdout=i < 5, randomized=True,
                         send_id="A")
    for i in range(50):
        log.add(f"b{i}", "activity_started", "2026-01-05T08:00:00")
        log.intervention(f"ivB{i}", f"b{i}", "hint", "2026-01-05T11:00:00", holdout=i < 5, randomized=True,
                         send_id="B")
    hint = kinds(log)["hint"]
    assert hint["method"] == "randomized_holdout"
    e = hint["effects"]["progress_rate"]
    assert e["strata"] == 2 and e["effect"] == pytest.approx(0.0, abs=1e-9)
    assert e["ci_low"] <= 0.0 <= e["ci_high"] and not e["ci_excludes_zero"]


def test_held_out_students_helped_later_stay_in_their_arm():
    """No effect: in each arm half complete. The professor then messages those still stuck, held out or
    not. Dropping the held-out ones so helped (only that arm) left held-out completers: a false -3.0/h."""
    log = Log(activities=1)
    for i in range(20):
        s = f"s{i}"
        log.add(s, "activity_started", "2026-01-05T09:25:00")
        if i % 2 == 0:
            log.add(s, "activity_completed", "2026-01-05T09:35:00")
        log.intervention(f"iv{i}", s, "hint", "2026-01-05T09:30:00", holdout=i < 10, randomized=True, send_id="A")
        if i % 2:
            log.intervention(f"fu{i}", s, "message", "2026-01-05T09:36:00", message="x")
    hint = kinds(log)["hint"]
    assert (hint["method"], hint["treated"], hint["held_out"]) == ("randomized_holdout", 10, 10)
    e = hint["effects"]["progress_rate"]
    assert e["effect"] == pytest.approx(0.0, abs=1e-9) and e["ci_low"] <= 0.0 <= e["ci_high"]


def test_five_sends_to_the_same_two_students_are_not_five_students_a_side():
    log = Log(activities=1)
    for k in range(5):
        at = f"2026-01-05T{10 + k:02d}:00:00"
        for s, held in (("s1", False), ("s2", True)):
            log.add(s, "progress", f"2026-01-05T{10 + k:02d}:05:00", progress=0.1 * (k + 1) + (0 if held else 0.05))
            log.intervention(f"iv{k}{s}", s, "hint", at, holdout=held, randomized=True, send_id=f"send{k}")
    hint = kinds(log)["hint"]
    assert (hint["treated"], hint["held_out"]) == (5, 5)
    assert hint["students"] == {"treated": 1, "held_out": 1}
    assert hint["method"] == "matched_comparison" and hint["insufficient_data"]


def test_the_stratified_estimate_of_one_stratum_is_the_two_arm_one():
    t, c = [1.0, 2.0, 4.0, 7.0], [0.5, 0.0, 2.5]
    assert estimates.stratified([(t, c)]) == estimates.two_arm(t, c)


def test_the_stratified_estimate_by_hand():
    """Stratum 1: treated [1, 3], control [0] (its arm of one takes the pooled control variance, 3);
    stratum 2: treated [2], control [1, 1, 4] (pooled treated variance: 2, from stratum 1)."""
    est = estimates.stratified([([1.0, 3.0], [0.0]), ([2.0], [1.0, 1.0, 4.0])])
    # d1 = 2 - 0 = 2 (w 3), d2 = 2 - 2 = 0 (w 4): effect 6/7
    assert est.effect == pytest.approx(6 / 7)
    var = 9 * (2 / 2 + 3 / 1) + 16 * (2 / 1 + 3 / 3)  # control pooled variance: 3 (from [1, 1, 4])
    assert est.se == pytest.approx(var ** 0.5 / 7)
    assert (est.n_treated, est.n_control) == (3, 4)


def test_active_minutes_of_a_window_stop_at_its_end():
    """Started 1 minute before the help, next event 1.5 minutes after: the gap's 2.5 minutes are 1 before
    and 1.5 after; the last event's charge (none follows) is 0."""
    log = Log(activities=1)
    log.add("s1", "activity_started", "2026-01-05T09:29:00")
    log.add("s1", "attempt", "2026-01-05T09:31:30", correct=True)
    log.add("s1", "attempt", "2026-01-05T09:45:00", correct=True)  # after the window: its gap is cut at 09:40
    log.intervention("iv1", "s1", "message", "2026-01-05T09:30:00", message="x")
    p = AnalyticsParams()
    out = analytics.combine(both_paths(log.cursor(), log.course, 1800.0, p), log.course, live([]), 0.7)
    r = out["interventions"]["effectiveness"]["records"][0]
    assert r["before"]["active_minutes"] == pytest.approx(1.0)
    assert r["after"]["active_minutes"] == pytest.approx(8.5)  # 09:31:30 to the window's end at 09:40


def test_single_student_sends_with_the_same_share_form_one_stratum():
    """One-click help to one student at a time, each with the course's holdout share: every send holds
    out its student or not, so alone none compares anything; pooled by share they are one stratum."""
    log = Log(activities=1)
    for i in range(12):
        s, held = f"s{i}", i % 2 == 0
        log.add(s, "progress", "2026-01-05T09:25:00", progress=0.1)
        log.add(s, "progress", "2026-01-05T09:35:00", progress=0.2 if held else 0.3)
        log.intervention(f"iv{i}", s, "hint", f"2026-01-05T09:30:{i:02d}", holdout=held, randomized=True,
                         send_id=f"send{i}", holdout_share=0.5)
    hint = kinds(log)["hint"]
    assert hint["method"] == "randomized_holdout"
    e = hint["effects"]["progress_rate"]
    assert e["strata"] == 1 and e["effect"] == pytest.approx(0.6, abs=1e-9)  # 0.1 more in 10 min: 0.6/h


def test_sends_of_one_student_a_side_do_not_claim_certainty():
    """Two-student sends at 0.5 hold out exactly one: every stratum is one value against one. The
    variance within strata is then unknown, not 0 (it gave a zero-width interval excluding 0)."""
    strata = [([t], [c]) for t, c in [(3.0, 1.0), (0.0, 2.0), (5.0, 1.0), (1.0, 4.0), (2.0, 2.0), (4.0, 0.0)]]
    est = estimates.stratified(strata)
    assert est.se > 0 and est.ci_low < est.effect < est.ci_high
    assert est.ci_low < 0 < est.ci_high  # a mean difference of 5/6 over scattered pairs is not significant
