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


def due(activity_id: str, title: str, due_at: str | None, extension: float = 0.0,
        declared: str | None = None) -> dict:
    return {"activity_id": activity_id, "title": title, "due_at": due_at, "declared_due_at": declared or due_at,
            "extension_minutes": extension}


def extend_on(at):
    return next(s for s in at.selectbox if s.label == "Extension on")


def give_extension(at):
    return next(b for b in at.button if "Give extension" in b.label)


def test_an_extension_goes_to_the_activity_chosen_one_with_a_due_date_first(monkeypatch):
    api = FakeApi(students={"c-a": [student("s1", "Ada Lovelace", "struggling", "act0")]},
                  due_dates={"s1": [due("act1", "Decimals", "2031-05-06T17:00:00+00:00")]})
    at, _ = drill_down(monkeypatch, ACTIVITIES, "act0", api)
    assert not at.exception
    assert "⏰ Decimals: due 2031-05-06 17:00:00 UTC" in text_of(at)  # the student's due dates are shown
    assert extend_on(at).options == ["Decimals", "Fractions (no due date)"] and extend_on(at).value == "act1"
    give_extension(at).click().run()
    assert [body["activity_id"] for _, body in api.sent("intervene")] == ["act1"]
    assert any("Give extension: sent" in t.value for t in at.toast)

    extend_on(at).set_value("act0")
    give_extension(at).click().run()
    assert [body["activity_id"] for _, body in api.sent("intervene")] == ["act1", "act0"]
    assert any("Fractions has no due date: nothing moved" in w.value for w in at.warning)  # not "sent"


def test_an_extension_starts_on_the_current_activity_when_it_has_a_due_date(monkeypatch):
    api = FakeApi(students={"c-a": [student("s1", "Ada Lovelace", "struggling", "act1")]},
                  due_dates={"s1": [due("act0", "Fractions", "2031-05-06T16:00:00+00:00"),
                                    due("act1", "Decimals", "2031-05-06T17:30:00+00:00", 30.0,
                                        "2031-05-06T17:00:00+00:00")]})
    at, _ = drill_down(monkeypatch, ACTIVITIES, "act1", api)
    assert extend_on(at).value == "act1"
    assert "⏰ Decimals: due 2031-05-06 17:30:00 UTC (declared 2031-05-06 17:00:00 UTC, +30 min)" in text_of(at)
