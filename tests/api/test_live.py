"""Live connections over real WebSockets and SSE against Ray Serve."""
from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.api_client import create_class, event, get
from tests.stack_process import AUTH_FAILURES_PER_MIN

pytestmark = pytest.mark.ray


def ws_url(stack, path):
    return stack.api_url.replace("http://", "ws://") + path


def professor_socket(stack, room, token=None, query=""):
    return connect(ws_url(stack, f"/ws/professor/{room.professor_id}/progress-updates{query}"),
                   additional_headers={"Authorization": f"Bearer {token or room.professor_token}"},
                   open_timeout=10)


def recv_json(ws, timeout=5.0):
    return json.loads(ws.recv(timeout=timeout))


def post(stack, token, events):
    with stack.client(token) as c:
        r = c.post("/api/events", json={"events": events})
    assert r.status_code == 202, r.text
    return r


def test_professor_socket_gets_a_snapshot_then_a_diff_within_a_second(stack):
    room = create_class(stack, students=4)
    s0 = next(iter(room.student_tokens))
    with professor_socket(stack, room) as ws:
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
        snap = recv_json(ws)
        assert snap["type"] == "snapshot" and snap["course_id"] == room.course_id
        assert {s["student_id"] for s in snap["students"]} == set(room.student_tokens)
        e = event(room, s0, "attempt", correct=True)
        sent = time.monotonic()
        post(stack, room.student_tokens[s0], [e])
        while True:
            diff = recv_json(ws)
            if any(s["last_event_id"] == e["event_id"] for s in diff["students"]):
                break
        latency = time.monotonic() - sent
        assert diff["type"] == "diff" and [s["student_id"] for s in diff["students"]] == [s0]
        assert diff["seq"] > snap["seq"]
        assert latency < 1.0, f"event -> professor took {latency:.2f}s"
        with pytest.raises(TimeoutError):  # nothing changed: nothing is sent (no ticking fields)
            ws.recv(timeout=1.5)


def test_reconnecting_with_after_seq_resumes_with_a_diff(stack):
    room = create_class(stack, students=3)
    s1 = list(room.student_tokens)[1]
    with professor_socket(stack, room) as ws:
        seq = recv_json(ws)["seq"]
    e = event(room, s1, "hint_requested")
    post(stack, stack.admin_token, [e])
    with professor_socket(stack, room, query=f"?after_seq={seq}") as ws:
        first = recv_json(ws)
    assert first["type"] == "diff" and [s["last_event_id"] for s in first["students"]] == [e["event_id"]]
    with professor_socket(stack, room, query="?after_seq=1") as ws:  # older than the view: snapshot
        assert recv_json(ws)["type"] == "snapshot"


def test_a_course_given_to_the_professor_joins_the_open_socket(stack):
    room = create_class(stack, students=2)
    with professor_socket(stack, room) as ws:
        assert recv_json(ws)["course_id"] == room.course_id
        second = room.course_id + "-2"
        with stack.client() as admin:
            assert admin.post("/api/admin/courses", json={
                "course_id": second, "professor_id": room.professor_id, "title": "Second",
                "activities": [{"activity_id": "x", "title": "X", "expected_minutes": 5}]}).status_code == 201
        joined = recv_json(ws, timeout=20)  # the stream asks for its courses every 10 s
    assert (joined["type"], joined["course_id"]) == ("snapshot", second)


def test_bad_tokens_and_other_professors_are_refused_at_the_handshake(stack):
    room = create_class(stack, students=1)
    other = create_class(stack, students=1)
    for token in ("nonsense", other.professor_token, next(iter(room.student_tokens.values()))):
        with pytest.raises(InvalidStatus) as err:
            professor_socket(stack, room, token=token)
        assert err.value.response.status_code == 403
    token = room.professor_token  # ?token= works too (browsers cannot set headers)
    with connect(ws_url(stack, f"/ws/professor/{room.professor_id}/progress-updates?token={token}")) as ws:
        assert recv_json(ws)["type"] == "snapshot"


