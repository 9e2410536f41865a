"""The dashboard's communication panels with AppTest, against the real API of the session stack."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest
from websockets.sync.client import connect

from tests.api_client import create_class, event, get
from tests.dashboard.conftest import APP

pytestmark = pytest.mark.ray


@pytest.fixture
def room(stack, dashboard_env):
    room = create_class(stack, students=3)
    s0 = next(iter(room.student_tokens))
    with stack.client() as c:
        c.post("/api/events", json={"events": [event(room, s0, correct=False) for _ in range(3)]})
    deadline = time.monotonic() + 10
    while not any(s["status"] == "struggling" for s in get(
            stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()["students"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return room


def app(room, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = room.professor_token
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def test_chat_panel_shows_the_thread_and_sends_a_reply(stack, room):
    s0 = next(iter(room.student_tokens))
    with stack.client(room.student_tokens[s0]) as c:
        assert c.post("/api/student/chat", json={"text": "Is act0 due today?"}).status_code == 201
    at = app(room, page="Student", selected_student=s0)
    assert not at.exception
    assert any("Is act0 due today?" in m.value for m in at.markdown)
    at.text_input(key=f"chat-text-{s0}").input("Yes, by 5 pm")
    next(b for b in at.button if b.label == "Send to chat").click().run()
    assert not at.exception
    thread = get(stack, "/api/student/chat", room.student_tokens[s0]).json()["messages"]
    assert [(m["from"], m["text"]) for m in thread] == [("student", "Is act0 due today?"),
                                                        ("professor", "Yes, by 5 pm")]


def test_bulk_panel_messages_only_the_students_struggling_on_the_chosen_activity(stack, room):
    s0 = next(iter(room.student_tokens))
    at = app(room)
    assert not at.exception
    k = f"bulk-{room.course_id}"  # the bulk widgets are keyed by course
    at.selectbox(key=f"{k}-status").set_value("struggling")
    at.selectbox(key=f"{k}-activity").set_value("act0")
    at.selectbox(key=f"{k}-template").set_value("encourage_1").run()
    assert any("1 student(s) match right now." in c.value for c in at.caption)
    at.button(key=f"{k}-send").click().run()
    assert not at.exception and any("Sent to 1 student(s)" in s.value for s in at.success)
    listed = get(stack, f"/api/professor/courses/{room.course_id}/interventions",
                 room.professor_token).json()["interventions"]
    assert [(i["student_id"], i["template"]) for i in listed] == [(s0, "encourage_1")]


def test_work_view_panel_shows_shared_work_only_with_consent(stack, room):
    s0 = next(iter(room.student_tokens))
    at = app(room, page="Student", selected_student=s0)
    assert any("has not shared their work" in c.value for c in at.caption)
    url = stack.api_url.replace("http://", "ws://") + f"/ws/student/{s0}"
    with connect(url, additional_headers={"Authorization": f"Bearer {room.student_tokens[s0]}"}) as ws:
        ws.send(json.dumps({"type": "work_state", "consent": True, "activity_id": "act0", "step": 3,
                            "answer": "7/8"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"
    at = app(room, page="Student", selected_student=s0)
    assert not at.exception
    assert any(c.value == "7/8" for c in at.code) and any(m.value == "3" for m in at.metric)
