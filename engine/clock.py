"""The course clock: what "now" means for idle detection.

A live course uses the wall clock and each student's last learning event by
server receive time (client clock skew cannot make a student idle). An
event-clock course (simulated or replayed) uses its watermark: the latest
event time seen in the course, advanced by heartbeats. A cohort replayed at
60x therefore goes idle exactly as a live class would.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.course import ClockMode
from engine.state import StudentSummary


@dataclass(slots=True)
class CourseClock:
    mode: ClockMode
    watermark: float | None = None
    wall: Callable[[], float] = time.time

    def observe(self, ts: float | None) -> None:
        """Advance the watermark with an event time (only ever forward)."""
        if ts is not None and (self.watermark is None or ts > self.watermark):
            self.watermark = ts

    def now(self) -> float | None:
        return self.wall() if self.mode == "live" else self.watermark

    def last_learning(self, s: StudentSummary) -> float | None:
        return s.last_learning_received_at if self.mode == "live" else s.last_learning_ts

    def silent_for(self, s: StudentSummary) -> float | None:
        """Seconds since the student's last learning event, on this clock."""
        now, last = self.now(), self.last_learning(s)
        if now is None or last is None:
            return None
        return max(0.0, now - last)
