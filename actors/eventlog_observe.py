"""The EventLog's observing part (mixed into ``EventLog``): metrics, health figures, the
15-minute history, the fault-injection hook. Definitions live in actors/metrics.py and
actors/health.py; this is where the EventLog feeds them."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from actors import logs
from actors.topology import DomainError

log = logging.getLogger("actors.eventlog")


class LogObservation:
    """Uses the EventLog's ``metrics``, ``health``, ``_obs``, ``_commit``, ``_dispatch``, ``_handles``."""

    def _on_timed(self, events: int, seconds: float) -> None:
        self.metrics.observe("classpulse_commit_latency_seconds", seconds)
        self.metrics.observe("classpulse_commit_batch_events", events)
        self.health.on_commit(events, seconds, time.time())

    def _ingested(self, accepted: int, duplicates: int, size: int, source: str, seconds: float) -> None:
        self.metrics.inc("classpulse_events_ingested", accepted, source=source)
        self.metrics.inc("classpulse_events_duplicate", duplicates, source=source)
        self.metrics.observe("classpulse_ingest_batch_events", size)
        self.metrics.observe("classpulse_ingest_latency_seconds", seconds)
        self.health.on_ingest(accepted, time.time())

    def rejected(self, events: int, reason: str, error: str = "") -> None:
        """Count a refused batch (also called by the API for what it refuses at the edge)."""
        self.metrics.inc("classpulse_events_rejected", events, reason=reason)
        self.health.on_reject(events, time.time())
        log.info("rejected a batch of %d events (%s): %s", events, reason, error)

    async def count_rejected(self, events: int, reason: str, request_id: str | None = None) -> None:
        logs.request_id.set(request_id)
        self.rejected(events, reason)

    async def note_recovery(self, component: str, index: int, seconds: float, events: int,
                            restarted: bool) -> None:
        """A shard or hub rebuilt its state (at start, or after Ray restarted it)."""
        self.metrics.observe("classpulse_replay_seconds", seconds, component=component)
        self.metrics.inc("classpulse_replayed_events", events)
        if restarted:
            self.metrics.inc("classpulse_actor_restarts", component=component)
            log.warning("%s %d restarted; rebuilt in %.2fs (%d events replayed)",
                        component, index, seconds, events)

    async def report_push(self, replica: str, samples: list[float], subscribers: int) -> None:
        """An API replica's event-to-push latencies since its last report, and its open streams."""
        self.health.on_push(replica, samples, subscribers, time.time())

    async def telemetry(self) -> dict[str, Any]:
        return self.metrics.snapshot()

    async def set_faults(self, commit_delay_ms: float) -> dict[str, Any]:
        """Fault-injection hook (tests, drills): only when CLASSPULSE_FAULT_INJECTION=1."""
        if not self._obs.fault_injection:
            raise DomainError(403, "faults", "fault injection is disabled (CLASSPULSE_FAULT_INJECTION)")
        self._commit.delay_s = max(0.0, float(commit_delay_ms)) / 1000
        log.warning("fault injection: commit delay now %.0f ms", self._commit.delay_s * 1000)
        return {"commit_delay_ms": self._commit.delay_s * 1000}

    async def _figures(self) -> dict[str, Any]:
        lags = []
        hubs = [self._handles.hub(i).telemetry.remote() for i in range(self._topology.hubs)]
        for ref in hubs:
            try:
                lags.append((await asyncio.wait_for(ref, 2.0))["lag"])
            except Exception:
                log.warning("a hub did not report its lag", exc_info=True)
        now = time.time()
        return self.health.figures(now, lags, self._dispatch.backlog_s(now))

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self._obs.history_every_s)
            try:
                self.health.sample(time.time(), await self._figures())
            except Exception:
                log.warning("stats sample failed", exc_info=True)

    async def stats_history(self) -> list[dict[str, Any]]:
        return self.health.history.since(time.time())
