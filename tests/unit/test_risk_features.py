"""The risk model's features on a hand-computable class (the one definition training and live share)."""
import math

import numpy as np
import pytest

from engine.clock import CourseClock
from engine.course import Activity, Course
from engine.risk_features import FEATURES, LIMITS, extract, session_of
from engine.state import StudentState, StudentSummary
from tests.factories import T0, ev, params

IDLE = 180.0


def summaries(events_by_student, n=4):
    out = []
    for student, events in events_by_student.items():
        state = StudentState("c1", student)
        for e in events:
            state.apply(e._replace(student_id=student), params(n))
        out.append(state.summary(params(n), {f"a{i + 1}": 10.0 for i in range(n)}))
    return out


def windowed_course(start=T0, end=T0 + 3600):
    acts = tuple(Activity(f"a{i + 1}", f"Activity {i + 1}", 10.0) for i in range(4))
    return Course("c1", "p1", "Course", "event", acts, start, end)


@pytest.fixture
def table():
    """s1: wrong, wrong, right, completes a1 (every 60 s); s2: a hint then a right answer; s3: nothing.
    The course: 4 activities of 10 expected minutes, a one-hour session; now is 10 minutes in."""
    s = summaries({
        "s1": [ev("attempt", t=0, correct=False), ev("attempt", t=60, correct=False),
               ev("attempt", t=120, correct=True), ev("activity_completed", t=180)],
        "s2": [ev("hint_requested", t=0), ev("attempt", t=30, correct=True)],
        "s3": [],
    })
    clock = CourseClock("event")
    clock.observe(T0 + 600)
    return extract(s, clock, IDLE, session_of(windowed_course()))


def feature(table, student, name):
    return table.X[table.student_ids.index(student), FEATURES.index(name)]


def test_features_by_hand(table):
    left = 3600 * 0.85  # 10 of 60 minutes = 16.7% gone, stepped down to 15%
    # pace: (expected seconds done + 300 s at the typical pace 1.0) / (seconds on task + 300)
    pace = {"s1": (600 + 300) / (180 + 300), "s2": 300 / (30 + 300), "s3": 1.0}
    need = {"s1": 1800 / pace["s1"], "s2": 2400 / pace["s2"], "s3": 2400 / pace["s3"]}
    expected = {
        "s1": {"completion": 0.25, "recent_error_rate": (2 + 0.6) / 5,
               "hints_per_attempt": 0.0, "silence": 2.0},  # 420 s silent = 2.33 idle thresholds -> 2.0
        "s2": {"completion": 0.0, "recent_error_rate": 0.6 / 3,
               "hints_per_attempt": 0.5, "silence": 3.0},  # 570 s = 3.17 -> 3.0
        "s3": {"completion": 0.0, "recent_error_rate": 0.3,
               "hints_per_attempt": 0.0, "silence": 0.0},
    }
    for student, values in expected.items():
        for name, value in values.items():
            assert feature(table, student, name) == pytest.approx(value), (student, name)
        assert feature(table, student, "session_elapsed") == pytest.approx(0.15)
        assert feature(table, student, "pace") == pytest.approx(math.log(pace[student]))
        assert feature(table, student, "need_vs_left") == pytest.approx(
            math.log((need[student] + 60) / (left + 60)))


def test_reasons_are_words_with_the_class_figure(table):
    i = table.student_ids.index("s1")
    assert table.describe(i, "recent_error_rate") == "2 of the last 3 attempts wrong (class: 50% of attempts wrong)"
    assert table.describe(i, "silence") == "no learning activity for over 6 min"
    assert table.describe(i, "completion") == "completion 25% (class median 12%)"
    assert "51 min of the session left" in table.describe(i, "need_vs_left")
    for j in range(3):
        for name in FEATURES:
            assert table.describe(j, name)


def test_risk_does_not_tick_between_steps():
    s = summaries({"s1": [ev("attempt", t=0, correct=False)], "s2": [ev("attempt", t=0)]})
    clock = CourseClock("event")
    tables = []
    for now in (200, 240, 260):  # all within the same silence step (1.0 threshold) and the same 5% of the hour
        clock.observe(T0 + now)
        tables.append(extract(s, clock, IDLE, session_of(windowed_course())).X)
    assert (tables[0] == tables[1]).all() and (tables[1] == tables[2]).all()


def test_no_session_window_no_session_and_empty_class():
    assert session_of(Course("c1", "p1", "C", "event", (Activity("a1", "A", 5),))) is None
    assert session_of(windowed_course(T0, T0)) is None
    empty = extract([], CourseClock("event"), IDLE, session_of(windowed_course()))
    assert empty.X.shape == (0, len(FEATURES))


def on_task_with_no_expected_work(student: str) -> StudentSummary:
    """360 s on task, nothing of the expected work done (every attempt so far on an unscored step)."""
    return StudentSummary("c1", student, 1, 0.0, 360.0, "a1", "xx", True, False, 2, 2, 0,
                          T0 + 600, T0 + 600, T0 + 600, "e1", T0 + 600, 0.0)


def test_a_class_with_no_expected_work_done_scores_finite_risks():
    """Everyone measured at pace 0: the class median is 0, so pace 0, an infinite need and log(0)
    would have summed to NaN for every student. Every feature is finite, every risk in [0, 1]."""
    from classpulse import risk_store
    clock = CourseClock("event")
    clock.observe(T0 + 620)
    table = extract([on_task_with_no_expected_work(f"s{i}") for i in range(4)], clock, IDLE,
                    session_of(windowed_course()))
    assert np.isfinite(table.X).all()
    assert table.ref["median_pace"] > 0 and np.isfinite(table.raw["need_s"]).all()
    scores = risk_store.load(risk_store.shipped_folder()).score(table)
    assert len(scores) == 4
    for risk, reasons in scores.values():
        assert math.isfinite(risk) and 0.0 <= risk <= 1.0
        assert reasons and all(isinstance(r, str) for r in reasons)


def test_features_are_clipped_to_their_limits():
    clock = CourseClock("event")
    clock.observe(T0 + 620)
    odd = on_task_with_no_expected_work("s1")._replace(hints=10**9, attempts=0)
    table = extract([odd], clock, IDLE, session_of(windowed_course()))
    for j, name in enumerate(FEATURES):
        low, high = LIMITS[name]
        assert low <= table.X[0, j] <= high, name
