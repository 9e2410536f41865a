"""Live delivery to student sockets: one inbox long-poll per hub for all of a replica's sockets.

Each student socket used to long-poll its hub for its own inbox. At a thousand sockets that was a
thousand Ray calls outstanding on the hub (an async actor runs 1,000 at once by default: other
calls then waited for a poll to time out) and ~70 re-polls a second, each ~1 ms of CPU a side,
plus two calls per student joining. Now a replica polls ``CourseHub.inboxes_since`` once per hub
for every student's messages and hands each to the sockets of that student it holds. Messages are
rare next to events, so every replica reading every message costs little.

A socket gets the messages that reach the hub after it opened (earlier ones are in
``GET /api/student/inbox``), in order, through its own queue, so a slow socket delays only itself.
A hub keeps only its last 10,000 live messages (all students together); when a poll falls further
behind than that the hub says so (``gap``) and every socket of that hub gets a ``resync`` frame:
re-read the inbox, some live messages were missed (before, they were dropped without a word).
A poller with no sockets left ends when its poll returns; one that fails retries.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from actors.runtime import Runtime
from serve.streams import poll_timeout

log = logging.getLogger(__name__)
RETRY_S = 1.0  # after a failed poll (a hub restarting)
RESYNC = {"type": "resync", "reason": "live messages were missed; re-read GET /api/student/inbox"}
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class _Socket:
    __slots__ = ("hubs", "opened", "queue", "student_id")

    def __init__(self, student_id: str, hubs: list[int]) -> None:
        self.student_id, self.hubs = student_id, hubs
        # hub seqs are wall-clock microseconds (engine.live_view.SeqClock): a message stamped after
        # this reached the hub after the socket opened (across nodes, up to their clock skew)
        self.opened = time.time_ns() // 1000
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


class StudentInboxes:
    """Per replica: registered sockets by student, and one poller per hub while any socket needs it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._sockets: dict[str, set[_Socket]] = {}
        self._by_hub: dict[int, int] = {}  # hub -> sockets that need it
        self._pollers: dict[int, asyncio.Task] = {}

    @property
    def pollers(self) -> int:
        return len(self._pollers)

    async def serve(self, student_id: str, course_ids: list[str], deliver: Deliver) -> None:
        """Hand this student's messages to ``deliver`` until cancelled (the socket closing)."""
        hubs = sorted(self._runtime.hubs_for(course_ids))
        if not hubs:
            await asyncio.Event().wait()  # no courses: nothing will come (until cancelled)
            return
        socket = _Socket(student_id, hubs)
        self._sockets.setdefault(student_id, set()).add(socket)
        for hub in hubs:
            self._by_hub[hub] = self._by_hub.get(hub, 0) + 1
            if hub not in self._pollers:
                self._pollers[hub] = asyncio.create_task(self._poll_forever(hub, socket.opened))
        try:
            while True:
                await deliver(await socket.queue.get())
        finally:
            self._sockets[student_id].discard(socket)
            if not self._sockets[student_id]:
                del self._sockets[student_id]
            # A poller left without sockets ends when its poll returns, not cancelled here: its Ray
            # call would wait on the hub anyway, and a socket arriving meanwhile keeps it.
            for hub in hubs:
                self._by_hub[hub] -= 1
                if not self._by_hub[hub]:
                    del self._by_hub[hub]

    async def _poll_forever(self, hub: int, cursor: int) -> None:
        """Poll one hub from ``cursor`` on while any socket here needs it; never dies of an error
        (a dead poller would leave every socket of this hub here without live messages)."""
        while True:
            try:
                result = await self._runtime.handles.hub(hub).inboxes_since.remote(cursor, poll_timeout())
                if result.get("gap"):
                    for sockets in self._sockets.values():
                        for socket in sockets:
                            if hub in socket.hubs:
                                socket.queue.put_nowait(dict(RESYNC))
                for seq, student_id, message in result["messages"]:
                    for socket in self._sockets.get(student_id, ()):
                        if seq > socket.opened:
                            socket.queue.put_nowait(message | {"seq": seq})
                cursor = max(cursor, result["head"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("inbox poll of hub %d failed", hub, exc_info=True)
                await asyncio.sleep(RETRY_S)
            if not self._by_hub.get(hub):
                del self._pollers[hub]
                return
