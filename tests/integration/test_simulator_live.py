"""The simulator on real parts: Ray tasks give the same cohort; live students on their own
sockets react to a professor's hints; the evaluation reads detections through the API."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from simulator import cohort as cohorts
from simulator import evaluate, offline
from simulator.live import run_live

pytestmark = pytest.mark.ray


def test_ray_tasks_produce_the_same_cohort_as_one_process(ray_driver, tmp_path, monkeypatch):
    monkeypatch.setattr(offline, "PART_STUDENTS", 40)
    c = cohorts.default(students=300, seed=21, minutes=40)
    single = offline.run(c, tmp_path / "single", workers=0)
    parallel = offline.run(c, tmp_path / "ray", workers=2)
    assert single["events_sha256"] == parallel["events_sha256"]
    assert single["truth_sha256"] == parallel["truth_sha256"]


def test_hints_raise_struggling_students_success_live(stack):
    cohort = cohorts.from_dict({"students": 40, "seed": 3, "speed": 120, "minutes": 24,
                                "mix": {"struggling": 1.0},
                                "course": {"course_id": "live-hint", "activities": [
                                    {"activity_id": "hard", "title": "Hard", "expected_minutes": 30,
                                     "skill": "hard", "difficulty": 0.9, "correct_to_complete": 50}]}})
    hinted = {f"live-hint-s{i:05d}" for i in range(0, 40, 2)}

    async def professor(run):
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30,
                                     headers={"Authorization": f"Bearer {run.professor_token}"}) as c:
            while run.sim_now() < cohort.minutes:
                if run.sim_now() >= 4:
                    for sid in hinted:
                        await c.post(f"/api/professor/interventions/{sid}",
                                     json={"course_id": "live-hint", "kind": "hint", "message": "smaller steps"})
                await asyncio.sleep(2.0)

    run = asyncio.run(run_live(cohort, stack.api_url, stack.admin_token, evaluate=True, during=professor))
    assert run.acknowledged > 200 and run.interventions_received > 0

    def success(group):
        attempts = [e for e in run.sent if e["type"] == "attempt" and (e["student_id"] in hinted) == group]
        return sum(e["correct"] for e in attempts) / max(len(attempts), 1), len(attempts)

    with_hint, n1 = success(True)
    without, n2 = success(False)
    assert n1 > 50 and n2 > 50
    assert with_hint > without + 0.1, f"hinted {with_hint:.2f} vs not {without:.2f}"
    # the system saw the class: its live view was read every (on-time) simulated minute, each read
    # answered, and it showed struggling students (a failed read is a row with status None)
    report = evaluate.evaluate(run.truth, run.detected)
    # (at 120x a minute is 0.5 s: a read slower than that on a busy machine leaves the next minute out)
    assert report["samples"] == 40 * (cohort.minutes + 1 - run.minutes_not_evaluated), report
    assert report["samples"] >= 40 * 10 and report["unread_samples"] == 0, report
    assert report["struggling"]["shown_samples"] > 0 and report["struggling"]["recall"] > 0, report
    # every acknowledged event is in this course's log (a frame resent after its ack was lost: a duplicate)
    assert run.acknowledged <= _course_events(stack, run) <= run.acknowledged + run.duplicates


def _course_events(stack, run, settle_s: float = 10.0) -> int:
    """The course's learning events in the log, as its analytics count them, once they settle."""
    deadline = time.monotonic() + settle_s
    with httpx.Client(base_url=stack.api_url, timeout=30,
                      headers={"Authorization": f"Bearer {run.professor_token}"}) as c:
        while True:
            r = c.get(f"/api/professor/courses/{run.cohort.course_id}/analytics/real-time")
            r.raise_for_status()
            stored = sum(cell["events"] for cell in r.json()["heatmap"]["by_weekday_hour"])
            if stored >= run.acknowledged or time.monotonic() > deadline:
                return stored
            time.sleep(0.5)
