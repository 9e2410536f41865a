"""The authorisation matrix: every endpoint and stream x every kind of caller."""
from __future__ import annotations

import re
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
    xapi = {"actor": {"account": {"homePage": "https://x", "name": s0}}, "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
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
        ("POST", "/api/admin/xapi-credentials", {"course_id": c}, {"admin": 201}),
        ("GET", "/api/admin/xapi-status", None, {"admin": 200}),
        ("GET", f"/api/professor/{room.professor_id}/progress-updates/stream", None, {"admin": 200, "owner": 200}),
        ("GET", "/api/professor/message-templates", None, {"admin": 200, "owner": 200, "other_prof": 200}),
        ("POST", "/api/professor/messages", {"course_id": c, "to": [s0], "text": "hi"}, {"admin": 201, "owner": 201}),
        ("GET", f"/api/professor/courses/{c}/interventions", None, {"admin": 200, "owner": 200}),
        ("GET", f"/api/professor/courses/{c}/chats/{s0}", None, {"admin": 200, "owner": 200}),
        ("POST", f"/api/professor/courses/{c}/chats/{s0}", {"text": "hi"}, {"admin": 201, "owner": 201}),
        ("GET", f"/api/professor/courses/{c}/work/{s0}", None, {"admin": 200, "owner": 200}),
        ("GET", "/api/student/chat", None, {"student": 200}),
        ("POST", "/api/student/chat", {"text": "hi"}, {"student": 201}),
        ("POST", "/api/student/read", {"ids": ["ch_x"]}, {"student": 200}),
        ("PUT", "/api/student/work-view/consent", {"consent": False}, {"student": 200}),
        ("POST", f"/api/professor/alerts/{c}:0000/snooze", {"minutes": 5}, {"admin": 404, "owner": 404}),
        ("PUT", f"/api/xapi/statements?statementId={uuid.uuid4()}", xapi, {"admin": 204, "student": 204}),
        ("GET", f"/api/xapi/statements?statementId={uuid.uuid4()}", None, {"admin": 404}),
        ("POST", "/api/admin/xapi-actors", {"mappings": [{"student_id": s0, "actor": {"mbox": "mailto:m@x.org"}}]},
         {"admin": 201}),
        ("GET", f"/api/admin/students/{s0}", None, {"admin": 200}),
        ("DELETE", f"/api/admin/students/nobody-{tag}", None, {"admin": 404}),
        # office hours, peer groups, notifications
        ("POST", "/api/student/office-hours", {"course_id": c, "topic": "t"}, {"student": 201}),
        ("GET", f"/api/student/office-hours?course_id={c}", None, {"student": 200}),
        ("POST", "/api/student/office-hours/defer", {"course_id": c}, {"student": 409}),  # nobody behind
        ("GET", f"/api/professor/courses/{c}/office-hours", None, {"admin": 200, "owner": 200}),
        ("GET", f"/api/professor/courses/{c}/office-hours/history", None, {"admin": 200, "owner": 200}),
        ("POST", f"/api/professor/courses/{c}/office-hours/{s0}/finish", None, {"admin": 404, "owner": 404}),
        ("DELETE", f"/api/student/office-hours?course_id={c}", None, {"student": 200}),
        ("POST", f"/api/professor/courses/{c}/office-hours/next", None, {"admin": 404, "owner": 404}),
        ("GET", f"/api/professor/courses/{c}/peer-groups/suggest?activity_id={room.activities[0]}", None,
         {"admin": 200, "owner": 200}),
        ("POST", f"/api/professor/courses/{c}/peer-groups", {"groups": [{"members": list(room.student_tokens)}]},
         {"admin": 201, "owner": 201}),
        ("GET", f"/api/professor/courses/{c}/peer-groups", None, {"admin": 200, "owner": 200}),
        ("GET", "/api/student/peer-groups", None, {"student": 200}),
        ("GET", "/api/professor/notifications/preferences", None, {"owner": 200, "other_prof": 200}),
        ("PUT", "/api/professor/notifications/preferences", {"quiet_minutes": 10}, {"owner": 200, "other_prof": 200}),
        ("GET", "/api/professor/notifications", None, {"owner": 200, "other_prof": 200}),
        ("POST", f"/api/professor/courses/{c}/office-hours/{s0}/take", None, {"admin": 404, "owner": 404}),
        ("POST", f"/api/professor/courses/{c}/office-hours/{s0}/remove", None, {"admin": 404, "owner": 404}),
        ("POST", f"/api/professor/courses/{c}/office-hours/close", None, {"admin": 200, "owner": 200}),
        ("DELETE", f"/api/student/office-hours/{c}:oh_nothing", None, {"student": 404}),
        ("POST", f"/api/student/office-hours/{c}:oh_nothing/defer", None, {"student": 404}),
        ("GET", f"/api/professor/courses/{c}/analytics/export?section=heatmap&format=csv", None,
         {"admin": 200, "owner": 200}),
        ("POST", f"/api/professor/courses/{c}/interventions", {"kind": "hint", "message": "m", "student_ids": [s0]},
         {"admin": 201, "owner": 201}),
    ]


