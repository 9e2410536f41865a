"""The one helper tests use to talk to a running stack over real HTTP."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.stack_process import StackProcess


@dataclass
class ClassOnApi:
    professor_id: str
    professor_token: str
    course_id: str
    student_tokens: dict[str, str]
    activities: list[str]


def create_class(stack: StackProcess, students: int = 5, clock: str = "event",
                 activities: int = 3) -> ClassOnApi:
    tag = uuid.uuid4().hex[:8]
    with stack.client() as admin:
        prof = admin.post("/api/admin/professors", json={"professor_id": f"p-{tag}", "name": "Prof"})
        assert prof.status_code == 201, prof.text
        acts = [f"act{i}" for i in range(activities)]
        course = admin.post("/api/admin/courses", json={
            "course_id": f"c-{tag}", "professor_id": f"p-{tag}", "title": "Course", "clock": clock,
            "activities": [{"activity_id": a, "title": a.title(), "expected_minutes": 5} for a in acts]})
        assert course.status_code == 201, course.text
        roster = admin.post(f"/api/admin/courses/c-{tag}/students", json={
            "students": [{"student_id": f"s{i}-{tag}", "name": f"Student {i}"} for i in range(students)]})
        assert roster.status_code == 201, roster.text
    return ClassOnApi(f"p-{tag}", prof.json()["token"], f"c-{tag}",
                      {s["student_id"]: s["token"] for s in roster.json()["students"]}, acts)


def event(room: ClassOnApi, student: str, kind: str = "attempt", activity: str | None = None, **kw) -> dict:
    e = {"event_id": str(uuid.uuid4()), "student_id": student, "course_id": room.course_id,
         "activity_id": activity or room.activities[0], "type": kind}
    if kind == "attempt":
        e["correct"] = kw.pop("correct", True)
    return e | kw


def get(stack: StackProcess, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(stack.api_url + path, headers=headers, timeout=30)
