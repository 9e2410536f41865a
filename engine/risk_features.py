"""The features of the at-risk model: one definition, used to train it and to score live.

``extract(summaries, clock, idle_after_s, session)`` turns a whole
class's ``StudentSummary`` objects into a feature matrix (one row a student,
columns in ``FEATURES`` order) plus the plain numbers a professor can check
(``FeatureTable.describe``). Training (``classpulse.risk_training``) folds
simulated events through ``StudentState`` and calls this same function at
snapshot times, so training and live scoring cannot drift apart.

Everything is computed from what a summary holds at that moment (events up to
now), never from the future. The model predicts finishing by the end of the
session, so it needs the session window (``session_of``: the course's
``starts_at``/``ends_at``); its main feature is the time the remaining work
needs at the student's own pace against the time left. Features are absolute,
not relative to the class: a student's place in a class says little when half
of it is in trouble, and class-relative features calibrated badly on held-out
mixes. Values move only when events arrive, except silence (steps of half the
idle threshold) and time left (5% steps of the session), so risk does not
tick on its own.
"""
from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.clock import CourseClock
from engine.course import Course
from engine.state import StudentSummary
from engine.status import window_stats

RECENT_WINDOW = 5     # attempts that count as "recent"
SMOOTHING = 2.0       # pseudo-attempts at a typical rate: 1 wrong answer out of 1 is not 100%
TYPICAL_ERROR_RATE = 0.3
PACE_PRIOR_S = 300.0  # pseudo-seconds on task at the class's pace: a first lucky minute is not a pace
TYPICAL_PACE = 1.0    # expected seconds of work done per second on task, before anyone has a pace
SILENCE_STEP = 0.5    # silence is measured in half idle thresholds...
SILENCE_CAP = 4.0     # ...up to four idle thresholds
SESSION_STEP = 0.05   # time left moves in 5% steps of the session, so risk does not tick
MIN_PACE = 0.01       # a pace (or class median) of 0 would need infinite time: floor it

FEATURES: tuple[str, ...] = (
    "need_vs_left",       # log of (minutes the remaining work needs at this pace) / (minutes left)
    "session_elapsed",    # share of the session gone (stepped)
    "completion",         # mean progress over the course's activities
    "recent_error_rate",  # wrong share of the last attempts on the current activity (smoothed)
    "hints_per_attempt",  # hints / (attempts + 1)
    "silence",            # time since the last learning event, in idle thresholds (stepped, capped)
    "pace",               # log of expected work done per minute on task (smoothed)
)
# The range each feature is clipped to, wide enough never to bind on a real class: it only keeps a
# degenerate one (nobody has done expected work yet, a corrupt summary) from reaching the model as
# inf or NaN, which would score every student NaN.
LIMITS: dict[str, tuple[float, float]] = {"need_vs_left": (-12.0, 12.0), "session_elapsed": (0.0, 1.0),
                                          "completion": (0.0, 1.0), "recent_error_rate": (0.0, 1.0),
                                          "hints_per_attempt": (0.0, 1000.0), "silence": (0.0, SILENCE_CAP),
                                          "pace": (float(np.log(MIN_PACE)), float(np.log(1e4)))}
_LOW, _HIGH = (np.array([LIMITS[f][i] for f in FEATURES]) for i in (0, 1))
# Which way a feature is a worry (+1: higher is riskier, -1: lower is, 0: context, never a reason).
# A feature is given as a reason only when the model weighs it this way too (engine.risk_model).
RISKY_DIRECTION: dict[str, int] = {"need_vs_left": 1, "session_elapsed": 0, "completion": -1,
                                   "recent_error_rate": 1, "hints_per_attempt": 1, "silence": 1, "pace": -1}


@dataclass(frozen=True)
class FeatureTable:
    """A class's features at one moment, plus the raw figures behind each reason."""

    student_ids: tuple[str, ...]
    X: np.ndarray                 # (students, len(FEATURES))
    completed: np.ndarray         # bool: completed everything (risk is 0, never scored)
    raw: dict[str, np.ndarray]    # per-student figures used in the reasons
    ref: dict[str, float]         # class figures used in the reasons

    def describe(self, i: int, feature: str) -> str:
        """Feature ``feature`` of student ``i`` in words a professor reads."""
        r, c = _Row(self.raw, i), self.ref
        if feature == "need_vs_left":
            return (f"at this pace the remaining work needs about {_minutes(r['need_s'])}; "
                    f"{_minutes(c['left_s'])} of the session left")
        if feature == "session_elapsed":
            return f"{c['elapsed']:.0%} of the session gone"
        if feature == "completion":
            return f"completion {r['completion']:.0%} (class median {c['median_completion']:.0%})"
        if feature == "recent_error_rate":
            if r["recent_attempts"] == 0:
                return "no attempts yet on the current activity"
            return (f"{r['recent_errors']:.0f} of the last {r['recent_attempts']:.0f} attempts wrong "
                    f"(class: {c['error_rate']:.0%} of attempts wrong)")
        if feature == "hints_per_attempt":
            return (f"{r['hints']:.0f} hints for {r['attempts']:.0f} attempts "
                    f"(class: {c['hints_per_attempt']:.2f} per attempt)")
        if feature == "silence":
            if r["silence"] == 0:
                return "active within the idle threshold"
            return f"no learning activity for over {_minutes(r['silence'] * c['idle_after_s'])}"
        if feature == "pace":
            return (f"works through {r['pace']:.1f} expected minutes per minute on task "
                    f"(class median {c['median_pace']:.1f})")
        raise KeyError(feature)


