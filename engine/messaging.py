"""One-click and bulk messages from a professor: templates, recipients, holdouts.

A bulk message is one ``message`` intervention per recipient (so every one is
recorded, delivered, receipted and measured like any intervention). The
recipients are an explicit list of student ids, ``"all"``, or a filter over
the course's live view (``{"status": "struggling", "activity_id": "x"}``:
everyone struggling on activity x right now). A ``holdout`` fraction keeps a
random part of the recipients as a comparison group: recorded with
``holdout = true`` and not sent, so the effect of the message can be measured.
No ``holdout`` in the request (or null) means the course's configured
``intervention_holdout``; an explicit 0 means none.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from engine import holdout
from engine.course import Course

MAX_TEXT = 4000
MAX_RECIPIENTS = 5000
STATUSES = ("active", "struggling", "idle", "not_started", "completed")
FILTER_FIELDS = ("status", "activity_id")


@dataclass(frozen=True, slots=True)
class Template:
    template_id: str
    title: str
    text: str  # placeholders: {first_name}, {name}, {activity}, {course}


TEMPLATES: dict[str, Template] = {t.template_id: t for t in (
    Template("encourage_1", "Keep going",
             "Hi {first_name}, you're making real progress on {activity}. Keep going, "
             "and ask me if anything is unclear!"),
    Template("encourage_2", "Mistakes are part of it",
             "{first_name}, getting a few wrong on {activity} is how everyone learns it. "
             "Try a smaller example first, then generalise."),
    Template("check_in", "Checking in",
             "Hi {first_name}, I noticed you've been away from {activity} for a while. "
             "Is anything blocking you? Reply here and I'll help."),
    Template("office_hours", "Come ask",
             "{first_name}, if {activity} is giving you trouble, send me a chat message "
             "and we'll go through it together."),
    Template("well_done", "Well done",
             "Great work on {activity}, {first_name}! You're ahead of where you need to be."),
)}


class MessagingError(ValueError):
    """A request the messaging rules refuse: ``status`` is the HTTP code, ``errors`` name each problem."""

    def __init__(self, status: int, field: str, error: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{field}: {error}")
        self.status, self.field, self.error = status, field, error
        self.errors = errors or [{"index": None, "field": field, "error": error}]


def templates() -> list[dict[str, str]]:
    return [{"template_id": t.template_id, "title": t.title, "text": t.text} for t in TEMPLATES.values()]


_PLACEHOLDER = re.compile(r"\{(first_name|name|activity|course)\}")


def render(text: str, name: str, activity: str, course: str) -> str:
    """Fill a template's placeholders; anything else in braces (unknown placeholders, code, a
    lone brace) is left as written."""
    values = {"first_name": (name.split() or [name])[0], "name": name, "activity": activity, "course": course}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def check_text(text: Any, field: str = "text") -> str:
    """Message text: a non-blank string of at most MAX_TEXT characters (413 when longer)."""
    if not isinstance(text, str) or not text.strip():
        raise MessagingError(422, field, "must be non-empty text")
    if len(text) > MAX_TEXT:
        raise MessagingError(413, field, f"longer than the {MAX_TEXT} character limit ({len(text)})")
    return text


def select(to: Any, course: Course, students: list[dict[str, Any]]) -> list[str]:
    """The recipients' ids, in roster order, from ``to`` and the live-progress students.

    Unknown ids -> 422 listing each; a filter naming an unknown status or
    activity -> 422; a filter nobody matches -> 422 (nothing to send).
    """
    roster = [s["student_id"] for s in students]
    if to == "all":
        chosen = roster
    elif isinstance(to, list):
        if not to:
            raise MessagingError(422, "to", "name at least one student")
        if len(to) > MAX_RECIPIENTS:
            raise MessagingError(422, "to", f"at most {MAX_RECIPIENTS} recipients")
        known = set(roster)
        errors = [{"index": i, "field": f"to[{i}]", "error": f"'{sid}' is not a student of '{course.course_id}'"}
                  for i, sid in enumerate(to) if not isinstance(sid, str) or sid not in known]
        if errors:
            raise MessagingError(422, errors[0]["field"], errors[0]["error"], errors)
        wanted = set(to)
        chosen = [sid for sid in roster if sid in wanted]
    elif isinstance(to, dict):
        chosen = _matching(to, course, students)
    else:
        raise MessagingError(422, "to", 'must be a list of student ids, "all", or a filter '
                                        '{"status"?, "activity_id"?}')
    if not chosen:
        raise MessagingError(422, "to", "no student matches")
    return chosen


def _matching(where: dict[str, Any], course: Course, students: list[dict[str, Any]]) -> list[str]:
    unknown = [k for k in where if k not in FILTER_FIELDS]
    if unknown or not where:
        raise MessagingError(422, "to", f"a filter takes {' and/or '.join(FILTER_FIELDS)}")
    status, activity = where.get("status"), where.get("activity_id")
    if status is not None and status not in STATUSES:
        raise MessagingError(422, "to.status", f"must be one of {', '.join(STATUSES)}")
    if activity is not None and not (isinstance(activity, str) and course.has_activity(activity)):
        raise MessagingError(422, "to.activity_id", f"unknown activity '{activity}' in '{course.course_id}'")
    return [s["student_id"] for s in students
            if (status is None or s["status"] == status)
            and (activity is None or s["current_activity_id"] == activity)]


def holdout_split(recipients: list[str], share: float, seed: int | None = None) -> tuple[list[str], list[str]]:
    """(send to, hold out): a random ``share`` of the recipients is held out, drawn as interventions'
    are (``engine.holdout.draw``: a single recipient with that probability)."""
    held = holdout.draw(recipients, share, random.Random(seed) if seed is not None else None)
    return [s for s in recipients if s not in held], [s for s in recipients if s in held]


def plan(body: Any, course: Course, students: list[dict[str, Any]], seed: int | None = None,
         default_holdout: float = 0.0) -> dict[str, Any]:
    """Validate a bulk-message request -> {"send": {sid: text}, "hold": {sid: text}, "activity_id", "template",
    "holdout_share"}. ``default_holdout``: the course's ``intervention_holdout``, used when the request
    gives no ``holdout``."""
    if not isinstance(body, dict):
        raise MessagingError(422, "body", "must be a JSON object")
    template_id, text = body.get("template"), body.get("text")
    if template_id is not None:
        if not isinstance(template_id, str) or template_id not in TEMPLATES:
            raise MessagingError(422, "template", f"unknown template '{template_id}' "
                                                  f"(GET /api/professor/message-templates)")
        text = text if text is not None else TEMPLATES[template_id].text
    if text is None:
        raise MessagingError(422, "text", "give 'text' or a 'template'")
    check_text(text)
    activity = body.get("activity_id")
    if activity is not None and not (isinstance(activity, str) and course.has_activity(activity)):
        raise MessagingError(422, "activity_id", f"unknown activity '{activity}' in '{course.course_id}'")
    to = body.get("to")
    recipients = select(to, course, students)
    try:
        share = holdout.share(body.get("holdout"), default_holdout)
    except holdout.HoldoutError as exc:
        raise MessagingError(422, exc.field, exc.error) from None
    send, hold = holdout_split(recipients, share, seed)
    focus = activity or (to.get("activity_id") if isinstance(to, dict) else None)
    by_id = {s["student_id"]: s for s in students}

    def text_for(sid: str) -> str:
        s = by_id[sid]
        where = focus or s.get("current_activity_id")
        return check_text(render(text, s.get("name") or sid,
                                 course.title_of(where) if where else "this course", course.title))

    return {"send": {sid: text_for(sid) for sid in send}, "hold": {sid: text_for(sid) for sid in hold},
            "activity_id": focus, "template": template_id, "holdout_share": share}
