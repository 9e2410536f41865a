"""Locust file for the xAPI benchmark: the same answers posted as xAPI statements or as events.

Parameters come from the environment (set by loadtests/bench_xapi.py):
``CP_KIND`` (``xapi`` or ``events``), ``CP_TOKEN`` (admin token: no rate limit
on either path), ``CP_COURSE``, ``CP_STUDENTS`` (comma list), ``CP_BATCH``,
``CP_ACTIVITY``.
"""
from __future__ import annotations

import base64
import itertools
import os
import uuid

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

KIND = os.environ.get("CP_KIND", "xapi")
TOKEN = os.environ.get("CP_TOKEN", "")
COURSE = os.environ.get("CP_COURSE", "")
STUDENTS = os.environ.get("CP_STUDENTS", "").split(",")
BATCH = int(os.environ.get("CP_BATCH", "1"))
ACTIVITY = os.environ.get("CP_ACTIVITY", "a0")
HOME = "https://lms.example"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"lms:{TOKEN}".encode()).decode(),
         "X-Experience-API-Version": "1.0.3"}
_students = itertools.cycle(STUDENTS)


def statement(student: str, correct: bool) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": student}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
            "object": {"objectType": "Activity", "id": f"{HOME}/activities/{ACTIVITY}"},
            "result": {"success": correct},
            "context": {"contextActivities": {"parent": [{"id": f"{HOME}/courses/{COURSE}"}]}}}


class AnswerPoster(FastHttpUser):
    wait_time = constant(0)

    @task
    def post_batch(self) -> None:
        student = next(_students)
        if KIND == "events":
            prefix = uuid.uuid4().hex
            events = [{"event_id": f"{prefix}-{i}", "student_id": student, "course_id": COURSE,
                       "activity_id": ACTIVITY, "type": "attempt", "correct": i % 3 != 0} for i in range(BATCH)]
            self.client.post("/api/events", json={"events": events}, headers=BEARER, name="events")
        else:
            self.client.post("/api/xapi/statements", json=[statement(student, i % 3 != 0) for i in range(BATCH)],
                             headers=BASIC, name="xapi")
