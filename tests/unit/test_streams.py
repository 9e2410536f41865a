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


def test_a_course_given_to_the_professor_joins_the_open_stream_with_a_snapshot(monkeypatch):
    from serve import streams
    monkeypatch.setattr(streams, "COURSES_RECHECK_S", 0.05)
    polled = []

    class Hubs:
        def hubs_for(self, course_ids):
            return {{"c1": 0, "c2": 1}[c]: [c] for c in course_ids}

        async def poll(self, hub, cursors, timeout):
            polled.append(dict(cursors))
            if None in cursors.values():  # a course seen for the first time: its snapshot at once
                return {"head": 5, "messages": [{"type": "snapshot", "course_id": c} for c in cursors]}
            await asyncio.sleep(0.05)
            return {"head": 5, "messages": []}

    courses = ["c1"]
    sent = []

    async def courses_now():
        return list(courses)

    async def send(message):
        sent.append(message["course_id"])

    async def run():
        pump = asyncio.create_task(pump_progress(Hubs(), ["c1"], None, send, courses_now=courses_now))
        await asyncio.sleep(0.2)
        courses.append("c2")  # the admin gives the professor another course
        await asyncio.sleep(0.3)
        pump.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pump

    asyncio.run(run())
    assert sent == ["c1", "c2"]
    assert {"c2": None} in polled and all(p.get("c1") in (None, 5) for p in polled)
