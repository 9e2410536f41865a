"""Escalation fires after its threshold and not before; notification policy, preferences, backoff."""
from __future__ import annotations

import pytest

from engine.escalation import EscalationTracker, Sent, escalation_reason
from engine.notify import NotificationPolicy, PreferenceError, Preferences, backoff_s


@pytest.mark.parametrize("sent, now, n, t, fires", [
    ([], 10_000, 3, 10, False),                                             # no help sent: nothing ignored
    ([Sent("a", 0), Sent("b", 1)], 60, 3, 10, False),                       # 2 unread < 3
    ([Sent("a", 0), Sent("b", 1), Sent("c", 2)], 60, 3, 10, True),          # 3 unread: fires
    ([Sent("a", 0), Sent("b", 1, True), Sent("c", 2)], 60, 3, 10, False),   # one was read
    ([Sent("a", 0, True)], 599, 3, 10, False),                              # 9 min 59 s after help
    ([Sent("a", 0, True)], 600, 3, 10, True),                               # 10 min after help
    ([Sent("a", 0), Sent("b", 1), Sent("c", 2)], 60, 0, 10, False),         # N rule off
    ([Sent("a", 0)], 10_000, 3, 0, False),                                  # T rule off
])
def test_escalation_threshold(sent, now, n, t, fires):
    assert (escalation_reason(True, sent, now, n, t) is not None) is fires


def test_no_escalation_when_not_struggling_and_episode_resets():
    assert escalation_reason(False, [Sent("a", 0)] * 5, 10_000, 3, 10) is None
    tracker = EscalationTracker()
    tracker.note_sent("s1", "iv1", at=100, struggling=False)  # help before struggling does not count
    assert tracker.watching == set()
    tracker.note_sent("s1", "iv2", at=100, struggling=True)
    assert tracker.condition("s1", "struggling", 100 + 599, 3, 10) is None
    kind, message = tracker.condition("s1", "struggling", 100 + 600, 3, 10)
    assert kind == "escalation" and "10 min" in message
    assert tracker.condition("s1", "active", 100 + 700, 3, 10) is None  # recovered: episode over
    assert tracker.watching == set()
    assert tracker.condition("s1", "struggling", 100 + 800, 3, 10) is None


def test_read_receipt_counts():
    tracker = EscalationTracker()
    for ref in ("a", "b", "c"):
        tracker.note_sent("s1", ref, at=0, struggling=True)
    assert tracker.condition("s1", "struggling", 1, 3, 0) is not None
    assert tracker.note_read("s1", "b") and not tracker.note_read("s1", "zz")
    assert tracker.condition("s1", "struggling", 1, 3, 0) is None


def alert(alert_id="c1:aa", student="s1", kind="struggling", priority=1):
    return {"alert_id": alert_id, "course_id": "c1", "student_id": student, "kind": kind,
            "priority": priority, "message": "m", "ts": "t"}


def test_one_notification_per_alert_and_quiet_period():
    policy = NotificationPolicy()
    prefs = Preferences().merge({"channels": ["in_app", "email", "webhook"], "webhook_url": "http://h/x",
                                 "quiet_minutes": 10})
    out, _ = policy.decide(alert(), prefs, "p@x.org", now=0)
    assert [(d.channel, d.target) for d in out] == [("in_app", None), ("email", "p@x.org"), ("webhook", "http://h/x")]
    assert policy.decide(alert(), prefs, "p@x.org", now=1) == ([], "already notified for this alert")
    # the same student and kind re-opens as a new alert inside the quiet period: not notified
    assert policy.decide(alert("c1:bb"), prefs, "p@x.org", now=599)[1] == "quiet period"
    assert len(policy.decide(alert("c1:cc"), prefs, "p@x.org", now=601)[0]) == 3
    # another student is not held by s1's quiet period
    assert len(policy.decide(alert("c1:dd", student="s2"), prefs, None, now=602)[0]) == 2  # no email address


def test_quiet_periods_survive_a_restart_through_the_delivery_log(store):
    """A restarted notifier reads the delivery log: a hub rebuilt after a restart opens the alerts
    still holding with new ids, and those must not notify the professor again."""
    from engine import support_store

    support_store.save_deliveries(store, [{"notification_id": "n1", "channel": "email", "professor_id": "p1",
                                           "course_id": "c1", "student_id": "s1", "alert_id": "c1:aa",
                                           "kind": "struggling", "priority": 1, "status": "sent", "attempts": 1,
                                           "created_at": 1000.0, "updated_at": 1000.0}])
    restarted = NotificationPolicy()
    restarted.remember(support_store.last_notified(store, 0.0))
    prefs = Preferences().merge({"quiet_minutes": 10})
    assert restarted.decide(alert("c1:zz"), prefs, None, now=1000.0 + 599)[1] == "quiet period"
    assert restarted.decide(alert("c1:zz2", student="s2"), prefs, None, now=1600.0)[1] is None
    assert support_store.last_notified(store, 1001.0) == []


