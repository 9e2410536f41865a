"""A course's live read model: what the professor sees and streams carry.

Fed with ``StudentSummary`` objects (idempotent: a summary older than the one
held is ignored), it assesses every student on ``refresh()`` and keeps, per
student, the wire object and the ``seq`` of its last change. A stream client
asks ``updates_since(seq)`` and gets only what changed, coalesced: however many
events a student sent, one object. ``seq`` values are microsecond-based and
monotonic, so they compare across courses and survive a rebuild: a client
whose ``seq`` predates this view's ``base_seq`` gets a fresh snapshot.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.alerts import AlertBook
from engine.clock import CourseClock
from engine.config import AlertConfig
from engine.course import Course
from engine.escalation import EscalationTracker
from engine.events import iso
from engine.risk_features import extract, session_of
from engine.risk_model import ModelInfo, RiskModel, rules_only
from engine.state import StudentSummary
from engine.status import Assessment, assess, class_context

NO_SESSION_WINDOW = ("this course declares no session window (starts_at, ends_at); the model predicts "
                     "finishing by the end of the session, so it needs one")


class SeqClock:
    """Monotonic sequence numbers that track wall-clock microseconds."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, int(self._wall() * 1_000_000))
        return self._last

    @property
    def last(self) -> int:
        return self._last


