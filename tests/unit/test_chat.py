"""Chat messages, typing, read ids, work states, outcomes, and their DuckDB rows (no Ray)."""
from __future__ import annotations

import time

import pytest

from engine import chat, outcomes
from engine.comms_store import CommsStore
from engine.course import Activity, Course
from engine.messaging import MAX_TEXT, MessagingError
from engine.store import Store

COURSE = Course("c1", "p1", "Algebra", "event", (Activity("a1", "Fractions", 5),))


def test_a_thread_message_is_addressed_by_side():
    m = chat.new_message(COURSE, "s1", "student", "help?", now=10.0)
    assert (m["sender_id"], m["recipient_id"], m["from"]) == ("s1", "p1", "student")
    m = chat.new_message(COURSE, "s1", "professor", "sure")
    assert (m["sender_id"], m["recipient_id"]) == ("p1", "s1") and m["read_at"] is None
    with pytest.raises(MessagingError) as err:
        chat.new_message(COURSE, "s1", "student", "x" * (MAX_TEXT + 1))
    assert err.value.status == 413
    with pytest.raises(MessagingError):
        chat.new_message(COURSE, "s1", "student", 12)


def test_a_students_course_is_theirs_or_their_only_one():
    assert chat.resolve_course(None, ["c1"]) == "c1"
    assert chat.resolve_course("c2", ["c1", "c2"]) == "c2"
    with pytest.raises(MessagingError) as err:
        chat.resolve_course(None, ["c1", "c2"])
    assert err.value.status == 422
    with pytest.raises(MessagingError) as err:
        chat.resolve_course("c9", ["c1"])
    assert err.value.status == 403


def test_typing_read_and_work_state_frames_are_checked():
    assert chat.typing("c1", "s1", "student")["typing"] is True
    with pytest.raises(MessagingError):
        chat.typing("c1", "s1", "student", "yes")
    assert chat.read_ids({"ids": ["a", "b"]}) == ["a", "b"] and chat.read_ids({"id": "a"}) == ["a"]
    for bad in ({}, {"ids": []}, {"ids": [1]}, {"ids": "a"}):
        with pytest.raises(MessagingError):
            chat.read_ids(bad)
    state = chat.work_state({"activity_id": "a1", "step": 2, "answer": "3/4"}, COURSE, "s1", now=5.0)
    assert state == {"type": "work_state", "course_id": "c1", "student_id": "s1", "shared": True,
                     "activity_id": "a1", "step": 2, "answer": "3/4", "ts": 5.0}
    for frame, status in (({"activity_id": "zz"}, 422), ({"step": True}, 422),
                          ({"answer": "x" * 5000}, 413), ({"answer": 5}, 422)):
        with pytest.raises(MessagingError) as err:
            chat.work_state(frame, COURSE, "s1")
        assert err.value.status == status


def ev(ts, kind, correct=None, activity="a1", progress=None):
    return {"ts": ts, "type": kind, "activity_id": activity, "correct": correct, "progress": progress}


def test_outcome_compares_attempts_before_and_after():
    events = [ev(1, "attempt", False), ev(2, "attempt", False), ev(3, "attempt", True), ev(4, "heartbeat"),
              ev(10, "heartbeat"), ev(12, "attempt", True), ev(13, "attempt", True), ev(14, "activity_completed")]
    got = outcomes.outcome({"created_at": 5.0, "activity_id": None, "status_before": "struggling"}, events)
    assert got == {"activity_id": "a1", "status_before": "struggling", "responded_after_s": 7.0,
                   "error_rate_before": 0.667, "error_rate_after": 0.0, "attempts_after": 2,
                   "completed_after": True, "improved": True}
    none = outcomes.outcome({"created_at": 50.0, "activity_id": "a1"}, events)
    assert none["responded_after_s"] is None and none["improved"] is None and none["error_rate_after"] is None