def test_priority_filter_and_escalation_copy():
    policy = NotificationPolicy()
    prefs = Preferences().merge({"min_priority": 1, "escalation_email": "staff@x.org"})
    assert policy.decide(alert(kind="behind", priority=3), prefs, None, now=0)[0] == []
    out, _ = policy.decide(alert("c1:ee", kind="escalation", priority=1), prefs, None, now=0)
    assert [(d.channel, d.target) for d in out] == [("in_app", None), ("escalation_email", "staff@x.org")]


@pytest.mark.parametrize("body, field", [
    ({"webhook_url": "ftp://x/y"}, "webhook_url"),
    ({"webhook_url": "file:///etc/passwd"}, "webhook_url"),
    ({"webhook_url": "http://[::1"}, "webhook_url"),
    ({"channels": ["sms"]}, "channels"),
    ({"channels": ["webhook"]}, "webhook_url"),
    ({"email": "not-an-address"}, "email"),
    ({"min_priority": 0}, "min_priority"),
    ({"quiet_minutes": -1}, "quiet_minutes"),
    ({"colour": "red"}, "colour"),
    ([], "body"),
])
def test_bad_preferences_name_the_field(body, field):
    with pytest.raises(PreferenceError) as err:
        Preferences().merge(body)
    assert err.value.field == field


def test_preferences_round_trip_and_backoff():
    prefs = Preferences().merge({"channels": ["email"], "email": "a@b.org", "quiet_minutes": 0})
    assert Preferences.from_dict(prefs.to_dict()) == prefs
    assert [backoff_s(a, 0.5) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_s(30, 1.0, cap=60) == 60


def test_course_view_opens_one_escalation_alert_after_two_ignored_interventions():
    from engine.config import AlertConfig
    from engine.live_view import CourseView, SeqClock
    from engine.state import StudentState
    from tests.factories import course, ev, params

    view = CourseView(course(), AlertConfig(escalate_after_ignored=2, escalate_after_minutes=0),
                      {"s1": "S1", "s2": "S2"}, SeqClock())
    state = StudentState("c1", "s1")
    for i in range(3):
        state.apply(ev("attempt", correct=False, t=i, seq=i + 1)._replace(student_id="s1"), params())
    view.apply(state.summary(params(), {}))
    view.refresh()
    assert [a.kind for a in view.drain_opened()] == ["struggling"]
    view.note_sent("s1", "iv1")
    view.refresh()
    assert view.drain_opened() == []  # one ignored intervention: not yet
    view.note_sent("s1", "iv2")
    for _ in range(3):  # refreshes do not open it twice
        view.refresh()
    opened = view.drain_opened()
    assert [(a.kind, a.priority) for a in opened] == [("escalation", 1)]
    assert [a.kind for a in view.alerts.active()].count("escalation") == 1
    view.note_read("s1", "iv1")  # a read receipt: only one unread left, the escalation resolves
    view.refresh()
    assert "escalation" not in [a.kind for a in view.alerts.active()]


def test_the_current_episode_is_the_trailing_help_sent_while_struggling():
    from engine.escalation import episode
    history = [("old", 1.0, False, "struggling"), ("calm", 2.0, False, "active"),
               ("a", 3.0, False, "struggling"), ("b", 4.0, True, "struggling")]
    assert [(s.ref_id, s.at, s.read) for s in episode(history)] == [("a", 3.0, False), ("b", 4.0, True)]
    assert episode([("x", 1.0, False, "idle")]) == []


def test_escalation_survives_a_hub_rebuild_from_the_stored_interventions(store):
    """A restarted hub started a fresh tracker: two ignored interventions were forgotten, so the
    escalation never came (or vanished). The rebuilt view reloads them from intervention_records."""
    from engine.comms_store import CommsStore
    from engine.config import AlertConfig
    from engine.live_view import CourseView, SeqClock
    from engine.state import StudentState
    from tests.factories import course, ev, params

    comms = CommsStore(store)
    base = {"course_id": "c1", "student_id": "s1", "professor_id": "p1", "kind": "message", "message": "hi"}
    comms.save_interventions([base | {"intervention_id": "iv1", "created_at": 10.0, "status_before": "struggling"},
                              base | {"intervention_id": "iv2", "created_at": 11.0, "status_before": "struggling"},
                              base | {"intervention_id": "iv3", "created_at": 12.0, "status_before": "struggling",
                                      "holdout": True}])

    def rebuilt_view():
        view = CourseView(course(), AlertConfig(escalate_after_ignored=2, escalate_after_minutes=0),
                          {"s1": "S1"}, SeqClock())
        state = StudentState("c1", "s1")
        for i in range(3):
            state.apply(ev("attempt", correct=False, t=i, seq=i + 1)._replace(student_id="s1"), params())
        view.apply(state.summary(params(), {}))
        view.refresh()  # who is struggling now
        assert view.struggling() == ["s1"]
        for student_id, rows in comms.help_history({"c1": view.struggling()}).get("c1", {}).items():
            view.restore_escalation(student_id, rows)
        view.refresh()
        return view

    assert "escalation" in [a.kind for a in rebuilt_view().alerts.active()]
    comms.mark("student", "s1", ["iv1"], "read", 20.0)  # read before the restart: one ignored is not two
    assert "escalation" not in [a.kind for a in rebuilt_view().alerts.active()]