class CourseView:
    def __init__(self, course: Course, config: AlertConfig, roster: dict[str, str],
                 seqs: SeqClock, wall: Callable[[], float] = time.time,
                 risk_model: RiskModel | None = None, risk_info: ModelInfo | None = None) -> None:
        self.course = course
        self.risk_model = risk_model  # None: the transparent rules compute risk
        self._risk_info = risk_info or rules_only("no trained model was loaded")
        self.risk_info = self._risk_info
        self.config = config
        self.clock = CourseClock(course.clock, wall=wall)
        self._seqs = seqs
        self.base_seq = seqs.next()
        self.alerts = AlertBook(course.course_id, seqs.next)
        self.escalation = EscalationTracker()
        self.opened: list = []  # alerts opened since the hub last drained them (for notifications)
        self.names: dict[str, str] = {}
        self.summaries: dict[str, StudentSummary] = {}
        self.assessments: dict[str, Assessment] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.view_seq: dict[str, int] = {}
        self._inputs: dict[str, tuple] = {}  # (summary, assessment) behind each view
        self.dirty = True
        self.set_roster(roster)

    @property
    def course_id(self) -> str:
        return self.course.course_id

    def set_roster(self, roster: dict[str, str]) -> None:
        for student_id, name in roster.items():
            if self.names.get(student_id) != name:
                self._inputs.pop(student_id, None)
            self.names[student_id] = name
            if student_id not in self.summaries:
                self.summaries[student_id] = _blank(self.course_id, student_id)
        self.dirty = True

    def remove_student(self, student_id: str) -> None:
        """Erasure: the student leaves the view; subscribers get a fresh snapshot without them."""
        for held in (self.names, self.summaries, self.assessments, self.views, self.view_seq, self._inputs):
            held.pop(student_id, None)
        self.alerts.forget_student(student_id)
        self.base_seq = self._seqs.next()
        self.dirty = True

    def set_course(self, course: Course) -> None:
        if course.clock != self.course.clock:  # as a rebuilt view would have it (the catalogue does)
            self.clock = CourseClock(course.clock, self.clock.watermark, self.clock.wall)
        self.course = course
        self._inputs.clear()
        self.dirty = True

    def on_course_clock(self, wall_instant: float) -> float:
        """A wall-clock instant (a snooze's end) as the same distance from now on the course clock:
        on an event-clock course "10 minutes" are 10 minutes of the course's time, as its idle
        threshold and escalation are; the wall clock is hours off a replay's or a 60x run's."""
        now = self.clock.now()
        return wall_instant if now is None else now + (wall_instant - self.clock.wall())

    def set_config(self, config: AlertConfig) -> None:
        self.config = config
        self.dirty = True

    def apply(self, s: StudentSummary) -> bool:
        held = self.summaries.get(s.student_id)
        # an older summary is stale; one of the same seq is new only if it says something else (the
        # course's activities changed: the shard summarised the same events over the new count)
        if held is not None and held.seq > 0 and (s.seq < held.seq or (s.seq == held.seq and s == held)):
            return False
        self.summaries[s.student_id] = s
        self.names.setdefault(s.student_id, s.student_id)
        self.clock.observe(s.last_seen_ts)
        self.dirty = True
        return True

    def refresh(self) -> list[str]:
        """Re-assess every student; return the ids whose wire object changed."""
        now = self.clock.now()
        ctx = class_context(list(self.summaries.values()))
        scores = self._model_scores()
        changed = []
        # locals: this loop runs for every student of a busy course on every refresh
        config, clock, course, alerts, escalation = self.config, self.clock, self.course, self.alerts, self.escalation
        inputs, views, wire = self._inputs, self.views, self._wire
        for student_id, s in self.summaries.items():
            a = assess(s, config, clock, ctx, course, scores.get(student_id) if scores is not None else None)
            if (inputs.get(student_id) == (s, a) and student_id not in alerts.snoozed_students
                    and student_id not in escalation.sent):
                continue  # same summary, same assessment: the view and alerts cannot have changed
            inputs[student_id] = (s, a)
            self.assessments[student_id] = a
            escalated = escalation.condition(student_id, a.status, now, config.escalate_after_ignored,
                                             config.escalate_after_minutes)
            conditions = a.conditions + (escalated,) if escalated else a.conditions
            for alert in alerts.update(student_id, conditions, now if now is not None else time.time()):
                if alert.state == "open" and alert.resolved_ts is None:
                    self.opened.append(alert)
            view = wire(s, a)
            if views.get(student_id) != view:
                views[student_id] = view
                self.view_seq[student_id] = self._seqs.next()
                changed.append(student_id)
        self.dirty = False
        return changed

    def _model_scores(self) -> dict[str, tuple[float, tuple[str, ...]]] | None:
        """The trained model's (risk, reasons) for the whole class at once; None when the rules apply."""
        self.risk_info = self._risk_info
        if self.risk_model is None:
            return None
        session = session_of(self.course)
        if session is None:
            self.risk_info = self._risk_info.falling_back(NO_SESSION_WINDOW)
            return None
        table = extract(list(self.summaries.values()), self.clock, self.config.idle_after_s, session)
        return self.risk_model.score(table)

    def note_sent(self, student_id: str, ref_id: str) -> None:
        """Help (an intervention or message) reached this student: the escalation rule counts it."""
        status = getattr(self.assessments.get(student_id), "status", None)
        now = self.clock.now()
        self.escalation.note_sent(student_id, ref_id, now if now is not None else time.time(),
                                  status == "struggling")
        self.dirty = True

    def struggling(self) -> list[str]:
        """Students assessed struggling now."""
        return [sid for sid, a in self.assessments.items() if getattr(a, "status", None) == "struggling"]

    def restore_escalation(self, student_id: str, history: list[tuple[str, float, bool, str | None]]) -> None:
        """A rebuilt hub: the help this student got in their current struggling episode counts again."""
        status = getattr(self.assessments.get(student_id), "status", None)
        if status == "struggling" and self.escalation.restore(student_id, history):
            self.dirty = True

    def note_read(self, student_id: str, ref_id: str) -> None:
        if self.escalation.note_read(student_id, ref_id):
            self.dirty = True

    def drain_opened(self) -> list:
        opened, self.opened = self.opened, []
        return opened

    @property
    def seq(self) -> int:
        """Every change in this view has a seq <= this (the shared clock's last)."""
        return self._seqs.last

    def live_progress(self) -> dict[str, Any]:
        return {"course_id": self.course_id, "as_of": iso(self.clock.now()),
                "students": list(self.views.values()),
                "alerts": [a.to_wire() for a in self.alerts.active()],
                "risk_model": self.risk_info.to_wire()}

    def updates_since(self, seq: int | None) -> dict[str, Any] | None:
        """A snapshot (seq None, older than this view, older than an alert change the view no longer
        holds, or newer than the view) or a diff; None when nothing changed."""
        head = self.seq
        if seq is None or seq < self.base_seq or seq < self.alerts.forgotten_through or seq > head:
            # a seq ahead of this view (another stack's, a skewed node's) cannot be resumed either
            return {"type": "snapshot", "seq": head, **self.live_progress()}
        students = [v for sid, v in self.views.items() if self.view_seq[sid] > seq]
        alerts = [a.to_wire() for a in self.alerts.since(seq)]
        if not students and not alerts:
            return None
        return {"type": "diff", "seq": head, "course_id": self.course_id,
                "as_of": iso(self.clock.now()), "students": students, "alerts": alerts}

    def _wire(self, s: StudentSummary, a: Assessment) -> dict[str, Any]:
        return {"student_id": s.student_id, "name": self.names.get(s.student_id, s.student_id),
                "status": a.status, "completion": s.completion,
                "time_on_task_s": s.time_on_task_s, "current_activity_id": s.current_activity_id,
                "risk": a.risk, "reasons": list(a.reasons),
                "last_event_ts": iso(s.last_event_ts), "last_event_id": s.last_event_id}


def _blank(course_id: str, student_id: str) -> StudentSummary:
    return StudentSummary(course_id, student_id, 0, 0.0, 0.0, None, "", False, False, 0, 0, 0,
                          None, None, None, None, None, 0.0)
