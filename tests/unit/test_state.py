"""Completion and time-on-task arithmetic (docs/architecture.md, "Folding")."""
import pytest

from engine.state import StudentState, from_snapshot, to_snapshot
from tests.factories import ev, params


def fold(events, n_activities=4, idle_after_s=180.0):
    state = StudentState("c1", "s1")
    p = params(n_activities, idle_after_s)
    for e in events:
        state.apply(e, p)
    return state, state.summary(p, {f"a{i + 1}": 10.0 for i in range(n_activities)})


@pytest.mark.parametrize("events, completion", [
    ([], 0.0),
    ([ev("progress", progress=0.5)], 0.125),
    ([ev("progress", progress=0.5), ev("progress", progress=0.3)], 0.125),  # max, never backwards
    ([ev("activity_completed")], 0.25),
    ([ev("progress", progress=1.0, activity="a2")], 0.25),
    ([ev("activity_completed", activity=f"a{i}") for i in (1, 2, 3, 4)], 1.0),
    ([ev("activity_completed"), ev("activity_completed")], 0.25),  # completing twice counts once
    ([ev("attempt", correct=True), ev("hint_requested")], 0.0),  # attempts are not progress
])
def test_completion_is_mean_of_activity_progress(events, completion):
    _, s = fold(events)
    assert s.completion == pytest.approx(completion)
    assert s.completed_all == (completion == 1.0)


@pytest.mark.parametrize("gaps, idle_after_s, expected", [
    ([0, 60, 120], 180, 120),         # two gaps of 60 s
    ([0, 60, 400], 180, 60 + 180),    # the long gap is capped at the idle threshold
    ([0, 180], 180, 180),             # exactly at the cap
    ([0, 181], 180, 180),
    ([0, 500], 600, 500),             # the cap is per course configuration
    ([0], 180, 0),                    # a single event has no gap
])
def test_time_on_task_is_the_capped_gap(gaps, idle_after_s, expected):
    _, s = fold([ev("attempt", correct=True, t=t) for t in gaps], idle_after_s=idle_after_s)
    assert s.time_on_task_s == pytest.approx(expected)


def test_gap_is_charged_to_the_earlier_activity_and_duration_replaces_it():
    state, s = fold([ev("activity_started", activity="a1", t=0), ev("activity_started", activity="a2", t=100),
                     ev("attempt", activity="a2", correct=True, t=110, duration=42.0)])
    assert state.activities["a1"].time_on_task_s == 100
    assert state.activities["a2"].time_on_task_s == 42.0
    assert s.current_activity_id == "a2"


def test_heartbeats_show_presence_but_are_not_learning():
    _, s = fold([ev("attempt", correct=True, t=0), ev("heartbeat", activity=None, t=50),
                 ev("attempt", correct=False, t=90)])
    assert s.time_on_task_s == 90  # the heartbeat does not split or add time
    assert s.last_seen_ts == s.last_learning_ts
    _, s2 = fold([ev("attempt", correct=True, t=0), ev("heartbeat", activity=None, t=50)])
    assert s2.last_seen_ts - s2.last_learning_ts == 50


def test_attempts_errors_hints_and_tail_reset_on_activity_change():
    state, s = fold([ev("attempt", correct=False), ev("hint_requested"), ev("attempt", correct=True),
                     ev("attempt", activity="a2", correct=False)])
    assert (s.attempts, s.errors, s.hints) == (3, 2, 1)
    assert s.tail == "x" and state.activities["a1"].errors == 1


def test_events_out_of_time_order_never_charge_negative_time():
    _, s = fold([ev("attempt", correct=True, t=100), ev("attempt", correct=True, t=50)])
    assert s.time_on_task_s == 0


def test_snapshot_round_trip_keeps_the_whole_state():
    state, _ = fold([ev("progress", progress=0.4, t=0), ev("attempt", correct=False, t=30), ev("hint_requested", t=40)])
    assert to_snapshot(from_snapshot(to_snapshot(state))) == to_snapshot(state)
