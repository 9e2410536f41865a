"""A live run's minute loop without a server: the truth it keeps for a minute is the state at that
minute even when the loop runs late, and minutes reached a minute late are not evaluated."""
from __future__ import annotations

import asyncio
import logging

from simulator import cohort as cohorts
from simulator import live, offline
from simulator.student import SimStudent


def test_a_late_loop_labels_each_minute_with_that_minutes_truth(monkeypatch, caplog):
    cohort = cohorts.default(students=40, seed=5, minutes=12)
    run = live.LiveRun(cohort, "http://x")
    run.students = [SimStudent(cohort, i, 0.0) for i in range(cohort.students)]
    clock = [0.0]
    run.sim_now = lambda: clock[0]

    def advance(to: float) -> None:  # simulated time passes; each student acts when due, as its task does
        clock[0] = max(clock[0], to)
        for s in run.students:
            while s.t <= clock[0]:
                run.minute_truth.before_change(s, s.t)
                s.act()

    async def sleep_until(minute, sim_now, stop):
        advance(minute)

    async def slow_read(run, minute):  # a live-progress read that takes 1.75 simulated minutes
        advance(clock[0] + 1.75)
        return [{"student_id": s.student_id, "minute": minute, "status": "active"} for s in run.students]

    monkeypatch.setattr(live, "_sleep_until", sleep_until)
    monkeypatch.setattr(live, "_detect", slow_read)
    with caplog.at_level(logging.WARNING, logger="simulator.live"):
        asyncio.run(live._every_minute(run, True, None, asyncio.Event()))
    _, truth = offline.simulate(cohort, range(cohort.students))  # the same students, never late
    key = lambda t: (t["minute"], t["student_id"])
    assert sorted(run.truth, key=key) == sorted(truth, key=key)
    # minute 0 on time (read until 1.75), 1 at 1.75 (until 3.5), 2 at 3.5: over a minute late, not evaluated
    evaluated = sorted({d["minute"] for d in run.detected})
    assert evaluated == [0, 1, 3, 5, 7, 8, 10, 12]
    assert run.minutes_not_evaluated == 5 and run.behind_max_min == 1.5
    assert sum("simulated minutes late" in r.message for r in caplog.records) == 1


def test_an_intervention_after_a_minute_does_not_change_that_minutes_truth():
    cohort = cohorts.default(students=1, seed=5, minutes=30)
    s = SimStudent(cohort, 0, 0.0)
    truth = live.MinuteTruth()
    while s.t < 10:
        truth.before_change(s, s.t)
        s.act()
    truth.read([s], 9)
    before = s.truth(10)
    truth.before_change(s, 10.5)  # an extension reaches the student at 10.5, before the loop reads 10
    s.receive({"kind": "extension", "extension_minutes": 500}, 10.5)
    assert truth.read([s], 10) == [before] and not s.truth(10).at_risk
