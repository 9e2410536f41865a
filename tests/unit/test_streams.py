"""Live paths without Ray: a professor stream's per-hub loops end together, and a hub read that
refreshes a course wakes the streams waiting on it."""
from __future__ import annotations

import asyncio

import pytest

from actors import hub as hub_module
from actors.topology import Topology
from serve.streams import pump_progress


class TwoHubs:
    """Hub 0 has a change at once; hub 1 stays quiet (its poll waits), counting its polls."""

    def __init__(self) -> None:
        self.quiet_polls = 0
        self.quiet_cancelled = False

    def hubs_for(self, course_ids):
        return {0: ["busy"], 1: ["quiet"]}

    async def poll(self, hub, cursors, timeout):
        if hub == 0:
            return {"head": 1, "messages": [{"type": "diff", "course_id": "busy"}]}
        self.quiet_polls += 1
        try:
            await asyncio.sleep(0.05)  # a short long-poll, so a loop left running shows
        except asyncio.CancelledError:
            self.quiet_cancelled = True
            raise
        return {"head": 0, "messages": []}


def test_a_send_that_fails_ends_every_hubs_loop():
    runtime = TwoHubs()

    async def send(message):
        raise ConnectionError("the client went away")

    async def run():
        with pytest.raises((ConnectionError, ExceptionGroup)):  # the send's failure
            await pump_progress(runtime, ["busy", "quiet"], None, send)
        polls = runtime.quiet_polls
        await asyncio.sleep(0.3)
        return polls, runtime.quiet_polls

    at_end, later = asyncio.run(run())
    assert runtime.quiet_cancelled and later == at_end  # the quiet hub's loop stopped with the pump


def test_a_read_that_refreshes_a_course_wakes_its_streams():
    hub = hub_module.CourseHub.__ray_metadata__.modified_class(0, Topology("t", 1, 1))
    changed = []

    class View:
        dirty = True

        def refresh(self) -> None:
            hub._seqs.next()
            changed.append("diff")
            self.dirty = False

    hub.views = {"c1": View()}

    async def run():
        poll = asyncio.create_task(hub._long_poll(lambda: list(changed), 5.0, hub_module.VIEWS))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        hub._fresh_view("c1")  # as live_progress does
        result = await asyncio.wait_for(poll, 2.0)
        return result, asyncio.get_running_loop().time() - started

    result, took = asyncio.run(run())
    assert result["messages"] == ["diff"] and took < 0.5
