"""Communication routes: messages (one-click, bulk, templates), chat threads, receipts,
the live work view, and the professor's chat socket."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import ORJSONResponse

from engine import chat, messaging
from engine.ids import ID_RULE, is_valid_id
from serve.auth import Principal, require
from serve.bodies import ApiError, read_json
from serve.comms_frames import ProfessorFrames, professor_inbox_pump
from serve.context import ApiContext, socket_token
from serve.frames import error_frame, parse_frame
from serve.revocation import close_revoked, until_revoked

log = logging.getLogger(__name__)
VIEW_AUDIT_EVERY_S = 60.0  # a professor watching one student's work: one audit row a minute, not per refresh


def _dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def _limit(raw: str | None, default: int = 200) -> int:
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ApiError(422, "limit", "must be a whole number") from None
    if not 1 <= value <= 1000:
        raise ApiError(422, "limit", "must be between 1 and 1000")
    return value


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "body", "must be a JSON object")
    return body


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["communication"])
    limit = ctx.config.max_body_bytes

    async def own_thread(request: Request, course_id: str, student_id: str) -> Principal:
        principal = await ctx.caller(request)
        await ctx.own_course(principal, course_id)
        if student_id not in await ctx.log.roster.remote(course_id):
            raise HTTPException(404, f"student '{student_id}' is not in '{course_id}'")
        return principal

    async def student(request: Request) -> Principal:
        principal = await ctx.caller(request)
        require(principal, "student")
        return principal

    async def student_course(principal: Principal, given: Any) -> str:
        courses = await ctx.log.student_courses.remote(principal.id)
        try:
            return chat.resolve_course(given, courses)
        except messaging.MessagingError as exc:
            raise ApiError(exc.status, exc.field, exc.error) from None

    # -- professor: messages ---------------------------------------------------------

    @r.get("/api/professor/message-templates")
    async def message_templates(request: Request) -> dict[str, Any]:
        require(await ctx.caller(request), "professor", "admin")
        return {"templates": messaging.templates(),
                "placeholders": ["{first_name}", "{name}", "{activity}", "{course}"]}

    @r.post("/api/professor/messages", status_code=201)
    async def send_messages(request: Request) -> ORJSONResponse:
        """One-click or bulk: to a list of students, "all", or a filter on the live view."""
        principal = await ctx.caller(request)
        body = _object(await read_json(request, limit))
        course = await ctx.own_course_in(principal, body)
        result = await ctx.log.send_messages.remote(course["professor_id"], body)
        return ORJSONResponse(result, status_code=201)

    @r.get("/api/professor/courses/{course_id}/interventions")
    async def course_interventions(course_id: str, request: Request) -> dict[str, Any]:
        """Every intervention with its receipts and measured outcome (newest first)."""
        await ctx.own_course(await ctx.caller(request), course_id)
        student_id = request.query_params.get("student_id") or None
        if student_id is not None and not is_valid_id(student_id):
            raise ApiError(422, "student_id", ID_RULE)
        items = await ctx.log.course_interventions.remote(course_id, _limit(request.query_params.get("limit")),
                                                          student_id)
        return {"course_id": course_id, "interventions": items}

    # -- professor: chat and work view ---------------------------------------------------

    @r.get("/api/professor/courses/{course_id}/chats/{student_id}")
    async def professor_thread(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        """The thread, oldest first; ``?mark_read=true`` (a professor looking at it) marks the
        student's messages read, so the student sees it."""
        principal = await own_thread(request, course_id, student_id)
        messages = await ctx.log.chat_thread.remote(course_id, student_id,
                                                    _limit(request.query_params.get("limit")))
        unread = [m["message_id"] for m in messages
                  if m["from"] == "student" and m["recipient_id"] == principal.id and not m["read_at"]]
        if request.query_params.get("mark_read") in ("1", "true") and unread:
            done = await ctx.log.mark_receipts.remote("professor", principal.id, unread, "read")
            messages = [m | {"read_at": done["at"], "delivered_at": m["delivered_at"] or done["at"]}
                        if m["message_id"] in done["chat"] else m for m in messages]
        return {"course_id": course_id, "student_id": student_id, "messages": messages}

    @r.post("/api/professor/courses/{course_id}/chats/{student_id}", status_code=201)
    async def professor_says(course_id: str, student_id: str, request: Request) -> ORJSONResponse:
        await own_thread(request, course_id, student_id)
        body = _object(await read_json(request, limit))
        message = await ctx.log.chat_send.remote(course_id, student_id, "professor", body.get("text"))
        return ORJSONResponse(message, status_code=201)

    @r.get("/api/professor/courses/{course_id}/work/{student_id}")
    async def work_view(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        """The student's latest shared work state (null without consent or before any). Audit-logged with
        the consent it met, at most once a minute per professor, student and consent: the dashboard asks
        every 2 s while it shows the panel, and one row per refresh buried every other row."""
        principal = await own_thread(request, course_id, student_id)
        view = await ctx.log.work_view.remote(course_id, student_id)
        await ctx.log.audit.remote(principal.role, principal.id, "view_work", student_id,
                                   {"course_id": course_id, "consent": view["consent"]},
                                   repeat_after_s=VIEW_AUDIT_EVERY_S)
        return view

    # -- student ---------------------------------------------------------------------------

    @r.get("/api/student/chat")
    async def student_thread(request: Request) -> dict[str, Any]:
        """The caller's own thread; asking for another student's (``?student_id=``) is 403."""
        asked = request.query_params.get("student_id")
        principal = await student(request)
        course_id = await student_course(principal, request.query_params.get("course_id"))
        if asked not in (None, principal.id):
            raise HTTPException(403, "a student can only read their own thread")
        messages = await ctx.log.chat_thread.remote(course_id, principal.id,
                                                    _limit(request.query_params.get("limit")))
        return {"course_id": course_id, "student_id": principal.id, "messages": messages}

    @r.post("/api/student/chat", status_code=201)
    async def student_says(request: Request) -> ORJSONResponse:
        principal = await student(request)
        body = _object(await read_json(request, limit))
        course_id = await student_course(principal, body.get("course_id"))
        if body.get("student_id") not in (None, principal.id):
            raise HTTPException(403, "a student can only write in their own thread")
        message = await ctx.log.chat_send.remote(course_id, principal.id, "student", body.get("text"))
        return ORJSONResponse(message, status_code=201)

    @r.post("/api/student/read")
    async def student_read(request: Request) -> dict[str, Any]:
        """Read receipts for chat messages and interventions (the same as a ``read`` frame)."""
        principal = await student(request)
        body = _object(await read_json(request, limit))
        try:
            ids = chat.read_ids(body)
        except messaging.MessagingError as exc:
            raise ApiError(exc.status, exc.field, exc.error) from None
        return await ctx.log.mark_receipts.remote("student", principal.id, ids, "read")

    @r.put("/api/student/work-view/consent")
    async def consent(request: Request) -> dict[str, Any]:
        principal = await student(request)
        body = _object(await read_json(request, limit))
        course_id = await student_course(principal, body.get("course_id"))
        return await ctx.log.work_consent.remote(course_id, principal.id, body.get("consent"))

    # -- the professor's chat socket --------------------------------------------------------

    @r.websocket("/ws/professor/{professor_id}/chat")
    async def professor_chat(ws: WebSocket, professor_id: str) -> None:
        try:
            principal = await ctx.socket_caller(ws)
        except (HTTPException, ApiError):
            await ws.close(code=1008)  # before accept(): the handshake is answered 403
            return
        if not (principal.is_admin or (principal.role == "professor" and principal.id == professor_id)):
            await ws.close(code=1008)
            return
        courses = [c["course_id"] for c in await ctx.log.courses_of.remote(professor_id)]
        frames = ProfessorFrames(ctx, professor_id, courses, principal.is_admin)
        await ws.accept()
        lock = asyncio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                await ws.send_text(_dumps(message))

        async def receive_frames() -> None:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                reply = await _professor_frame(frames, message)
                if reply is not None:
                    await send(reply)

        pump = asyncio.create_task(professor_inbox_pump(ctx.runtime, professor_id, courses, frames, send))
        try:
            with ctx.auth.hold(socket_token(ws), principal) as revoked:  # closed (4401) once revoked
                if await until_revoked(receive_frames(), revoked):
                    pump.cancel()
                    async with lock:
                        await close_revoked(ws)
        except WebSocketDisconnect:
            return
        except Exception:
            log.exception("professor chat socket failed")
            with contextlib.suppress(Exception):
                await ws.close(code=1011)
        finally:
            pump.cancel()

    return r


async def _professor_frame(frames: ProfessorFrames, message: dict[str, Any]) -> dict[str, Any] | None:
    frame, error = parse_frame(message)
    if error is not None:
        return error
    if frame["type"] not in ("chat", "typing", "read", "watch", "unwatch"):
        return error_frame(422, "type", "a frame type: chat, typing, read, watch or unwatch", frame.get("request_id"))
    return await frames.answer(frame)
