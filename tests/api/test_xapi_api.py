"""xAPI statements over HTTP: stored always, applied when they map to the roster."""
from __future__ import annotations

import base64
import time
import uuid

import httpx
import pytest

from tests.api_client import create_class, get

pytestmark = pytest.mark.ray


def statement(room, student, verb, activity, **extra):
    return {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": student}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": f"https://lms.example/activities/{activity}"},
            "context": {"contextActivities": {"parent": [{"id": f"https://lms.example/courses/{room.course_id}"}]}},
            **extra}


def test_statements_are_stored_and_mapped_ones_applied(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    batch = [statement(room, s0, "completed", room.activities[0]),
             statement(room, s0, "experienced", room.activities[1]),   # unknown verb: stored only
             statement(room, "stranger", "passed", room.activities[1])]  # no roster student: stored only
    basic = base64.b64encode(f"lrs:{stack.admin_token}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"}
    r = httpx.post(stack.api_url + "/api/xapi/statements", json=batch, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json() == [s["id"] for s in batch]
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    again = httpx.post(stack.api_url + "/api/xapi/statements", json=batch[0], headers=headers, timeout=30)
    assert again.status_code == 200  # idempotent: the event id is derived from the statement id
    deadline = time.monotonic() + 5
    while True:
        live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
        mine = next(s for s in live["students"] if s["student_id"] == s0)
        if mine["completion"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mine["completion"] == pytest.approx(1 / 3, abs=1e-4)
    stored = httpx.get(stack.api_url + "/api/xapi/statements", params={"statementId": batch[1]["id"]},
                       headers=headers, timeout=10)
    assert stored.status_code == 200 and stored.json()["verb"]["id"].endswith("experienced")


@pytest.mark.parametrize("body, headers_extra", [
    ({"actor": {}, "verb": {"id": "nope"}, "object": {"id": "x"}}, {}),
    ([], {}),
    (None, {"X-Experience-API-Version": "0.9"}),
])
def test_invalid_statements_get_400(stack, body, headers_extra):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    body = statement(room, s0, "passed", room.activities[0]) if body is None else body
    headers = {"Authorization": f"Bearer {stack.admin_token}", **headers_extra}
    r = httpx.post(stack.api_url + "/api/xapi/statements", json=body, headers=headers, timeout=10)
    assert r.status_code == 400, r.text


def test_students_send_only_their_own_statements_and_about_is_open(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    headers = {"Authorization": f"Bearer {room.student_tokens[s0]}"}
    ok = httpx.post(stack.api_url + "/api/xapi/statements", headers=headers, timeout=10,
                    json=statement(room, s0, "answered", room.activities[0], result={"success": True}))
    assert ok.status_code == 200
    other = httpx.post(stack.api_url + "/api/xapi/statements", headers=headers, timeout=10,
                       json=statement(room, s1, "answered", room.activities[0], result={"success": True}))
    assert other.status_code == 403
    assert httpx.post(stack.api_url + "/api/xapi/statements", json={}, timeout=10).status_code == 401
    assert httpx.get(stack.api_url + "/api/xapi/about", timeout=10).json() == {"version": ["1.0.3"]}


def test_put_stores_by_id_and_a_reused_id_with_other_content_is_409(stack):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    st = statement(room, s0, "answered", room.activities[0], result={"success": True})
    sid = st.pop("id")
    headers = {"Authorization": f"Bearer {stack.admin_token}", "X-Experience-API-Version": "1.0.3"}
    url = stack.api_url + "/api/xapi/statements"
    put = httpx.put(url, params={"statementId": sid}, json=st, headers=headers, timeout=10)
    assert put.status_code == 204
    again = httpx.post(url, json=st | {"id": sid}, headers=headers, timeout=10)
    assert again.status_code == 200  # the same statement again: idempotent
    other = httpx.post(url, json=st | {"id": sid, "result": {"success": False}}, headers=headers, timeout=10)
    assert other.status_code == 409
    got = httpx.get(url, params={"statementId": sid}, headers=headers, timeout=10)
    assert got.status_code == 200 and got.json()["result"] == {"success": True}
    assert got.json()["stored"] and got.json()["authority"]["account"]["name"] == "admin:admin"
    assert got.headers["X-Experience-API-Consistent-Through"] == got.json()["stored"]
    mismatch = httpx.put(url, params={"statementId": str(uuid.uuid4())}, json=st | {"id": sid}, headers=headers,
                         timeout=10)
    assert mismatch.status_code == 400
