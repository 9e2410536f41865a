"""Live delivery to student sockets: one inbox long-poll per hub for all of a replica's sockets.

Each student socket used to long-poll its hub for its own inbox. At a thousand sockets that was a
thousand Ray calls outstanding on the hub (an async actor runs 1,000 at once by default: other
calls then waited for a poll to time out) and ~70 re-polls a second, each ~1 ms of CPU a side,
plus two calls per student joining. Now a replica polls ``CourseHub.inboxes_since`` once per hub
for every student's messages and hands each to the sockets of that student it holds. Messages are
rare next to events, so every replica reading every message costs little.

A socket gets the messages that reach the hub after it registered (earlier ones are in
``GET /api/student/inbox``), in order, through its own queue, so a slow socket delays only itself.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actors.runtime import Runtime
from serve.streams import poll_timeout

log = logging.getLogger(__name__)
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class _Socket:
    __slots__ = ("queue", "since", "student_id")

    def __init__(self, student_id: str, since: dict[int, int | None]) -> None:
        self.student_id = student_id
        self.since = since  # hub -> the poller's head when the socket registered (None: not known yet)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


class StudentInboxes:
    """Per replica: registered sockets by student, and one poller per hub while any socket needs it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._sockets: dict[str, set[_Socket]] = {}
        self._by_hub: dict[int, int] = {}  # hub -> sockets that need it
        self._pollers: dict[int, asyncio.Task] = {}
        self._heads: dict[int, int] = {}  # hub -> seq up to which messages were handed out

    @property
    def pollers(self) -> int:
        return len(self._pollers)

    async def serve(self, student_id: str, course_ids: list[str], deliver: Deliver) -> None:
        """Hand this student's messages to ``deliver`` until cancelled (the socket closing)."""
        hubs = sorted(self._runtime.hubs_for(course_ids))
        if not hubs:
            await asyncio.Event().wait()  # no courses: nothing will come (until cancelled)
            return
        socket = _Socket(student_id, {h: self._heads.get(h) for h in hubs})
        self._sockets.setdefault(student_id, set()).add(socket)
        for hub in hubs:
            self._by_hub[hub] = self._by_hub.get(hub, 0) + 1
            if hub not in self._pollers:
                self._pollers[hub] = asyncio.create_task(self._poll_forever(hub))
        try:
            while True:
                await deliver(await socket.queue.get())
        finally:
            self._sockets[student_id].discard(socket)
            if not self._sockets[student_id]:
                del self._sockets[student_id]
            for hub in hubs:
                self._by_hub[hub] -= 1
                if not self._by_hub[hub]:  # the last socket on this hub left: stop polling it
                    del self._by_hub[hub]
                    poller = self._pollers.pop(hub)
                    poller.cancel()
                    self._heads.pop(hub, None)

    async def _poll_forever(self, hub: int) -> None:
        handle = self._runtime.handles.hub(hub)
        cursor: int | None = None
        while True:
            try:
                result = await handle.inboxes_since.remote(cursor, 0 if cursor is None else poll_timeout())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("inbox poll of hub %d failed", hub, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if cursor is None:  # sockets that registered before the first head: from here on
                for sockets in self._sockets.values():
                    for socket in sockets:
                        if hub in socket.since and socket.since[hub] is None:
                            socket.since[hub] = result["head"]
            for seq, student_id, message in result["messages"]:
                for socket in self._sockets.get(student_id, ()):
                    since = socket.since.get(hub)
                    if since is not None and seq > since:
                        socket.queue.put_nowait(message | {"seq": seq})
            cursor = max(cursor or 0, result["head"])
            self._heads[hub] = cursor

    async def close(self) -> None:
        for poller in self._pollers.values():
            poller.cancel()
        for poller in list(self._pollers.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller
        self._pollers.clear()
