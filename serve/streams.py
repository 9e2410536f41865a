"""Fan-out of the hubs' live views to professor streams (WebSocket and SSE).

Each connection long-polls the hubs that own its courses, one poller per hub,
and sends what comes back: a snapshot per course first, then coalesced diffs.
A poller asks again only after its messages were sent, so a slow consumer
gets the latest state, never a growing queue. Every message's ``seq`` is a
resume token: every change up to it has been sent for every course of the
stream, so reconnecting with ``?after_seq=`` (SSE: ``Last-Event-ID``) misses
nothing (it may repeat a diff, which is harmless: diffs carry whole student
objects). A course the professor is given while the stream is open joins it,
snapshot first, within ``COURSES_RECHECK_S``.
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
COURSES_RECHECK_S = 10.0  # how soon a course added to a professor joins their open streams


def poll_timeout() -> float:
    """A long-poll's timeout, jittered: polls that time out together are re-issued together and
    stay in step, so at a thousand sockets every 15 s a burst of a thousand replies and re-polls
    stalled the replica and the hub for 2-3 s (seen in the capacity bench). Spread, they cost the
    same on average and never all at once."""
    return POLL_S * random.uniform(0.5, 1.5)

Send = Callable[[dict[str, Any]], Awaitable[None]]


async def pump_progress(runtime: Runtime, course_ids: list[str], after_seq: int | None,
                        send: Send, on_idle: Callable[[], Awaitable[None]] | None = None,
                        courses_now: Callable[[], Awaitable[list[str]]] | None = None) -> None:
    """Run until cancelled (the caller cancels when the client goes away). ``courses_now``: the
    stream's courses as they are now, asked every ``COURSES_RECHECK_S``; a course added since the
    stream opened joins it with a snapshot."""
    cursor: dict[int, int | None] = {}  # per group of courses polled together (one hub each)
    lock = asyncio.Lock()
    seen: set[str] = set()

    def watermark(head: int, group: int) -> int:
        others = [c or 0 for g, c in cursor.items() if g != group]
        return min([head, *others])

    async def per_group(group: int, hub: int, courses: list[str]) -> None:
        failures = 0
        while True:
            try:
                result = await runtime.poll(hub, {c: cursor[group] for c in courses}, poll_timeout())
                failures = 0
            except Exception:  # a hub restarting: Ray retries; anything else, back off
                failures += 1
                log.warning("poll of hub %d failed", hub, exc_info=True)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** failures))
                continue
            if result["messages"]:
                async with lock:
                    for message in result["messages"]:
                        message["seq"] = watermark(result["head"], group)
                        await send(message)
                    cursor[group] = result["head"]
            else:
                cursor[group] = result["head"]
                if on_idle:
                    async with lock:
                        await on_idle()

    async def watch(tasks: asyncio.TaskGroup) -> None:
        """New courses join (from a snapshot); a stream with none still sends its keepalives."""
        while True:
            await asyncio.sleep(COURSES_RECHECK_S)
            if courses_now is not None:
                try:
                    added = [c for c in await courses_now() if c not in seen]
                except Exception:  # the log restarting: ask again next time
                    log.warning("courses of a stream could not be read", exc_info=True)
                    added = []
                join(tasks, added, None)
            if not cursor and on_idle:
                await on_idle()

    def join(tasks: asyncio.TaskGroup, courses: list[str], at: int | None) -> None:
        for hub, group_courses in runtime.hubs_for(courses).items():
            group = len(cursor)
            cursor[group] = at
            tasks.create_task(per_group(group, hub, group_courses))
        seen.update(courses)

    async with asyncio.TaskGroup() as tasks:  # one failing (a send to a client gone) ends them all
        join(tasks, course_ids, after_seq)
        tasks.create_task(watch(tasks))


async def run_together(loops: Iterable[Awaitable[None]]) -> None:
    """Run one loop per hub until all end; when one fails (the client went away mid-send) or the
    caller cancels, the others are cancelled too. ``asyncio.gather`` left them polling their hubs,
    some for as long as their course stayed quiet."""
    async with asyncio.TaskGroup() as group:
        for loop in loops:
            group.create_task(loop)