class _Row:
    """One student's raw figures, read lazily (a reason needs two or three of them)."""

    __slots__ = ("i", "raw")

    def __init__(self, raw: dict[str, np.ndarray], i: int) -> None:
        self.raw, self.i = raw, i

    def __getitem__(self, key: str) -> float:
        return float(self.raw[key][self.i])


@dataclass(frozen=True)
class Session:
    """What the features need to know about the course: its work and its time window."""

    activity_count: int
    total_expected_s: float
    starts_at: float
    ends_at: float


def session_of(course: Course) -> Session | None:
    """None when the course declares no session window (the model predicts finishing by its end)."""
    if course.starts_at is None or course.ends_at is None or course.ends_at <= course.starts_at:
        return None
    return Session(len(course.activities), sum(60.0 * a.expected_minutes for a in course.activities),
                   course.starts_at, course.ends_at)


def extract(summaries: Sequence[StudentSummary], clock: CourseClock, idle_after_s: float,
            session: Session) -> FeatureTable:
    """The feature matrix of a whole class at the clock's "now" (see the module docstring)."""
    n = len(summaries)
    last = "last_learning_received_at" if clock.mode == "live" else "last_learning_ts"  # as clock.silent_for
    cols = np.array([_COLUMNS(s) + (getattr(s, last),) + _recent(s.tail) for s in summaries],
                    dtype=float).reshape(n, 11).T  # None (never learned) becomes NaN
    completion, started, completed, attempts, errors, hints, tot, done_s, last_ts, r_attempts, r_errors = cols
    started, completed = started.astype(bool), completed.astype(bool)
    now = clock.now()
    silent = np.zeros(n) if now is None else np.nan_to_num(np.maximum(now - last_ts, 0.0), nan=0.0)

    length = session.ends_at - session.starts_at
    elapsed = 0.0 if now is None else min(max((now - session.starts_at) / length, 0.0), 1.0)
    elapsed = np.floor(elapsed / SESSION_STEP + 1e-9) * SESSION_STEP
    left_s = max(length * (1.0 - elapsed), 60.0)

    n_started = int(started.sum())
    all_attempts = attempts.sum()
    class_error = float(errors.sum() / all_attempts) if all_attempts else TYPICAL_ERROR_RATE
    class_hints = float(hints.sum() / all_attempts) if all_attempts else 0.0
    measured = started & (tot >= PACE_PRIOR_S)
    median_pace = float(np.median(done_s[measured] / tot[measured])) if measured.any() else TYPICAL_PACE
    median_pace = max(median_pace, MIN_PACE)  # a class that has done no expected work yet
    pace = np.maximum((done_s + PACE_PRIOR_S * median_pace) / (tot + PACE_PRIOR_S), MIN_PACE)
    need_s = np.maximum(session.total_expected_s - done_s, 0.0) / pace
    silence = np.minimum(np.floor(silent / idle_after_s / SILENCE_STEP) * SILENCE_STEP, SILENCE_CAP)
    silence[~started] = 0.0
    X = np.column_stack([
        np.log((need_s + 60.0) / (left_s + 60.0)),
        np.full(n, elapsed),
        completion,
        (r_errors + SMOOTHING * TYPICAL_ERROR_RATE) / (r_attempts + SMOOTHING),
        hints / (attempts + 1.0),
        silence,
        np.log(pace),
    ]) if n else np.zeros((0, len(FEATURES)))
    X = np.clip(np.nan_to_num(X, nan=0.0), _LOW, _HIGH)
    raw = {"completion": completion, "attempts": attempts, "errors": errors, "hints": hints,
           "recent_attempts": r_attempts, "recent_errors": r_errors, "silence": silence,
           "need_s": need_s, "pace": pace}
    ref = {"median_completion": float(np.median(completion[started])) if n_started else 0.0,
           "started": float(n_started), "error_rate": class_error, "hints_per_attempt": class_hints,
           "idle_after_s": float(idle_after_s), "left_s": left_s, "elapsed": elapsed,
           "median_pace": median_pace}
    return FeatureTable(tuple(s.student_id for s in summaries), X, completed, raw, ref)


_COLUMNS = operator.attrgetter("completion", "started", "completed_all", "attempts", "errors", "hints",
                               "time_on_task_s", "expected_s_done")


@functools.lru_cache(maxsize=8192)
def _recent(tail: str) -> tuple[int, int]:
    """(attempts, errors) among the last RECENT_WINDOW attempts; tails repeat a lot across a class."""
    w = window_stats(tail, RECENT_WINDOW)
    return w.attempts, w.errors


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
