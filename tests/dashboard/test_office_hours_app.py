"""The office-hours, peer-groups and notification pages with Streamlit's AppTest, against the
real API of the session stack."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.api_client import create_class, event
from tests.dashboard.conftest import APP
from tests.receivers import wait_for

pytestmark = pytest.mark.ray


@pytest.fixture
def room(stack, dashboard_env):
    return create_class(stack, students=4)


def app(room, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = room.professor_token
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def shown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_office_hours_panel_shows_the_queue_and_takes_and_finishes(stack, room):
    s = list(room.student_tokens)
    for sid, topic in ((s[0], "recursion"), (s[1], "loops")):
        with stack.client(room.student_tokens[sid]) as c:
            assert c.post("/api/student/office-hours", json={"course_id": room.course_id, "topic": topic}).status_code == 201
    at = app(room, page="Office hours")
    assert not at.exception
    text = shown(at)
    assert "1. **Student 0** — recursion" in text and "2. **Student 1** — loops" in text and "est. wait 5 min" in text
    at = button(at, "Take next").click().run()
    assert not at.exception
    with stack.client(room.professor_token) as c:
        q = c.get(f"/api/professor/courses/{room.course_id}/office-hours").json()
    assert [h["student_id"] for h in q["in_progress"]] == [s[0]]
    assert "Helping **Student 0**" in shown(at)
    at = button(at, "Finish").click().run()
    with stack.client(room.professor_token) as c:
        q = c.get(f"/api/professor/courses/{room.course_id}/office-hours").json()
    assert q["in_progress"] == [] and q["history_size"] == 1 and [w["student_id"] for w in q["waiting"]] == [s[1]]


def test_peer_groups_panel_suggests_and_pushes(stack, room):
    s = list(room.student_tokens)
    batch = [event(room, s[0], "attempt", correct=True) for _ in range(3)] + [event(room, s[0], "activity_completed")]
    batch += [event(room, sid, "attempt", correct=False) for sid in s[1:3] for _ in range(3)]
    with stack.client() as c:
        assert c.post("/api/events", json={"events": batch}).status_code == 202
    time.sleep(1.0)
    at = app(room, page="Office hours")
    at = button(at, "Suggest groups").click().run()
    assert not at.exception
    assert "2 stuck, 1 possible helpers" in shown(at)
    at = button(at, "Push groups to students").click().run()
    assert not at.exception
    with stack.client(room.professor_token) as c:
        groups = wait_for(lambda: c.get(f"/api/professor/courses/{room.course_id}/peer-groups").json()["groups"])
    assert sorted(m["student_id"] for m in groups[0]["members"]) == sorted(s[:3])
    assert [m["role"] for m in groups[0]["members"] if m["student_id"] == s[0]] == ["helper"]


def test_notifications_page_saves_preferences_and_escalation_settings(stack, room):
    at = app(room, page="Notifications")
    assert not at.exception
    at.text_input[0].set_value(f"{room.professor_id}@example.org")
    at = button(at, "Save notification settings").click().run()
    next(n for n in at.number_input if n.label.startswith("Escalate after unread")).set_value(4)
    at = button(at, "Save escalation settings").click().run()
    assert not at.exception
    with stack.client(room.professor_token) as c:
        assert c.get("/api/professor/notifications/preferences").json()["email"] == f"{room.professor_id}@example.org"
        assert c.get(f"/api/professor/courses/{room.course_id}/alerts/configure").json()["escalate_after_ignored"] == 4