def test_sse_carries_the_same_stream_and_resumes_with_last_event_id(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    url = f"{stack.api_url}/api/professor/{room.professor_id}/progress-updates/stream"
    assert httpx.get(url, timeout=5).status_code == 401

    def events_of(response):
        for block in response.iter_text():
            for chunk in block.split("\n\n"):
                data = [line[6:] for line in chunk.splitlines() if line.startswith("data: ")]
                if data:
                    yield json.loads(data[0])

    with httpx.stream("GET", url, params={"token": room.professor_token}, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = events_of(r)
        snap = next(stream)
        assert snap["type"] == "snapshot"
        e = event(room, s0, "activity_started")
        post(stack, stack.admin_token, [e])
        diff = next(m for m in stream if any(s["last_event_id"] == e["event_id"] for s in m["students"]))
    e2 = event(room, s0, "attempt", correct=False)
    post(stack, stack.admin_token, [e2])
    headers = {"Authorization": f"Bearer {room.professor_token}", "Last-Event-ID": str(diff["seq"])}
    with httpx.stream("GET", url, headers=headers, timeout=10) as r:
        first = next(events_of(r))
    assert first["type"] == "diff" and first["students"][0]["last_event_id"] == e2["event_id"]


def test_student_socket_sends_events_gets_acks_errors_and_interventions(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    url = ws_url(stack, f"/ws/student/{s0}")
    with connect(url, additional_headers={"Authorization": f"Bearer {room.student_tokens[s0]}"}) as ws:
        e = event(room, s0, "activity_started")
        ws.send(json.dumps({"type": "events", "request_id": "r1", "events": [e]}))
        assert recv_json(ws) == {"type": "ack", "request_id": "r1", "accepted": 1, "duplicates": 0}
        ws.send("{not json")
        assert recv_json(ws)["type"] == "error"
        ws.send(json.dumps({"type": "events", "events": [event(room, s1)]}))  # someone else's
        err = recv_json(ws)
        assert err["type"] == "error" and err["status"] == 403
        ws.send(json.dumps({"type": "events", "events": [e | {"progress": 3, "type": "progress"}]}))
        assert recv_json(ws)["errors"][0]["field"] == "progress"
        time.sleep(0.5)  # the socket's inbox poller is in place
        with stack.client(room.professor_token) as c:
            r = c.post(f"/api/professor/interventions/{s0}",
                       json={"course_id": room.course_id, "kind": "hint", "message": "Try a smaller case",
                             "activity_id": room.activities[0]})
        assert r.status_code == 201, r.text
        pushed = recv_json(ws)
        assert pushed["type"] == "intervention" and pushed["message"] == "Try a smaller case"
        assert pushed["intervention_id"] == r.json()["intervention_id"]
    inbox = get(stack, "/api/student/inbox", room.student_tokens[s0]).json()["items"]
    assert [i["intervention_id"] for i in inbox] == [pushed["intervention_id"]]
    assert get(stack, "/api/student/inbox", room.student_tokens[s1]).json()["items"] == []
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Authorization": f"Bearer {room.student_tokens[s1]}"})
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"kind": "message"}, "message"),
    ({"kind": "resource", "resource_url": "ftp://x"}, "resource_url"),
    ({"kind": "extension", "activity_id": "act0"}, "extension_minutes"),
    ({"kind": "extension", "activity_id": "act0", "extension_minutes": -5}, "extension_minutes"),
    ({"kind": "simplified_version", "alternative_activity_id": "nope"}, "alternative_activity_id"),
    ({"kind": "teleport"}, "kind"),
])
def test_interventions_need_the_fields_their_kind_needs(stack, body, field):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    with stack.client(room.professor_token) as c:
        r = c.post(f"/api/professor/interventions/{s0}", json={"course_id": room.course_id, **body})
    assert r.status_code == 422 and r.json()["field"] == field


