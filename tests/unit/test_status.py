"""Status and alert rules, at and around each threshold (table-driven)."""
import pytest

from engine.clock import CourseClock
from engine.config import AlertConfig
from engine.state import StudentState
from engine.status import ClassContext, assess, class_context, window_stats
from tests.factories import T0, course, ev, params

CFG = AlertConfig()


def summary_of(events, n=4):
    state = StudentState("c1", "s1")
    for e in events:
        state.apply(e, params(n))
    return state.summary(params(n), {})


def attempts(marks, t0=0.0):
    """'x' wrong, 'c' correct, 'h' hint, one every 10 s from t0."""
    out = []
    for i, m in enumerate(marks):
        t = t0 + 10 * i
        out.append(ev("hint_requested", t=t) if m == "h" else ev("attempt", correct=m == "c", t=t))
    return out


NO_CLASS = ClassContext(None, 0)


def status(events, now_offset=None, config=CFG, ctx=NO_CLASS):
    s = summary_of(events)
    clock = CourseClock("event")
    clock.observe(T0 + (now_offset if now_offset is not None else (s.last_seen_ts or T0) - T0))
    return assess(s, config, clock, ctx, course())


@pytest.mark.parametrize("marks, expected", [
    ("", "not_started"),
    ("c", "active"),
    ("xx", "active"),            # 2 attempts < struggling_min_attempts (3)
    ("xxx", "struggling"),       # 3 of 3 wrong
    ("cxx", "struggling"),       # 2/3 = 0.67 >= 0.6
    ("ccx", "active"),           # 1/3 = 0.33
    ("cccxx", "active"),         # 2/5 = 0.4 < 0.6
    ("ccxxx", "struggling"),     # 3/5 = 0.6, exactly at the rate
    ("xxxcc", "struggling"),     # window is the last 5: 3/5
    ("xxxccc", "active"),        # last 5 = xxccc -> 2/5
    ("hh", "active"),            # 2 hints < hint_burst (3)
    ("hhh", "struggling"),       # hint burst
    ("hchch", "struggling"),     # 3 hints since the first attempt of the window
])
def test_struggling_rule(marks, expected):
    assert status(attempts(marks)).status == expected


@pytest.mark.parametrize("silence, expected", [(0, "active"), (179, "active"), (180, "idle"), (600, "idle")])
def test_idle_after_threshold_on_the_event_clock(silence, expected):
    events = attempts("c")
    assert status(events, now_offset=silence).status == expected


def test_idle_beats_struggling_and_completed_beats_idle():
    assert status(attempts("xxx"), now_offset=20 + 180).status == "idle"
    done = [ev("activity_completed", activity=f"a{i}") for i in (1, 2, 3, 4)]
    assert status(done, now_offset=10_000).status == "completed"


def test_never_started_students_are_not_idle():
    assert status([], now_offset=10_000).status == "not_started"


def test_live_clock_measures_idle_by_receive_time_not_client_time():
    # the client's clock is an hour behind: its ts says long ago, but it arrived just now
    e = ev("attempt", correct=True, t=-3600, received=0)
    s = summary_of([e])
    clock = CourseClock("live", wall=lambda: T0 + 10)
    assert assess(s, CFG, clock, ClassContext(None, 0), course(clock="live")).status == "active"
    clock = CourseClock("live", wall=lambda: T0 + 200)
    assert assess(s, CFG, clock, ClassContext(None, 0), course(clock="live")).status == "idle"


def test_event_clock_watermark_only_moves_forward():
    clock = CourseClock("event")
    clock.observe(T0 + 100)
    clock.observe(T0 + 50)
    assert clock.now() == T0 + 100


@pytest.mark.parametrize("completion, median, started, behind", [
    (0.25, 0.5, 4, False),   # exactly behind_by: not more than
    (0.24, 0.5, 4, True),
    (0.0, 0.5, 4, True),     # not started yet also counts as behind
    (0.1, 0.5, 3, False),    # too few other started students to compare (3 incl. itself)
    (0.9, 0.5, 4, False),
])
def test_behind_the_class(completion, median, started, behind):
    events = [ev("progress", progress=completion * 4, activity="a1")] if completion else []
    events = [ev("progress", progress=min(1.0, completion * 4))] if completion else []
    a = status(events, ctx=ClassContext(median, started))
    assert ("behind" in dict(a.conditions)) == behind


def test_alerts_carry_readable_reasons_and_risk_threshold_applies():
    a = status(attempts("xxxx"), ctx=ClassContext(0.75, 10))
    kinds = dict(a.conditions)
    assert "3 of the last 4" not in kinds["struggling"] and "4 of the last 4 attempts" in kinds["struggling"]
    assert "behind" in kinds and a.risk >= 0.7 and "at_risk" in kinds
    assert a.reasons and all(isinstance(r, str) and r for r in a.reasons)
    relaxed = status(attempts("xxxx"), ctx=ClassContext(0.75, 10), config=CFG.merge({"risk_threshold": 0.99}))
    assert "at_risk" not in dict(relaxed.conditions)


def test_thresholds_are_configuration():
    assert status(attempts("xx")).status == "active"
    strict = CFG.merge({"struggling_min_attempts": 2})
    assert status(attempts("xx"), config=strict).status == "struggling"
    patient = CFG.merge({"idle_after_s": 600})
    assert status(attempts("c"), now_offset=300, config=patient).status == "active"


def test_window_stats_and_class_context():
    assert window_stats("hxxhc", 2) == (2, 1, 1)
    assert class_context([summary_of([]), summary_of([ev("progress", progress=1.0)])]).started == 1


@pytest.mark.parametrize("done, median", [(6, 0.55), (12, 0.8)])
def test_exactly_behind_by_is_not_behind_whatever_the_float_rounding(done, median):
    """0.55 - 0.30 is 0.25000000000000006 in binary: the rule is "more than behind_by"."""
    events = [ev("progress", activity=f"a{i}", progress=1.0, t=i) for i in range(done)]
    s = summary_of(events, n=20)
    clock = CourseClock("event")
    clock.observe(T0 + done)
    config = AlertConfig(behind_by=round(median - done / 20, 2))
    assert "behind" not in dict(assess(s, config, clock, ClassContext(median, 5), course()).conditions)


def test_completing_the_activity_ends_its_struggle():
    """Three wrong attempts, then it works and the activity is completed: not struggling on it."""
    events = attempts("xxxc") + [ev("activity_completed", t=40)]
    assert status(events).status == "active"
    assert status(attempts("xxxc") + [ev("progress", progress=0.5, t=40)]).status == "struggling"
