"""Intervention experiments with a known answer: each student in both worlds.

Every simulated student is deterministic given its seed, so we can run it
twice: once untouched, once receiving an intervention at ``at_minute`` (through
``SimStudent.receive``, the same path a live intervention takes). A seeded
coin then holds out a share of the students; the *observed* log takes each
student's assigned world, as a real class would produce it. The true average
effect of any measure is its mean over all students of (helped world -
untouched world): what an estimator on the observed log should recover.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from simulator.cohort import Cohort
from simulator.offline import START_EPOCH
from simulator.student import SimStudent, iso


@dataclass
class Experiment:
    cohort: Cohort
    kind: str
    at_minute: int
    observed: list[dict[str, Any]]   # events as the class produced them
    helped: list[dict[str, Any]]     # every student helped
    untouched: list[dict[str, Any]]  # nobody helped
    records: list[dict[str, Any]]    # one per student: held out or treated

    def records_as(self, holdout: bool) -> list[dict[str, Any]]:
        """The same records with every student on one side (to measure a world's outcomes)."""
        return [r | {"holdout": holdout} for r in self.records]


def run(cohort: Cohort, intervention: dict[str, Any], at_minute: int, holdout: float = 0.5,
        seed: int = 1, start_epoch: float = START_EPOCH) -> Experiment:
    coin = random.Random(f"holdout:{seed}")
    observed, helped, untouched, records = [], [], [], []
    for i in range(cohort.students):
        with_help = _student(cohort, i, start_epoch, intervention, at_minute)
        without = _student(cohort, i, start_epoch, None, at_minute)
        held = coin.random() < holdout
        helped.extend(with_help)
        untouched.extend(without)
        observed.extend(without if held else with_help)
        records.append({"intervention_id": f"x-{seed}-{i}", "course_id": cohort.course_id,
                        "student_id": f"{cohort.course_id}-s{i:05d}", "kind": intervention["kind"],
                        "ts": iso(start_epoch + 60 * at_minute), "holdout": held, "randomized": True})
    return Experiment(cohort, intervention["kind"], at_minute, observed, helped, untouched, records)


def _student(cohort: Cohort, index: int, start_epoch: float, intervention: dict[str, Any] | None,
             at_minute: int) -> list[dict[str, Any]]:
    s = SimStudent(cohort, index, start_epoch)
    events: list[dict[str, Any]] = []
    for minute in range(cohort.minutes + 1):
        while s.t < minute:
            events.extend(s.act())
        if intervention is not None and minute == at_minute:
            s.receive(intervention, minute)
    return events
