"""The EventLog's part in keeping the analytics' derived tables (mixed into ``EventLog``).

Off the commit path: a background task brings ``engine/analytics/derived.py`` up to the committed
log every ``DERIVE_EVERY_S`` (one transaction per round, however many commits it covers), and an
analytics request first catches up the rest, so it answers for everything committed before it.
While ingest is heavy (over ``BUSY_EVENTS_PER_S``) rounds yield to it for up to ``DERIVE_YIELD_MAX_S``:
a round costs the log's core ~3-4 us per event, and during a burst that core is what limits ingest.
A quiet tick also checkpoints DuckDB's WAL once it passes 16 MB (``Store.checkpoint_if_due``).
Erasure holds the same lock, so a round never re-derives rows of a student being erased. If the
derived tables cannot be brought up to date, a request is answered from the log (the per-event
path) and the failure is logged.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from engine.analytics import derived
from engine.store import QUIET_CHECKPOINT_BYTES

log = logging.getLogger("actors.eventlog")
TICK_S = 0.5  # how often the background task looks (busy or quiet is judged over one tick)
DERIVE_EVERY_S = 2.0  # a round has a fixed part (~100 ms of CPU here): at 0.5 s a live class paid it twice a second
BUSY_EVENTS_PER_S = 5_000  # ingest above this rate: rounds wait (a live class sends ~10-1,000/s)
DERIVE_YIELD_MAX_S = 5.0  # ... but the tables are never left behind longer than this (BurstYield)


@dataclass
class BurstYield:
    """When a background round is due: when the tables are behind the log and the last round was
    ``every`` seconds ago or more, except while ingest is busy (over ``BUSY_EVENTS_PER_S``, judged
    per ``TICK_S``), and even then once the tables have been behind for ``DERIVE_YIELD_MAX_S``. That
    wait counts from when the tables were last known up to date, not from the last round: after a
    quiet hour a burst used to get a round at its first tick."""

    current_at: float  # time.monotonic() when the tables were last known up to date
    last_count: int = 0  # committed events at the last tick
    round_at: float = float("-inf")  # when the last round started

    def tick(self, now: float, committed: int, every: float, behind: bool) -> tuple[bool, bool]:
        """-> (ingest is busy, a round is due now); call every ``TICK_S``."""
        busy = committed - self.last_count > BUSY_EVENTS_PER_S * TICK_S
        self.last_count = committed
        if not behind:
            self.current_at = now
            return busy, False
        if (busy and now - self.current_at < DERIVE_YIELD_MAX_S) or now - self.round_at < every:
            return busy, False
        self.round_at = self.current_at = now  # the round about to run brings them up to date
        return busy, True


class LogAnalytics:
    """Uses the EventLog's ``catalog``, ``_commit``, ``_store``, ``_read`` and ``metrics``."""

    _derive_task: asyncio.Task | None = None
    _derive_lock_: asyncio.Lock | None = None
    _derived_seq: int = -1

    @property
    def _derive_lock(self) -> asyncio.Lock:
        if self._derive_lock_ is None:
            self._derive_lock_ = asyncio.Lock()
        return self._derive_lock_

    def _derive_start(self) -> None:
        if self._derive_task is None:
            self._derive_task = asyncio.get_running_loop().create_task(self._derive_forever())

    _derive_every: float = DERIVE_EVERY_S

    async def set_derive_every(self, seconds: float) -> None:
        """How often the background catch-up runs (0: never; a request still catches up first). For
        benchmarks that measure what keeping the tables costs ingest (loadtests/bench_ingest.py)."""
        self._derive_every = max(0.0, float(seconds))

    async def _derive_forever(self) -> None:
        clock = BurstYield(time.monotonic(), self._commit.committed_events)
        while True:
            await asyncio.sleep(TICK_S)
            if self._commit.closed:  # shutting down: the file is closing
                return
            busy, due = clock.tick(time.monotonic(), self._commit.committed_events,
                                   self._derive_every or DERIVE_EVERY_S,
                                   behind=self._commit.seq != self._derived_seq)
            if not busy:  # DuckDB's own upkeep, also kept out of bursts (engine/store.py)
                await self._checkpoint_if_due()
            if due and self._derive_every:
                try:
                    await self.derive()
                except Exception:
                    log.warning("deriving analytics tables failed; will retry", exc_info=True)

    async def upkeep_now(self) -> dict[str, float]:
        """Do now what quiet ticks would (analytics rounds, a checkpoint); -> seconds each. Benchmarks
        time it after a burst, so a burst's figure can be read together with what it deferred."""
        started = time.perf_counter()
        await self.derive()
        derived_s = time.perf_counter() - started
        await self._checkpoint_if_due(0)
        return {"derive_s": derived_s, "checkpoint_s": time.perf_counter() - started - derived_s}

    async def _checkpoint_if_due(self, min_wal_bytes: int = QUIET_CHECKPOINT_BYTES) -> None:
        """``Store.checkpoint_if_due`` in a thread, ``Store.checkpointing`` set meanwhile: commits
        that come then wait for it off the event loop (actors/commit.py)."""
        self._store.checkpointing = True  # set here, on the loop: no commit starts between
        try:
            await asyncio.to_thread(self._store.checkpoint_if_due, min_wal_bytes)
        finally:
            self._store.checkpointing = False

    def _caps(self) -> dict[str, float]:
        return {cid: self.catalog.config(cid).idle_after_s for cid in self.catalog.courses}

    async def derive(self) -> dict[str, Any]:
        """Bring the derived tables up to everything committed now; returns what it did."""
        async with self._derive_lock:
            target, caps = self._commit.seq, self._caps()
            started = time.perf_counter()
            done = await asyncio.to_thread(self._read, derived.catch_up, target, caps)
            self._derived_seq = target
            if done["rounds"]:
                self.metrics.observe("classpulse_analytics_derive_seconds", time.perf_counter() - started)
            return done | {"up_to_seq": target}

    async def _derive_for_read(self) -> bool:
        """Catch up before a read; False (answer from the log) if that failed."""
        try:
            await self.derive()
            return True
        except Exception:
            log.warning("derived analytics tables unavailable; answering from the log", exc_info=True)
            return False

    @asynccontextmanager
    async def _derive_paused(self):
        """No round runs inside (erasure deletes a student's rows from the derived tables too)."""
        async with self._derive_lock:
            yield
