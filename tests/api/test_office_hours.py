"""Office hours and peer-help groups end to end: real HTTP, real student WebSockets."""
from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from tests.api_client import create_class, event, get
from tests.receivers import wait_for

pytestmark = pytest.mark.ray


def student_socket(stack, room, sid):
    url = stack.api_url.replace("http://", "ws://") + f"/ws/student/{sid}"
    return connect(url, additional_headers={"Authorization": f"Bearer {room.student_tokens[sid]}"},
                   open_timeout=10)


def next_frame(ws, type_, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["type"] == type_:
            return frame


def queue_order(stack, room):
    r = get(stack, f"/api/professor/courses/{room.course_id}/office-hours", room.professor_token)
    assert r.status_code == 200, r.text
    return r.json()


def test_office_hours_order_waits_defer_take_finish_and_history(stack):
    room = create_class(stack, students=5)
    s = list(room.student_tokens)
    entries = {}
    for sid in s[:3]:
        with stack.client(room.student_tokens[sid]) as c:
            r = c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": f"help {sid}"})
        assert r.status_code == 201, r.text
        entries[sid] = r.json()["entry_id"]
    with stack.client(room.student_tokens[s[0]]) as c:  # joining twice keeps the first place
        again = c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": "x"})
    assert again.status_code == 200 and again.json()["entry_id"] == entries[s[0]]

    q = queue_order(stack, room)
    assert [w["student_id"] for w in q["waiting"]] == s[:3]
    assert [w["estimated_wait_s"] for w in q["waiting"]] == [0, 300, 600]  # default 5 min before history

    with stack.client(room.student_tokens[s[0]]) as c:  # s0 lets s1 go first, keeps the place after s1
        r = c.post(f"/api/student/office-hours/{entries[s[0]]}/defer")
    assert r.status_code == 200 and r.json()["position"] == 2, r.text
    assert [w["student_id"] for w in queue_order(stack, room)["waiting"]] == [s[1], s[0], s[2]]

    with student_socket(stack, room, s[1]) as ws:
        time.sleep(0.5)  # the socket's inbox poller is in place
        with stack.client(room.professor_token) as c:
            taken = c.post(f"/api/professor/courses/{room.course_id}/office-hours/next")
        assert taken.status_code == 200 and taken.json()["student_id"] == s[1], taken.text
        frame = next_frame(ws, "message")
        assert frame["kind"] == "office_hours" and frame["event"] == "started"
        assert frame["chat_with"] == room.professor_id and frame["topic"] == f"help {s[1]}"
        q = queue_order(stack, room)
        assert [h["student_id"] for h in q["in_progress"]] == [s[1]] and not q["in_progress"][0]["over_time"]
        time.sleep(1.0)
        with stack.client(room.professor_token) as c:
            done = c.post(f"/api/professor/courses/{room.course_id}/office-hours/{s[1]}/finish")
        assert done.status_code == 200 and done.json()["duration_s"] >= 1.0, done.text
        assert next_frame(ws, "message")["event"] == "finished"

    q = queue_order(stack, room)  # estimates now come from the one help duration in the history
    assert q["history_size"] == 1 and 1.0 <= q["typical_help_s"] < 30
    assert [w["estimated_wait_s"] for w in q["waiting"]] == [0, pytest.approx(q["typical_help_s"], abs=0.2)]

    # fairness: s1, helped today, rejoins; s3 joins after but goes first
    for sid in (s[1], s[3]):
        with stack.client(room.student_tokens[sid]) as c:
            assert c.post("/api/student/office-hours", json={"course_id": room.course_id}).status_code == 201
    assert [w["student_id"] for w in queue_order(stack, room)["waiting"]] == [s[0], s[2], s[3], s[1]]

    with stack.client(room.professor_token) as c:  # take a specific student
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/{s[3]}/take").status_code == 200
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/{s[4]}/take").status_code == 404
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/{s[3]}/finish").status_code == 200
        history = c.get(f"/api/professor/courses/{room.course_id}/office-hours/history").json()["sessions"]
    assert {h["student_id"] for h in history} == {s[1], s[3]} and {h["state"] for h in history} == {"done"}

    with stack.client(room.student_tokens[s[2]]) as c:  # leave by course
        r = c.request("DELETE", "/api/student/office-hours", params={"course_id": room.course_id})
    assert r.status_code == 200 and r.json()["state"] == "left"
    assert [w["student_id"] for w in queue_order(stack, room)["waiting"]] == [s[0], s[1]]


def test_a_professor_removes_a_student_and_closes_office_hours(stack):
    room = create_class(stack, students=4)
    s = list(room.student_tokens)
    for sid in s:
        with stack.client(room.student_tokens[sid]) as c:
            assert c.post("/api/student/office-hours", json={"course_id": room.course_id}).status_code == 201
    base = f"/api/professor/courses/{room.course_id}/office-hours"
    with student_socket(stack, room, s[1]) as ws1, student_socket(stack, room, s[2]) as ws2:
        time.sleep(0.5)  # the sockets' inbox pollers are in place
        with stack.client(room.professor_token) as c:
            assert c.post(f"{base}/next").json()["student_id"] == s[0]  # being helped: close leaves it be
            removed = c.post(f"{base}/{s[1]}/remove")
            assert removed.status_code == 200 and removed.json()["state"] == "left", removed.text
            assert c.post(f"{base}/{s[1]}/remove").status_code == 404
            closed = c.post(f"{base}/close")
        assert closed.status_code == 200 and sorted(closed.json()["closed"]) == sorted(s[2:]), closed.text
        assert closed.json()["in_progress"] == [s[0]]
        assert next_frame(ws1, "message")["event"] == "removed"
        assert next_frame(ws2, "message")["event"] == "closed"
    q = queue_order(stack, room)
    assert q["waiting"] == [] and [h["student_id"] for h in q["in_progress"]] == [s[0]]
    with stack.client(room.student_tokens[s[3]]) as c:
        assert c.get("/api/student/office-hours", params={"course_id": room.course_id}).status_code == 404
    history = get(stack, f"{base}/history", room.professor_token).json()["sessions"]
    assert sorted(h["student_id"] for h in history if h["state"] == "left") == sorted(s[1:])


def test_office_hours_authorisation(stack):
    room, other = create_class(stack, students=3), create_class(stack, students=1)
    s0, s1, _ = list(room.student_tokens)
    outsider = next(iter(other.student_tokens))
    with stack.client(room.student_tokens[s0]) as c:
        entry = c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": "t"}).json()
    with stack.client(room.student_tokens[s1]) as c:
        assert c.request("DELETE", f"/api/student/office-hours/{entry['entry_id']}").status_code == 403
        assert c.post(f"/api/student/office-hours/{entry['entry_id']}/defer").status_code == 403
        assert c.post("/api/student/office-hours/defer", json={"course_id": room.course_id}).status_code == 404
        assert c.request("DELETE", f"/api/student/office-hours/{room.course_id}:oh_nope").status_code == 404
        assert c.post("/api/student/office-hours", json={"topic": "no course"}).status_code == 422
        assert c.post("/api/student/office-hours", json={"course_id": "c-none", "topic": "t"}).status_code == 404
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/next").status_code == 403
    with stack.client(other.student_tokens[outsider]) as c:
        r = c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": "t"})
        assert r.status_code == 403, r.text
    with stack.client(other.professor_token) as c:  # another professor's course
        assert c.get(f"/api/professor/courses/{room.course_id}/office-hours").status_code == 403
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/next").status_code == 403
    with stack.client(room.professor_token) as c:
        assert c.post("/api/student/office-hours", json={"course_id": room.course_id}).status_code == 403
    with stack.client(room.student_tokens[s0]) as c:  # the owner can defer? nobody behind: 409; leave: 200
        assert c.post(f"/api/student/office-hours/{entry['entry_id']}/defer").status_code == 409
        assert c.request("DELETE", f"/api/student/office-hours/{entry['entry_id']}").status_code == 200
        assert c.request("DELETE", f"/api/student/office-hours/{entry['entry_id']}").status_code == 404


def test_help_past_the_maximum_is_flagged_and_nudged(stack):
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    with stack.client(room.professor_token) as c:
        assert c.put(f"/api/professor/courses/{room.course_id}/alerts/configure",
                     json={"office_hours_max_help_minutes": 0.05}).status_code == 200
    with stack.client(room.student_tokens[s0]) as c:
        c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": "long one"})
    with stack.client(room.professor_token) as c:
        assert c.post(f"/api/professor/courses/{room.course_id}/office-hours/next").status_code == 200
        assert not queue_order(stack, room)["in_progress"][0]["over_time"]
        wait_for(lambda: queue_order(stack, room)["in_progress"][0]["over_time"], timeout=15)
        nudges = wait_for(lambda: [n for n in c.get("/api/professor/notifications").json()["notifications"]
                                   if n["kind"] == "office_hours_overtime"], timeout=15)
    assert [(n["student_id"], n["channel"], n["status"]) for n in nudges] == [(s0, "in_app", "delivered")]


def attempts(room, sid, pattern, activity="act0"):
    return [event(room, sid, "attempt", activity=activity, correct=ch == "c") for ch in pattern]


def status_of(stack, room):
    live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
    return {st["student_id"]: st["status"] for st in live["students"]}


def test_peer_groups_suggest_push_notify_and_avoid_repeats(stack):
    room = create_class(stack, students=7, activities=2)
    s = list(room.student_tokens)
    batch = []
    for sid in s[:3]:  # mastered act0
        batch += attempts(room, sid, "ccc") + [event(room, sid, "activity_completed")]
    batch += attempts(room, s[3], "xxxc") + [event(room, s[3], "activity_completed")]  # completed, 25%
    for sid in s[4:6]:
        batch += attempts(room, sid, "xxx")  # stuck on act0
    batch += attempts(room, s[6], "xxx", activity="act1")  # stuck elsewhere
    with stack.client() as admin:
        assert admin.post("/api/events", json={"events": batch}).status_code == 202
    wait_for(lambda: [status_of(stack, room)[x] for x in s[4:7]] == ["struggling"] * 3)

    def suggest():
        r = get(stack, f"/api/professor/courses/{room.course_id}/peer-groups/suggest?activity_id=act0&size=2",
                room.professor_token)
        assert r.status_code == 200, r.text
        return r.json()

    first = suggest()
    assert first["stuck"] == 2 and first["helpers"] == 3 and first["unassigned"] == []
    for g in first["groups"]:
        roles = [m["role"] for m in g["members"]]
        assert roles == ["helper", "stuck"] and g["members"][0]["student_id"] in s[:3]
    assert sorted(m["student_id"] for g in first["groups"] for m in g["members"] if m["role"] == "stuck") == s[4:6]

    groups = [{"members": [m["student_id"] for m in g["members"]],
               "helpers": [g["members"][0]["student_id"]]} for g in first["groups"]]
    with student_socket(stack, room, s[4]) as ws:
        time.sleep(0.5)
        with stack.client(room.professor_token) as c:
            pushed = c.post(f"/api/professor/courses/{room.course_id}/peer-groups",
                            json={"activity_id": "act0", "groups": groups})
        assert pushed.status_code == 201, pushed.text
        frame = next_frame(ws, "group")
        assert frame["your_role"] == "member" and s[4] in [m["student_id"] for m in frame["members"]]
        assert frame["group_id"] in [g["group_id"] for g in pushed.json()["groups"]]

    mine = get(stack, "/api/student/peer-groups", room.student_tokens[s[4]]).json()["groups"]
    assert [g["group_id"] for g in mine] == [frame["group_id"]]  # also readable after the fact
    assert get(stack, "/api/student/peer-groups", room.student_tokens[s[6]]).json()["groups"] == []

    second = suggest()  # the same pairs are not suggested again: another helper for each
    old = {frozenset(g["members"]) for g in groups}
    new = {frozenset(m["student_id"] for m in g["members"]) for g in second["groups"]}
    assert second["repeated_pairs"] == 0 and not old & new

    with stack.client(room.professor_token) as c:
        bad = c.post(f"/api/professor/courses/{room.course_id}/peer-groups",
                     json={"groups": [{"members": [s[4], "nobody"]}, {"members": [s[4], s[5]]}]})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"members"}
        assert len(c.get(f"/api/professor/courses/{room.course_id}/peer-groups").json()["groups"]) == 2
        assert c.get(f"/api/professor/courses/{room.course_id}/peer-groups/suggest?activity_id=act0&size=1"
                     ).status_code == 422
        assert c.get(f"/api/professor/courses/{room.course_id}/peer-groups/suggest?activity_id=nope"
                     ).status_code == 422
    other = create_class(stack, students=1)
    assert get(stack, f"/api/professor/courses/{room.course_id}/peer-groups/suggest?activity_id=act0",
               other.professor_token).status_code == 403


