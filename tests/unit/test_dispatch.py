"""Delivery of committed batches to shards (actors/dispatch.py), with recording shard stand-ins.

The shards here are plain objects that record each call: what reaches a real shard over Ray is
covered by tests/integration; this checks the dispatcher's own rules (order, gaps, calls saved).
"""
from __future__ import annotations

import asyncio
from itertools import pairwise
from types import SimpleNamespace

import pytest

from actors import dispatch
from actors.dispatch import ShardDispatcher
from engine.event_arrow import ArrowBatch, table_columns, to_arrow, unpack
from engine.events import FIELD
from engine.ids import shard_for
from tests.factories import ev

SHARDS = 2


class Recorder:
    """One shard's ``apply`` calls: (seqs of the events, prev_seq, upto_seq)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], int | None, int]] = []
        self.apply = SimpleNamespace(remote=self._apply)

    async def _apply(self, packed: bytes, params, prev_seq, upto_seq, request_ids=None) -> int:
        self.calls.append((list(table_columns(unpack(packed))[FIELD["seq"]]), prev_seq, upto_seq))
        return upto_seq


def student_of_shard(index: int) -> str:
    return next(s for s in (f"s{i}" for i in range(100)) if shard_for(s, SHARDS) == index)


def committed(first_seq: int, students: list[str]) -> ArrowBatch:
    return ArrowBatch(to_arrow([ev("attempt", s, correct=True) for s in students])).with_seq(first_seq)


@pytest.fixture
def shards():
    return [Recorder() for _ in range(SHARDS)]


def dispatcher(shards: list[Recorder]) -> ShardDispatcher:
    handles = SimpleNamespace(topology=SimpleNamespace(shards=SHARDS), shard=lambda i: shards[i])
    return ShardDispatcher(handles, lambda courses: {})


def test_a_shard_with_nothing_new_costs_no_call_but_counts_as_delivered(shards):
    busy, quiet = student_of_shard(0), student_of_shard(1)

    async def go():
        d = dispatcher(shards)
        d.start(0)
        for i in range(5):  # five commits, all for shard 0
            d.publish(committed(i + 1, [busy]))
            assert await d.wait_delivered(i + 1, timeout=2)
        d.publish(committed(6, [quiet]))
        assert await d.wait_delivered(6, timeout=2)

    asyncio.run(go())
    assert [c[0] for c in shards[0].calls if c[0]] == [[1], [2], [3], [4], [5]]
    # shard 1: the start-up call (catch up to seq 0), then only the commit that had its event
    assert shards[1].calls[0][0] == [] and [c for c in shards[1].calls if c[0]] == [([6], None, 6)]
    assert len(shards[1].calls) == 2


def test_a_quiet_shard_still_hears_the_position_now_and_then(shards, monkeypatch):
    monkeypatch.setattr(dispatch, "WATERMARK_EVERY_S", 0.05)
    busy = student_of_shard(0)

    async def go():
        d = dispatcher(shards)
        d.start(0)
        for i in range(4):
            d.publish(committed(i + 1, [busy]))
            assert await d.wait_delivered(i + 1, timeout=2)
            await asyncio.sleep(0.06)

    asyncio.run(go())
    # told at every commit past the interval (and maybe once at start, before the first commit)
    assert [c[2] for c in shards[1].calls if c[2]] == [1, 2, 3, 4]


def test_each_shard_gets_its_rows_in_commit_order_with_the_previous_seq(shards):
    a, b = student_of_shard(0), student_of_shard(1)

    async def go():
        d = dispatcher(shards)
        d.start(0)
        d.publish(committed(1, [a, b, a]))
        d.publish(committed(4, [b, b]))
        d.publish(committed(6, [a]))
        assert await d.wait_delivered(6, timeout=2)
        assert d.delivered == [6, 6]

    asyncio.run(go())
    seqs = [[s for c in shards[i].calls for s in c[0]] for i in range(SHARDS)]
    assert seqs == [[1, 3, 6], [2, 4, 5]]
    for recorder in shards:  # each call names the last seq sent before it, so a gap shows
        sent = [c for c in recorder.calls if c[0]]
        assert sent[0][1] is None
        assert all(later[1] == earlier[0][-1] for earlier, later in pairwise(sent))



async def just_called(shards: list[Recorder], student: str) -> ShardDispatcher:
    """A started dispatcher that has just called the student's shard with seq 1."""
    d = dispatcher(shards)
    d.start(0)
    d.publish(committed(1, [student]))
    assert await d.wait_delivered(1, timeout=2)
    return d


def test_a_trickle_shares_calls_and_a_burst_is_not_held(shards, monkeypatch):
    monkeypatch.setattr(dispatch, "TRICKLE_GAP_S", 0.2)
    a = student_of_shard(0)

    async def go():
        d = await just_called(shards, a)
        started = asyncio.get_running_loop().time()
        for i in range(2, 6):  # four one-event commits right after a call: they wait, then go together
            d.publish(committed(i, [a]))
            await asyncio.sleep(0.01)
        assert await d.wait_delivered(5, timeout=2)
        waited = asyncio.get_running_loop().time() - started
        d.publish(committed(6, [a] * dispatch.TRICKLE_EVENTS))  # a burst-sized queue goes at once
        burst = asyncio.get_running_loop().time()
        assert await d.wait_delivered(5 + dispatch.TRICKLE_EVENTS, timeout=2)
        return waited, asyncio.get_running_loop().time() - burst

    waited, burst = asyncio.run(go())
    sent = [c[0] for c in shards[0].calls if c[0]]
    assert sent[:2] == [[1], [2, 3, 4, 5]]
    assert 0.1 < waited < 1.0 and burst < 0.1


def test_a_burst_that_comes_during_a_trickles_wait_goes_at_once(shards, monkeypatch):
    monkeypatch.setattr(dispatch, "TRICKLE_GAP_S", 1.0)
    a = student_of_shard(0)

    async def go():
        d = await just_called(shards, a)
        d.publish(committed(2, [a]))  # a trickle: waits for the gap ...
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        d.publish(committed(3, [a] * dispatch.TRICKLE_EVENTS))  # ... until a burst joins it
        assert await d.wait_delivered(2 + dispatch.TRICKLE_EVENTS, timeout=3)
        return asyncio.get_running_loop().time() - started

    took = asyncio.run(go())
    assert took < 0.5
    sent = [c[0] for c in shards[0].calls if c[0]]
    assert sent[1] == list(range(2, 3 + dispatch.TRICKLE_EVENTS))  # trickle and burst in one call
