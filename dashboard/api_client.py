"""The dashboard's only way to the system: the public HTTP API."""
from __future__ import annotations

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


@dataclass
class ApiClient:
    base_url: str
    token: str
    timeout: float = 10.0

    def _call(self, method: str, path: str, **kw: Any) -> Any:
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
        return r.json()

    def courses(self) -> list[dict]:
        return self._call("GET", "/api/professor/courses")["courses"]

    def live_progress(self, course_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/live-progress")

    def student(self, course_id: str, student_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/students/{student_id}")

    def analytics(self, course_id: str) -> dict:
        return self._call("GET", f"/api/professor/courses/{course_id}/analytics/real-time")

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
