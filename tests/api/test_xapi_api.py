"""xAPI statements over HTTP: stored always, applied when they map, voidable, behind Basic credentials."""
from __future__ import annotations

import base64
import time
import uuid

import httpx
import pytest

from tests.api_client import create_class, get

pytestmark = pytest.mark.ray
V = {"X-Experience-API-Version": "1.0.3"}
VOID = "http://adlnet.gov/expapi/verbs/voided"


def statement(room, student, verb, activity, **extra):
    return {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": student}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": f"https://lms.example/activities/{activity}"},
            "context": {"contextActivities": {"parent": [{"id": f"https://lms.example/courses/{room.course_id}"}]}},
            **extra}


def void(target_id):
    return {"actor": {"mbox": "mailto:lms@example.com"}, "verb": {"id": VOID},
            "object": {"objectType": "StatementRef", "id": target_id}}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()} | V


def url(stack):
    return stack.api_url + "/api/xapi/statements"


def credential(stack, **body):
    with stack.client() as admin:
        r = admin.post("/api/admin/xapi-credentials", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def completion(stack, room, student, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
        value = next(s for s in live["students"] if s["student_id"] == student)["completion"]
        if value == pytest.approx(want, abs=1e-4) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_statements_are_stored_and_mapped_ones_applied(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    batch = [statement(room, s0, "completed", room.activities[0]),
             statement(room, s0, "experienced", room.activities[1]),   # unknown verb: stored only
             statement(room, "stranger", "passed", room.activities[1])]  # no roster student: stored only
    headers = basic("lrs", stack.admin_token)
    r = httpx.post(url(stack), json=batch, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json() == [s["id"] for s in batch]
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    again = httpx.post(url(stack), json=batch[0], headers=headers, timeout=30)
    assert again.status_code == 200  # idempotent: the event id is derived from the statement id
    assert completion(stack, room, s0, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)
    stored = httpx.get(url(stack), params={"statementId": batch[1]["id"]}, headers=headers, timeout=10)
    assert stored.status_code == 200 and stored.json()["verb"]["id"].endswith("experienced")
    assert stored.json()["version"] == "1.0.0" and stored.json()["timestamp"] == stored.json()["stored"]
    with stack.client() as admin:
        status = admin.get("/api/admin/xapi-status").json()
    reasons = {r["reason"] for r in status["not_applied"]}
    assert f"actor 'stranger' is not on the roster of '{room.course_id}'" in reasons
    assert "verb 'experienced' is stored, not applied" in reasons and status["applied"] >= 1


@pytest.mark.parametrize("version, status", [(None, 400), ("0.95", 400), ("2.0.0", 400), ("1.0", 200),
                                             ("1.0.1", 200), ("1.0.3", 200)])
def test_the_version_header_is_required_and_always_answered(stack, version, status):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    headers = {"Authorization": f"Bearer {stack.admin_token}"} | ({"X-Experience-API-Version": version}
                                                                   if version else {})
    r = httpx.post(url(stack), json=statement(room, s0, "passed", room.activities[0]), headers=headers, timeout=10)
    assert r.status_code == status, r.text
    assert r.headers["X-Experience-API-Version"] == "1.0.3"


def test_invalid_statement_is_400_naming_path_and_rule_and_the_batch_stores_nothing(stack):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    good = statement(room, s0, "completed", room.activities[0])
    bad = statement(room, s0, "answered", room.activities[1], result={"score": {"scaled": 2}})
    headers = basic("lrs", stack.admin_token)
    r = httpx.post(url(stack), json=[good, bad], headers=headers, timeout=10)
    assert r.status_code == 400 and r.json()["field"] == "[1].result.score.scaled"
    assert "2.4.5.1" in r.json()["error"]
    assert httpx.get(url(stack), params={"statementId": good["id"]}, headers=headers, timeout=10).status_code == 404
    later = statement(room, s0, "completed", room.activities[1])  # delivered after anything `good` did
    assert httpx.post(url(stack), json=later, headers=headers, timeout=10).status_code == 200
    assert completion(stack, room, s0, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)  # 2/3 had `good` applied
    assert httpx.post(url(stack), json=[], headers=headers, timeout=10).status_code == 400
    assert httpx.post(url(stack), content=b"{not json", headers=headers, timeout=10).status_code == 400
    anonymous = httpx.post(url(stack), content=b"{not json", headers=V, timeout=10)
    assert anonymous.status_code == 401  # credentials are checked before the body is read


def test_a_1000_statement_batch_is_accepted(stack):
    room = create_class(stack, students=10)
    students = list(room.student_tokens)
    batch = [statement(room, students[i % 10], "answered", room.activities[i % 3], result={"success": i % 2 == 0})
             for i in range(1000)]
    headers = basic("lrs", stack.admin_token)
    r = httpx.post(url(stack), json=batch, headers=headers, timeout=60)
    assert r.status_code == 200 and len(r.json()) == 1000
    too_many = httpx.post(url(stack), json=batch + [statement(room, students[0], "passed", "act0")],
                          headers=headers, timeout=60)
    assert too_many.status_code == 400


def test_issued_credentials_authenticate_and_scope_writes_and_reads(stack):
    room, other = create_class(stack, students=1), create_class(stack, students=1)
    s0, o0 = next(iter(room.student_tokens)), next(iter(other.student_tokens))
    cred = credential(stack, course_id=room.course_id)
    assert cred["key"] and cred["secret"] and cred["course_ids"] == [room.course_id]
    mine = basic(cred["key"], cred["secret"])
    st = statement(room, s0, "completed", room.activities[0])
    assert httpx.post(url(stack), json=st, headers=mine, timeout=10).status_code == 200
    assert completion(stack, room, s0, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)
    no_parent = statement(room, s0, "completed", room.activities[1])
    del no_parent["context"]  # no course named: the credential's course
    assert httpx.post(url(stack), json=no_parent, headers=mine, timeout=10).status_code == 200
    assert completion(stack, room, s0, 2 / 3) == pytest.approx(2 / 3, abs=1e-4)

    foreign = statement(other, o0, "completed", other.activities[0])
    assert httpx.post(url(stack), json=foreign, headers=mine, timeout=10).status_code == 403
    admin = basic("anyone", stack.admin_token)  # the admin token as the Basic password keeps working
    assert httpx.post(url(stack), json=foreign, headers=admin, timeout=10).status_code == 200
    assert httpx.get(url(stack), params={"statementId": foreign["id"]}, headers=mine, timeout=10).status_code == 403
    assert httpx.get(url(stack), params={"statementId": st["id"]}, headers=mine, timeout=10).status_code == 200
    bearer = {"Authorization": f"Bearer {stack.admin_token}"} | V  # Bearer keeps working
    assert httpx.get(url(stack), params={"statementId": st["id"]}, headers=bearer, timeout=10).status_code == 200

    for wrong in (basic(cred["key"], "not-the-secret"), basic("someone-else", cred["secret"]),
                  {"Authorization": "Basic !!!"} | V, {"Authorization": b"Basic \xe9\xe9\xe9\xe9"} | V, V):
        r = httpx.post(url(stack), json=st, headers=wrong, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


def test_institution_credentials_and_bad_requests_for_them(stack):
    a, b = create_class(stack, students=1), create_class(stack, students=1)
    cred = credential(stack, institution="Example U", course_ids=[a.course_id, b.course_id])
    for room in (a, b):
        s0 = next(iter(room.student_tokens))
        r = httpx.post(url(stack), json=statement(room, s0, "completed", room.activities[0]),
                       headers=basic(cred["key"], cred["secret"]), timeout=10)
        assert r.status_code == 200
    with stack.client() as admin:
        assert admin.post("/api/admin/xapi-credentials", json={"course_ids": [a.course_id]}).status_code == 422
        assert admin.post("/api/admin/xapi-credentials", json={"course_id": "no-such-course"}).status_code == 422
    assert httpx.post(stack.api_url + "/api/admin/xapi-credentials", json={"course_id": a.course_id},
                      headers={"Authorization": f"Bearer {a.professor_token}"}, timeout=10).status_code == 403


def test_voiding_removes_the_effect_and_the_voided_statement_is_read_as_voided(stack):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    headers = basic("lrs", stack.admin_token)
    done = [statement(room, s0, "completed", a) for a in room.activities[:2]]
    assert httpx.post(url(stack), json=done, headers=headers, timeout=10).status_code == 200
    assert completion(stack, room, s0, 2 / 3) == pytest.approx(2 / 3, abs=1e-4)
    voider = void(done[1]["id"])
    r = httpx.post(url(stack), json=voider, headers=headers, timeout=10)
    assert r.status_code == 200
    assert completion(stack, room, s0, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)  # completion goes back down
    gone = httpx.get(url(stack), params={"statementId": done[1]["id"]}, headers=headers, timeout=10)
    assert gone.status_code == 404
    voided = httpx.get(url(stack), params={"voidedStatementId": done[1]["id"]}, headers=headers, timeout=10)
    assert voided.status_code == 200 and voided.json()["id"] == done[1]["id"]
    assert httpx.get(url(stack), params={"voidedStatementId": done[0]["id"]}, headers=headers,
                     timeout=10).status_code == 404
    again = httpx.post(url(stack), json=void(r.json()[0]), headers=headers, timeout=10)
    assert again.status_code == 400 and "2.3.2" in again.json()["error"]
    student = {"Authorization": f"Bearer {room.student_tokens[s0]}"} | V
    assert httpx.post(url(stack), json=void(done[0]["id"]), headers=student, timeout=10).status_code == 403


def test_students_send_only_their_own_statements_and_about_is_open(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    headers = {"Authorization": f"Bearer {room.student_tokens[s0]}"} | V
    ok = httpx.post(url(stack), headers=headers, timeout=10,
                    json=statement(room, s0, "answered", room.activities[0], result={"success": True}))
    assert ok.status_code == 200
    other = httpx.post(url(stack), headers=headers, timeout=10,
                       json=statement(room, s1, "answered", room.activities[0], result={"success": True}))
    assert other.status_code == 403
    about = httpx.get(stack.api_url + "/api/xapi/about", timeout=10)
    assert about.json() == {"version": ["1.0.3"]} and about.headers["X-Experience-API-Version"] == "1.0.3"
    preflight = httpx.options(url(stack), timeout=10, headers={
        "Origin": "https://content.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-experience-api-version"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"


def test_put_stores_by_id_and_a_reused_id_with_other_content_is_409(stack):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    st = statement(room, s0, "answered", room.activities[0], result={"success": True})
    sid = st.pop("id")
    headers = {"Authorization": f"Bearer {stack.admin_token}"} | V
    put = httpx.put(url(stack), params={"statementId": sid}, json=st, headers=headers, timeout=10)
    assert put.status_code == 204
    again = httpx.post(url(stack), json=st | {"id": sid}, headers=headers, timeout=10)
    assert again.status_code == 200  # the same statement again: idempotent
    got = httpx.get(url(stack), params={"statementId": sid}, headers=headers, timeout=10)
    assert got.status_code == 200 and got.json()["result"] == {"success": True}
    assert got.json()["stored"] and got.json()["authority"]["account"]["name"] == "admin:admin"
    assert got.headers["X-Experience-API-Consistent-Through"] == got.json()["stored"]
    limited = httpx.get(url(stack), params={"statementId": sid, "limit": 1}, headers=headers, timeout=10)
    assert limited.status_code == 400 and limited.json()["field"] == "limit"
    formatted = httpx.get(url(stack), params={"statementId": sid, "format": "exact"}, headers=headers, timeout=10)
    assert formatted.status_code == 200
    resent = httpx.post(url(stack), json=got.json(), headers=headers, timeout=10)  # as the LRS returned it
    assert resent.status_code == 200
    other = httpx.post(url(stack), json=st | {"id": sid, "result": {"success": False}}, headers=headers, timeout=10)
    assert other.status_code == 409
    mismatch = httpx.put(url(stack), params={"statementId": str(uuid.uuid4())}, json=st | {"id": sid},
                         headers=headers, timeout=10)
    assert mismatch.status_code == 400


def test_actors_mapped_by_an_admin_apply_to_their_students(stack):
    """An LMS that identifies learners by e-mail (mbox) or its own account ids: mapped once, then applied."""
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    by_mail = {"mbox": "mailto:Ada.Lovelace@uni.example"}
    by_lms_id = {"account": {"homePage": "https://moodle.uni.example", "name": "u-48213"}}
    with stack.client() as admin:
        refused = admin.post("/api/admin/xapi-actors", json={"mappings": [
            {"student_id": s0, "actor": {"mbox": "ada@uni.example"}}]})  # not a mailto IRI
        assert refused.status_code == 422 and refused.json()["field"] == "mappings[0].actor.mbox"
        unknown = admin.post("/api/admin/xapi-actors", json={"mappings": [{"student_id": "nobody", "actor": by_mail}]})
        assert unknown.status_code == 422 and "nobody" in unknown.text
        r = admin.post("/api/admin/xapi-actors", json={"mappings": [{"student_id": s0, "actor": by_mail},
                                                                      {"student_id": s1, "actor": by_lms_id}]})
        assert r.status_code == 201 and r.json()["mapped"] == 2
    forbidden = httpx.post(stack.api_url + "/api/admin/xapi-actors", timeout=10,
                           headers={"Authorization": f"Bearer {room.professor_token}"},
                           json={"mappings": [{"student_id": s0, "actor": by_mail}]})
    assert forbidden.status_code == 403
    first = statement(room, "ignored", "completed", room.activities[0]) | {
        "actor": {"mbox": "mailto:ada.lovelace@UNI.example", "name": "Ada"}}  # the e-mail's case does not matter
    second = statement(room, "ignored", "completed", room.activities[1]) | {"actor": by_lms_id}
    r = httpx.post(url(stack), json=[first, second], headers=basic("lrs", stack.admin_token), timeout=30)
    assert r.status_code == 200, r.text
    assert completion(stack, room, s0, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)
    assert completion(stack, room, s1, 1 / 3) == pytest.approx(1 / 3, abs=1e-4)
    own = statement(room, "ignored", "completed", room.activities[2]) | {"actor": by_mail}
    as_student = {"Authorization": f"Bearer {room.student_tokens[s0]}"} | V
    assert httpx.post(url(stack), json=own, headers=as_student, timeout=10).status_code == 200  # s0's, as mapped
    theirs = statement(room, "ignored", "completed", room.activities[2]) | {"actor": by_lms_id}
    assert httpx.post(url(stack), json=theirs, headers=as_student, timeout=10).status_code == 403
    assert completion(stack, room, s0, 2 / 3) == pytest.approx(2 / 3, abs=1e-4)
