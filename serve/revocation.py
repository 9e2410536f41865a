"""Ending an open WebSocket or SSE stream whose token stopped being valid.

A socket is authenticated once, at its handshake; while it is open it holds its
token (``Authenticator.hold``), which is re-checked every ``STREAM_RECHECK_S``.
When the token is revoked or rotated, or its student erased, the socket is
closed with 4401 and a reason, and an SSE stream sends one ``error`` event and
ends (EventSource's reconnect is then refused with 401).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import orjson
from fastapi import WebSocket
from starlette.websockets import WebSocketState

REVOKED_CODE = 4401
REVOKED_REASON = "token revoked or rotated; sign in again"
REVOKED_ERROR: dict[str, Any] = {"type": "error", "status": 401, "errors": [{
    "index": None, "field": "authorization", "error": REVOKED_REASON}]}
REVOKED_SSE = f"event: error\ndata: {orjson.dumps(REVOKED_ERROR).decode()}\n\n"


async def until_disconnect(ws: WebSocket) -> None:
    """Read (and ignore) a socket's frames until the client leaves."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def until_revoked(reading: Awaitable[None], revoked: asyncio.Event) -> bool:
    """Run a socket's read loop until it ends (-> False; its exception is raised) or the token is
    revoked (-> True: the loop is cancelled, the caller closes with ``close_revoked``)."""
    reader = asyncio.ensure_future(reading)
    watcher = asyncio.create_task(revoked.wait())
    try:
        await asyncio.wait({reader, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watcher, reader):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if revoked.is_set():
        if not reader.cancelled():
            reader.exception()  # retrieved: the socket is being closed anyway
        return True
    reader.result()  # the loop's own end: a disconnect, or its error
    return False


async def close_revoked(ws: WebSocket) -> None:
    """Close an accepted socket whose token was revoked: 4401 with a reason the client can show."""
    if ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):  # the client left meanwhile
            await ws.close(code=REVOKED_CODE, reason=REVOKED_REASON)


async def next_or_revoked(queue: asyncio.Queue[str], revoked: asyncio.Event) -> str | None:
    """An SSE stream's next message, or None once the token is revoked (the stream then ends)."""
    if revoked.is_set():
        return None
    getter = asyncio.create_task(queue.get())
    watcher = asyncio.create_task(revoked.wait())
    try:
        await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not getter.done():
            getter.cancel()
    if revoked.is_set():
        return None  # a message that raced the revocation is dropped: the stream is over
    return getter.result()
