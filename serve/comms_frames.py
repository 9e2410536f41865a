"""Chat, typing, read and work-state frames on the student and professor sockets.

One object per open socket: it knows who is on the other end and what they
may touch (a student their own threads; a professor their own courses'
students), answers each frame with an ``ack``/``error`` frame (typing gets no
answer), and receipts what the socket delivered. Stored things go through the
EventLog; typing indicators go straight to the hub (never stored).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from actors.comms import wire
from actors.runtime import Runtime
from actors.topology import DomainError
from engine import chat
from engine.course import Course
from engine.messaging import MessagingError
from serve.context import ApiContext
from serve.streams import poll_timeout, run_together

log = logging.getLogger(__name__)
ROSTER_TTL_S = 30.0
Send = Callable[[dict[str, Any]], Awaitable[None]]


def error(request_id: Any, status: int, field: str, message: str) -> dict[str, Any]:
    return {"type": "error", "request_id": request_id, "status": status,
            "errors": [{"index": None, "field": field, "error": message}]}


async def _answering(request_id: Any, work: Awaitable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Run one frame's work; domain refusals become error frames (never a closed socket)."""
    try:
        return await work
    except (DomainError, MessagingError) as exc:
        return {"type": "error", "request_id": request_id, "status": exc.status, "errors": exc.errors}
    except Exception:  # an actor restarting: the client may retry; the socket stays open
        log.warning("frame failed", exc_info=True)
        return error(request_id, 503, "frame", "a backend actor is restarting; retry shortly")


_receipts: set[asyncio.Future] = set()


def _in_background(receipt) -> None:
    """Write a delivery receipt without holding up the socket's next message (the message did arrive)."""
    task = asyncio.ensure_future(receipt)
    _receipts.add(task)

    def done(t: asyncio.Future) -> None:
        _receipts.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.warning("delivery receipt failed: %s", t.exception())
    task.add_done_callback(done)


def _spend(ctx: ApiContext, key: str | None) -> None:
    """Chat-side frames share the token's request budget (the admin token is exempt, as on REST)."""
    if key is not None and not ctx.limits.allow(key):
        raise DomainError(429, "rate", f"rate limit exceeded; retry in {ctx.limits.retry_after(key)} s")


