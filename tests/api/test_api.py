"""The public contract over real HTTP against ``classpulse serve`` (Ray Serve)."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def room(stack):
    return create_class(stack, students=5)


def live(stack, room, token=None):
    r = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", token or room.professor_token)
    assert r.status_code == 200, r.text
    return {s["student_id"]: s for s in r.json()["students"]}, r.json()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_health_needs_no_token(stack):
    assert httpx.get(stack.api_url + "/api/health").json() == {"status": "ok"}
    assert httpx.get(stack.api_url + "/openapi.json").status_code == 200


def test_events_are_acknowledged_then_visible_and_duplicates_counted(stack, room):
    s0 = next(iter(room.student_tokens))
    batch = [event(room, s0, "activity_started"), event(room, s0, "progress", progress=0.5),
             event(room, s0, "attempt", correct=True)]
    with stack.client(room.student_tokens[s0]) as c:
        r = c.post("/api/events", json={"events": batch})
        assert r.status_code == 202 and r.json() == {"accepted": 3, "duplicates": 0}
        r = c.post("/api/events", json={"events": batch})
        assert r.json() == {"accepted": 0, "duplicates": 3}
    wait_for(lambda: live(stack, room)[0][s0]["status"] == "active")
    students = live(stack, room)[0]
    assert students[s0]["completion"] == pytest.approx(0.5 / 3, abs=1e-4)
    assert students[s0]["last_event_id"] == batch[-1]["event_id"]
    body = live(stack, room)[1]
    assert set(body) >= {"course_id", "as_of", "students", "alerts"}
    assert set(students[s0]) >= {"student_id", "name", "status", "completion", "time_on_task_s",
                                 "current_activity_id", "risk", "reasons"}


def test_same_event_id_with_other_content_is_a_conflict(stack, room):
    s0 = next(iter(room.student_tokens))
    e = event(room, s0, "hint_requested")
    with stack.client() as c:
        assert c.post("/api/events", json={"events": [e]}).status_code == 202
        r = c.post("/api/events", json={"events": [e | {"type": "activity_started"}]})
    assert r.status_code == 409 and r.json()["field"] == "event_id"


def stats(stack):
    with stack.client() as c:
        return c.get("/api/admin/stats").json()["tables"]["student_activity_log"]


BAD_BODIES = [
    (b"{not json", 422, "body"),
    (b"[]", 422, "events"),
    (b'{"events": []}', 422, "events"),
    (b'{"events": "many"}', 422, "events"),
    (b'{"events": [{"event_id": "x"}]}', 422, "student_id"),
    (b"[" * 5000 + b"]" * 5000, 422, "body"),  # nesting deeper than the parser allows
]


@pytest.mark.parametrize("raw, status, field", BAD_BODIES)
def test_malformed_bodies_get_a_4xx_naming_the_problem(stack, raw, status, field):
    before = stats(stack)
    with stack.client() as c:
        r = c.post("/api/events", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["field"] == field or any(e["field"] == field for e in r.json().get("errors", []))
    assert httpx.get(stack.api_url + "/api/health").status_code == 200
    assert stats(stack) == before


def test_invalid_event_rejects_the_whole_batch_with_every_error(stack, room):
    s0, s1 = list(room.student_tokens)[:2]
    before = stats(stack)
    batch = [event(room, s0), event(room, s0, "progress", progress=1.7), event(room, "nobody"),
             event(room, s1, activity="no-such-activity"), event(room, s1, ts="2999-01-01T00:00:00Z")]
    with stack.client() as c:
        r = c.post("/api/events", json={"events": batch})
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["errors"]] == [(1, "progress")]
    with stack.client() as c:
        r = c.post("/api/events", json={"events": [batch[0], batch[2], batch[3]]})
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["errors"]] == [(1, "student_id"), (2, "activity_id")]
    assert stats(stack) == before


def test_future_timestamps_are_refused_on_live_courses_only(stack):
    live_room = create_class(stack, students=1, clock="live")
    sid = next(iter(live_room.student_tokens))
    with stack.client() as c:
        r = c.post("/api/events", json={"events": [event(live_room, sid, ts="2999-01-01T00:00:00Z")]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ts"
        sim_room = create_class(stack, students=1, clock="event")
        sid2 = next(iter(sim_room.student_tokens))
        r = c.post("/api/events", json={"events": [event(sim_room, sid2, ts="2999-01-01T00:00:00Z")]})
        assert r.status_code == 202


def test_over_1000_events_and_over_1_mib_are_refused(stack, room):
    s0 = next(iter(room.student_tokens))
    with stack.client() as c:
        r = c.post("/api/events", json={"events": [event(room, s0) for _ in range(1001)]})
        assert r.status_code == 422 and "1 to 1000" in r.json()["error"]
        r = c.post("/api/events", content=b'{"events": ["' + b"x" * (1 << 20) + b'"]}',
                   headers={"content-type": "application/json"})
        assert r.status_code == 413 and "1048576" in r.json()["error"]
    assert httpx.get(stack.api_url + "/api/health").status_code == 200


def test_authorisation_matrix(stack, room):
    other = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    path = f"/api/professor/courses/{room.course_id}/live-progress"
    assert get(stack, path, None).status_code == 401
    assert get(stack, path, "not-a-token").status_code == 401
    assert get(stack, path, other.professor_token).status_code == 403
    assert get(stack, path, room.student_tokens[s0]).status_code == 403
    assert get(stack, path, room.professor_token).status_code == 200
    assert get(stack, path, stack.admin_token).status_code == 200
    assert get(stack, "/api/professor/courses/nope/live-progress", room.professor_token).status_code == 404
    with stack.client(room.professor_token) as c:
        assert c.post("/api/admin/professors", json={"professor_id": "x", "name": "x"}).status_code == 403
        assert c.post("/api/events", json={"events": [event(room, s0)]}).status_code == 403
    with stack.client(room.student_tokens[s0]) as c:
        other_student = list(room.student_tokens)[1]
        r = c.post("/api/events", json={"events": [event(room, other_student)]})
        assert r.status_code == 403 and r.json()["field"] == "student_id"


def test_roster_repost_keeps_tokens_unless_rotated(stack, room):
    s0 = next(iter(room.student_tokens))
    with stack.client() as c:
        again = c.post(f"/api/admin/courses/{room.course_id}/students",
                       json={"students": [{"student_id": s0, "name": "Renamed"}]}).json()
        assert again["students"][0]["token"] is None
        assert get(stack, "/api/health", None).status_code == 200
        r = c.post("/api/admin/courses", json={"course_id": "c-bad", "professor_id": "nobody", "title": "t",
                                               "activities": [{"activity_id": "a", "title": "A",
                                                               "expected_minutes": 1}]})
        assert r.status_code == 422 and r.json()["field"] == "professor_id"
        r = c.post("/api/admin/courses/unknown-course/students",
                   json={"students": [{"student_id": "z", "name": "Z"}]})
        assert r.status_code == 404


def test_alert_thresholds_are_configurable_and_reassess_at_once(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    path = f"/api/professor/courses/{room.course_id}/alerts/configure"
    with stack.client(room.student_tokens[s0]) as c:
        c.post("/api/events", json={"events": [event(room, s0, correct=False), event(room, s0, correct=False)]})
    wait_for(lambda: live(stack, room)[0][s0]["status"] == "active")
    with stack.client(room.professor_token) as c:
        r = c.put(path, json={"struggling_min_attempts": 2})
        assert r.status_code == 200 and r.json()["struggling_min_attempts"] == 2
        assert r.json()["idle_after_s"] == 180  # the whole config comes back
        assert wait_for(lambda: live(stack, room)[0][s0]["status"] == "struggling")
        r = c.put(path, json={"struggling_error_rate": 2})
        assert r.status_code == 422 and r.json()["field"] == "struggling_error_rate"
        assert c.get(path).json()["struggling_min_attempts"] == 2


def test_a_course_given_another_activity_shows_completion_over_both_at_once(stack):
    room = create_class(stack, students=1, activities=1)
    s0 = next(iter(room.student_tokens))
    with stack.client(room.student_tokens[s0]) as c:
        assert c.post("/api/events", json={"events": [event(room, s0, "activity_completed")]}).status_code == 202
    assert wait_for(lambda: live(stack, room)[0][s0]["completion"] == 1.0)
    with stack.client() as admin:
        assert admin.post("/api/admin/courses", json={
            "course_id": room.course_id, "professor_id": room.professor_id, "title": "Course", "clock": "event",
            "activities": [{"activity_id": room.activities[0], "title": "A", "expected_minutes": 5},
                           {"activity_id": "extra", "title": "Extra", "expected_minutes": 5}]}).status_code == 200
    # no new event from the student: the shard sends their summary again over two activities
    assert wait_for(lambda: live(stack, room)[0][s0]["completion"] == 0.5)
