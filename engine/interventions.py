"""Interventions a professor sends to a student, and what each kind needs.

| kind | needs |
| --- | --- |
| message | ``message`` |
| hint | ``message`` (the hint), optionally ``activity_id`` |
| resource | ``resource_url`` (http/https), optionally ``message`` |
| extension | ``extension_minutes`` (> 0), ``activity_id``: moves the student's due date (``due_dates``) |
| simplified_version | ``alternative_activity_id`` (an activity of the course), optionally ``activity_id`` |
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from engine.course import Course

KINDS = ("message", "hint", "resource", "extension", "simplified_version")
REQUIRED = {"message": ("message",), "hint": ("message",), "resource": ("resource_url",),
            "extension": ("extension_minutes", "activity_id"),
            "simplified_version": ("alternative_activity_id",)}
MAX_MESSAGE = 4000
MAX_URL = 2000  # like a webhook URL: one bulk resource to a class is stored and pushed once per student


AFTER_WATERMARK_S = 0.001  # strictly after the watermark, by more than stored times' microsecond rounding


def stamped_at(course: Course, watermark: float | None, wall: float) -> float:
    """When help sent now happened on the course's clock (``created_at``, the time effectiveness
    splits before/after windows at). A live course: the wall clock. An event-clock course (simulated
    or replayed) runs on its events' times, so the wall clock is meaningless there: just after its
    watermark (the hub's ``clock_now``), so every event the professor saw is before it; before any
    event, the session start if declared, else the wall clock."""
    if course.clock == "live":
        return wall
    if watermark is not None:
        return watermark + AFTER_WATERMARK_S
    return course.starts_at if course.starts_at is not None else wall


class InterventionError(ValueError):
    def __init__(self, status: int, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.status, self.field, self.error = status, field, error


def build(body: dict[str, Any], course: Course, professor_id: str, student_id: str,
          now: float | None = None) -> dict[str, Any]:
    """A validated intervention record, ready to store and deliver; ``now``: the course clock's
    (``stamped_at``), the wall clock when not given."""
    kind = body.get("kind")
    if kind not in KINDS:
        raise InterventionError(422, "kind", f"must be one of {', '.join(KINDS)}")
    for field in REQUIRED[kind]:
        if body.get(field) in (None, ""):
            raise InterventionError(422, field, f"required for kind '{kind}'")
    message = body.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE):
        raise InterventionError(422, "message", f"must be text of at most {MAX_MESSAGE} characters")
    for field in ("activity_id", "alternative_activity_id"):
        value = body.get(field)
        if value is not None and not (isinstance(value, str) and course.has_activity(value)):
            raise InterventionError(422, field, f"unknown activity '{value}' in course '{course.course_id}'")
    url = body.get("resource_url")
    if url is not None:
        try:
            parsed = urlparse(str(url))
        except ValueError:  # e.g. "http://[::1": an unclosed IPv6 host
            parsed = None
        if not isinstance(url, str) or len(url) > MAX_URL:
            raise InterventionError(422, "resource_url", f"must be an http(s) URL of at most {MAX_URL} characters")
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InterventionError(422, "resource_url", "must be an http(s) URL")
    minutes = body.get("extension_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not 0 < minutes <= 60 * 24 * 60):
        raise InterventionError(422, "extension_minutes", "must be a number of minutes > 0 (at most 60 days)")
    return {"intervention_id": f"iv_{uuid.uuid4().hex}", "course_id": course.course_id,
            "student_id": student_id, "professor_id": professor_id, "kind": kind,
            "message": message, "activity_id": body.get("activity_id"),
            "resource_url": url, "extension_minutes": minutes,
            "alternative_activity_id": body.get("alternative_activity_id"),
            "created_at": time.time() if now is None else now}


def due_dates(course: Course, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One student's due dates in ``course``: each activity's declared ``due_at`` moved by every
    extension the student was given on it (held-out records gave nothing). Activities with neither a
    due date nor an extension are left out. -> [{"activity_id", "title", "due_at" (None: the activity
    has no due date, so the extension moved nothing), "declared_due_at", "extension_minutes"}]."""
    extra: dict[str, float] = {}
    for r in records:
        if r.get("kind") == "extension" and not r.get("holdout") and r.get("course_id") == course.course_id \
                and r.get("activity_id") and r.get("extension_minutes"):
            extra[r["activity_id"]] = extra.get(r["activity_id"], 0.0) + float(r["extension_minutes"])
    out = []
    for a in course.activities:
        minutes = extra.get(a.activity_id, 0.0)
        if a.due_at is None and not minutes:
            continue
        out.append({"activity_id": a.activity_id, "title": a.title,
                    "due_at": None if a.due_at is None else a.due_at + minutes * 60,
                    "declared_due_at": a.due_at, "extension_minutes": minutes})
    return out
