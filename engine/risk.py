"""Transparent, rule-based risk of not finishing.

Until a trained model passes its acceptance gate (the analytics issue), risk is
a noisy-OR of four signals a professor can check by eye; each signal that
contributes gives a reason in plain words. Inputs move only when the
student's events or status change, so risk never ticks by itself.
"""
from __future__ import annotations

from typing import NamedTuple

from engine.state import StudentSummary

MODEL_NAME = "rules-v1"


class RiskInputs(NamedTuple):  # a tuple: built for every changed student on every hub refresh
    completion: float
    class_median: float | None  # median completion of started students
    recent_error_rate: float | None  # over the struggling window, None if too few attempts
    idle: bool
    time_on_task_s: float
    expected_s_done: float
    started: bool
    others_started: int


def score(x: RiskInputs) -> tuple[float, tuple[str, ...]]:
    signals: list[tuple[float, str]] = []
    if x.class_median is not None and x.others_started >= 3:
        deficit = max(0.0, x.class_median - x.completion)
        if deficit > 0.05:
            signals.append((0.85 * min(1.0, deficit / 0.5),
                            f"{deficit:.0%} behind the class median ({x.class_median:.0%})"))
        if not x.started:
            signals.append((0.5, "has not started while classmates have"))
    if x.recent_error_rate is not None and x.recent_error_rate >= 0.5:
        signals.append((0.5 * x.recent_error_rate,
                        f"{x.recent_error_rate:.0%} of recent attempts wrong"))
    if x.idle:
        signals.append((0.4, "inactive for longer than the idle threshold"))
    if x.time_on_task_s > 300 and x.time_on_task_s > 2.0 * max(x.expected_s_done, 1.0):
        ratio = x.time_on_task_s / max(x.expected_s_done, 1.0)
        signals.append((0.3, f"working slowly: {min(ratio, 99):.1f}x the expected time for work done"))
    if not signals:
        return 0.0, ()
    survive = 1.0
    for weight, _ in signals:
        survive *= 1.0 - weight
    reasons = tuple(text for weight, text in sorted(signals, key=lambda s: -s[0]) if weight >= 0.1)
    return round(1.0 - survive, 2), reasons


def inputs_for(s: StudentSummary, class_median: float | None, recent_error_rate: float | None,
               idle: bool, others_started: int) -> RiskInputs:
    return RiskInputs(s.completion, class_median, recent_error_rate, idle, s.time_on_task_s,
                      s.expected_s_done, s.started, others_started)