class StudentFrames:
    def __init__(self, ctx: ApiContext, student_id: str, courses: list[str], as_admin: bool = False) -> None:
        self.ctx, self.student_id, self.courses = ctx, student_id, courses
        self._courses: dict[str, Course] = {}
        self._limit_key = None  # the student socket's loop already charges every frame once (routes/live.py)

    async def answer(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        return await _answering(frame.get("request_id"), self._answer(frame))

    async def _answer(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        rid, kind = frame.get("request_id"), frame["type"]
        _spend(self.ctx, self._limit_key)
        if frame.get("student_id") not in (None, self.student_id):
            raise DomainError(403, "student_id", "you can only act on your own thread")
        if kind == "read":
            done = await self.ctx.log.mark_receipts.remote("student", self.student_id, chat.read_ids(frame), "read")
            return {"type": "ack", "request_id": rid, **done}
        course_id = chat.resolve_course(frame.get("course_id"), self.courses)
        if kind == "chat":
            message = await self.ctx.log.chat_send.remote(course_id, self.student_id, "student", frame.get("text"))
            return {"type": "ack", "request_id": rid, "message": message}
        if kind == "typing":
            relay = chat.typing(course_id, self.student_id, "student", frame.get("typing", True))
            hub = self.ctx.runtime.handles.hub_for(course_id)
            await hub.post_professor.remote(await self._professor_of(course_id), relay)
            return None
        # work_state: an optional consent change, then an optional state to share; the state is
        # checked first, so a refused frame changes nothing (not even the consent)
        out: dict[str, Any] = {"type": "ack", "request_id": rid, "course_id": course_id}
        state = None
        if any(k in frame for k in ("activity_id", "step", "answer")):
            state = wire(chat.work_state(frame, await self._course(course_id), self.student_id))
        if "consent" in frame:
            done = await self.ctx.log.work_consent.remote(course_id, self.student_id, frame["consent"])
            out["consent"] = done["consent"]
        if state is not None:
            # straight to the hub (it holds the consents): work states stay off the EventLog
            await self.ctx.runtime.handles.hub_for(course_id).share_work.remote(
                await self._professor_of(course_id), state)
            out["shared_at"] = state["ts"]
        return out

    async def _course(self, course_id: str) -> Course:
        if course_id not in self._courses:
            self._courses[course_id] = await self.ctx.log.course_object.remote(course_id)
        return self._courses[course_id]

    async def _professor_of(self, course_id: str) -> str:
        return (await self._course(course_id)).professor_id

    async def delivered(self, message: dict[str, Any]) -> None:
        """The socket sent ``message``: a chat to this student or an intervention is now delivered."""
        if message.get("type") == "intervention":
            ids = [message.get("intervention_id")]
        elif message.get("type") == "chat" and message.get("recipient_id") == self.student_id \
                and message.get("delivered_at") is None:
            ids = [message.get("message_id")]
        else:
            return
        _in_background(self.ctx.log.mark_receipts.remote("student", self.student_id, [i for i in ids if i], "delivered"))


class ProfessorFrames:
    """The professor's chat socket: chat, typing, read, watch / unwatch a student's work view."""

    def __init__(self, ctx: ApiContext, professor_id: str, courses: list[str], as_admin: bool = False) -> None:
        self.ctx, self.professor_id, self.courses = ctx, professor_id, set(courses)
        self._limit_key = None if as_admin else f"professor:{professor_id}"
        self.watching: set[tuple[str, str]] = set()
        self._rosters: dict[str, tuple[float, set[str]]] = {}

    async def answer(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        return await _answering(frame.get("request_id"), self._answer(frame))

    async def _answer(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        rid, kind = frame.get("request_id"), frame["type"]
        _spend(self.ctx, self._limit_key)
        if kind == "read":
            done = await self.ctx.log.mark_receipts.remote("professor", self.professor_id, chat.read_ids(frame), "read")
            return {"type": "ack", "request_id": rid, **done}
        course_id, student_id = await self._thread(frame)
        if kind == "chat":
            message = await self.ctx.log.chat_send.remote(course_id, student_id, "professor", frame.get("text"))
            return {"type": "ack", "request_id": rid, "message": message}
        if kind == "typing":
            relay = chat.typing(course_id, student_id, "professor", frame.get("typing", True))
            await self.ctx.runtime.handles.hub_for(course_id).deliver.remote(student_id, relay)
            return None
        if kind == "watch":
            view = await self.ctx.log.work_view.remote(course_id, student_id)
            self.watching.add((course_id, student_id))
            await self.ctx.log.audit.remote("professor", self.professor_id, "watch_work", student_id,
                                            {"course_id": course_id, "consent": view["consent"]})
            return {"type": "ack", "request_id": rid, **view}
        self.watching.discard((course_id, student_id))  # unwatch
        return {"type": "ack", "request_id": rid, "course_id": course_id, "student_id": student_id}

    async def _thread(self, frame: dict[str, Any]) -> tuple[str, str]:
        course_id, student_id = frame.get("course_id"), frame.get("student_id")
        if not isinstance(course_id, str):
            raise DomainError(422, "course_id", "required")
        if not isinstance(student_id, str):
            raise DomainError(422, "student_id", "required")
        if course_id not in self.courses:
            await self.ctx.log.course.remote(course_id)  # 404 when unknown
            raise DomainError(403, "course_id", f"course '{course_id}' is not yours")
        seen, roster = self._rosters.get(course_id, (0.0, set()))
        if student_id not in roster and time.monotonic() - seen > 1.0:
            roster = set(await self.ctx.log.roster.remote(course_id))
            self._rosters[course_id] = (time.monotonic(), roster)
        if student_id not in roster:
            raise DomainError(404, "student_id", f"student '{student_id}' is not in '{course_id}'")
        return course_id, student_id

    def wants(self, message: dict[str, Any]) -> bool:
        """Work states only of watched students; everything else addressed to this professor."""
        if message.get("type") == "work_state":
            return (message.get("course_id"), message.get("student_id")) in self.watching
        return True

    async def delivered(self, message: dict[str, Any]) -> None:
        if message.get("type") == "chat" and message.get("recipient_id") == self.professor_id \
                and message.get("delivered_at") is None:
            _in_background(self.ctx.log.mark_receipts.remote("professor", self.professor_id, [message["message_id"]], "delivered"))


async def professor_inbox_pump(runtime: Runtime, professor_id: str, course_ids: list[str],
                               frames: ProfessorFrames, send: Send) -> None:
    """Frames for a professor (chat, typing, receipts, work states) from each hub of their courses."""
    hubs = sorted(runtime.hubs_for(course_ids))
    cursor = {h: 0 for h in hubs}
    for hub in hubs:  # history is in GET .../chats/{student_id}: start from now
        try:
            cursor[hub] = (await runtime.handles.hub(hub).professor_inbox_since.remote(professor_id, 0, 0))["head"]
        except Exception:
            log.warning("professor inbox of hub %d unavailable", hub, exc_info=True)
    await send({"type": "ready", "courses": sorted(course_ids)})

    async def per_hub(hub: int) -> None:
        handle = runtime.handles.hub(hub)
        while True:
            try:
                result = await handle.professor_inbox_since.remote(professor_id, cursor[hub], poll_timeout())
            except Exception:
                log.warning("professor inbox poll of hub %d failed", hub, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for message in result["messages"]:
                if frames.wants(message):
                    await send(message)
                    await frames.delivered(message)
            cursor[hub] = max(cursor[hub], result["head"])

    await run_together(per_hub(h) for h in hubs)
