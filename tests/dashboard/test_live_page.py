"""The live class page with AppTest against a fake API (no Ray stack)."""
from __future__ import annotations

import pytest

from dashboard.presentation import pseudonyms
from tests.dashboard.fakes import FakeApi, alert, run_app, student

CLASS = [student("s1", "Ada Lovelace", "struggling", risk=0.8), student("s2", "Bob Byte", "idle", risk=0.4),
         student("s3", "Cy Young", completion=0.9), student("s4", "Dee Dot", "completed", None, 0.0, 1.0)]


def cards(at) -> list[str]:
    """The names on the cards, in order."""
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and "\n:" in m.value]


def test_sort_by_name_in_projection_mode_sorts_the_pseudonyms(monkeypatch):
    at = run_app(monkeypatch, FakeApi(students={"c-a": CLASS}), projection=True)
    at.selectbox(key="sort").set_value("Name").run()
    shown = pseudonyms(s["student_id"] for s in CLASS)
    assert sorted(shown.values()) != [shown[s["student_id"]] for s in CLASS]  # real-name order differs
    assert cards(at) == sorted(shown.values())


def test_filter_sort_and_cards_per_row_survive_a_visit_to_a_student(monkeypatch):
    at = run_app(monkeypatch, FakeApi(students={"c-a": CLASS}))
    at.multiselect(key="filter").set_value(["struggling", "idle"])
    at.selectbox(key="sort").set_value("Name")
    at.selectbox(key="per_row").set_value(2).run()
    assert cards(at) == ["Ada Lovelace", "Bob Byte"]
    next(b for b in at.button if b.label == "Details").click().run()  # off to the student, and back
    assert not at.exception and at.radio(key="page").value == "Student"
    at.radio(key="page").set_value("Live class").run()
    assert not at.exception
    assert at.multiselect(key="filter").value == ["struggling", "idle"]
    assert at.selectbox(key="sort").value == "Name" and at.selectbox(key="per_row").value == 2
    assert cards(at) == ["Ada Lovelace", "Bob Byte"]


@pytest.mark.parametrize(("label", "method", "done"), [("Ack", "acknowledge", "Acknowledged"),
                                                        ("Snooze", "snooze", "Snoozed for 10 minutes")])
def test_ack_and_snooze_say_done_only_when_the_api_did_it(monkeypatch, label, method, done):
    api = FakeApi(students={"c-a": CLASS}, alerts={"c-a": [alert("c-a:s1:struggling:1", "s1")]})
    at = run_app(monkeypatch, api)
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception and len(api.sent(method)) == 1
    assert [t.value for t in at.toast] == [done]


@pytest.mark.parametrize(("label", "method"), [("Ack", "acknowledge"), ("Snooze", "snooze")])
def test_ack_and_snooze_on_an_alert_that_cleared_meanwhile_say_not_done(monkeypatch, label, method):
    api = FakeApi(students={"c-a": CLASS}, alerts={"c-a": [alert("c-a:s1:struggling:1", "s1")]})
    at = run_app(monkeypatch, api)
    api.resolved.add("c-a:s1:struggling:1")  # the student recovered between the view and the click
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception and len(api.sent(method)) == 1
    assert [t.value for t in at.toast] == ["Not done: the alert already cleared"]