def test_junk_bodies_get_a_4xx_never_a_500(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    junk = [None, b"", b"[]", b"123", b'"x"', b"{not json", {"course_id": 5}, {"course_id": ["x"]},
            {"course_id": room.course_id, "topic": 5}, {"course_id": room.course_id, "topic": "t" * 600},
            {"groups": "x"}, {"groups": [{"members": [1, 2]}]}, {"groups": [{"members": [s0, s1], "helpers": "x"}]},
            {"groups": [{"members": [s0, s1], "helpers": [{"a": 1}]}]}, {"activity_id": 5, "groups": []},
            {"channels": "email"}, {"quiet_minutes": "x"}, {"email": 5}, {"webhook_url": 7},
            {"min_priority": True}, {"a": {"b": {"c": [[[[[]]]]]}}}]
    calls = [(room.student_tokens[s0], "POST", "/api/student/office-hours"),
             (room.student_tokens[s0], "POST", "/api/student/office-hours/defer"),
             (room.professor_token, "POST", f"/api/professor/courses/{room.course_id}/peer-groups"),
             (room.professor_token, "PUT", "/api/professor/notifications/preferences")]
    bad = []
    for token, method, path in calls:
        with stack.client(token) as c:
            for body in junk:
                kw = {"json": body} if isinstance(body, (dict, list)) else {"content": body or b""}
                r = c.request(method, path, **kw)
                if not 400 <= r.status_code < 500:
                    bad.append(f"{method} {path} {body!r:.60}: {r.status_code} {r.text[:100]}")
    assert not bad, "\n".join(bad)
