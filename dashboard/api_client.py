"""The dashboard's only way to the system: the public HTTP API."""
from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx


class ApiUnavailable(RuntimeError):
    """The API could not be reached or answered 5xx."""


class ApiRefused(RuntimeError):
    """The API answered 4xx; ``message`` is its error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


STALE = "⚠️ The API is not answering; showing what it last said."
KNOWN = "known-"  # the prefix of the answers ``last_known`` keeps (dropped at sign-in)


def last_known(memory: MutableMapping[str, Any], key: str, call: Callable[[], Any]) -> tuple[Any, bool]:
    """(``call()``'s answer, True), kept in ``memory`` (the session state); while the API is not
    answering, (the answer kept last, False). A page that draws a form from it keeps working through an
    actor's restart, so a click on Save still runs and says "Not saved" itself: an unavailable read
    would rerun the page and drop the click. Nothing kept yet: ApiUnavailable goes on up."""
    key = KNOWN + key
    try:
        memory[key] = call()
    except ApiUnavailable:
        if key not in memory:
            raise
        return memory[key], False
    return memory[key], True


@dataclass
class ApiClient:
    base_url: str
    token: str
    timeout: float = 10.0

    def _call(self, method: str, path: str, raw: bool = False, **kw: Any) -> Any:
        try:
            r = httpx.request(method, self.base_url.rstrip("/") + path, timeout=self.timeout,
                              headers={"Authorization": f"Bearer {self.token}"}, **kw)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(str(exc)) from exc
        if r.status_code >= 500:
            raise ApiUnavailable(f"{r.status_code}: {r.text[:200]}")
        if r.status_code >= 400:
            try:
                message = r.json().get("error", r.text)
            except ValueError:
                message = r.text
            raise ApiRefused(r.status_code, message)
        return r if raw else r.json()

    def courses(self) -> list[dict]:
        return self._call("GET", "/api/professor/courses")["courses"]

    def live_progress(self, course_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/live-progress")

    def student(self, course_id: str, student_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/students/{student_id}")

    def analytics(self, course_id: str, params: dict | None = None) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/analytics/real-time", params=params or {})

    def export(self, course_id: str, section: str, fmt: str, params: dict | None = None) -> tuple[bytes, str]:
        """One analytics section as a file: (bytes, filename)."""
        r = self._call("GET", f"/api/professor/courses/{course_id}/analytics/export",
                       params=(params or {}) | {"section": section, "format": fmt}, raw=True)
        return r.content, f"{course_id}-{section}.{fmt}"

    def config(self, course_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/alerts/configure")

    def configure(self, course_id: str, changes: dict) -> dict:
        return self._call("PUT", f"/api/professor/courses/{course_id}/alerts/configure", json=changes)

    def intervene(self, student_id: str, body: dict) -> dict:
        return self._call("POST", f"/api/professor/interventions/{student_id}", json=body)

    def acknowledge(self, alert_id: str) -> dict:
        return self._call("POST", f"/api/professor/alerts/{alert_id}/acknowledge")

    def stats(self) -> dict:
        return self._call("GET", "/api/admin/stats")

    def stats_history(self) -> dict:
        return self._call("GET", "/api/admin/stats/history")

    def snooze(self, alert_id: str, minutes: int) -> dict:
        return self._call("POST", f"/api/professor/alerts/{alert_id}/snooze", json={"minutes": minutes})

    # -- communication ------------------------------------------------------------

    def message_templates(self) -> list[dict]:
        return self._call("GET", "/api/professor/message-templates")["templates"]

    def send_messages(self, body: dict) -> dict:
        return self._call("POST", "/api/professor/messages", json=body)

    def course_interventions(self, course_id: str, student_id: str | None = None) -> list[dict]:
        return self._call("GET", f"/api/professor/courses/{course_id}/interventions",
                          params={"student_id": student_id} if student_id else None)["interventions"]

    def chat(self, course_id: str, student_id: str) -> list[dict]:
        return self._call("GET", f"/api/professor/courses/{course_id}/chats/{student_id}",
                          params={"mark_read": "true"})["messages"]

    def chat_send(self, course_id: str, student_id: str, text: str) -> dict:
        return self._call("POST", f"/api/professor/courses/{course_id}/chats/{student_id}", json={"text": text})

    def work_view(self, course_id: str, student_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/work/{student_id}")

    # -- office hours, peer groups, notifications --------------------------------------

    def office_hours(self, course_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/office-hours")

    def take_next(self, course_id: str) -> dict:
        return self._call("POST", f"/api/professor/courses/{course_id}/office-hours/next")

    def take(self, course_id: str, student_id: str) -> dict:
        return self._call("POST", f"/api/professor/courses/{course_id}/office-hours/{student_id}/take")

    def finish(self, course_id: str, student_id: str) -> dict:
        return self._call("POST", f"/api/professor/courses/{course_id}/office-hours/{student_id}/finish")

    def suggest_groups(self, course_id: str, activity_id: str, size: int) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/peer-groups/suggest",
                          params={"activity_id": activity_id, "size": size})

    def push_groups(self, course_id: str, activity_id: str | None, groups: list[dict]) -> dict:
        return self._call("POST", f"/api/professor/courses/{course_id}/peer-groups",
                          json={"activity_id": activity_id, "groups": groups})

    def notification_preferences(self) -> dict:
        return self._call("GET", "/api/professor/notifications/preferences")

    def set_notification_preferences(self, changes: dict) -> dict:
        return self._call("PUT", "/api/professor/notifications/preferences", json=changes)

    def notifications(self) -> list[dict]:
        return self._call("GET", "/api/professor/notifications")["notifications"]
