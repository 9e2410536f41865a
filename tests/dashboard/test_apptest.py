"""Each dashboard page's logic with Streamlit's AppTest, against the real API of the session stack."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.api_client import create_class, event
from tests.dashboard.conftest import APP

pytestmark = pytest.mark.ray


@pytest.fixture
def room(stack, dashboard_env):
    room = create_class(stack, students=4)
    s0 = next(iter(room.student_tokens))
    with stack.client() as c:
        c.post("/api/events", json={"events": [event(room, s0, correct=False) for _ in range(3)]})
    time.sleep(0.6)
    return room


def app(room, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = room.professor_token
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def text_of(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_without_a_token_it_asks_to_sign_in(stack, monkeypatch):
    monkeypatch.setenv("CLASSPULSE_DASHBOARD_API", stack.api_url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert at.text_input[0].label == "Professor token" and not at.exception


def test_live_class_shows_every_student_metrics_and_the_alert(room):
    at = app(room)
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert any("Struggling" in k and v == "1" for k, v in labels.items())
    assert len([b for b in at.button if b.label == "Details"]) == 4
    assert "Student 0" in text_of(at) and "3 of the last 3 attempts" in text_of(at)
    assert "risk: rules fallback (this course declares no session window" in text_of(at)  # says which risk


def test_projection_mode_hides_names_and_messages(room):
    at = app(room, projection=True)
    shown = text_of(at)
    assert not any(f"Student {i}" in shown for i in range(4))
    assert "3 of the last 3 attempts" not in shown and "struggling" in shown


def test_student_page_sends_a_hint_that_the_api_records(stack, room):
    s0 = next(iter(room.student_tokens))
    at = app(room, page="Student", selected_student=s0)
    assert not at.exception
    next(b for b in at.button if "Send hint" in b.label).click().run()
    with stack.client(room.professor_token) as c:
        detail = c.get(f"/api/professor/courses/{room.course_id}/students/{s0}").json()
    assert [i["kind"] for i in detail["interventions"]] == ["hint"]


def test_settings_page_saves_thresholds(stack, room):
    at = app(room, page="Settings")
    at.number_input[0].set_value(240)
    at.button[0].click().run()
    assert not at.exception
    with stack.client(room.professor_token) as c:
        assert c.get(f"/api/professor/courses/{room.course_id}/alerts/configure").json()["idle_after_s"] == 240


def test_analytics_page_renders(room):
    at = app(room, page="Analytics")
    assert not at.exception
    assert any("At risk" in h.value for h in at.subheader)
    assert "transparent rules (fallback: this course declares no session window" in text_of(at)


def test_analytics_page_shows_effectiveness_patterns_and_a_chosen_student(stack, room):
    students = list(room.student_tokens)
    with stack.client(room.professor_token) as c:
        r = c.post(f"/api/professor/courses/{room.course_id}/interventions",
                   json={"kind": "hint", "message": "Try the base case", "student_ids": students, "holdout": 0.5})
        assert r.status_code == 201, r.text
    at = app(room, page="Analytics")
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert {"Where students are stuck", "When and how they learn best", "Did interventions help?"} <= set(headers)
    assert "2 sent, 2 held out" in text_of(at)
    pick = next(s for s in at.selectbox if s.label.startswith("One student"))
    pick.set_value(students[0]).run()
    assert not at.exception
