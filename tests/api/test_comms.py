"""Interventions, messages, chat, typing and the live work view over real sockets (session stack)."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


def ws_url(stack, path):
    return stack.api_url.replace("http://", "ws://") + path


@contextmanager
def professor_chat(stack, room, token=None):
    with connect(ws_url(stack, f"/ws/professor/{room.professor_id}/chat"), open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {token or room.professor_token}"}) as ws:
        assert recv(ws)["type"] == "ready"
        yield ws


@contextmanager
def student_socket(stack, room, sid, prof=None):
    """A student's socket whose live inbox is in place (proved by a typing indicator getting through)."""
    with connect(ws_url(stack, f"/ws/student/{sid}"), open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {room.student_tokens[sid]}"}) as ws:
        if prof is None:
            time.sleep(1.0)
        else:
            deadline = time.monotonic() + 15
            while True:
                prof.send(json.dumps({"type": "typing", "course_id": room.course_id, "student_id": sid,
                                      "typing": False}))
                try:
                    if recv(ws, 0.5)["type"] == "typing":
                        break
                except TimeoutError:
                    assert time.monotonic() < deadline, "the student's inbox never came up"
        yield ws


def recv(ws, timeout=10.0):
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws, pred, timeout=10.0):
    """The first frame matching ``pred`` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = recv(ws, max(0.05, deadline - time.monotonic()))
        if pred(frame):
            return frame


def flood_until_refused(ws, frame, timeout=60.0):
    """Send ``frame`` in bursts of 100 until the socket answers an error; that error. No fixed count is
    sure to cross the token's budget (burst 200, refilled at 50/s): a loaded server reads frames
    slower, and the bucket refills meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        for _ in range(100):
            ws.send(json.dumps(frame))
        try:
            return recv_until(ws, lambda f: f["type"] == "error", timeout=0.2)
        except TimeoutError:
            assert time.monotonic() < deadline, "the socket never refused a frame"


