"""Notifications and escalation with real receivers: aiosmtpd on loopback (the session stack's
SMTP server, tests/conftest.py) and a threaded HTTP server for webhooks."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from serve.launch import free_port
from tests.api_client import create_class, event, get
from tests.receivers import WebhookReceiver, wait_for

pytestmark = pytest.mark.ray
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def post_events(stack, events):
    with stack.client() as admin:
        r = admin.post("/api/events", json={"events": events})
    assert r.status_code == 202, r.text


def put_prefs(stack, room, **prefs):
    with stack.client(room.professor_token) as c:
        r = c.put("/api/professor/notifications/preferences", json=prefs)
    assert r.status_code == 200, r.text
    return r.json()


def configure(stack, room, **config):
    with stack.client(room.professor_token) as c:
        r = c.put(f"/api/professor/courses/{room.course_id}/alerts/configure", json=config)
    assert r.status_code == 200, r.text


def alerts(stack, room, kind):
    live = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
    return [a for a in live["alerts"] if a["kind"] == kind]


def log_rows(stack, room):
    return get(stack, "/api/professor/notifications", room.professor_token).json()["notifications"]


def struggle(room, sid, minute, wrong=3):
    return [event(room, sid, "attempt", correct=False, ts=at(minute + i / 60)) for i in range(wrong)]


def test_an_alert_gives_one_email_and_one_webhook_call_not_one_per_refresh(stack, smtp_sink):
    room = create_class(stack, students=3)
    s0 = next(iter(room.student_tokens))
    address = f"{room.professor_id}@example.org"
    with WebhookReceiver() as hook:
        prefs = put_prefs(stack, room, channels=["in_app", "email", "webhook"], email=address,
                          webhook_url=hook.url, min_priority=1, quiet_minutes=30)
        assert prefs["channels"] == ["in_app", "email", "webhook"] and prefs["webhook_url"] == hook.url
        post_events(stack, struggle(room, s0, 0))
        wait_for(lambda: alerts(stack, room, "struggling"))
        # more wrong answers, other students' events (refreshes), then recover and struggle again:
        # a new struggling alert inside the quiet period is not notified again
        post_events(stack, struggle(room, s0, 1, wrong=2) + [event(room, sid, "progress", progress=0.5,
                                                                    ts=at(2)) for sid in room.student_tokens])
        post_events(stack, [event(room, s0, "attempt", correct=True, ts=at(3 + i / 60)) for i in range(5)])
        wait_for(lambda: not alerts(stack, room, "struggling"))
        post_events(stack, struggle(room, s0, 4))
        wait_for(lambda: alerts(stack, room, "struggling"))
        wait_for(lambda: smtp_sink.to(address) and hook.calls)
        time.sleep(3)  # anything extra would have arrived by now
        mails = smtp_sink.to(address)
        assert len(mails) == 1, [m["subject"] for m in mails]
        assert "struggling" in mails[0]["subject"] and s0 in mails[0]["body"]
        assert len(hook.calls) == 1
        call = hook.calls[0]
        assert call["type"] == "classpulse.alert" and call["kind"] == "struggling" and call["student_id"] == s0
        assert call["course_id"] == room.course_id and call["priority"] == 1
    rows = log_rows(stack, room)
    assert sorted((r["channel"], r["status"], r["attempts"]) for r in rows) == [
        ("email", "sent", 1), ("in_app", "delivered", 1), ("webhook", "sent", 1)]


def test_a_webhook_that_points_nowhere_is_retried_recorded_failed_and_never_blocks_ingest(stack):
    room = create_class(stack, students=2)
    s0, s1 = list(room.student_tokens)
    dead = f"http://127.0.0.1:{free_port()}/nothing-listens-here"
    put_prefs(stack, room, channels=["in_app", "webhook"], webhook_url=dead, min_priority=1, quiet_minutes=0)
    post_events(stack, struggle(room, s0, 0))
    wait_for(lambda: [r for r in log_rows(stack, room) if r["channel"] == "webhook"])
    started = time.monotonic()  # ingest while the webhook is being retried
    for i in range(5):
        post_events(stack, [event(room, s1, "progress", progress=0.1 * (i + 1), ts=at(1 + i))])
    assert time.monotonic() - started < 5.0
    rows = wait_for(lambda: [r for r in log_rows(stack, room)
                             if r["channel"] == "webhook" and r["status"] == "failed"], timeout=30)
    assert rows[0]["attempts"] == 4 and rows[0]["last_error"] == "could not connect"  # CLASSPULSE_NOTIFY_MAX_ATTEMPTS
    assert [r["status"] for r in log_rows(stack, room) if r["channel"] == "in_app"] == ["delivered"]


@pytest.mark.parametrize("bad, field", [
    ({"webhook_url": "ftp://example.org/x"}, "webhook_url"),
    ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
    ({"channels": ["pager"]}, "channels"),
    ({"min_priority": 7}, "min_priority"),
    ({"escalation_email": "nope"}, "escalation_email"),
])
def test_bad_preferences_are_422_naming_the_field_and_keep_the_old_ones(stack, bad, field):
    room = create_class(stack, students=1)
    put_prefs(stack, room, quiet_minutes=5)
    with stack.client(room.professor_token) as c:
        r = c.put("/api/professor/notifications/preferences", json=bad)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
        assert c.get("/api/professor/notifications/preferences").json()["quiet_minutes"] == 5
    s0 = next(iter(room.student_tokens))
    with stack.client(room.student_tokens[s0]) as c:
        assert c.get("/api/professor/notifications/preferences").status_code == 403
        assert c.get("/api/professor/notifications").status_code == 403


def test_escalation_after_n_ignored_interventions_not_before(stack, smtp_sink):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    staff = f"staff-{room.course_id}@example.org"
    configure(stack, room, escalate_after_ignored=2, escalate_after_minutes=0)
    put_prefs(stack, room, channels=["in_app"], escalation_email=staff, min_priority=1)
    post_events(stack, struggle(room, s0, 0))
    wait_for(lambda: alerts(stack, room, "struggling"))

    def intervene(n):
        with stack.client(room.professor_token) as c:
            r = c.post(f"/api/professor/interventions/{s0}",
                       json={"course_id": room.course_id, "kind": "message", "message": f"try again {n}"})
        assert r.status_code == 201, r.text

    intervene(1)
    post_events(stack, struggle(room, s0, 1, wrong=1))  # still struggling, view refreshed
    time.sleep(1.5)
    assert alerts(stack, room, "escalation") == []
    intervene(2)
    escalation = wait_for(lambda: alerts(stack, room, "escalation"))[0]
    assert escalation["priority"] == 1 and escalation["student_id"] == s0 and "2" in escalation["message"]
    mails = wait_for(lambda: smtp_sink.to(staff))
    assert "escalation" in mails[0]["subject"]
    # recovering ends the episode: the escalation resolves
    post_events(stack, [event(room, s0, "attempt", correct=True, ts=at(2 + i / 60)) for i in range(5)])
    wait_for(lambda: not alerts(stack, room, "escalation"))


def test_escalation_after_t_course_minutes_on_the_event_clock_not_before(stack):
    room = create_class(stack, students=2, clock="event")
    s0 = next(iter(room.student_tokens))
    configure(stack, room, escalate_after_ignored=0, escalate_after_minutes=5, idle_after_s=3600)
    post_events(stack, struggle(room, s0, 0))
    wait_for(lambda: alerts(stack, room, "struggling"))
    with stack.client(room.professor_token) as c:
        assert c.post(f"/api/professor/interventions/{s0}", json={
            "course_id": room.course_id, "kind": "hint", "message": "look at the base case"}).status_code == 201

    def heartbeat(minute):
        e = event(room, s0, "heartbeat", ts=at(minute))
        post_events(stack, [e])
        wait_for(lambda: any(st["last_event_id"] == e["event_id"] for st in get(
            stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token
        ).json()["students"]))

    heartbeat(4.5)  # 4.5 course minutes after the hint (sent at ~minute 0.05): not yet
    time.sleep(1.0)
    assert alerts(stack, room, "escalation") == []
    heartbeat(5.5)  # past 5 minutes: escalated
    escalation = wait_for(lambda: alerts(stack, room, "escalation"))[0]
    assert escalation["priority"] == 1 and "after an intervention" in escalation["message"]
