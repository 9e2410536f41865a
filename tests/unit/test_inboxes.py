"""A replica's student inboxes (serve/inboxes.py): one poll per hub for every socket, against a
stand-in hub with the same long-poll contract as ``CourseHub.inboxes_since`` (no Ray)."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from serve import inboxes
from serve.inboxes import StudentInboxes


class Hub:
    """Messages stamped with wall-clock microseconds; polls wait until one is past the cursor."""

    def __init__(self) -> None:
        self.log: list[tuple[int, str, dict]] = []
        self.polls = 0
        self.fail_next = 0
        self.gap_next = False
        self.inboxes_since = SimpleNamespace(remote=self._since)
        self._changed = asyncio.Event()

    def deliver(self, student_id: str, text: str) -> None:
        self.log.append((time.time_ns() // 1000, student_id, {"type": "intervention", "message": text}))
        self._changed.set()

    async def _since(self, seq: int, timeout: float) -> dict:
        self.polls += 1
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("hub restarting")
        if self.gap_next:
            self.gap_next = False
            return {"head": time.time_ns() // 1000, "messages": [], "gap": True}
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.log if m[0] > seq]
            if found or time.monotonic() >= deadline:
                return {"head": time.time_ns() // 1000, "messages": found}
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(inboxes, "poll_timeout", lambda: 0.2)
    monkeypatch.setattr(inboxes, "RETRY_S", 0.01)
    return Hub()


def replica(hub: Hub) -> StudentInboxes:
    runtime = SimpleNamespace(hubs_for=lambda courses: {0: list(courses)} if courses else {},
                              handles=SimpleNamespace(hub=lambda i: hub))
    return StudentInboxes(runtime)


async def open_socket(box: StudentInboxes, student: str, got: list) -> asyncio.Task:
    async def deliver(message):
        got.append(message["message"])
    task = asyncio.create_task(box.serve(student, ["c1"], deliver))
    await asyncio.sleep(0.01)
    return task


async def settle() -> None:
    await asyncio.sleep(0.1)


def test_each_socket_gets_its_students_messages_from_after_it_opened(hub):
    async def go():
        box, tab1, tab2, other, later = replica(hub), [], [], [], []
        hub.deliver("s0", "before")  # before any socket: in GET /api/student/inbox, not live
        sockets = [await open_socket(box, "s0", tab1), await open_socket(box, "s0", tab2),
                   await open_socket(box, "s1", other)]
        hub.deliver("s0", "hint")
        await settle()
        sockets.append(await open_socket(box, "s0", later))
        hub.deliver("s1", "for s1")
        await settle()
        assert box.pollers == 1  # one poll for every socket of the hub
        for task in sockets:
            task.cancel()
        return tab1, tab2, other, later

    tab1, tab2, other, later = asyncio.run(go())
    assert tab1 == tab2 == ["hint"]
    assert other == ["for s1"] and later == []


def test_a_failing_poll_is_retried_not_lost(hub):
    async def go():
        box, got = replica(hub), []
        hub.fail_next = 2
        task = await open_socket(box, "s0", got)
        hub.deliver("s0", "after the hub came back")
        await settle()
        task.cancel()
        return got

    got = asyncio.run(go())
    assert got == ["after the hub came back"] and hub.polls >= 3


def test_a_poller_ends_after_its_last_socket_and_is_kept_by_a_new_one(hub):
    async def go():
        box, got = replica(hub), []
        first = await open_socket(box, "s0", [])
        first.cancel()
        await asyncio.sleep(0)
        second = await open_socket(box, "s1", got)  # before the poll returned: the same poller
        assert box.pollers == 1
        hub.deliver("s1", "still live")
        await settle()
        second.cancel()
        await asyncio.sleep(0.5)  # the poll returns, nobody needs it: it ends
        return box, got

    box, got = asyncio.run(go())
    assert got == ["still live"] and box.pollers == 0


def test_a_poll_that_fell_behind_the_hubs_buffer_tells_each_socket_to_resync(hub):
    async def go():
        box, got = replica(hub), []

        async def deliver(message):
            got.append(message)
        task = asyncio.create_task(box.serve("s0", ["c1"], deliver))
        await asyncio.sleep(0.01)
        hub.gap_next = True
        for _ in range(500):  # the current poll returns, the next one reports the gap
            if got:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        return got

    got = asyncio.run(go())
    assert [m["type"] for m in got] == ["resync"]


def test_the_hub_reports_a_cursor_older_than_its_kept_messages():
    import collections

    from actors import hub as hub_module
    from actors.topology import Topology

    hub = hub_module.CourseHub.__ray_metadata__.modified_class(0, Topology("t", 1, 1))
    # keep 3, not INBOX_LOG_KEEP: patching the module constant did not reach a class Ray had already
    # taken in once an earlier test of the same process started actors
    hub._inbox_log = collections.deque(maxlen=3)

    async def run():
        hub._ready = asyncio.get_running_loop().create_future()
        hub._ready.set_result(True)
        seqs = [hub._to_inbox("s1", {"type": "intervention", "n": i}) for i in range(5)]  # 2 pushed out
        behind = await hub.inboxes_since(seqs[0], 0.01)
        at_edge = await hub.inboxes_since(seqs[1], 0.01)
        return behind, at_edge

    behind, at_edge = asyncio.run(run())
    assert behind["gap"] and [m[2]["n"] for m in behind["messages"]] == [2, 3, 4]
    assert not at_edge["gap"] and [m[2]["n"] for m in at_edge["messages"]] == [2, 3, 4]