def nothing_matching(ws, pred, wait=1.5):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            frame = recv(ws, max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            return True
        assert not pred(frame), frame
    return True


def struggle(stack, room, sids, activity):
    events = [event(room, s, "attempt", activity=activity, correct=False) for s in sids for _ in range(3)]
    with stack.client() as c:
        assert c.post("/api/events", json={"events": events}).status_code == 202
    deadline = time.monotonic() + 10
    while True:
        live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
        if {s["student_id"] for s in live["students"] if s["status"] == "struggling"} >= set(sids):
            return live
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_hint_reaches_the_socket_and_is_recorded_with_delivered_and_read_receipts(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    struggle(stack, room, [s0], "act0")
    with professor_chat(stack, room) as prof, student_socket(stack, room, s0, prof) as ws:
        with stack.client(room.professor_token) as c:
            r = c.post(f"/api/professor/interventions/{s0}", json={
                "course_id": room.course_id, "kind": "hint", "message": "Draw it", "activity_id": "act0"})
        assert r.status_code == 201, r.text
        iid = r.json()["intervention_id"]
        pushed = recv_until(ws, lambda f: f["type"] == "intervention")
        assert pushed["intervention_id"] == iid and pushed["message"] == "Draw it"
        assert "status_before" not in pushed and "holdout" not in pushed
        delivered = recv_until(prof, lambda f: f["type"] == "receipt")
        assert delivered["intervention_id"] == iid and delivered["delivered_at"] and not delivered["read_at"]
        ws.send(json.dumps({"type": "read", "request_id": "r", "ids": [iid, "iv_not_mine"]}))
        ack = recv_until(ws, lambda f: f["type"] == "ack")
        assert ack["request_id"] == "r" and ack["interventions"] == [iid]
        read = recv_until(prof, lambda f: f["type"] == "receipt")
        assert read["read_at"] and read["delivered_at"] == delivered["delivered_at"]
    with stack.client(room.student_tokens[s0]) as c:
        events = [event(room, s0, "attempt", activity="act0", correct=True) for _ in range(2)]
        assert c.post("/api/events", json={"events": events}).status_code == 202
    listed = get(stack, f"/api/professor/courses/{room.course_id}/interventions", room.professor_token).json()
    [rec] = listed["interventions"]
    assert rec["intervention_id"] == iid and rec["delivered_at"] and rec["read_at"] and rec["holdout"] is False
    assert rec["status_before"] == "struggling"
    assert rec["outcome"]["error_rate_before"] == 1.0 and rec["outcome"]["error_rate_after"] == 0.0
    assert rec["outcome"]["improved"] is True and rec["outcome"]["attempts_after"] == 2
    [inbox] = get(stack, "/api/student/inbox", room.student_tokens[s0]).json()["items"]
    assert inbox["read_at"] and "status_before" not in inbox


def test_a_bulk_message_reaches_exactly_the_students_struggling_on_that_activity(stack):
    room = create_class(stack, students=5)
    s = list(room.student_tokens)
    struggle(stack, room, s[:2], "act1")
    struggle(stack, room, [s[2]], "act0")  # struggling, but on another activity
    with professor_chat(stack, room) as prof, \
            student_socket(stack, room, s[0], prof) as w0, student_socket(stack, room, s[1], prof) as w1, \
            student_socket(stack, room, s[2], prof) as w2, student_socket(stack, room, s[3], prof) as w3:
        with stack.client(room.professor_token) as c:
            r = c.post("/api/professor/messages", json={
                "course_id": room.course_id, "to": {"status": "struggling", "activity_id": "act1"},
                "template": "encourage_2"})
        assert r.status_code == 201, r.text
        sent = {x["student_id"]: x["intervention_id"] for x in r.json()["sent"]}
        assert set(sent) == {s[0], s[1]} and r.json()["held_out"] == []
        for sid, ws in ((s[0], w0), (s[1], w1)):
            got = recv_until(ws, lambda f: f["type"] == "intervention")
            assert got["intervention_id"] == sent[sid] and got["kind"] == "message"
            assert got["message"].startswith("Student, getting a few wrong on Act1")
        for ws in (w2, w3):
            assert nothing_matching(ws, lambda f: f["type"] == "intervention")
    listed = get(stack, f"/api/professor/courses/{room.course_id}/interventions", room.professor_token).json()
    assert {i["student_id"] for i in listed["interventions"]} == {s[0], s[1]}
    assert all(i["template"] == "encourage_2" and i["bulk"] for i in listed["interventions"])


def test_every_socket_of_a_student_gets_its_messages_and_a_later_socket_not_the_old_ones(stack):
    """One inbox poll per replica and hub serves every student socket on it: two tabs of one
    student both get a hint, another student's socket does not, and a socket opened afterwards
    is not sent it again (it is in GET /api/student/inbox)."""
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    with professor_chat(stack, room) as prof, student_socket(stack, room, s0, prof) as tab1, \
            student_socket(stack, room, s0, prof) as tab2, student_socket(stack, room, s1, prof) as other:
        with stack.client(room.professor_token) as c:
            r = c.post(f"/api/professor/interventions/{s0}", json={
                "course_id": room.course_id, "kind": "hint", "message": "Both tabs", "activity_id": "act0"})
        assert r.status_code == 201, r.text
        for ws in (tab1, tab2):
            got = recv_until(ws, lambda f: f["type"] == "intervention")
            assert got["intervention_id"] == r.json()["intervention_id"] and got["message"] == "Both tabs"
        assert nothing_matching(other, lambda f: f["type"] == "intervention")
        with student_socket(stack, room, s0, prof) as later:
            assert nothing_matching(later, lambda f: f["type"] == "intervention")


def test_bulk_messages_refuse_unknown_recipients_oversize_text_and_other_professors(stack):
    room, other = create_class(stack, students=3), create_class(stack, students=1)
    s = list(room.student_tokens)
    before = len(get(stack, f"/api/professor/courses/{room.course_id}/interventions",
                     room.professor_token).json()["interventions"])
    with stack.client(room.professor_token) as c:
        r = c.post("/api/professor/messages", json={"course_id": room.course_id, "text": "hi",
                                                    "to": [s[0], "ghost", next(iter(other.student_tokens))]})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["to[1]", "to[2]"]
        r = c.post("/api/professor/messages", json={"course_id": room.course_id, "to": "all", "text": "x" * 4001})
        assert r.status_code == 413 and r.json()["field"] == "text"
        r = c.post("/api/professor/messages", json={"course_id": room.course_id, "to": {"status": "idle"},
                                                    "text": "hi"})
        assert r.status_code == 422 and "no student matches" in r.json()["error"]
        assert c.post("/api/professor/messages", json={"course_id": other.course_id, "to": "all",
                                                       "text": "hi"}).status_code == 403
        assert c.post("/api/professor/messages", json={"course_id": "nope", "to": "all",
                                                       "text": "hi"}).status_code == 404
        held = c.post("/api/professor/messages", json={"course_id": room.course_id, "to": "all",
                                                       "text": "hi {first_name}", "holdout": 0.34})
        assert held.status_code == 201 and len(held.json()["held_out"]) == 1 and held.json()["count"] == 2
        templates = c.get("/api/professor/message-templates").json()["templates"]
        assert "encourage_1" in {t["template_id"] for t in templates}
    with stack.client(room.student_tokens[s[0]]) as c:
        assert c.post("/api/professor/messages", json={"course_id": room.course_id, "to": "all",
                                                       "text": "hi"}).status_code == 403
    listed = get(stack, f"/api/professor/courses/{room.course_id}/interventions",
                 room.professor_token).json()["interventions"]
    assert len(listed) == before + 3 and sum(i["holdout"] for i in listed) == 1
    [held_id] = [h["student_id"] for h in held.json()["held_out"]]
    assert get(stack, "/api/student/inbox", room.student_tokens[held_id]).json()["items"] == []


def test_typing_round_trip_both_ways(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    with professor_chat(stack, room) as prof, student_socket(stack, room, s0, prof) as ws:
        ws.send(json.dumps({"type": "typing"}))
        got = recv_until(prof, lambda f: f["type"] == "typing")
        assert got == {"type": "typing", "course_id": room.course_id, "student_id": s0, "from": "student",
                       "typing": True, "ttl_s": 6.0, "seq": got["seq"]}
        prof.send(json.dumps({"type": "typing", "course_id": room.course_id, "student_id": s0}))
        got = recv_until(ws, lambda f: f["type"] == "typing" and f["typing"])
        assert got["from"] == "professor" and got["student_id"] == s0
        ws.send(json.dumps({"type": "typing", "typing": "maybe", "request_id": "t"}))
        assert recv_until(ws, lambda f: f["type"] == "error")["errors"][0]["field"] == "typing"
        prof.send(json.dumps({"type": "typing", "course_id": room.course_id, "student_id": "ghost"}))
        assert recv_until(prof, lambda f: f["type"] == "error")["status"] == 404
        limited = flood_until_refused(ws, {"type": "typing"})  # typing is charged like any frame
        assert limited["status"] == 429 and limited["errors"][0]["field"] == "rate"
        prof.send(json.dumps({"type": "typing", "course_id": room.course_id, "student_id": s0}))
        assert recv_until(ws, lambda f: f["type"] == "typing")["from"] == "professor"  # the socket stayed open


def test_chat_is_live_persisted_receipted_and_authorised(stack):
    room, other = create_class(stack, students=2), create_class(stack, students=1)
    s0, s1 = list(room.student_tokens)
    with professor_chat(stack, room) as prof, student_socket(stack, room, s0, prof) as ws:
        ws.send(json.dumps({"type": "chat", "request_id": "c1", "text": "I'm stuck on act0"}))
        ack = recv_until(ws, lambda f: f["type"] == "ack")
        mid = ack["message"]["message_id"]
        got = recv_until(prof, lambda f: f["type"] == "chat")
        assert got["message_id"] == mid and got["text"] == "I'm stuck on act0" and got["from"] == "student"
        prof.send(json.dumps({"type": "read", "ids": [mid]}))
        assert recv_until(prof, lambda f: f["type"] == "ack")["chat"] == [mid]
        seen = recv_until(ws, lambda f: f["type"] == "chat" and f["message_id"] == mid and f["read_at"])
        assert seen["read_at"] and seen["delivered_at"]  # the student sees their message was read
        prof.send(json.dumps({"type": "chat", "course_id": room.course_id, "student_id": s0,
                              "text": "Look at the example"}))
        reply = recv_until(ws, lambda f: f["type"] == "chat")
        assert reply["text"] == "Look at the example" and reply["from"] == "professor"
        delivered = recv_until(prof, lambda f: f["type"] == "chat" and f["message_id"] == reply["message_id"])
        assert delivered["delivered_at"] and not delivered["read_at"]
        ws.send(json.dumps({"type": "chat", "text": "x" * 4001}))
        assert recv_until(ws, lambda f: f["type"] == "error")["status"] == 413
        ws.send(json.dumps({"type": "chat", "student_id": s1, "text": "hi"}))
        assert recv_until(ws, lambda f: f["type"] == "error")["status"] == 403
        prof.send(json.dumps({"type": "chat", "course_id": other.course_id,
                              "student_id": next(iter(other.student_tokens)), "text": "hi"}))
        assert recv_until(prof, lambda f: f["type"] == "error")["status"] == 403
    path = f"/api/professor/courses/{room.course_id}/chats/{s0}"
    history = get(stack, path, room.professor_token).json()["messages"]
    assert [(m["from"], m["text"]) for m in history] == [("student", "I'm stuck on act0"),
                                                         ("professor", "Look at the example")]
    assert history[0]["read_at"] and history[1]["delivered_at"]
    mine = get(stack, "/api/student/chat", room.student_tokens[s0]).json()["messages"]
    assert [m["message_id"] for m in mine] == [m["message_id"] for m in history]
    assert get(stack, "/api/student/chat", room.student_tokens[s1]).json()["messages"] == []
    assert get(stack, f"/api/student/chat?student_id={s0}", room.student_tokens[s1]).status_code == 403
    assert get(stack, path, room.student_tokens[s1]).status_code == 403
    assert get(stack, path, other.professor_token).status_code == 403
    assert get(stack, f"/api/professor/courses/{room.course_id}/chats/ghost", room.professor_token).status_code == 404
    with stack.client(room.professor_token) as c:
        r = c.post(path, json={"text": "by REST"})
        assert r.status_code == 201 and r.json()["recipient_id"] == s0
        assert c.post(path, json={"text": ""}).status_code == 422
    with stack.client(room.student_tokens[s1]) as c:
        assert c.post("/api/student/chat", json={"text": "hello"}).status_code == 201
        assert c.post("/api/student/chat", json={"text": "hello", "student_id": s0}).status_code == 403
        assert c.post("/api/student/chat", json={"text": "hello", "course_id": other.course_id}).status_code == 403
    assert len(get(stack, path, room.professor_token).json()["messages"]) == 3  # nothing lost
    s1_path = f"/api/professor/courses/{room.course_id}/chats/{s1}"
    assert get(stack, s1_path, room.professor_token).json()["messages"][0]["read_at"] is None
    [seen] = get(stack, s1_path + "?mark_read=true", room.professor_token).json()["messages"]
    [mine] = get(stack, "/api/student/chat", room.student_tokens[s1]).json()["messages"]
    assert seen["read_at"] and mine["read_at"] == seen["read_at"] and mine["delivered_at"]
    with pytest.raises(InvalidStatus) as refused, professor_chat(stack, room, token=other.professor_token):
        pass
    assert refused.value.response.status_code == 403


def test_work_state_needs_consent_and_reaches_the_watching_professor_live(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    with professor_chat(stack, room) as prof, student_socket(stack, room, s0, prof) as ws:
        ws.send(json.dumps({"type": "work_state", "request_id": "w0", "activity_id": "act0", "step": 1}))
        refused = recv_until(ws, lambda f: f["type"] == "error")
        assert refused["status"] == 403 and refused["errors"][0]["field"] == "consent"
        prof.send(json.dumps({"type": "watch", "course_id": room.course_id, "student_id": s0}))
        watch = recv_until(prof, lambda f: f["type"] == "ack")
        assert watch["consent"] is False and watch["state"] is None
        # a frame refused for its state changes nothing, not even the consent it carries
        ws.send(json.dumps({"type": "work_state", "consent": True, "activity_id": "act0", "answer": 123}))
        assert recv_until(ws, lambda f: f["type"] == "error")["errors"][0]["field"] == "answer"
        assert get(stack, f"/api/professor/courses/{room.course_id}/work/{s0}",
                   room.professor_token).json()["consent"] is False
        ws.send(json.dumps({"type": "work_state", "consent": True, "activity_id": "act0", "step": 2,
                            "answer": "x = 4"}))
        assert recv_until(ws, lambda f: f["type"] == "ack")["consent"] is True
        live = recv_until(prof, lambda f: f["type"] == "work_state")
        assert (live["student_id"], live["step"], live["answer"], live["shared"]) == (s0, 2, "x = 4", True)
        ws.send(json.dumps({"type": "work_state", "activity_id": "act0", "step": 3, "answer": "x" * 5000}))
        assert recv_until(ws, lambda f: f["type"] == "error")["status"] == 413
        view = get(stack, f"/api/professor/courses/{room.course_id}/work/{s0}", room.professor_token).json()
        assert view["consent"] is True and view["state"]["answer"] == "x = 4"
        prof.send(json.dumps({"type": "unwatch", "course_id": room.course_id, "student_id": s0}))
        recv_until(prof, lambda f: f["type"] == "ack")
        ws.send(json.dumps({"type": "work_state", "activity_id": "act0", "step": 4}))
        recv_until(ws, lambda f: f["type"] == "ack")
        assert nothing_matching(prof, lambda f: f["type"] == "work_state")  # not watching: not sent
        prof.send(json.dumps({"type": "watch", "course_id": room.course_id, "student_id": s0}))
        assert recv_until(prof, lambda f: f["type"] == "ack")["state"]["step"] == 4
        with stack.client(room.student_tokens[s0]) as c:
            r = c.put("/api/student/work-view/consent", json={"consent": False})
            assert r.status_code == 200 and r.json()["consent"] is False
        assert recv_until(prof, lambda f: f["type"] == "work_state")["shared"] is False
        ws.send(json.dumps({"type": "work_state", "activity_id": "act0", "step": 5}))
        assert recv_until(ws, lambda f: f["type"] == "error")["status"] == 403
    assert get(stack, f"/api/professor/courses/{room.course_id}/work/{s0}",
               room.professor_token).json() == {"course_id": room.course_id, "student_id": s0,
                                                "consent": False, "state": None}
    assert get(stack, f"/api/professor/courses/{room.course_id}/work/{s1}",
               room.student_tokens[s1]).status_code == 403
    with stack.client(room.student_tokens[s1]) as c:
        assert c.put("/api/student/work-view/consent", json={"consent": "yes"}).status_code == 422


def test_work_view_refreshes_are_audited_once_a_minute_with_the_consent_they_met(stack):
    room = create_class(stack, students=1)
    [s0] = list(room.student_tokens)
    path = f"/api/professor/courses/{room.course_id}/work/{s0}"
    for _ in range(5):  # the dashboard's panel asks every 2 s
        assert get(stack, path, room.professor_token).json()["consent"] is False
    with stack.client(room.student_tokens[s0]) as c:
        assert c.put("/api/student/work-view/consent", json={"consent": True}).status_code == 200
    for _ in range(3):
        assert get(stack, path, room.professor_token).json()["consent"] is True
    audit = get(stack, f"/api/admin/students/{s0}", stack.admin_token).json()["tables"]["audit_log"]
    views = sorted(((a["actor_id"], a["detail"]) for a in audit if a["action"] == "view_work"),
                   key=lambda v: v[1]["consent"])  # the export does not order rows
    assert views == [(room.professor_id, {"course_id": room.course_id, "consent": False}),
                     (room.professor_id, {"course_id": room.course_id, "consent": True})]


def test_an_extension_moves_the_students_due_date_in_their_inbox_and_the_drill_down(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    with stack.client() as admin:  # re-post the course with a due date on the first activity
        r = admin.post("/api/admin/courses", json={
            "course_id": room.course_id, "professor_id": room.professor_id, "title": "Course", "clock": "event",
            "activities": [{"activity_id": a, "title": a.title(), "expected_minutes": 5,
                            **({"due_at": "2026-11-20T12:00:00+00:00"} if a == room.activities[0] else {})}
                           for a in room.activities]})
        assert r.status_code in (200, 201), r.text
    with stack.client(room.professor_token) as c:
        for minutes in (30, 15):
            r = c.post(f"/api/professor/interventions/{s0}", json={
                "course_id": room.course_id, "kind": "extension", "activity_id": room.activities[0],
                "extension_minutes": minutes, "holdout": 0})
            assert r.status_code == 201, r.text
    items = get(stack, "/api/student/inbox", room.student_tokens[s0]).json()["items"]
    assert [i["due_at"] for i in items if i["kind"] == "extension"] == ["2026-11-20T12:45:00.000Z"] * 2
    detail = get(stack, f"/api/professor/courses/{room.course_id}/students/{s0}", room.professor_token).json()
    assert detail["due_dates"] == [{"activity_id": room.activities[0], "title": room.activities[0].title(),
                                    "due_at": "2026-11-20T12:45:00.000Z",
                                    "declared_due_at": "2026-11-20T12:00:00.000Z", "extension_minutes": 45.0}]
    other = get(stack, f"/api/professor/courses/{room.course_id}/students/{s1}", room.professor_token).json()
    assert other["due_dates"][0]["due_at"] == "2026-11-20T12:00:00.000Z"  # only the student given it
