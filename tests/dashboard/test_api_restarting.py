"""While an actor restarts every call answers 503 for a moment: a click must still run and say
whether it worked (a page that reran to wait for the API dropped the click without a word)."""
from __future__ import annotations

from tests.dashboard.fakes import FakeApi, run_app, student, text_of

CLASS = [student("s1", "Ada Lovelace", "struggling")]
DOWN = "showing the last known list of courses"


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def going_down(api: FakeApi, *methods: str) -> None:
    """The course list, and ``methods``, answer 503 once each: the next click's run meets the restart."""
    for method in ("courses", *methods):
        api.down[method] = 1


def test_thresholds_saved_while_the_course_list_is_unavailable_are_saved(monkeypatch):
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api, page="Settings")
    at.number_input[0].set_value(240.0)
    going_down(api)
    button(at, "Save thresholds").click().run()
    assert not at.exception
    assert [changes["idle_after_s"] for _, changes in api.sent("configure")] == [240.0]
    assert "Saved; statuses were re-assessed at once." in text_of(at) and DOWN in text_of(at)


def test_thresholds_saved_while_every_call_answers_503_say_not_saved(monkeypatch):
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api, page="Settings")
    at.number_input[0].set_value(240.0)
    going_down(api, "config", "configure")
    button(at, "Save thresholds").click().run()
    assert not at.exception
    assert len(api.sent("configure")) == 1
    assert any(e.value == "Not saved: the API is not answering; try again." for e in at.error)
    assert at.number_input[0].value == 240.0  # the edit is still there, and said to be unsaved


def test_a_hint_sent_while_the_course_list_is_unavailable_is_sent(monkeypatch):
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api, page="Student", selected_student="s1")
    going_down(api)
    next(b for b in at.button if "Send hint" in b.label).click().run()
    assert not at.exception
    [(sid, body)] = api.sent("intervene")
    assert sid == "s1" and body["kind"] == "hint"
    assert any("Send hint: sent" in t.value for t in at.toast)


def test_a_bulk_message_sent_while_every_call_answers_503_says_not_sent(monkeypatch):
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api)
    next(t for t in at.text_area if t.label.startswith("Text")).input("How is it going?").run()
    going_down(api, "live_progress", "message_templates", "config", "send_messages")
    button(at, "📣 Send to group").click().run()
    assert not at.exception
    assert len(api.sent("send_messages")) == 1
    assert any(e.value == "Not sent: the API is not answering; try again in a moment." for e in at.error)


def test_notification_settings_saved_while_every_call_answers_503_say_not_done(monkeypatch):
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api, page="Notifications")
    going_down(api, "live_progress", "notification_preferences", "config", "set_notification_preferences",
               "notifications")
    button(at, "Save notification settings").click().run()
    assert not at.exception
    assert len(api.sent("set_notification_preferences")) == 1
    assert any("Not done: the API is not answering" in e.value for e in at.error)


def test_a_hint_sent_while_the_drill_down_reads_answer_503_is_sent(monkeypatch):
    """The drill-down read the class and the student afresh on every run: a 503 on either dropped the
    click ("Cannot load the class", or a rerun) though the guide says it still runs (review)."""
    api = FakeApi(students={"c-a": CLASS})
    at = run_app(monkeypatch, api, page="Student", selected_student="s1")
    going_down(api, "live_progress", "student")
    next(b for b in at.button if "Send hint" in b.label).click().run()
    assert not at.exception
    [(sid, body)] = api.sent("intervene")
    assert sid == "s1" and body["kind"] == "hint"
    assert "The API is not answering; showing what it last said." in text_of(at)
