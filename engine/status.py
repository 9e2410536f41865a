"""Engagement status and alert conditions for one student.

Status, first match wins (docs/architecture.md, "Status rules"):
``completed`` (every activity at progress 1) > ``idle`` (started, no learning
event for ``idle_after_s`` on the course clock) > ``struggling`` (on the
current activity: at least ``struggling_min_attempts`` of the last
``struggling_window`` attempts with an error rate >= ``struggling_error_rate``,
or ``hint_burst`` hints since the first attempt of that window) > ``active``
> ``not_started`` (no learning event yet).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from engine import risk
from engine.clock import CourseClock
from engine.config import AlertConfig
from engine.course import Course
from engine.state import StudentSummary

MIN_STARTED_FOR_CLASS_COMPARISON = 3
PRIORITY = {"struggling": 1, "escalation": 1, "idle": 2, "at_risk": 2, "behind": 3}


class ClassContext(NamedTuple):
    median_completion: float | None  # over started students
    started: int


class Assessment(NamedTuple):  # a tuple: one per changed student on every hub refresh
    status: str
    risk: float
    reasons: tuple[str, ...]
    conditions: tuple[tuple[str, str], ...]  # (alert kind, message a professor reads)


class WindowStats(NamedTuple):
    attempts: int
    errors: int
    hints: int

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


@functools.lru_cache(maxsize=8192)
def window_stats(tail: str, window: int) -> WindowStats:
    """Attempts and errors among the last ``window`` attempts, hints since the first of them.
    Cached: a tail is a short c/x/h string and the same ones recur across students and refreshes."""
    attempts = errors = 0
    start = 0
    for i in range(len(tail) - 1, -1, -1):
        mark = tail[i]
        if mark in "cx":
            attempts += 1
            errors += mark == "x"
            if attempts == window:
                start = i
                break
    return WindowStats(attempts, errors, tail.count("h", start))


def struggling_reason(w: WindowStats, config: AlertConfig, activity_title: str) -> str | None:
    rate = w.error_rate
    if (w.attempts >= config.struggling_min_attempts and rate is not None
            and rate >= config.struggling_error_rate):
        return f"{w.errors} of the last {w.attempts} attempts on '{activity_title}' were wrong"
    if w.hints >= config.hint_burst:
        return f"asked for {w.hints} hints on '{activity_title}'"
    return None


def assess(s: StudentSummary, config: AlertConfig, clock: CourseClock, ctx: ClassContext,
           course: Course, model_risk: tuple[float, tuple[str, ...]] | None = None) -> Assessment:
    """``model_risk``: (risk, reasons) from the trained model when it is in use, else the rules score."""
    title = course.title_of(s.current_activity_id)
    silent = clock.silent_for(s)
    idle = s.started and not s.completed_all and silent is not None and silent >= config.idle_after_s
    recent = window_stats(s.tail, config.struggling_window)
    # a student who got it and completed the activity is not struggling on it (the tail still
    # holds the errors before: the risk features read them)
    struggling = None if s.completed_all or s.current_done else struggling_reason(recent, config, title)
    if s.completed_all:
        status = "completed"
    elif idle:
        status = "idle"
    elif struggling:
        status = "struggling"
    elif s.started:
        status = "active"
    else:
        status = "not_started"

    conditions: list[tuple[str, str]] = []
    if struggling and status == "struggling":
        conditions.append(("struggling", struggling))
    if idle:
        conditions.append(("idle", f"no activity for {_minutes(silent)} (last on '{title}')"))
    median, others = ctx.median_completion, ctx.started - (1 if s.started else 0)
    if (not s.completed_all and median is not None and others >= MIN_STARTED_FOR_CLASS_COMPARISON
            and round(median - s.completion, 9) > config.behind_by):  # 0.55 - 0.30 is 0.25000000000000006
        conditions.append(("behind", f"at {s.completion:.0%} while the class median is {median:.0%}"))

    recent_rate = recent.error_rate if recent.attempts >= config.struggling_min_attempts else None
    if s.completed_all:
        score, reasons = 0.0, ()
    elif model_risk is not None:
        score, reasons = model_risk
    else:
        score, reasons = risk.score(risk.inputs_for(s, median, recent_rate, idle, others))
    if score >= config.risk_threshold:
        conditions.append(("at_risk", f"risk {score:.2f}: " + "; ".join(reasons)))
    if struggling and status == "struggling":
        reasons = (struggling,) + reasons
    return Assessment(status, score, reasons, tuple(conditions))


def class_context(summaries: list[StudentSummary]) -> ClassContext:
    started = sorted(s.completion for s in summaries if s.started)
    if not started:
        return ClassContext(None, 0)
    n = len(started)
    mid = n // 2
    median = started[mid] if n % 2 else (started[mid - 1] + started[mid]) / 2
    return ClassContext(round(median, 4), n)


def _minutes(seconds: float | None) -> str:
    seconds = seconds or 0.0
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
