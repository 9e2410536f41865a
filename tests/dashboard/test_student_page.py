"""The student drill-down with AppTest against a fake API: one-click help and the chat panel."""
from __future__ import annotations

import pytest

from dashboard.api_client import ApiRefused
from tests.dashboard.fakes import ACTIVITIES, FakeApi, course, refused, run_app, student, text_of, unavailable

EASIER = {"activity_id": "act0-easy", "title": "Fractions, step by step", "simplified_of": "act0"}


def drill_down(monkeypatch, activities: list[dict], current: str | None, api: FakeApi | None = None):
    api = api or FakeApi(courses_=[course("c-a", "Algebra", activities)],
                         students={"c-a": [student("s1", "Ada Lovelace", "struggling", current)]})
    return run_app(monkeypatch, api, page="Student", selected_student="s1"), api


def offer(at):
    return next(b for b in at.button if "Offer simplified version" in b.label)


def test_no_simplified_version_offered_when_the_course_declares_none(monkeypatch):
    at, _ = drill_down(monkeypatch, ACTIVITIES, "act0")  # act1 exists, but it is not simpler
    assert not at.exception
    assert offer(at).disabled and not [s for s in at.selectbox if s.label == "Simplified version"]
    assert "declares no simplified version of Fractions" in text_of(at)


def test_no_simplified_version_offered_to_a_student_who_has_not_started(monkeypatch):
    at, _ = drill_down(monkeypatch, [*ACTIVITIES, EASIER], None)  # None matched every simplified_of None
    assert not at.exception
    assert offer(at).disabled and not [s for s in at.selectbox if s.label == "Simplified version"]


def test_only_the_declared_simplified_version_is_offered(monkeypatch):
    at, api = drill_down(monkeypatch, [*ACTIVITIES, EASIER], "act0")
    assert next(s for s in at.selectbox if s.label == "Simplified version").options == ["act0-easy"]
    offer(at).click().run()
    assert not at.exception
    [(sid, body)] = api.sent("intervene")
    assert sid == "s1" and body["alternative_activity_id"] == "act0-easy" and body["activity_id"] == "act0"


@pytest.mark.parametrize("failure", [unavailable(), refused("the student left the course")], ids=["503", "409"])
def test_an_unsent_chat_message_is_kept_with_an_error_until_the_next_send(monkeypatch, failure):
    at, api = drill_down(monkeypatch, ACTIVITIES, "act0")
    api.fail["chat_send"] = failure
    at.text_input(key="chat-text-s1").input("Yes, by 5 pm")
    next(b for b in at.button if b.label == "Send to chat").click().run()
    assert not at.exception
    assert at.text_input(key="chat-text-s1").value == "Yes, by 5 pm"  # not wiped
    assert any("Not sent" in e.value for e in at.error)
    if isinstance(failure, ApiRefused):
        assert any("the student left the course" in e.value for e in at.error)
    at.run()  # the next refresh still says it
    assert any("Not sent" in e.value for e in at.error)
    assert at.text_input(key="chat-text-s1").value == "Yes, by 5 pm"

    del api.fail["chat_send"]  # sent at the next try: the box empties, the error goes
    next(b for b in at.button if b.label == "Send to chat").click().run()
    assert not at.exception
    assert api.sent("chat_send") == ["Yes, by 5 pm", "Yes, by 5 pm"]
    assert at.text_input(key="chat-text-s1").value == "" and not any("Not sent" in e.value for e in at.error)
