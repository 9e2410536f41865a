"""A live student whose frame was cut off as the run ended asks again before it stops.

The outage test (integration) once stored two events more than the run said it sent: the stack
came back after the run had ended, and the students holding an unacknowledged frame stopped
without resending it, though the log had committed it before going down. A small WebSocket
server on loopback plays the API here: it takes a frame, then drops the socket without an ack.
"""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import websockets

from simulator import live
from simulator.live import LiveRun


class OneShotStudent:
    """Sends one frame of two events at once, then nothing."""
    student_id = "s1"
    t = 0.0
    cohort = SimpleNamespace(minutes=1)

    def truth(self, minute: int) -> tuple:
        return ("s1", minute)

    def __init__(self) -> None:
        self.events = [{"event_id": f"e{i}", "student_id": "s1", "type": "heartbeat"} for i in range(2)]

    def act(self) -> list[dict]:
        self.t = 1e9  # nothing more to do
        return self.events

    def receive(self, _message, _now) -> None:
        pass


async def drive(ack_after: int | None) -> tuple[LiveRun, list[list[str]]]:
    """Frames the server received (event ids); it acks from frame ``ack_after`` on (None: never).
    The run stops the moment the first frame arrives, before any ack."""
    stop = asyncio.Event()
    frames: list[list[str]] = []

    async def api(ws):
        async for raw in ws:
            frame = json.loads(raw)
            frames.append([e["event_id"] for e in frame["events"]])
            stop.set()
            if ack_after is None or len(frames) < ack_after:
                await ws.close()  # as a server going down: the frame may have committed, no ack
                return
            await ws.send(json.dumps({"type": "ack", "accepted": 0, "duplicates": len(frame["events"])}))

    async with websockets.serve(api, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        run = LiveRun(cohort=SimpleNamespace(speed=60.0), api=f"http://127.0.0.1:{port}")
        await asyncio.wait_for(live._student(run, OneShotStudent(), "token", lambda: 0.0, stop), 30)
    return run, frames


def test_a_frame_cut_off_as_the_run_ends_is_resent_and_counted():
    run, frames = asyncio.run(drive(ack_after=2))
    assert frames == [["e0", "e1"], ["e0", "e1"]]  # the same ids again: a repeat is harmless
    assert [e["event_id"] for e in run.sent] == ["e0", "e1"] and run.duplicates == 2
    assert run.unconfirmed == []


def test_a_frame_never_acknowledged_is_reported_unconfirmed_after_the_drain(monkeypatch):
    monkeypatch.setattr(live, "DRAIN_S", 1.5)
    run, frames = asyncio.run(drive(ack_after=None))
    assert len(frames) >= 2  # it did ask again, for a while
    assert run.sent == [] and [e["event_id"] for e in run.unconfirmed] == ["e0", "e1"]


def test_an_acknowledged_frame_is_neither_resent_nor_unconfirmed():
    run, frames = asyncio.run(drive(ack_after=1))
    assert frames == [["e0", "e1"]] and run.unconfirmed == [] and len(run.sent) == 2


def test_the_drain_ends_while_the_server_keeps_answering_503(monkeypatch):
    """A 503 sent the frame again after each wait, without looking at the drain's end: the run
    never finished (review)."""
    monkeypatch.setattr(live, "DRAIN_S", 1.0)
    stop = asyncio.Event()

    async def busy(ws):
        async for _raw in ws:
            stop.set()
            await ws.send(json.dumps({"type": "error", "status": 503, "retry_after_s": 0.2, "errors": []}))

    async def drive_busy() -> LiveRun:
        async with websockets.serve(busy, "127.0.0.1", 0) as server:
            run = LiveRun(cohort=SimpleNamespace(speed=60.0),
                          api=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            await asyncio.wait_for(live._student(run, OneShotStudent(), "token", lambda: 0.0, stop), 10)
        return run

    run = asyncio.run(drive_busy())
    assert [e["event_id"] for e in run.unconfirmed] == ["e0", "e1"] and run.sent == []