def test_interventions_alerts_and_drill_down_are_authorised(stack):
    room = create_class(stack, students=2)
    other = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    post(stack, stack.admin_token, [event(room, s0, correct=False) for _ in range(3)])
    deadline = time.monotonic() + 5
    while True:
        live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
        if live["alerts"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [alert] = live["alerts"]
    assert alert["kind"] == "struggling" and alert["student_id"] == s0
    with stack.client(other.professor_token) as c:
        assert c.post(f"/api/professor/alerts/{alert['alert_id']}/acknowledge").status_code == 403
        assert c.post(f"/api/professor/interventions/{s0}",
                      json={"course_id": room.course_id, "kind": "message", "message": "hi"}).status_code == 403
        assert c.get(f"/api/professor/courses/{room.course_id}/students/{s0}").status_code == 403
    with stack.client(room.professor_token) as c:
        assert c.post("/api/professor/alerts/nope/acknowledge").status_code == 404
        assert c.post(f"/api/professor/alerts/{room.course_id}:ffff/acknowledge").status_code == 404
        acked = c.post(f"/api/professor/alerts/{alert['alert_id']}/acknowledge")
        assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
        assert c.post(f"/api/professor/alerts/{alert['alert_id']}/snooze", json={"minutes": 0}).status_code == 422
        snoozed = c.post(f"/api/professor/alerts/{alert['alert_id']}/snooze", json={"minutes": 10})
        assert snoozed.json()["state"] == "snoozed" and snoozed.json()["snoozed_until"]
        audits_before = stack_audits(stack)
        detail = c.get(f"/api/professor/courses/{room.course_id}/students/{s0}").json()
        assert detail["student"]["status"] == "struggling"
        assert detail["activities"][room.activities[0]]["errors"] == 3
        assert [e["type"] for e in detail["timeline"]] == ["attempt"] * 3
        assert stack_audits(stack) == audits_before + 1
        assert c.get(f"/api/professor/courses/{room.course_id}/students/ghost").status_code == 404
    with stack.client(room.student_tokens[s0]) as c:
        assert c.get(f"/api/professor/courses/{room.course_id}/students/{s0}").status_code == 403
        assert c.get("/api/professor/courses").status_code == 403
    # help the admin sends is from the course's professor: its receipts reach that professor's inbox
    with stack.client() as c:
        one = c.post(f"/api/professor/interventions/{s0}",
                     json={"course_id": room.course_id, "kind": "message", "message": "from the office"})
        many = c.post(f"/api/professor/courses/{room.course_id}/interventions",
                      json={"kind": "message", "message": "to everyone", "student_ids": [s0]})
    assert one.status_code == 201 and one.json()["professor_id"] == room.professor_id
    assert many.status_code == 201 and {r["professor_id"] for r in many.json()["records"]} == {room.professor_id}


def stack_audits(stack):
    with stack.client() as c:
        return c.get("/api/admin/stats").json()["tables"]["audit_log"]


def test_guessing_tokens_hits_the_rate_limit_but_known_users_keep_working(stack):
    room, newcomer = create_class(stack, students=1), create_class(stack, students=1)
    assert get(stack, "/api/professor/courses", room.professor_token).status_code == 200
    codes = []
    with httpx.Client(base_url=stack.api_url, timeout=30) as guesser:
        while not codes or (codes[-1] == 401 and len(codes) < 3 * AUTH_FAILURES_PER_MIN):
            codes.append(guesser.get("/api/professor/courses",
                                     headers={"Authorization": f"Bearer guess-{len(codes)}"}).status_code)
    assert codes[0] == 401 and codes[-1] == 429
    assert AUTH_FAILURES_PER_MIN * 0.9 <= codes.count(401) <= AUTH_FAILURES_PER_MIN * 1.5  # the burst, then refused
    assert get(stack, "/api/professor/courses", room.professor_token).status_code == 200  # verified before
    assert get(stack, "/api/professor/courses", stack.admin_token).status_code == 200
    deadline = time.monotonic() + 10  # the lockout is temporary: the budget refills
    while get(stack, "/api/professor/courses", newcomer.professor_token).status_code == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert httpx.get(stack.api_url + "/api/health").status_code == 200


def test_open_sockets_and_streams_end_when_their_token_is_rotated_or_the_student_erased(stack):
    """A socket is authenticated at its handshake; a revoked token must not keep it open."""
    from websockets.exceptions import ConnectionClosed

    from serve.auth import STREAM_RECHECK_S
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    auth = {"Authorization": f"Bearer {room.professor_token}"}
    progress = professor_socket(stack, room)
    chat = connect(ws_url(stack, f"/ws/professor/{room.professor_id}/chat"), additional_headers=auth)
    students = {s: connect(ws_url(stack, f"/ws/student/{s}?token={room.student_tokens[s]}")) for s in (s0, s1)}
    url = f"{stack.api_url}/api/professor/{room.professor_id}/progress-updates/stream"
    with httpx.stream("GET", url, headers=auth, timeout=STREAM_RECHECK_S + 20) as sse:
        assert recv_json(progress)["type"] == "snapshot"
        lines = sse.iter_lines()
        assert any(line.startswith("data: ") for line in lines)  # the snapshot: the stream is open
        with stack.client() as admin:
            assert admin.post("/api/admin/professors", json={
                "professor_id": room.professor_id, "name": "Prof", "rotate_token": True}).status_code in (200, 201)
            assert admin.post(f"/api/admin/courses/{room.course_id}/students", json={
                "students": [{"student_id": s1, "name": "Student 1"}], "rotate_tokens": True}).status_code == 201
            assert admin.delete(f"/api/admin/students/{s0}").status_code == 200
        started = time.monotonic()
        rest = list(lines)  # the stream ends (it would run forever otherwise)
        assert any('"status":401' in line for line in rest if line.startswith("data: ")), rest
    for ws in (progress, chat, *students.values()):
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=STREAM_RECHECK_S + 20)
        assert closed.value.rcvd.code == 4401 and "revoked" in closed.value.rcvd.reason
    assert time.monotonic() - started < 2 * STREAM_RECHECK_S  # one re-check period, with room for a slow machine