UNAUTHENTICATED = {("GET", "/api/health"), ("GET", "/api/xapi/about"), ("GET", "/openapi.json"),
                   ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}


def test_the_matrix_covers_every_operation_the_api_declares(stack, world):
    """A new route without a row in the matrix fails here, so no endpoint escapes the check."""
    room, s0, _ = world
    spec = httpx.get(stack.api_url + "/openapi.json", timeout=30).json()
    declared = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops
                if m in ("get", "post", "put", "delete", "patch")}
    covered = set()
    for method, path, _, _ in cases(room, s0):
        for m, template in declared:
            pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
            if m == method and re.match(pattern, path.split("?")[0]):
                covered.add((m, template))
    missing = sorted(declared - covered - UNAUTHENTICATED)
    assert not missing, f"operations with no row in the authorisation matrix: {missing}"


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
            if "/xapi/" in path:
                headers["X-Experience-API-Version"] = "1.0.3"
            if path.endswith("/stream"):
                with httpx.stream(method, stack.api_url + path, headers=headers, timeout=10) as r:
                    status = r.status_code
            else:
                status = httpx.request(method, stack.api_url + path, json=body, headers=headers,
                                       timeout=30).status_code
            if status != expected(role, listed):
                failures.append(f"{method} {path} as {role}: {status}, expected {expected(role, listed)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("which", ["professor", "professor_chat", "student"])
def test_every_socket_checks_who_is_calling(stack, world, which):
    room, s0, tokens = world
    path = {"professor": f"/ws/professor/{room.professor_id}/progress-updates",
            "professor_chat": f"/ws/professor/{room.professor_id}/chat", "student": f"/ws/student/{s0}"}[which]
    allowed = {"admin", "student"} if which == "student" else {"admin", "owner"}
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


@pytest.fixture(scope="module")
def rival(stack):
    return create_class(stack, students=1)


def test_a_professor_naming_their_own_course_cannot_reach_another_professors_student(stack, world, rival):
    """Own course in the path or body, someone else's student id: 404 (not on that roster), never
    the student's data nor a message delivered to them."""
    _, s0, _ = world
    c = rival.course_id
    rows = [("GET", f"/api/professor/courses/{c}/students/{s0}", None),
            ("POST", f"/api/professor/interventions/{s0}", {"course_id": c, "kind": "message", "message": "hi"}),
            ("GET", f"/api/professor/courses/{c}/chats/{s0}", None),
            ("POST", f"/api/professor/courses/{c}/chats/{s0}", {"text": "hi"}),
            ("GET", f"/api/professor/courses/{c}/work/{s0}", None),
            ("POST", f"/api/professor/courses/{c}/office-hours/{s0}/take", None),
            ("POST", f"/api/professor/courses/{c}/office-hours/{s0}/finish", None)]
    headers = {"Authorization": f"Bearer {rival.professor_token}"}
    answers = {f"{m} {p}": httpx.request(m, stack.api_url + p, json=b, headers=headers, timeout=30).status_code
               for m, p, b in rows}
    assert set(answers.values()) == {404}, answers
