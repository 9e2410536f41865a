"""Right of access and right to erasure: GET/DELETE /api/admin/students/{studentId}."""
from __future__ import annotations

import base64
import time
import uuid

import httpx
import pytest

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


def _post(stack, path, token, body, **kw):
    return httpx.post(stack.api_url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})}, **kw)


def _statement(room, student):
    return {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": student}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": f"https://lms.example/activities/{room.activities[1]}"},
            "context": {"contextActivities": {"parent": [{"id": f"https://lms.example/courses/{room.course_id}"}]}}}


def _live_ids(stack, room):
    live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
    return {s["student_id"] for s in live["students"]}, live


def test_export_then_erase_one_student_leaves_the_others_intact(stack):
    room = create_class(stack, students=2)
    gone, kept = sorted(room.student_tokens)
    mine = [event(room, gone, "activity_started"), event(room, gone, "attempt", correct=False),
            event(room, gone, "activity_completed")]
    theirs = [event(room, kept, "activity_started"), event(room, kept, "attempt")]
    assert _post(stack, "/api/events", room.student_tokens[gone], {"events": mine}).status_code == 202
    assert _post(stack, "/api/events", room.student_tokens[kept], {"events": theirs}).status_code == 202
    basic = base64.b64encode(f"lrs:{stack.admin_token}".encode()).decode()
    xapi = httpx.post(stack.api_url + "/api/xapi/statements", json=_statement(room, gone), timeout=30,
                      headers={"Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"})
    assert xapi.status_code == 200
    hint = _post(stack, f"/api/professor/interventions/{gone}", room.professor_token,
                 {"course_id": room.course_id, "kind": "hint", "message": "look at step 2"})
    assert hint.status_code == 201
    # a professor viewing the student is audit-logged; the export shows who looked
    assert get(stack, f"/api/professor/courses/{room.course_id}/students/{gone}",
               room.professor_token).status_code == 200

    # right of access: admin only
    assert get(stack, f"/api/admin/students/{gone}", room.professor_token).status_code == 403
    assert get(stack, "/api/admin/students/nobody-here", stack.admin_token).status_code == 404
    exported = get(stack, f"/api/admin/students/{gone}", stack.admin_token)
    assert exported.status_code == 200, exported.text
    tables = exported.json()["tables"]
    logged_ids = {e["event_id"] for e in tables["student_activity_log"]}
    assert {e["event_id"] for e in mine} < logged_ids and len(logged_ids) == len(mine) + 1  # + the statement
    assert {e["student_id"] for e in tables["student_activity_log"]} == {gone}
    assert [s["statement"]["actor"]["account"]["name"] for s in tables["xapi_statements"]] == [gone]
    assert [i["kind"] for i in tables["intervention_records"]] == ["hint"]
    assert tables["students"][0]["name"] and tables["enrollments"][0]["course_id"] == room.course_id
    assert [(a["action"], a["actor_id"]) for a in tables["audit_log"]] == [("view_student", room.professor_id)]
    assert all(t["token_hash"] == "(withheld)" for t in tables["tokens"]) and tables["tokens"]

    before = get(stack, "/api/admin/stats", stack.admin_token).json()["tables"]
    assert get(stack, f"/api/admin/students/{gone}", room.professor_token).status_code == 403
    forbidden = httpx.delete(stack.api_url + f"/api/admin/students/{gone}", timeout=30,
                             headers={"Authorization": f"Bearer {room.professor_token}"})
    assert forbidden.status_code == 403
    erased = httpx.delete(stack.api_url + f"/api/admin/students/{gone}", timeout=60,
                          headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert erased.status_code == 200, erased.text
    counts = erased.json()["erased"]
    logged = len(tables["student_activity_log"])
    assert counts["student_activity_log"] == logged and counts["xapi_statements"] == 1
    assert counts["intervention_records"] == 1 and counts["students"] == 1 and counts["tokens"] == 1

    after = get(stack, "/api/admin/stats", stack.admin_token).json()["tables"]
    assert before["student_activity_log"] - after["student_activity_log"] == logged
    assert after["erased_event_ids"] - before["erased_event_ids"] == logged
    assert get(stack, f"/api/admin/students/{gone}", stack.admin_token).status_code == 404
    assert get(stack, "/api/student/inbox", room.student_tokens[gone]).status_code == 401

    deadline = time.monotonic() + 10
    while True:
        ids, live = _live_ids(stack, room)
        if ids == {kept} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ids == {kept}
    assert all(a["student_id"] != gone for a in live["alerts"])
    survivor = next(s for s in live["students"] if s["student_id"] == kept)
    assert survivor["status"] == "active"

    # the same student id enrolled again starts clean, and a client retrying the erased
    # events gets "duplicate": they are never re-created
    again = stack.client().post(f"/api/admin/courses/{room.course_id}/students",
                                json={"students": [{"student_id": gone, "name": "Returning"}]})
    assert again.status_code == 201
    retry = _post(stack, "/api/events", stack.admin_token, {"events": mine})
    assert retry.status_code == 202 and retry.json() == {"accepted": 0, "duplicates": len(mine)}
    changed = dict(mine[0], activity_id=room.activities[2])
    assert _post(stack, "/api/events", stack.admin_token, {"events": [changed]}).status_code == 409
    fresh = get(stack, f"/api/admin/students/{gone}", stack.admin_token).json()["tables"]
    assert fresh["student_activity_log"] == [] and fresh["xapi_statements"] == []


def test_erasing_an_unknown_student_is_404_and_needs_admin(stack):
    r = httpx.delete(stack.api_url + "/api/admin/students/not-a-student", timeout=30,
                     headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert r.status_code == 404 and "not-a-student" in r.text
    assert httpx.delete(stack.api_url + "/api/admin/students/x", timeout=30).status_code == 401
