"""Escalation: a struggling student the professor's help is not reaching.

Rule (per course, ``AlertConfig``): while a student is struggling, every
intervention or message sent to them is remembered with its time on the
course clock. The student is escalated when

* ``escalate_after_ignored`` (N) of them have no read receipt, or
* they are still struggling ``escalate_after_minutes`` (T) after the first.

The episode ends when the student stops struggling: the record is cleared and
the escalation alert resolves. The record is rebuilt after a hub restart from
``intervention_records`` (``episode``). On event-clock courses "minutes" are course
minutes (the watermark), so a replay at 60x escalates as the class would.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Sent:
    ref_id: str
    at: float
    read: bool = False


def escalation_reason(struggling: bool, sent: list[Sent], now: float | None,
                      after_ignored: int, after_minutes: float) -> str | None:
    """Why the student is escalated, or None. Pure: the tests drive it with a constructed history."""
    if not struggling or not sent:
        return None
    unread = sum(not s.read for s in sent)
    if after_ignored > 0 and unread >= after_ignored:
        return f"struggling and has not read {unread} messages/interventions"
    first = min(s.at for s in sent)
    if now is not None and after_minutes > 0 and now - first >= after_minutes * 60:
        return f"still struggling {(now - first) / 60:.0f} min after an intervention"
    return None


def episode(history: list[tuple[str, float, bool, str | None]]) -> list[Sent]:
    """The help of a student's current episode, from their stored interventions (ref, when on the
    course clock, read, status when sent), oldest first: the trailing run sent while struggling
    (help sent while not struggling means an earlier episode had ended). A restarted hub rebuilds
    the tracker from this; before, a restart forgot every ignored intervention."""
    run: list[Sent] = []
    for ref_id, at, read, status_before in history:
        if status_before == "struggling":
            run.append(Sent(ref_id, at, read))
        else:
            run = []
    return run


@dataclass(slots=True)
class EscalationTracker:
    """Interventions sent to each struggling student of one course, during the current episode."""

    sent: dict[str, list[Sent]] = field(default_factory=dict)

    @property
    def watching(self) -> set[str]:
        """Students whose escalation may change with time alone (they need re-assessing each tick)."""
        return set(self.sent)

    def note_sent(self, student_id: str, ref_id: str, at: float, struggling: bool) -> None:
        """Remember help sent; only help sent while struggling counts towards an escalation."""
        if struggling:
            self.sent.setdefault(student_id, []).append(Sent(ref_id, at))

    def restore(self, student_id: str, history: list[tuple[str, float, bool, str | None]]) -> bool:
        """After a restart: the student's current episode from their stored help (``episode``)."""
        sent = episode(history)
        if sent:
            self.sent[student_id] = sent
        return bool(sent)

    def note_read(self, student_id: str, ref_id: str) -> bool:
        for s in self.sent.get(student_id, ()):
            if s.ref_id == ref_id:
                s.read = True
                return True
        return False

    def condition(self, student_id: str, status: str, now: float | None, after_ignored: int,
                  after_minutes: float) -> tuple[str, str] | None:
        """The ("escalation", message) alert condition for this student now, if it holds."""
        if status != "struggling":
            self.sent.pop(student_id, None)  # the episode is over
            return None
        reason = escalation_reason(True, self.sent.get(student_id, []), now, after_ignored, after_minutes)
        return None if reason is None else ("escalation", reason)
