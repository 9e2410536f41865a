"""A fake of the dashboard's API client, for AppTests that need no Ray stack.

``FakeApi`` answers like the public API from plain dicts a test can change between runs; ``fail``
makes one method raise (``ApiRefused`` / ``ApiUnavailable``), ``down`` makes its next calls answer 503
(an actor restarting), and ``calls`` records what was sent.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.api_client import ApiRefused, ApiUnavailable
from tests.dashboard.conftest import APP

NOW = datetime.now(UTC).isoformat()
ACTIVITIES = [{"activity_id": "act0", "title": "Fractions"}, {"activity_id": "act1", "title": "Decimals"}]
CONFIG = {"idle_after_s": 180.0, "struggling_window": 5, "struggling_min_attempts": 3,
          "struggling_error_rate": 0.6, "hint_burst": 3, "behind_by": 0.3, "risk_threshold": 0.7,
          "intervention_holdout": 0.0, "escalate_after_ignored": 3, "escalate_after_minutes": 10.0,
          "office_hours_max_help_minutes": 15.0}


def student(sid: str, name: str, status: str = "active", current: str | None = "act0", risk: float = 0.1,
            completion: float = 0.5) -> dict:
    return {"student_id": sid, "name": name, "status": status, "risk": risk, "completion": completion,
            "time_on_task_s": 300.0, "current_activity_id": current, "reasons": []}


def analytics(stuck: list[str] | None = None, at_risk: list[dict] | None = None) -> dict:
    """An analytics answer with one bottleneck (``stuck`` on it) and ``at_risk``; the rest too thin."""
    return {
        "bottlenecks": [{"activity_id": "act0", "title": "Fractions", "score": 0.8, "time_ratio": 1.5,
                         "error_rate": 0.5, "hint_rate": 0.2, "drop_off": 0.1, "median_time_s": 400.0,
                         "expected_s": 300.0, "attempts": 30, "stuck_students": stuck or [],
                         "insufficient_data": False}],
        "heatmap": {"insufficient_data": True}, "comparative": {"insufficient_data": True},
        "at_risk": {"model": "rules-v1", "note": "transparent rules", "students": at_risk or []},
        "patterns": {"summary": [], "insufficient_data": True, "min_attempts": 5},
        "interventions": {"window_minutes": 10,
                          "effectiveness": {"kinds": [], "insufficient_data": True, "min_per_arm": 5}}}


def alert(alert_id: str, sid: str, kind: str = "struggling", state: str = "open") -> dict:
    return {"alert_id": alert_id, "course_id": "c-a", "student_id": sid, "kind": kind, "priority": 1,
            "message": "3 of the last 3 attempts wrong", "ts": NOW, "state": state}


def course(cid: str, title: str, activities: list[dict] | None = None) -> dict:
    return {"course_id": cid, "title": title, "students": 0, "activities": activities or ACTIVITIES}


@dataclass
class FakeApi:
    courses_: list[dict] = field(default_factory=lambda: [course("c-a", "Algebra"), course("c-b", "Biology")])
    students: dict[str, list[dict]] = field(default_factory=dict)  # course id -> live-progress students
    due_dates: dict[str, list[dict]] = field(default_factory=dict)  # student id -> their due dates
    alerts: dict[str, list[dict]] = field(default_factory=dict)  # course id -> live-progress alerts
    resolved: set[str] = field(default_factory=set)  # alert ids that cleared since the live view was read
    configs: dict[str, dict] = field(default_factory=dict)  # course id -> alert configuration
    templates: list[dict] = field(default_factory=lambda: [
        {"template_id": "encourage_1", "title": "Encourage", "text": "Keep going, {first_name}!"}])
    analytics_: dict[str, Any] = field(default_factory=analytics)
    queue: dict[str, Any] = field(default_factory=lambda: {
        "waiting": [], "in_progress": [], "typical_help_s": 300.0, "max_help_s": 900.0, "history_size": 0})
    suggestion: dict[str, Any] | None = None
    prefs: dict[str, Any] = field(default_factory=lambda: {
        "channels": ["in_app"], "email": None, "default_email": "prof@example.org", "webhook_url": None,
        "min_priority": 2, "quiet_minutes": 10, "escalation_email": None})
    log: list[dict] = field(default_factory=list)
    thread: list[dict] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)  # method name -> what it raises
    down: dict[str, int] = field(default_factory=dict)  # method name -> its next calls that answer 503
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _answer(self, method: str, value: Any = None, sent: Any = None) -> Any:
        self.calls.append((method, sent))
        if method in self.fail:
            raise self.fail[method]
        if self.down.get(method):  # an actor restarting: unavailable for a moment, then back
            self.down[method] -= 1
            raise unavailable()
        return copy.deepcopy(value)

    def sent(self, method: str) -> list[Any]:
        return [body for name, body in self.calls if name == method]

    # -- the ApiClient's methods the pages call ---------------------------------------------
    def courses(self) -> list[dict]:
        return self._answer("courses", [c | {"students": len(self.students.get(c["course_id"], []))}
                                        for c in self.courses_])

    def live_progress(self, course_id: str) -> dict:
        return self._answer("live_progress", {"students": self.students.get(course_id, []),
                                              "alerts": self.alerts.get(course_id, []),
                                              "as_of": NOW, "lag_s": 0.1})

    def student(self, course_id: str, student_id: str) -> dict:
        s = next(x for x in self.students[course_id] if x["student_id"] == student_id)
        return self._answer("student", {"student": s, "activities": {}, "timeline": [], "interventions": [],
                                        "due_dates": self.due_dates.get(student_id, [])})

    def _alert_to(self, alert_id: str, state: str) -> dict:
        """The alert after an ack or snooze: the API answers a resolved alert unchanged (200)."""
        alert = next(a for alerts in self.alerts.values() for a in alerts if a["alert_id"] == alert_id)
        return alert | {"state": "resolved" if alert_id in self.resolved else state}

    def acknowledge(self, alert_id: str) -> dict:
        return self._answer("acknowledge", self._alert_to(alert_id, "acknowledged"), sent=alert_id)

    def snooze(self, alert_id: str, minutes: int) -> dict:
        return self._answer("snooze", self._alert_to(alert_id, "snoozed"), sent=(alert_id, minutes))

    def config(self, course_id: str) -> dict:
        return self._answer("config", self.configs.get(course_id, CONFIG))

    def configure(self, course_id: str, changes: dict) -> dict:
        done = self._answer("configure", self.configs.get(course_id, CONFIG), sent=(course_id, changes))
        self.configs[course_id] = done | changes
        return done | changes

    def intervene(self, student_id: str, body: dict) -> dict:
        return self._answer("intervene", {"intervention_id": "int-0000000000001", "holdout": False},
                            sent=(student_id, body))

    def analytics(self, course_id: str, params: dict | None = None) -> dict:
        return self._answer("analytics", self.analytics_, sent=params)

    def export(self, course_id: str, section: str, fmt: str, params: dict | None = None) -> tuple[bytes, str]:
        return self._answer("export", (b"student_id\n", f"{course_id}-{section}.{fmt}"), sent=section)

    def message_templates(self) -> list[dict]:
        return self._answer("message_templates", self.templates)

    def send_messages(self, body: dict) -> dict:
        return self._answer("send_messages", {"count": 1, "held_out": []}, sent=body)

    def course_interventions(self, course_id: str, student_id: str | None = None) -> list[dict]:
        return self._answer("course_interventions", [])

    def chat(self, course_id: str, student_id: str) -> list[dict]:
        return self._answer("chat", self.thread)

    def chat_send(self, course_id: str, student_id: str, text: str) -> dict:
        return self._answer("chat_send", {"ok": True}, sent=text)

    def work_view(self, course_id: str, student_id: str) -> dict:
        return self._answer("work_view", {"consent": False, "state": None})

    def office_hours(self, course_id: str) -> dict:
        return self._answer("office_hours", self.queue)

    def take_next(self, course_id: str) -> dict:
        return self._answer("take_next", {})

    def take(self, course_id: str, student_id: str) -> dict:
        return self._answer("take", {}, sent=student_id)

    def finish(self, course_id: str, student_id: str) -> dict:
        return self._answer("finish", {}, sent=student_id)

    def suggest_groups(self, course_id: str, activity_id: str, size: int) -> dict:
        return self._answer("suggest_groups", self.suggestion)

    def push_groups(self, course_id: str, activity_id: str | None, groups: list[dict]) -> dict:
        return self._answer("push_groups", {"groups": groups}, sent=groups)

    def notification_preferences(self) -> dict:
        return self._answer("notification_preferences", self.prefs)

    def set_notification_preferences(self, changes: dict) -> dict:
        return self._answer("set_notification_preferences", self.prefs | changes, sent=changes)

    def notifications(self) -> list[dict]:
        return self._answer("notifications", self.log)


def refused(message: str) -> ApiRefused:
    return ApiRefused(409, message)


def unavailable() -> ApiUnavailable:
    return ApiUnavailable("connection refused")


def run_app(monkeypatch, api: FakeApi, **state: Any) -> AppTest:
    """The dashboard, signed in, talking to ``api`` instead of HTTP; ``state`` preset in session_state."""
    monkeypatch.setattr("dashboard.api_client.ApiClient", lambda base_url, token: api)
    monkeypatch.delenv("CLASSPULSE_DASHBOARD_TOKEN_FILE", raising=False)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = "prof-token"
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def text_of(at: AppTest) -> str:
    """Everything written on the page as text: markdown, captions, alerts, subheaders."""
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)
