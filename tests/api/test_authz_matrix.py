"""The authorisation matrix: every endpoint and stream x every kind of caller."""
from __future__ import annotations

import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.api_client import create_class, event

pytestmark = pytest.mark.ray
ROLES = ("none", "bad", "admin", "owner", "other_prof", "student")


@pytest.fixture(scope="module")
def world(stack):
    room = create_class(stack, students=2)
    other = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    tokens = {"none": None, "bad": "not-a-token", "admin": stack.admin_token, "owner": room.professor_token,
              "other_prof": other.professor_token, "student": room.student_tokens[s0]}
    return room, s0, tokens


def cases(room, s0):
    c = room.course_id
    tag = uuid.uuid4().hex[:6]
    course = {"course_id": f"m-{tag}", "professor_id": room.professor_id, "title": "T",
              "activities": [{"activity_id": "a", "title": "A", "expected_minutes": 1}]}
    xapi = {"actor": {"account": {"name": s0}}, "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": f"https://x/{room.activities[0]}"},
            "context": {"contextActivities": {"parent": [{"id": f"https://x/{c}"}]}}}
    # method, path, body, {role: expected status}; roles not listed expect the default for their kind
    return [
        ("POST", "/api/admin/professors", {"professor_id": f"mp-{tag}", "name": "N"}, {"admin": 201}),
        ("POST", "/api/admin/courses", course, {"admin": 201}),
        ("POST", f"/api/admin/courses/{c}/students", {"students": [{"student_id": f"ms-{tag}", "name": "N"}]},
         {"admin": 201}),
        ("GET", "/api/admin/stats", None, {"admin": 200}),
        ("GET", "/api/admin/stats/history", None, {"admin": 200}),
        ("POST", "/api/admin/faults", {"commit_delay_ms": 0}, {"admin": 404}),  # off unless configured
        ("GET", "/metrics", None, {"admin": 200}),
        ("POST", "/api/events", {"events": [event(room, s0)]}, {"admin": 202, "student": 202}),
        ("GET", "/api/professor/courses", None, {"admin": 200, "owner": 200, "other_prof": 200}),
        ("GET", f"/api/professor/courses/{c}/live-progress", None, {"admin": 200, "owner": 200}),
        ("GET", f"/api/professor/courses/{c}/analytics/real-time", None, {"admin": 200, "owner": 200}),
        ("GET", f"/api/professor/courses/{c}/alerts/configure", None, {"admin": 200, "owner": 200}),
        ("PUT", f"/api/professor/courses/{c}/alerts/configure", {"idle_after_s": 200}, {"admin": 200, "owner": 200}),
        ("GET", f"/api/professor/courses/{c}/students/{s0}", None, {"admin": 200, "owner": 200}),
        ("POST", f"/api/professor/interventions/{s0}", {"course_id": c, "kind": "message", "message": "hi"},
         {"admin": 201, "owner": 201}),
        ("POST", f"/api/professor/alerts/{c}:0000/acknowledge", None, {"admin": 404, "owner": 404}),
        ("GET", "/api/student/inbox", None, {"student": 200}),
        ("POST", "/api/xapi/statements", xapi, {"admin": 200, "student": 200}),
        ("GET", f"/api/professor/{room.professor_id}/progress-updates/stream", None, {"admin": 200, "owner": 200}),
    ]


def expected(role, listed):
    if role in ("none", "bad"):
        return 401
    return listed.get(role, 403)


def test_every_endpoint_checks_who_is_calling(stack, world):
    room, s0, tokens = world
    failures = []
    for method, path, body, listed in cases(room, s0):
        for role in ROLES:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
            if path.endswith("/stream"):
                with httpx.stream(method, stack.api_url + path, headers=headers, timeout=10) as r:
                    status = r.status_code
            else:
                status = httpx.request(method, stack.api_url + path, json=body, headers=headers,
                                       timeout=30).status_code
            if status != expected(role, listed):
                failures.append(f"{method} {path} as {role}: {status}, expected {expected(role, listed)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("which", ["professor", "student"])
def test_every_socket_checks_who_is_calling(stack, world, which):
    room, s0, tokens = world
    path = (f"/ws/professor/{room.professor_id}/progress-updates" if which == "professor" else f"/ws/student/{s0}")
    allowed = {"admin", "owner"} if which == "professor" else {"admin", "student"}
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
        url = stack.api_url.replace("http://", "ws://") + path
        if role in allowed:
            with connect(url, additional_headers=headers, open_timeout=10):
                pass
        else:
            with pytest.raises(InvalidStatus) as err:
                connect(url, additional_headers=headers, open_timeout=10)
            assert err.value.response.status_code == 403, role
