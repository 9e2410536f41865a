"""Fan-out of the hubs' live views to professor streams (WebSocket and SSE).

Each connection long-polls the hubs that own its courses, one poller per hub,
and sends what comes back: a snapshot per course first, then coalesced diffs.
A poller asks again only after its messages were sent, so a slow consumer
gets the latest state, never a growing queue. Every message's ``seq`` is a
resume token: every change up to it has been sent for every course of the
stream, so reconnecting with ``?after_seq=`` (SSE: ``Last-Event-ID``) misses
nothing (it may repeat a diff, which is harmless: diffs carry whole student
objects).
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from actors.runtime import Runtime

log = logging.getLogger(__name__)
POLL_S = 15.0


def poll_timeout() -> float:
    """A long-poll's timeout, jittered: polls that time out together are re-issued together and
    stay in step, so at a thousand sockets every 15 s a burst of a thousand replies and re-polls
    stalled the replica and the hub for 2-3 s (seen in the capacity bench). Spread, they cost the
    same on average and never all at once."""
    return POLL_S * random.uniform(0.5, 1.5)

Send = Callable[[dict[str, Any]], Awaitable[None]]


async def pump_progress(runtime: Runtime, course_ids: list[str], after_seq: int | None,
                        send: Send, on_idle: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run until cancelled (the caller cancels when the client goes away)."""
    by_hub = runtime.hubs_for(course_ids)
    if not by_hub:
        while True:
            await asyncio.sleep(POLL_S)
            if on_idle:
                await on_idle()
    cursor: dict[int, int | None] = {h: after_seq for h in by_hub}
    lock = asyncio.Lock()

    def watermark(head: int, hub: int) -> int:
        others = [c or 0 for h, c in cursor.items() if h != hub]
        return min([head, *others])

    async def per_hub(hub: int, courses: list[str]) -> None:
        failures = 0
        while True:
            try:
                result = await runtime.poll(hub, {c: cursor[hub] for c in courses}, poll_timeout())
                failures = 0
            except Exception:  # a hub restarting: Ray retries; anything else, back off
                failures += 1
                log.warning("poll of hub %d failed", hub, exc_info=True)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** failures))
                continue
            if result["messages"]:
                async with lock:
                    for message in result["messages"]:
                        message["seq"] = watermark(result["head"], hub)
                        await send(message)
                    cursor[hub] = result["head"]
            else:
                cursor[hub] = result["head"]
                if on_idle:
                    async with lock:
                        await on_idle()

    await run_together(per_hub(h, cs) for h, cs in by_hub.items())


async def run_together(loops: Iterable[Awaitable[None]]) -> None:
    """Run one loop per hub until all end; when one fails (the client went away mid-send) or the
    caller cancels, the others are cancelled too. ``asyncio.gather`` left them polling their hubs,
    some for as long as their course stayed quiet."""
    async with asyncio.TaskGroup() as group:
        for loop in loops:
            group.create_task(loop)
