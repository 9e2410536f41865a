"""Bulk messages on the live page with AppTest against a fake API: holdout and per-course widgets."""
from __future__ import annotations

from tests.dashboard.fakes import CONFIG, FakeApi, run_app, student

CLASSES = {"c-a": [student("s1", "Ada Lovelace", "struggling")], "c-b": [student("s9", "Zed Zulu", "idle")]}


def widget(items, label: str):
    return next(w for w in items if w.label.startswith(label))


def send(at):
    return next(b for b in at.button if b.label == "📣 Send to group")


def test_the_holdout_starts_at_the_courses_configured_share_and_is_sent(monkeypatch):
    api = FakeApi(students=CLASSES, configs={"c-a": CONFIG | {"intervention_holdout": 0.2}, "c-b": CONFIG})
    at = run_app(monkeypatch, api)
    assert widget(at.slider, "Hold out for comparison").value == 0.2
    widget(at.text_area, "Text").input("Quick check-in: how is it going?").run()
    send(at).click().run()
    assert not at.exception
    [body] = api.sent("send_messages")
    assert body["holdout"] == 0.2 and body["to"] == {"status": "struggling"}
    at.selectbox(key="course").set_value("c-b").run()  # another course, its own holdout
    assert widget(at.slider, "Hold out for comparison").value == 0.0


def test_what_was_typed_for_one_course_is_not_prefilled_for_another(monkeypatch):
    api = FakeApi(students=CLASSES)
    at = run_app(monkeypatch, api)
    widget(at.radio, "To").set_value("Everyone in the class")
    widget(at.text_area, "Text").input("Algebra quiz moved to Friday")
    widget(at.slider, "Hold out for comparison").set_value(0.3).run()
    assert widget(at.text_area, "Text").value == "Algebra quiz moved to Friday"
    at.selectbox(key="course").set_value("c-b").run()
    assert not at.exception
    assert widget(at.text_area, "Text").value == ""
    assert widget(at.slider, "Hold out for comparison").value == 0.0
    assert widget(at.radio, "To").value == "A status (optionally on one activity)"
    assert send(at).disabled  # nothing typed for Biology
