"""Office hours, peer groups and notifications with AppTest against a fake API (no Ray stack)."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from dashboard.office_hours import groups_to_push
from dashboard.presentation import pseudonyms
from tests.dashboard.fakes import FakeApi, refused, run_app, student, text_of

CLASS = [student("stu-1", "Ada Lovelace", "struggling"), student("stu-2", "Bob Byte", "struggling"),
         student("stu-3", "Cy Young", "completed", None), student("stu-4", "Dee Dot", "completed", None)]
HOOK = "https://hooks.example.com/services/T0/B0/s3cr3t"
WAITING = {"position": 1, "student_id": "stu-1", "name": "Ada Lovelace", "topic": "recursion", "waited_s": 120.0,
           "estimated_wait_s": 300.0, "helped_today": False}


def fake(**kw) -> FakeApi:
    return FakeApi(students={"c-a": CLASS}, **kw)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def suggestion(stuck: str, helper: str) -> dict:
    return {"course_id": "c-a", "activity_id": "act0", "stuck": 1, "helpers": 1, "repeated_pairs": 0,
            "unassigned": [], "groups": [{"members": [
                {"student_id": stuck, "name": "?", "role": "stuck", "accuracy": 0.2},
                {"student_id": helper, "name": "?", "role": "helper", "accuracy": 0.9}]}]}


@pytest.fixture
def auto_reruns(monkeypatch) -> list[float]:
    """The intervals of the fragments that asked to be rerun on their own during a run."""
    seen: list[float] = []
    enqueue = ForwardMsgQueue.enqueue

    def spy(self, msg):
        if msg.WhichOneof("type") == "auto_rerun":
            seen.append(msg.auto_rerun.interval)
        return enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", spy)
    return seen


def test_the_queue_redraws_itself_every_few_seconds(monkeypatch, auto_reruns):
    api = fake()
    at = run_app(monkeypatch, api, page="Office hours")
    assert not at.exception and "Nobody is waiting." in text_of(at)
    assert auto_reruns and all(0 < s <= 5 for s in auto_reruns)


def test_office_hours_in_projection_mode_show_pseudonyms_and_no_error_text(monkeypatch):
    api = fake()
    api.queue["waiting"] = [WAITING]
    api.fail["take_next"] = refused("stu-1 (Ada Lovelace) already left the queue")
    at = run_app(monkeypatch, api, page="Office hours", projection=True)
    assert f"1. **{pseudonyms(s['student_id'] for s in CLASS)['stu-1']}** · waiting" in text_of(at)
    button(at, "Take next").click().run()
    assert not at.exception
    shown = text_of(at)
    assert "Not done: details hidden in projection-safe mode" in shown
    assert "stu-1" not in shown and "Ada" not in shown and "recursion" not in shown


def test_office_hours_errors_are_shown_as_they_are_outside_projection_mode(monkeypatch):
    api = fake()
    api.queue["waiting"] = [WAITING]
    api.fail["take_next"] = refused("stu-1 already left the queue")
    at = run_app(monkeypatch, api, page="Office hours")
    button(at, "Take next").click().run()
    assert any("stu-1 already left the queue" in e.value for e in at.error)


def test_a_new_suggestion_starts_a_fresh_group_editor(monkeypatch):
    api = fake(suggestion=suggestion("stu-1", "stu-3"))
    at = run_app(monkeypatch, api, page="Office hours")
    button(at, "Suggest groups").click().run()
    [first] = at.data_editor
    assert list(first.value["student_id"]) == ["stu-1", "stu-3"]
    api.suggestion = suggestion("stu-2", "stu-4")  # same number of rows, other students
    button(at, "Suggest groups").click().run()
    [second] = at.data_editor
    assert list(second.value["student_id"]) == ["stu-2", "stu-4"]
    assert first.key.startswith("pg_editor-") and second.key != first.key  # edits by row do not carry over


def test_a_student_whose_group_was_cleared_is_not_silently_dropped():
    edited = pd.DataFrame([{"group": 1, "student_id": "stu-1", "name": "Ada", "role": "stuck"},
                           {"group": 1, "student_id": "stu-3", "name": "Cy", "role": "helper"},
                           {"group": math.nan, "student_id": "stu-2", "name": "Bob", "role": "stuck"}])
    groups, ungrouped = groups_to_push(edited)
    assert groups == [{"members": ["stu-1", "stu-3"], "helpers": ["stu-3"]}]
    assert ungrouped == ["Bob"]  # the page refuses to push and names them


def test_notifications_in_projection_mode_hide_the_webhook_and_the_students(monkeypatch):
    api = fake()
    api.prefs["webhook_url"] = HOOK
    api.log = [{"kind": "struggling", "course_id": "c-a", "student_id": "stu-1", "channel": "webhook", "target": HOOK,
                "status": "failed", "attempts": 4, "last_error": f"404 Not Found for url {HOOK}"}]
    at = run_app(monkeypatch, api, page="Notifications", projection=True)
    assert not at.exception
    hook = next(t for t in at.text_input if t.label.startswith("Webhook URL"))
    assert hook.value == "" and hook.placeholder == "https://hooks.example.com/…"
    [log] = at.dataframe
    cells = log.value.astype(str).to_string()
    assert "s3cr3t" not in cells and "stu-1" not in cells
    assert pseudonyms(s["student_id"] for s in CLASS)["stu-1"] in cells
    button(at, "Save notification settings").click().run()
    assert not at.exception
    assert api.sent("set_notification_preferences")[0]["webhook_url"] == HOOK  # kept, not blanked


def test_notifications_outside_projection_mode_name_the_student(monkeypatch):
    api = fake()
    api.log = [{"kind": "struggling", "course_id": "c-a", "student_id": "stu-1", "channel": "in_app", "target": None,
                "status": "delivered", "attempts": 1, "last_error": None}]
    at = run_app(monkeypatch, api, page="Notifications")
    assert list(at.dataframe[0].value["student"]) == ["Ada Lovelace"]


def test_escalation_edits_stay_with_their_course(monkeypatch):
    api = fake()
    api.fail["configure"] = refused("escalate_after_ignored: out of range")
    at = run_app(monkeypatch, api, page="Notifications")
    unread = next(n for n in at.number_input if n.label.startswith("Escalate after unread"))
    unread.set_value(4)
    button(at, "Save escalation settings").click().run()
    assert next(n for n in at.number_input if n.label.startswith("Escalate after unread")).value == 4
    at.selectbox(key="course").set_value("c-b").run()
    assert not at.exception
    assert next(n for n in at.number_input if n.label.startswith("Escalate after unread")).value == 3


def test_a_refused_push_keeps_the_suggestion_and_the_edits(monkeypatch):
    api = fake(suggestion=suggestion("stu-1", "stu-3"))
    at = run_app(monkeypatch, api, page="Office hours")
    button(at, "Suggest groups").click().run()
    [editor] = at.data_editor
    at.session_state[editor.key] = {"edited_rows": {1: {"group": 2}}, "added_rows": [], "deleted_rows": []}
    api.fail["push_groups"] = refused("student 'stu-3' left the course")
    button(at, "Push groups to students").click().run()
    assert not at.exception
    assert any("Not done: student 'stu-3' left the course" in e.value for e in at.error)
    assert [e.key for e in at.data_editor] == [editor.key]  # still there to push again
    del api.fail["push_groups"]
    button(at, "Push groups to students").click().run()
    assert not at.exception
    edited = [{"members": ["stu-1"], "helpers": []}, {"members": ["stu-3"], "helpers": ["stu-3"]}]
    assert api.sent("push_groups") == [edited, edited]  # the professor's edit, both times
    assert not at.data_editor and any("Pushed 2 groups" in s.value for s in at.success)


def test_the_delivery_log_names_each_student_from_their_own_course_and_says_which(monkeypatch):
    api = FakeApi(students={"c-a": CLASS, "c-b": [student("stu-9", "Zed Zulu", "idle")]})
    api.log = [{"kind": "idle", "course_id": "c-b", "student_id": "stu-9", "channel": "in_app", "target": None,
                "status": "delivered", "attempts": 1, "last_error": None},
               {"kind": "struggling", "course_id": "c-a", "student_id": "stu-1", "channel": "in_app",
                "target": None, "status": "delivered", "attempts": 1, "last_error": None}]
    at = run_app(monkeypatch, api, page="Notifications")  # Algebra (c-a) selected
    assert not at.exception
    log = at.dataframe[0].value
    assert list(log["course"]) == ["Biology", "Algebra"] and list(log["student"]) == ["Zed Zulu", "Ada Lovelace"]
    at = run_app(monkeypatch, api, page="Notifications", projection=True)
    log = at.dataframe[0].value
    assert list(log["student"]) == [pseudonyms(["stu-9"])["stu-9"], pseudonyms(s["student_id"] for s in CLASS)["stu-1"]]


def test_saving_notification_settings_keeps_a_fractional_quiet_period(monkeypatch):
    api = fake()
    api.prefs["quiet_minutes"] = 7.5
    at = run_app(monkeypatch, api, page="Notifications")
    quiet = next(n for n in at.number_input if n.label.startswith("Quiet period"))
    assert quiet.value == 7.5
    next(m for m in at.select_slider if m.label == "Notify alerts at priority").set_value(1)
    button(at, "Save notification settings").click().run()
    assert not at.exception
    [sent] = api.sent("set_notification_preferences")
    assert sent["quiet_minutes"] == 7.5 and sent["min_priority"] == 1
