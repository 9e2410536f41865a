"""Ordered delivery of committed events to the student shards.

One queue and one sender per shard: batches reach a shard in commit order,
several queued batches go as one call. Each call carries ``prev_seq``, the
seq of the last event sent to that shard (None after the log restarts), so a
shard that missed something pulls the gap from the log; a shard call that
fails is retried (Ray retries it on the restarted actor; we retry beyond that).

A live class commits a few events at a time, and a Ray call costs each side
about a millisecond of CPU, so a commit with nothing for a shard costs that
shard no call: it has everything up to the commit already (delivered is
advanced here), and it hears the log's position in a call without events at
most every ``WATERMARK_EVERY_S`` (its ``applied`` is what its checkpoints
record). Calling every shard on every commit was most of the shards' work.
For the same reason a shard called less than ``TRICKLE_GAP_S`` ago waits out
that gap when it has only a few events queued: a class of 1,000 commits
~70 times a second, and those commits then reach a shard in a few calls a
second instead of one each (a call costs the shard ~3 ms of CPU and the log
~1 ms). A burst is not held back, nor one that comes during such a wait.

"A few" is anything under ``TRICKLE_EVENTS`` (1,000, the API's largest batch): commits of 100-999
events (a gateway's batches, a heavy stream) used to go one call each. Each such call, made on the
log's loop right after the commit's ack, slowed the commits that followed it: sequential 100-event
commits took 17-25 ms at the median against 15-17 with the calls gathered (p99 34-112 against
31-40 ms over five runs each, docs/architecture.md, "Ingest, session 13"). The shard then hears of such commits up to
``TRICKLE_GAP_S`` later, within the hub's own push cadence.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pyarrow.compute as pc

from actors.topology import Handles
from engine.event_arrow import ArrowBatch, pack

log = logging.getLogger(__name__)
MAX_REQUEST_IDS = 50  # request ids passed along with one shard call (for its log lines)
WATERMARK_EVERY_S = 1.0  # a shard with nothing new is told the log's position at most this often
TRICKLE_EVENTS = 1_000  # a shard's queue under this many events waits for ...
TRICKLE_GAP_S = 0.15  # ... this long since its last call, so a live class's commits share calls


class ShardDispatcher:
    def __init__(self, handles: Handles, params_for: Callable[[set[str]], dict], metrics=None) -> None:
        self._handles = handles
        self._metrics = metrics  # actors.metrics.Recorder (queue depth gauges) or None
        self._params_for = params_for
        n = handles.topology.shards
        self._queues: list[list[ArrowBatch]] = [[] for _ in range(n)]
        self._wakes = [asyncio.Event() for _ in range(n)]
        self._prev: list[int | None] = [None] * n
        self._delivered = [0] * n  # global seq up to which this shard has everything
        self._upto = 0
        self._tasks: list[asyncio.Task] = []
        self._progress = asyncio.Condition()
        self._queued_at: list[float | None] = [None] * n  # when the oldest queued batch came
        self._sending_since: list[float | None] = [None] * n  # ... and the oldest one in flight
        self._request_ids: list[list[str]] = [[] for _ in range(n)]
        self._told = [0.0] * n  # when each shard was last called (time.monotonic)

    def start(self, committed_seq: int) -> None:
        """Start senders; the first call to each shard catches it up to ``committed_seq``."""
        if self._tasks:
            return
        self._upto = committed_seq
        loop = asyncio.get_running_loop()
        for i in range(len(self._queues)):
            self._wakes[i].set()
            self._tasks.append(loop.create_task(self._send_forever(i)))

    def publish(self, batch: ArrowBatch, request_ids: list[str] | None = None) -> None:
        """Split a committed batch by shard (``shard_key % shards``, as ``Topology.shard_of``; rows
        keep their commit order) and wake the senders; ``request_ids`` (the requests behind it) go
        along to the shards for their log lines."""
        if not len(batch):
            return
        now = time.time()
        for shard, mine in enumerate(batch.split(len(self._queues))):
            if mine is not None:
                self._queues[shard].append(mine)
                if self._queued_at[shard] is None:
                    self._queued_at[shard] = now
                if request_ids and len(self._request_ids[shard]) < MAX_REQUEST_IDS:
                    self._request_ids[shard].extend(request_ids[:MAX_REQUEST_IDS])
                if self._metrics is not None:
                    self._metrics.set("classpulse_shard_queue_events",
                                      sum(len(b) for b in self._queues[shard]), shard=str(shard))
        self._upto = batch.last_seq()
        for wake in self._wakes:
            wake.set()

    async def wait_delivered(self, seq: int, timeout: float = 30.0) -> bool:
        """Wait until every shard has everything up to ``seq``."""
        async with self._progress:
            return await asyncio.wait_for(
                self._progress.wait_for(lambda: min(self._delivered) >= seq), timeout)

    @property
    def delivered(self) -> list[int]:
        return list(self._delivered)

    def backlog_s(self, now: float) -> float:
        """Age of the oldest committed batch some shard has not folded yet (0 when none)."""
        times = [t for t in (*self._queued_at, *self._sending_since) if t is not None]
        return max(0.0, now - min(times)) if times else 0.0

    async def _send_forever(self, index: int) -> None:
        delay = 0.05
        while True:
            await self._wakes[index].wait()
            await self._let_a_trickle_gather(index)
            self._wakes[index].clear()
            queued, upto = self._queues[index], self._upto
            self._queues[index] = []
            rids, self._request_ids[index] = self._request_ids[index][:MAX_REQUEST_IDS], []
            self._sending_since[index], self._queued_at[index] = self._queued_at[index], None
            if self._metrics is not None and queued:
                self._metrics.set("classpulse_shard_queue_events", 0, shard=str(index))
            batch = ArrowBatch.concat(queued)  # several queued batches: one call
            if not len(batch) and time.monotonic() - self._told[index] < WATERMARK_EVERY_S:
                self._sending_since[index] = None  # nothing of this shard's up to ``upto``: no call
                await self._mark_delivered(index, upto)
                continue
            self._told[index] = time.monotonic()
            while True:
                try:
                    params = self._params_for(set(pc.unique(batch.table.column("course_id")).to_pylist()))
                    await self._handles.shard(index).apply.remote(pack(batch.table), params, self._prev[index], upto,
                                                                  rids or None)
                    break
                except Exception:  # actor restarting or gone: keep the order, retry
                    log.warning("shard %d unavailable; retrying in %.2fs", index, delay, exc_info=True)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            delay = 0.05
            self._sending_since[index] = None
            if len(batch):
                self._prev[index] = batch.last_seq()
            await self._mark_delivered(index, upto)

    async def _let_a_trickle_gather(self, index: int) -> None:
        """A few events for a shard called moments ago wait out ``TRICKLE_GAP_S`` from that call:
        commits of a few events each (a live class) then share one call instead of one each; a
        burst's queue is past ``TRICKLE_EVENTS`` and goes at once, also when it comes during a wait."""
        while True:
            queued = sum(map(len, self._queues[index]))
            wait = self._told[index] + TRICKLE_GAP_S - time.monotonic()
            if not (0 < queued < TRICKLE_EVENTS and wait > 0):
                return
            self._wakes[index].clear()  # set again by the next commit for this shard: look again
            try:
                await asyncio.wait_for(self._wakes[index].wait(), wait)
            except TimeoutError:
                return

    async def _mark_delivered(self, index: int, upto: int) -> None:
        async with self._progress:
            self._delivered[index] = upto
            self._progress.notify_all()
