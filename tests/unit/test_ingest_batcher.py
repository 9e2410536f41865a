"""The replica's gathering of small ingest requests (serve/ingest_batcher.py), against a log
stand-in whose calls the test releases: what shares a call, what goes alone, what a failure or
a client going away does to the others. (tests/api/test_ingest_gathering.py runs it on the stack.)"""
from __future__ import annotations

import asyncio

import pytest

from actors.topology import DomainError
from serve.ingest_batcher import MAX_GATHERED, MAX_GATHERED_EVENTS, SMALL_EVENTS, IngestBatcher


class _Method:
    def __init__(self, calls: list, name: str) -> None:
        self._calls, self._name = calls, name

    def remote(self, *args):
        release = asyncio.get_running_loop().create_future()
        self._calls.append((self._name, args, release))
        return release


class Log:
    """``append.remote`` / ``append_many.remote`` return futures the test resolves."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, asyncio.Future]] = []
        self.append = _Method(self.calls, "append")
        self.append_many = _Method(self.calls, "append_many")


def ack(n: int = 1) -> dict[str, int]:
    return {"accepted": n, "duplicates": 0, "last_seq": 0}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Scene:
    """A batcher over a ``Log`` stand-in, and the moves the tests make with them."""

    def __init__(self) -> None:
        self.log = Log()
        self.batcher = IngestBatcher(self.log)

    async def behind_a_call(self, sizes: list[int]) -> tuple[asyncio.Task, list[asyncio.Task]]:
        """A lone one-event request (its call in flight), then requests of these sizes waiting
        behind it (batch ``i`` packed as ``bytes([i])``)."""
        blocker = asyncio.create_task(self.batcher.append(b"x", 1, None))
        await settle()
        waiting = [asyncio.create_task(self.batcher.append(bytes([i]), n, None)) for i, n in enumerate(sizes)]
        await settle()
        return blocker, waiting

    async def answer(self, call: int, result) -> None:
        """Release call ``call`` with ``result`` (an exception: the call failed)."""
        release = self.log.calls[call][2]
        if isinstance(result, BaseException):
            release.set_exception(result)
        else:
            release.set_result(result)
        await settle()

    def sent(self, call: int) -> tuple[str, list[bytes]]:
        name, args, _ = self.log.calls[call]
        return name, args[0]


def test_a_lone_request_goes_at_once_and_later_ones_share_the_next_call():
    async def run():
        log = Log()
        batcher = IngestBatcher(log)
        first = asyncio.create_task(batcher.append(b"a", 1, "r1"))
        await settle()
        assert [(name, args) for name, args, _ in log.calls] == [("append", (b"a", None, "r1"))]
        later = [asyncio.create_task(batcher.append(bytes([i]), 2, f"q{i}")) for i in range(5)]
        await settle()
        assert len(log.calls) == 1  # they wait for the call in flight
        log.calls[0][2].set_result(ack())
        assert await first == ack()
        await settle()
        name, (packed, rids), release = log.calls[1]
        assert name == "append_many" and packed == [bytes([i]) for i in range(5)]
        assert rids == [f"q{i}" for i in range(5)]
        release.set_result([ack(i) for i in range(5)])
        assert [await t for t in later] == [ack(i) for i in range(5)]
        assert len(log.calls) == 2
    asyncio.run(run())


def test_each_request_gets_its_own_answer_and_a_refusal_fails_only_its_own():
    async def run():
        scene = Scene()
        blocker, tasks = await scene.behind_a_call([1, 1, 1])
        await scene.answer(0, ack())
        await blocker
        await scene.answer(1, [ack(), DomainError(409, "event_id", "taken"), ack()])
        assert await tasks[0] == ack() and await tasks[2] == ack()
        with pytest.raises(DomainError) as refused:
            await tasks[1]
        assert refused.value.status == 409
    asyncio.run(run())


def test_a_failed_call_fails_each_request_in_it_and_the_next_ones_still_go():
    async def run():
        scene = Scene()
        blocker, gathered = await scene.behind_a_call([1, 1, 1])
        await scene.answer(0, RuntimeError("the log is restarting"))
        with pytest.raises(RuntimeError):
            await blocker
        await scene.answer(1, RuntimeError("still restarting"))
        for task in gathered:
            with pytest.raises(RuntimeError):
                await task
        assert len({id(task.exception()) for task in gathered}) == 3  # one exception each
        after = asyncio.create_task(scene.batcher.append(b"y", 1, None))
        await settle()
        await scene.answer(2, ack())
        assert await after == ack()
    asyncio.run(run())


def test_a_client_going_away_leaves_the_shared_call_and_the_others_alone():
    async def run():
        scene = Scene()
        blocker, (gone, stays) = await scene.behind_a_call([1, 1])
        await scene.answer(0, ack())
        await blocker
        assert scene.sent(1) == ("append_many", [bytes([0]), bytes([1])])
        gone.cancel()
        await scene.answer(1, [ack(), ack(7)])
        assert await stays == ack(7)
        assert gone.cancelled()
    asyncio.run(run())


def test_a_request_whose_client_left_while_it_waited_is_not_sent():
    async def run():
        scene = Scene()
        blocker, (gone, stays, also) = await scene.behind_a_call([1, 1, 1])
        gone.cancel()
        await scene.answer(0, ack())
        await blocker
        assert scene.sent(1) == ("append_many", [bytes([1]), bytes([2])])
        await scene.answer(1, [ack(1), ack(2)])
        assert (await stays, await also) == (ack(1), ack(2))
    asyncio.run(run())


def test_big_batches_go_straight_and_many_at_once():
    async def run():
        log = Log()
        batcher = IngestBatcher(log)
        big = [asyncio.create_task(batcher.append(bytes([i]), SMALL_EVENTS + 1, None)) for i in range(3)]
        await settle()
        assert [name for name, _, _ in log.calls] == ["append"] * 3  # none waits for another
        for _, _, release in log.calls:
            release.set_result(ack(SMALL_EVENTS + 1))
        assert [await t for t in big] == [ack(SMALL_EVENTS + 1)] * 3
    asyncio.run(run())


def test_a_call_holds_at_most_max_gathered_batches_and_max_gathered_events():
    async def run():
        scene = Scene()
        blocker, small = await scene.behind_a_call([1] * (MAX_GATHERED + 3))
        await scene.answer(0, ack())
        await blocker
        assert len(scene.sent(1)[1]) == MAX_GATHERED
        await scene.answer(1, [ack()] * MAX_GATHERED)
        assert len(scene.sent(2)[1]) == 3
        await scene.answer(2, [ack()] * 3)
        assert len([await t for t in small]) == MAX_GATHERED + 3

        scene = Scene()
        fits = MAX_GATHERED_EVENTS // SMALL_EVENTS
        blocker, waiting = await scene.behind_a_call([SMALL_EVENTS] * (fits + 1))
        await scene.answer(0, ack())
        await blocker
        assert len(scene.sent(1)[1]) == fits
        await scene.answer(1, [ack(SMALL_EVENTS)] * fits)
        assert scene.sent(2)[0] == "append"  # the one left over goes alone
        await scene.answer(2, ack(SMALL_EVENTS))
        assert [await t for t in waiting] == [ack(SMALL_EVENTS)] * (fits + 1)
    asyncio.run(run())
