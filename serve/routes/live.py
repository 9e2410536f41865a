"""Live connections: the professor's progress stream (WebSocket and SSE) and the
student's socket (events in, interventions out) and inbox."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketState

from actors.topology import DomainError
from serve.auth import Principal, require, token_from
from serve.bodies import ApiError
from serve.comms_frames import StudentFrames
from serve.context import ApiContext, client_of, socket_token
from serve.frames import error_frame, parse_frame
from serve.revocation import REVOKED_SSE, close_revoked, next_or_revoked, until_disconnect, until_revoked
from serve.routes.events import ingest
from serve.streams import pump_progress

log = logging.getLogger(__name__)


def _dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


FLOOD_CLOSE_AFTER = 1000  # refused frames within FLOOD_WINDOW_S that close the socket (1008)
FLOOD_WINDOW_S = 10.0


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["live"])

    async def professor_courses(principal: Principal, professor_id: str) -> list[str]:
        if not (principal.is_admin or (principal.role == "professor" and principal.id == professor_id)):
            raise HTTPException(403, f"this is not the stream of '{principal.id}'")
        return [c["course_id"] for c in await ctx.log.professor_courses.remote(professor_id)]

    async def socket_principal(ws: WebSocket) -> Principal | None:
        """Authenticate a WebSocket before accepting it; refuse the handshake (403) if not."""
        try:
            return await ctx.socket_caller(ws)
        except (HTTPException, ApiError):
            await ws.close(code=1008)  # before accept(): the handshake is answered 403
            return None

    @r.websocket("/ws/professor/{professor_id}/progress-updates")
    async def professor_socket(ws: WebSocket, professor_id: str) -> None:
        principal = await socket_principal(ws)
        if principal is None:
            return
        try:
            courses = await professor_courses(principal, professor_id)
        except (HTTPException, DomainError):
            await ws.close(code=1008)
            return
        after = _int_or_none(ws.query_params.get("after_seq"))
        await ws.accept()
        ctx.streams.opened("ws")
        try:
            with ctx.auth.hold(socket_token(ws), principal) as revoked:
                await _serve_until_closed(ws, pump_progress(
                    ctx.runtime, courses, after, lambda m: ws.send_text(_dumps(ctx.streams.sent("ws", m))),
                    courses_now=lambda: professor_courses(principal, professor_id)), revoked)
        finally:
            ctx.streams.closed("ws")

    @r.get("/api/professor/{professor_id}/progress-updates/stream", response_class=StreamingResponse,
           responses={200: {"content": {"text/event-stream": {}},
                            "description": "snapshot then coalesced diffs, as Server-Sent Events"}})
    async def professor_sse(professor_id: str, request: Request) -> StreamingResponse:
        token = token_from(request, allow_query=True)
        principal = await ctx.principal(token, client_of(request, ctx.config.trust_forwarded))
        courses = await professor_courses(principal, professor_id)
        after = _int_or_none(request.headers.get("last-event-id") or request.query_params.get("after_seq"))
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=8)

        async def send(message: dict[str, Any]) -> None:
            message = ctx.streams.sent("sse", message)
            await queue.put(f"id: {message['seq']}\nevent: {message['type']}\ndata: {_dumps(message)}\n\n")

        async def keepalive() -> None:
            await queue.put(": keepalive\n\n")

        async def body():
            pump = asyncio.create_task(pump_progress(ctx.runtime, courses, after, send, keepalive,
                                                     lambda: professor_courses(principal, professor_id)))
            ctx.streams.opened("sse")
            try:
                with ctx.auth.hold(token, principal) as revoked:
                    yield "retry: 2000\n\n"
                    while (message := await next_or_revoked(queue, revoked)) is not None:
                        yield message
                    yield REVOKED_SSE  # then the stream ends; EventSource's reconnect gets 401
            finally:
                pump.cancel()
                ctx.streams.closed("sse")

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @r.websocket("/ws/student/{student_id}")
    async def student_socket(ws: WebSocket, student_id: str) -> None:
        principal = await socket_principal(ws)
        if principal is None:
            return
        if not (principal.is_admin or (principal.role == "student" and principal.id == student_id)):
            await ws.close(code=1008)
            return
        courses = await ctx.log.student_courses.remote(student_id)
        frames = StudentFrames(ctx, student_id, courses, principal.is_admin)
        await ws.accept()
        send_lock = asyncio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with send_lock:
                await ws.send_text(_dumps(message))

        async def receive_frames() -> None:
            refused, window = 0, time.monotonic()
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if not (principal.is_admin or ctx.limits.allow(f"{principal.role}:{principal.id}")):
                    # A flood: answer (so the client learns why), never queue; a sustained flood ends the socket.
                    if time.monotonic() - window > FLOOD_WINDOW_S:
                        refused, window = 0, time.monotonic()
                    refused += 1
                    if refused > FLOOD_CLOSE_AFTER:
                        await ws.close(code=1008, reason="too many frames; slow down")
                        return
                    await send({"type": "error", "status": 429, "errors": [{
                        "index": None, "field": "rate", "error": "rate limit exceeded for this token",
                        "retry_after_s": ctx.limits.retry_after(f"{principal.role}:{principal.id}")}]})
                    continue
                reply = await _answer_frame(ctx, principal, message, frames)
                if reply is not None:  # typing indicators are not answered
                    await send(reply)

        async def deliver(message: dict[str, Any]) -> None:
            await send(message)
            await frames.delivered(message)  # the delivery receipt: the socket send succeeded

        inbox = asyncio.create_task(ctx.inboxes.serve(student_id, courses, deliver))
        ctx.streams.opened("student_ws")
        try:
            with ctx.auth.hold(socket_token(ws), principal) as revoked:
                if await until_revoked(receive_frames(), revoked):
                    inbox.cancel()
                    async with send_lock:
                        await close_revoked(ws)
        except WebSocketDisconnect:
            pass
        finally:
            inbox.cancel()
            ctx.streams.closed("student_ws")

    @r.get("/api/student/inbox")
    async def student_inbox(request: Request) -> dict[str, Any]:
        principal = await ctx.caller(request)
        require(principal, "student")
        return {"student_id": principal.id, "items": await ctx.log.inbox.remote(principal.id)}

    return r


async def _answer_frame(ctx: ApiContext, principal: Principal, message: dict[str, Any],
                        frames: StudentFrames) -> dict[str, Any] | None:
    """One frame from a student socket -> the frame to answer with (ack or error; None for typing)."""
    frame, error = parse_frame(message)
    if error is not None:
        return error
    request_id = frame.get("request_id")
    if frame["type"] == "events":
        try:
            ack = await ingest(ctx, principal, frame.get("events"))
            return {"type": "ack", "request_id": request_id, **ack}
        except (ApiError, DomainError) as exc:
            return {"type": "error", "request_id": request_id, "status": exc.status, "errors": exc.errors}
        except Exception:  # an actor restarting, a timeout: the socket stays open, the client retries
            log.warning("events frame failed", exc_info=True)
            return {"type": "error", "request_id": request_id, "status": 503, "retry_after_s": 1,
                    "errors": [{"index": None, "field": "events",
                                "error": "the event log is unavailable; send the events again"}]}
    if frame["type"] in ("typing", "read", "work_state", "chat"):
        return await frames.answer(frame)
    return error_frame(422, "type", f"unknown frame type '{frame['type']}'", request_id)


async def _serve_until_closed(ws: WebSocket, pump, revoked: asyncio.Event) -> None:
    """Run a sending pump while reading (and ignoring) client frames until the client leaves, or
    until the socket's token is revoked (then it is closed with 4401)."""
    task = asyncio.create_task(pump)
    was_revoked = False
    try:
        was_revoked = await until_revoked(until_disconnect(ws), revoked)
    except WebSocketDisconnect:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if was_revoked:
            await close_revoked(ws)
        elif ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None
