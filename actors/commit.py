"""Group commit with idempotency on ``event_id``.

Batches arriving while a commit is running wait and go together in the next
transaction, so a busy log commits thousands of events per transaction and an
idle one commits a single event in a few milliseconds. A request is answered
only after the transaction holding its events has committed. An event id seen
before with the same fingerprint is a duplicate (acknowledged, not applied);
with a different fingerprint it is a conflict (409). Events stay columnar
(an Arrow table built by the API replica, ``engine.event_arrow``) from the
request to the DuckDB insert and on to the shards.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors import logs
from actors.topology import DomainError
from engine.event_arrow import ArrowBatch
from engine.events import Event, EventBatch
from engine.privacy import erased_id
from engine.store import Store

log = logging.getLogger(__name__)


@dataclass
class Ack:
    accepted: int
    duplicates: int
    first_seq: int = 0
    last_seq: int = 0


class GroupCommitter:
    def __init__(self, store: Store, on_commit: Callable[[ArrowBatch], None],
                 flush_interval_s: float = 0.002, max_group: int = 20_000,
                 on_timed: Callable[[int, float], None] | None = None) -> None:
        self._store = store
        self._on_commit = on_commit
        self._on_timed = on_timed  # (events, seconds) per transaction, for metrics
        self.delay_s = 0.0  # an injected delay before each commit (fault-injection hook, tests)
        self._request_of: dict[int, str] = {}  # id(queued batch) -> the request that sent it (logs)
        self.last_request_ids: list[str] = []  # requests in the transaction being published
        self._interval = flush_interval_s
        self._max_group = max_group
        self.index, self.erased, self.seq = store.event_index()
        self._inflight: dict[str, asyncio.Future] = {}
        self._queue: list[tuple[EventBatch | ArrowBatch, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.committed_events = 0
        self.commits = 0
        self.commit_seconds = 0.0
        self.closed = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def append(self, events: list[Event] | EventBatch | ArrowBatch) -> Ack:
        if self.closed:
            raise DomainError(503, "log", "the event log is shutting down")
        self.start()
        batch = events if isinstance(events, ArrowBatch) else EventBatch.of(events)
        ids, prints = batch.column("event_id"), batch.column("fingerprint")
        index, inflight = self.index, self._inflight
        fresh: list[int] | range = []
        waits: list[Awaitable] = []
        seen_here: dict[str, int] = {}
        conflicts = []
        if not self.erased and index.keys().isdisjoint(ids) and len(set(ids)) == len(ids):
            rows = ()  # the common case, checked in C: every id is new
            fresh = range(len(ids))
        else:
            rows = enumerate(zip(ids, prints))
        for i, (event_id, fp) in rows:
            known = index.get(event_id)
            if known is None and self.erased:  # an erased student's events stay duplicates
                known = self.erased.get(erased_id(event_id))
            if known is None:
                known = seen_here.get(event_id)
            if known is None:
                seen_here[event_id] = fp
                fresh.append(i)
            elif known != fp:
                conflicts.append({"index": i, "field": "event_id",
                                  "error": f"'{event_id}' was already used for a different event"})
            else:
                if event_id in inflight:
                    waits.append(inflight[event_id])
        if conflicts:
            raise DomainError(409, "event_id", conflicts[0]["error"], conflicts) from None
        ack = Ack(len(fresh), len(batch) - len(fresh))
        if fresh:
            if len(fresh) < len(batch):
                batch = batch.take(fresh)
            future = asyncio.get_running_loop().create_future()
            index.update(zip(batch.column("event_id"), batch.column("fingerprint")))
            inflight.update(dict.fromkeys(batch.column("event_id"), future))
            self._queue.append((batch, future))
            rid = logs.request_id.get()
            if rid is not None:
                self._request_of[id(batch)] = rid
            self._wake.set()
            ack.first_seq, ack.last_seq = await future
        for wait in waits:
            await asyncio.shield(wait)
        return ack

    def forget(self, events: dict[str, int]) -> None:
        """Erased events: keep only their hashes, so retries are still duplicates."""
        for event_id, fp in events.items():
            self.index.pop(event_id, None)
            self.erased[erased_id(event_id)] = fp

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every queued or running commit has finished (new ones still allowed)."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._inflight) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for queued and running commits to finish, then refuse new ones."""
        await self.settle(timeout)
        self.closed = True

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._interval:
                await asyncio.sleep(self._interval)
            while self._queue:
                await self._commit(self._take_group())

    def _take_group(self) -> list[tuple[EventBatch | ArrowBatch, asyncio.Future]]:
        group, size = [], 0
        while self._queue and (size == 0 or size + len(self._queue[0][0]) <= self._max_group):
            item = self._queue.pop(0)
            group.append(item)
            size += len(item[0])
        return group

    async def _commit(self, group: list[tuple[EventBatch | ArrowBatch, asyncio.Future]]) -> None:
        first = self.seq + 1
        rids = [self._request_of.pop(id(b), None) for b, _ in group]
        self.last_request_ids = [r for r in rids if r is not None]
        batch = ArrowBatch.concat([b for b, _ in group]).with_seq(first)  # the wire tables as they came
        spans, at = [], first
        for b, _ in group:
            spans.append((at, at + len(b) - 1))
            at += len(b)
        started = time.perf_counter()
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            await asyncio.to_thread(self._store.append, batch)
        except Exception as exc:  # disk full, I/O error: nothing was committed
            log.exception("commit of %d events failed", len(batch))
            for b, future in group:
                for event_id in b.column("event_id"):
                    self.index.pop(event_id, None)
                    self._inflight.pop(event_id, None)
                if not future.done():
                    future.set_exception(DomainError(503, "log", f"commit failed: {exc}"))
            return
        took = time.perf_counter() - started
        self.commit_seconds += took
        if self._on_timed is not None:
            self._on_timed(len(batch), took)
        self.commits += 1
        self.committed_events += len(batch)
        self.seq = at - 1
        for (b, future), span in zip(group, spans):
            for event_id in b.column("event_id"):
                self._inflight.pop(event_id, None)
            if not future.done():
                future.set_result(span)
        self._on_commit(batch)