def test_receipts_are_stored_once_and_only_for_the_recipient(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    comms = CommsStore(store)
    m = chat.new_message(COURSE, "s1", "professor", "hello", now=time.time())
    comms.save_chat(m)
    comms.save_interventions([{"intervention_id": "iv1", "course_id": "c1", "student_id": "s1",
                               "professor_id": "p1", "kind": "message", "message": "hi", "created_at": time.time(),
                               "holdout": False},
                              {"intervention_id": "iv2", "course_id": "c1", "student_id": "s1",
                               "professor_id": "p1", "kind": "message", "message": "hi", "created_at": time.time(),
                               "holdout": True}])
    assert comms.mark("student", "s2", [m["message_id"], "iv1"], "read", 100.0) == {"chat": [], "intervention": []}
    assert comms.mark("student", "s1", [m["message_id"], "iv1"], "delivered", 100.0) == {"chat": [m["message_id"]],
                                                                              "intervention": ["iv1"]}
    assert comms.mark("student", "s1", [m["message_id"]], "delivered", 200.0)["chat"] == []  # first time only
    assert comms.mark("student", "s1", [m["message_id"]], "read", 300.0)["chat"] == [m["message_id"]]
    [row] = comms.thread("c1", "s1")
    assert (row["delivered_at"], row["read_at"], row["text"]) == (100.0, 300.0, "hello")
    assert comms.thread("c1", "s2") == []
    assert [i["intervention_id"] for i in comms.inbox("s1")] == ["iv1"]  # held out: not shown
    assert {i["intervention_id"]: i["holdout"] for i in comms.course_interventions("c1")} == {"iv1": False,
                                                                                               "iv2": True}
    assert {i["intervention_id"] for i in comms.course_interventions("c1", student_id="s1")} == {"iv1", "iv2"}
    assert len(comms.course_interventions("c1", 1, "s1")) == 1
    assert comms.course_interventions("c1", student_id="s2") == []
    comms.set_consent("c1", "s1", True)
    comms.set_consent("c1", "s2", True)
    comms.set_consent("c1", "s2", False)
    assert comms.consents() == {("c1", "s1")}
    store.close()


def test_receipts_in_one_batch_are_each_reported_once_to_their_recipient(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    comms = CommsStore(store)
    a = chat.new_message(COURSE, "s1", "professor", "one", now=1.0)
    b = chat.new_message(COURSE, "s2", "professor", "two", now=2.0)
    comms.save_chat(a)
    comms.save_chat(b)
    changed, chats, ivs = comms.mark_many([("student", "s1", [a["message_id"]], "delivered"),
                                           ("student", "s2", [a["message_id"], b["message_id"]], "delivered"),
                                           ("student", "s1", [a["message_id"]], "read"),
                                           ("student", "s1", [a["message_id"]], "read")], 50.0)
    assert [c["chat"] for c in changed] == [[a["message_id"]], [b["message_id"]], [a["message_id"]], []]
    assert {m["message_id"]: (m["delivered_at"], m["read_at"]) for m in chats} == {
        a["message_id"]: (50.0, 50.0), b["message_id"]: (50.0, None)}
    assert ivs == []
    store.close()


def test_a_professor_and_a_student_sharing_an_id_cannot_mark_each_others_items(tmp_path):
    """Receipts match the recipient's role as well as the id: professor "pat" and student "pat"."""
    store = Store(tmp_path / "db.duckdb")
    comms = CommsStore(store)
    to_student = chat.new_message(COURSE, "pat", "professor", "to the student", now=1.0)
    to_professor = chat.new_message(COURSE, "pat", "student", "to the professor", now=2.0)
    to_professor["recipient_id"] = "pat"  # the course's professor is also called pat
    comms.save_chat(to_student)
    comms.save_chat(to_professor)
    comms.save_interventions([{"intervention_id": "iv1", "course_id": "c1", "student_id": "pat",
                               "professor_id": "pat", "kind": "message", "message": "hi", "created_at": 1.0,
                               "holdout": False}])
    ids = [to_student["message_id"], to_professor["message_id"], "iv1"]
    assert comms.mark("professor", "pat", ids, "read", 10.0) == {"chat": [to_professor["message_id"]],
                                                                "intervention": []}
    assert comms.mark("student", "pat", ids, "read", 20.0) == {"chat": [to_student["message_id"]],
                                                              "intervention": ["iv1"]}
    read = {m["message_id"]: m["read_at"] for m in comms.thread("c1", "pat")}
    assert read == {to_professor["message_id"]: 10.0, to_student["message_id"]: 20.0}
    store.close()
