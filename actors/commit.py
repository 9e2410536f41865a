"""Group commit with idempotency on ``event_id``.

Batches arriving while a commit is running wait and go together in the next
transaction, so a busy log commits thousands of events per transaction and an
idle one commits a single event in a few milliseconds. A request is answered
only after the transaction holding its events has committed. An event id seen
before with the same fingerprint is a duplicate (acknowledged, not applied);
with a different fingerprint it is a conflict (409). Events stay columnar
(an Arrow table built by the API replica, ``engine.event_arrow``) from the
request to the DuckDB insert and on to the shards.

The insert runs on the event loop's own thread, which it blocks for its few milliseconds (~7 ms
for 6,000 events). In a worker thread it waited on the GIL: DuckDB's Python scan of the Arrow
table takes the GIL a dozen or more times per insert, and each time the loop held it (busy with
the next requests) the insert waited out Python's 5 ms switch interval. A 6,000-event insert
took 70-125 ms beside a busy Python thread against 7-9 ms alone; in the pipeline a commit of
~6,000 events took 29-43 ms instead of 12-17, and in four of five alternated sets the log spent
0.8-1.8 us less CPU per event on the loop (docs/architecture.md, "Ingest, session 12"). Only a commit that may wait for a checkpoint (one running, or the WAL
near DuckDB's threshold, ``Store.commit_may_wait``) goes to a worker thread, so the log keeps
answering other calls through it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from actors import logs
from actors.topology import DomainError
from engine.event_arrow import ArrowBatch
from engine.events import Event, EventBatch
from engine.id_index import id_hashes
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
        # batches queued or committing: their indexed id hashes, their future, the batch
        self._pending: list[tuple[np.ndarray, asyncio.Future, EventBatch | ArrowBatch]] = []
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
        hashes, prints = _hashes_and_prints(batch)
        found, known = self.index.lookup(hashes)
        _, first = np.unique(hashes, return_index=True)
        if not found.any() and len(first) == len(hashes) and not self._erased_among(batch):
            fresh: list[int] | range = range(len(batch))  # the common case: every id is new
            unindexed: list[int] = []
            waits: list[Awaitable] = []
        else:
            fresh, unindexed, waits = self._sort_out(batch, hashes, found, known)
        ack = Ack(len(fresh), len(batch) - len(fresh))
        if fresh:
            indexed = np.zeros(len(batch), bool)
            indexed[first] = True  # a hash once per batch (two ids sharing one: only the first)
            indexed[unindexed] = False  # ids whose hash another id holds already
            if len(fresh) < len(batch):
                rows = np.asarray(fresh, np.int64)
                batch, hashes, prints, indexed = batch.take(rows), hashes[rows], prints[rows], indexed[rows]
            future = asyncio.get_running_loop().create_future()
            self.index.add(hashes[indexed], prints[indexed])
            self._pending.append((hashes[indexed], future, batch))
            await self._after(waits, future)
            self._queue.append((batch, future))
            rid = logs.request_id.get()
            if rid is not None:
                self._request_of[id(batch)] = rid
            self._wake.set()
            ack.first_seq, ack.last_seq = await future
        else:
            await self._after(waits, None)
        return ack

    async def _after(self, waits: list[Awaitable], reserved: asyncio.Future | None) -> None:
        """Wait for the commits holding this batch's retried events before committing the rest:
        if one fails, this batch fails whole (nothing of it committed) and gives its ids back."""
        try:
            for wait in waits:
                await asyncio.shield(wait)
        except BaseException as exc:
            failure = exc
            if not isinstance(exc, DomainError) and not asyncio.current_task().cancelling():
                failure = DomainError(503, "log", "an earlier request with these events was abandoned; "
                                                  "send them again")  # its caller went away: not ours
            if reserved is not None:
                self.index.remove(self._settled(reserved))
                if not reserved.done():  # a retry of this batch, waiting on it, fails with it
                    reserved.set_exception(failure if isinstance(failure, DomainError) else
                                           DomainError(503, "log", "an earlier commit failed; send again"))
                    reserved.exception()  # retrieved: only later waiters need it
            if failure is exc:
                raise
            raise failure from None

    def _sort_out(self, batch: EventBatch | ArrowBatch, hashes: np.ndarray, found: np.ndarray,
                  known: np.ndarray) -> tuple[list[int], list[int], list[Awaitable]]:
        """Event by event, for a batch with some id known (or repeated, or erasures on record):
        -> rows to commit, those of them whose hash another id holds, commits to wait for."""
        ids, prints = batch.column("event_id"), batch.column("fingerprint")
        suspects = [ids[i] for i in np.flatnonzero(found & (known != np.asarray(prints, np.int64)))]
        exact = self._verify(suspects) if suspects else {}  # a hash is not an id: ask the log
        fresh: list[int] = []
        unindexed: list[int] = []
        seen_here: dict[str, int] = {}
        conflicts = []
        duplicates = []
        for i, (event_id, fp) in enumerate(zip(ids, prints)):
            have = int(known[i]) if found[i] else None
            if event_id in exact or (have is not None and have != fp):
                have = exact.get(event_id)
                if have is None:  # a new id whose hash another id holds: commit it, keep it out of the index
                    unindexed.append(i)
            if have is None and self.erased:  # an erased student's events stay duplicates
                have = self.erased.get(erased_id(event_id))
            if have is None:
                have = seen_here.get(event_id)
            if have is None:
                seen_here[event_id] = fp
                fresh.append(i)
            elif have != fp:
                conflicts.append({"index": i, "field": "event_id",
                                  "error": f"'{event_id}' was already used for a different event"})
            elif event_id not in seen_here:
                duplicates.append(i)
        if conflicts:
            raise DomainError(409, "event_id", conflicts[0]["error"], conflicts) from None
        waits: list[Awaitable] = []
        if duplicates and self._pending:  # retries of events still committing: answer after they are
            dup = hashes[np.asarray(duplicates, np.int64)]
            waits = [future for pending, future, _ in self._pending if np.isin(dup, pending).any()]
        return fresh, unindexed, waits

    def _erased_among(self, batch: EventBatch | ArrowBatch) -> bool:
        """Whether an id of the batch belongs to an erased event (sha256 per id, only once some
        student was erased)."""
        return bool(self.erased) and not self.erased.keys().isdisjoint(map(erased_id, batch.column("event_id")))

    def _verify(self, event_ids: list[str]) -> dict[str, int]:
        """Exact fingerprints of ids whose hash is indexed with another fingerprint: committed ones
        from the log, the others from the batches queued or being committed."""
        out = self._store.fingerprints_of(event_ids)
        wanted = set(event_ids)
        for _, _, queued in self._pending:
            for event_id, fp in zip(queued.column("event_id"), queued.column("fingerprint")):
                if event_id in wanted:
                    out.setdefault(event_id, fp)
        return out

    def forget(self, events: dict[str, int]) -> None:
        """Erased events: keep only their sha256, so retries are still duplicates after a restart
        (in this process the id index still holds their hashes)."""
        for event_id, fp in events.items():
            self.erased[erased_id(event_id)] = fp

    async def settle_queued(self, timeout: float = 10.0) -> None:
        """Wait for the batches queued or committing now (not those that come later: a steady stream
        would keep it waiting); whether they commit or fail does not matter, only that they are
        done. Raises DomainError 503 if some are still running after ``timeout``."""
        futures = [future for _, future, _ in self._pending]
        if futures:
            _, running = await asyncio.wait(futures, timeout=timeout)
            if running:
                raise DomainError(503, "log", f"{len(running)} earlier commits are still running; ask again")

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every queued or running commit has finished (new ones still allowed)."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._pending) and time.monotonic() < deadline:
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
            if self._store.commit_may_wait():  # behind a checkpoint: the loop stays free meanwhile
                await asyncio.to_thread(self._store.append, batch)
            else:
                self._store.append(batch)  # on the loop thread, not a worker thread: see the docstring
        except Exception as exc:  # disk full, I/O error: nothing was committed
            log.exception("commit of %d events failed", len(batch))
            for _, future in group:
                self.index.remove(self._settled(future))
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
        for (_, future), span in zip(group, spans):
            self._settled(future)
            if not future.done():
                future.set_result(span)
        self._on_commit(batch)

    def _settled(self, future: asyncio.Future) -> np.ndarray:
        """Drop a queued batch from the pending list; -> its id hashes."""
        for i, (hashes, pending, _) in enumerate(self._pending):
            if pending is future:
                del self._pending[i]
                return hashes
        return np.zeros(0, np.uint64)


def _hashes_and_prints(batch: EventBatch | ArrowBatch) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(batch, ArrowBatch):
        return id_hashes(batch.table.column("event_id")), batch.table.column("fingerprint").to_numpy()
    return id_hashes(batch.column("event_id")), np.asarray(batch.column("fingerprint"), np.int64)
