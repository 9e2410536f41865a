"""Locust file for the edge benchmark: students posting event batches as fast as they can.

Parameters come from the environment (set by loadtests/bench_edge.py):
``CP_TOKEN`` (admin token), ``CP_COURSE``, ``CP_STUDENTS`` (comma list),
``CP_BATCH`` (events per request), ``CP_ACTIVITY``.
"""
from __future__ import annotations

import itertools
import os
import uuid

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

TOKEN = os.environ.get("CP_TOKEN", "")
COURSE = os.environ.get("CP_COURSE", "")
STUDENTS = os.environ.get("CP_STUDENTS", "").split(",")
BATCH = int(os.environ.get("CP_BATCH", "1"))
ACTIVITY = os.environ.get("CP_ACTIVITY", "a0")
_students = itertools.cycle(STUDENTS)


class EventPoster(FastHttpUser):
    wait_time = constant(0)

    @task
    def post_batch(self) -> None:
        student = next(_students)
        prefix = uuid.uuid4().hex
        events = [{"event_id": f"{prefix}-{i}", "student_id": student, "course_id": COURSE,
                   "activity_id": ACTIVITY, "type": "attempt", "correct": i % 3 != 0} for i in range(BATCH)]
        self.client.post("/api/events", json={"events": events},
                         headers={"Authorization": f"Bearer {TOKEN}"})
