"""Professor-student chat threads, typing indicators and the live work view.

A thread is one student with the professor of one course: ``(course_id,
student_id)``. A chat message is stored (``messages``, kind ``chat``) with its
delivered and read times; a typing indicator is never stored (it is only
forwarded). The live work view is the student's current work state (activity,
step, latest answer), shared only while the student consents; it is kept in
memory for the professor who watches, never written to the log.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from engine.course import Course
from engine.messaging import MAX_TEXT, MessagingError, check_text

Side = Literal["student", "professor"]
MAX_STEP = 200
MAX_ANSWER = 4000
TYPING_TTL_S = 6.0  # a client shows "typing…" this long unless refreshed or cleared


class ChatError(MessagingError):
    """Same shape as MessagingError: status, field, error."""


def resolve_course(given: Any, courses: list[str]) -> str:
    """The course a student's frame is about: ``given`` if it is theirs, else their only course."""
    if given is None:
        if len(courses) == 1:
            return courses[0]
        raise ChatError(422, "course_id", "required (you are in several courses)" if courses
                        else "you are in no course")
    if not isinstance(given, str):
        raise ChatError(422, "course_id", "must be a course id")
    if given not in courses:
        raise ChatError(403, "course_id", f"you are not a student of '{given}'")
    return given


def new_message(course: Course, student_id: str, side: Side, text: Any,
                now: float | None = None) -> dict[str, Any]:
    """A validated chat message of the thread ``(course, student_id)``, sent by ``side``."""
    text = check_text(text)
    professor = course.professor_id
    sender, recipient = (student_id, professor) if side == "student" else (professor, student_id)
    return {"message_id": f"ch_{uuid.uuid4().hex}", "course_id": course.course_id, "student_id": student_id,
            "from": side, "sender_id": sender, "recipient_id": recipient, "text": text,
            "created_at": time.time() if now is None else now, "delivered_at": None, "read_at": None}


def typing(course_id: str, student_id: str, side: Side, value: Any = True) -> dict[str, Any]:
    """The ephemeral frame the other side receives."""
    if not isinstance(value, bool):
        raise ChatError(422, "typing", "must be true or false")
    return {"type": "typing", "course_id": course_id, "student_id": student_id, "from": side,
            "typing": value, "ttl_s": TYPING_TTL_S}


def read_ids(frame: dict[str, Any]) -> list[str]:
    """The ids a ``read`` frame marks read (chat message ids and/or intervention ids)."""
    ids = frame.get("ids")
    if isinstance(frame.get("id"), str) and ids is None:
        ids = [frame["id"]]
    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, str) for i in ids):
        raise ChatError(422, "ids", "a list of 1 to 1000 message or intervention ids")
    return ids


def work_state(frame: dict[str, Any], course: Course, student_id: str,
               now: float | None = None) -> dict[str, Any]:
    """A validated work-state frame -> what the watching professor receives."""
    activity = frame.get("activity_id")
    if activity is not None and not (isinstance(activity, str) and course.has_activity(activity)):
        raise ChatError(422, "activity_id", f"unknown activity '{activity}' in '{course.course_id}'")
    step = frame.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (str, int))
                             or len(str(step)) > MAX_STEP):
        raise ChatError(422, "step", f"a step name or number of at most {MAX_STEP} characters")
    answer = frame.get("answer")
    if answer is not None:
        if not isinstance(answer, str):
            raise ChatError(422, "answer", "must be text")
        if len(answer) > MAX_ANSWER:
            raise ChatError(413, "answer", f"longer than the {MAX_ANSWER} character limit ({len(answer)})")
    return {"type": "work_state", "course_id": course.course_id, "student_id": student_id, "shared": True,
            "activity_id": activity, "step": step, "answer": answer,
            "ts": time.time() if now is None else now}


def stopped_sharing(course_id: str, student_id: str, now: float | None = None) -> dict[str, Any]:
    return {"type": "work_state", "course_id": course_id, "student_id": student_id, "shared": False,
            "activity_id": None, "step": None, "answer": None, "ts": time.time() if now is None else now}


__all__ = ["MAX_TEXT", "ChatError", "new_message", "read_ids", "resolve_course", "stopped_sharing",
           "typing", "work_state"]
