"""One simulated student: latent knowledge (BKT) and engagement drive what they do.

``act()`` performs the next action at ``self.t`` (simulated minutes since the
session started) and schedules the one after; ``truth(minute)`` reads the
ground truth from the latent state (never from any detector's thresholds);
``receive(intervention)`` is how a professor's help changes the student.
Everything random comes from the student's own seeded generator, so a student
behaves the same whatever process simulates it.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from simulator.archetypes import ARCHETYPES, NUMERIC, Archetype
from simulator.bkt import Skill, SkillParams
from simulator.cohort import Cohort


@dataclass(frozen=True)
class Truth:
    minute: int
    student_id: str
    archetype: str
    activity_id: str | None
    idle: bool
    struggling: bool
    at_risk: bool
    knows_current: bool

    @property
    def on_track(self) -> bool:
        return not (self.idle or self.struggling or self.at_risk)

    def row(self) -> dict[str, Any]:
        """The saved form: every field plus ``on_track``."""
        return asdict(self) | {"on_track": self.on_track}


class SimStudent:
    def __init__(self, cohort: Cohort, index: int, start_epoch: float) -> None:
        self.cohort = cohort
        self.student_id = f"{cohort.course_id}-s{index:05d}"
        self.rng = random.Random(f"{cohort.seed}:{index}")
        base = ARCHETYPES[cohort.archetype_of(index)]
        self.archetype = _jitter(base, self.rng)
        self.start_epoch = start_epoch
        self.skills: list[Skill] = []
        for a in cohort.activities:
            params = cohort.skills.get(a.skill, SkillParams()).scaled(
                self.archetype.init_mult, self.archetype.learn_mult * (1 - 0.8 * a.difficulty),
                self.archetype.guess_mult * (1 - 0.7 * a.difficulty))
            self.skills.append(Skill.start(params, self.rng))
        self.t = self.archetype.start_delay_min
        self.arrived_at = self.t
        self.activity = 0
        self.correct = 0
        self.attempts_here = 0
        self.started_here = False
        self.spell: tuple[float, float] | None = None
        self.pace = 1.0
        self.extra_minutes = 0.0
        self.serial = 0

    @property
    def done(self) -> bool:
        return self.activity >= len(self.cohort.activities)

    @property
    def idle_now(self) -> bool:
        return self.spell is not None and self.spell[0] <= self.t < self.spell[1]

    def act(self) -> list[dict[str, Any]]:
        """The events of the action due at ``self.t``; moves ``self.t`` to the next one."""
        if self.done:
            self.t = math.inf
            return []
        a = self.archetype
        if self.rng.random() < a.drift_per_min / a.actions_per_min:
            self.spell = (self.t, self.t + self.rng.expovariate(1 / a.idle_spell_min))
            self.t = self.spell[1]
            return []
        activity = self.cohort.activities[self.activity]
        skill = self.skills[self.activity]
        out = []
        if not self.started_here:
            out.append(self._event("activity_started"))
            self.started_here = True
        if not skill.known and self.rng.random() < a.hint_seeking:
            out.append(self._event("hint_requested"))
            skill.hint(0.15)
        else:
            correct = skill.attempt(self.rng)
            self.attempts_here += 1
            out.append(self._event("attempt", correct=correct))
            if correct:
                self.correct += 1
                if self.correct >= activity.correct_to_complete:
                    out.append(self._event("activity_completed"))
                    self.activity += 1
                    self.correct, self.attempts_here, self.started_here = 0, 0, False
                else:
                    out.append(self._event("progress", progress=round(self.correct / activity.correct_to_complete, 3)))
        self.t += self.rng.expovariate(a.actions_per_min * self.pace)
        return out

    def heartbeat(self, minute: float) -> dict[str, Any] | None:
        """Presence (the tab is open) once the student has arrived."""
        if minute < self.arrived_at:
            return None
        return self._event("heartbeat", at=minute)

    def truth(self, minute: int) -> Truth:
        activity_id = None if self.done else self.cohort.activities[self.activity].activity_id
        arrived = minute >= self.arrived_at
        idle = arrived and not self.done and self.spell is not None and self.spell[0] <= minute < self.spell[1]
        knows = self.done or self.skills[self.activity].known
        struggling = arrived and not idle and not self.done and not knows and self.attempts_here >= 2
        return Truth(minute, self.student_id, self.archetype.name, activity_id, idle, struggling,
                     self._at_risk(minute), knows)

    def _at_risk(self, minute: float) -> bool:
        """Latent projection: the expected minutes to finish exceed the minutes left."""
        if self.done:
            return False
        a = self.archetype
        rate = a.actions_per_min * self.pace * (1 - a.drift_per_min * a.idle_spell_min / 2)
        need = 0.0
        for i in range(self.activity, len(self.cohort.activities)):
            p = self.skills[i].params
            p_ok = 1 - p.p_slip if self.skills[i].known else max(0.05, p.p_learn * 0.9 + (1 - p.p_learn) * p.p_guess)
            left = self.cohort.activities[i].correct_to_complete - (self.correct if i == self.activity else 0)
            need += left / max(rate * p_ok, 1e-6)
        start = max(minute, self.arrived_at)
        return start + need > self.cohort.minutes + self.extra_minutes

    def receive(self, intervention: dict[str, Any], now: float) -> None:
        """A professor's help at simulated minute ``now``: hints teach, messages may end an idle
        spell, extensions give time, simpler work and resources ease learning."""
        kind = intervention.get("kind")
        if self.done:
            return
        if kind == "hint":
            self.skills[self.activity].hint(0.35)
        elif kind == "message" and self.spell and self.spell[0] <= now < self.spell[1]:
            if self.rng.random() < self.archetype.message_response:
                self.spell = (self.spell[0], now)
                self.t = now + self.rng.expovariate(self.archetype.actions_per_min)
        elif kind == "extension":
            self.extra_minutes += float(intervention.get("extension_minutes") or 0)
        elif kind == "simplified_version":
            s = self.skills[self.activity]
            s.params = s.params.scaled(learn=1.6, guess=1.4)
        elif kind == "resource":
            s = self.skills[self.activity]
            s.params = s.params.scaled(learn=1.25)

    def _event(self, kind: str, at: float | None = None, **fields: Any) -> dict[str, Any]:
        self.serial += 1
        minute = self.t if at is None else at
        # the run's start in the id: a live run's times start at its wall clock, so the same seed run
        # again would reuse ids for other content (409 on every event); retries within a run reuse them
        event = {"event_id": f"sim-{self.cohort.seed}-{self.start_epoch:.3f}-{self.student_id}-{self.serial:06d}",
                 "student_id": self.student_id, "course_id": self.cohort.course_id, "type": kind,
                 "ts": iso(self.start_epoch + 60 * minute), **fields}
        if kind != "heartbeat" and not self.done:
            event["activity_id"] = self.cohort.activities[self.activity].activity_id
        return event


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(round(epoch, 3), tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _jitter(a: Archetype, rng: random.Random) -> Archetype:
    """Per-student variation around the archetype's declared numbers."""
    spread = {}
    for name in NUMERIC:
        if name == "jitter":
            continue
        value = getattr(a, name)
        factor = 1 + rng.uniform(-a.jitter, a.jitter)
        spread[name] = min(value * factor, 1.0) if name in ("hint_seeking", "message_response") else value * factor
    return replace(a, **spread)
