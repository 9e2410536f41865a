"""Every classpulse metric in one place: name, help, labels, buckets; and the recorder.

A ``Recorder`` lives in each process that records (EventLog, each shard, each
hub, each API replica). It writes to two sinks:

- ``ray.util.metrics``, so the figures appear on Ray's Prometheus endpoint
  (each node's metrics agent, names prefixed ``ray_``) next to Ray's and
  Serve's own;
- a small in-process copy (counters, histogram buckets, gauges) that the API
  pulls from every actor and renders at ``GET /metrics`` (serve/metrics.py),
  so one scrape of the API shows the whole stack.

Recording is per batch (a counter incremented by the batch size, a histogram
observed once per commit), never per event. ``ObsConfig(enabled=False)``
(``CLASSPULSE_METRICS=0``) turns every call into an early return.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from engine.telemetry import Thresholds

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000)
REPLAY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class MetricDef:
    name: str  # without the _total suffix of counters (Prometheus clients add it)
    kind: str  # counter | histogram | gauge
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


DEFS: dict[str, MetricDef] = {d.name: d for d in [
    MetricDef("classpulse_events_ingested", "counter",
              "Events committed to the log and acknowledged (duplicates excluded)", ("source",)),
    MetricDef("classpulse_events_duplicate", "counter",
              "Events acknowledged as duplicates of an already committed event_id", ("source",)),
    MetricDef("classpulse_events_rejected", "counter",
              "Events refused, by reason (validation, forbidden, roster, conflict, commit_failed)",
              ("reason",)),
    MetricDef("classpulse_ingest_batch_events", "histogram",
              "Events per ingest call (one HTTP request, socket frame or xAPI post)", (), SIZE_BUCKETS),
    MetricDef("classpulse_ingest_latency_seconds", "histogram",
              "Ingest call to acknowledgement, inside the EventLog (queue + commit)", (), LATENCY_BUCKETS),
    MetricDef("classpulse_commit_latency_seconds", "histogram",
              "One group-commit transaction (DuckDB insert + commit)", (), LATENCY_BUCKETS),
    MetricDef("classpulse_commit_batch_events", "histogram",
              "Events per group-commit transaction", (), SIZE_BUCKETS),
    MetricDef("classpulse_shard_queue_events", "gauge",
              "Committed events waiting in the EventLog to be sent to a shard", ("shard",)),
    MetricDef("classpulse_fold_seconds", "histogram",
              "Time a shard spends folding one delivered batch", (), LATENCY_BUCKETS),
    MetricDef("classpulse_hub_queue_students", "gauge",
              "Student summaries a shard holds for a hub, not yet sent", ("hub",)),
    MetricDef("classpulse_updates_coalesced", "counter",
              "Student updates merged into a summary already waiting for its hub", ()),
    MetricDef("classpulse_hub_refresh_seconds", "histogram",
              "One hub refresh pass (re-assessing changed courses)", (), LATENCY_BUCKETS),
    MetricDef("classpulse_hub_lag_seconds", "histogram",
              "Receipt of the oldest event in a summary batch -> the batch applied in the hub", (),
              LATENCY_BUCKETS),
    MetricDef("classpulse_event_to_push_seconds", "histogram",
              "Receipt of the events behind a diff -> the diff sent to a subscriber", ("transport",),
              LATENCY_BUCKETS),
    MetricDef("classpulse_subscribers", "gauge",
              "Open professor streams and student sockets on this replica", ("transport",)),
    MetricDef("classpulse_stream_messages", "counter",
              "Snapshot and diff messages sent to subscribers", ("transport", "type")),
    MetricDef("classpulse_actor_restarts", "counter",
              "Actors that came back after a crash (Ray restarted them)", ("component",)),
    MetricDef("classpulse_replay_seconds", "histogram",
              "State rebuild of a shard or hub at start or restart (snapshot + log tail)", ("component",),
              REPLAY_BUCKETS),
    MetricDef("classpulse_replayed_events", "counter",
              "Events re-folded from the log while rebuilding shards", ()),
    MetricDef("classpulse_analytics_query_seconds", "histogram",
              "SQL part of the real-time analytics for one course", (), LATENCY_BUCKETS),
    MetricDef("classpulse_analytics_derive_seconds", "histogram",
              "one catch-up of the analytics' derived tables to the committed log", (), LATENCY_BUCKETS),
    MetricDef("classpulse_xapi_statements", "counter",
              "xAPI statements stored, and how many of them were applied as events", ("outcome",)),
]}


@dataclass(frozen=True)
class ObsConfig:
    """What the actors and replicas need to observe (built from Settings; picklable)."""

    enabled: bool = True
    ray_sink: bool = True  # also record with ray.util.metrics (Ray's endpoint)
    window_s: float = 60.0
    history_every_s: float = 10.0
    history_keep_s: float = 900.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    fault_injection: bool = False
    commit_delay_ms: float = 0.0
    log_level: str = "INFO"

    @classmethod
    def from_settings(cls, s: Any) -> ObsConfig:
        return cls(enabled=bool(s.metrics), ray_sink=bool(s.metrics_ray), window_s=s.stats_window_s, history_every_s=s.history_every_s,
                   thresholds=Thresholds(s.degraded_push_p95_s, s.degraded_commit_p99_ms / 1000.0,
                                         s.degraded_hub_lag_s),
                   fault_injection=bool(s.fault_injection), commit_delay_ms=s.fault_commit_delay_ms,
                   log_level=s.log_level)


Key = tuple[str, tuple[tuple[str, str], ...]]


class Recorder:
    """One process's metrics (see the module docstring for the two sinks)."""

    def __init__(self, enabled: bool, component: str, index: int | str = "", ray_sink: bool = True) -> None:
        self.enabled = enabled
        self._ray_sink = ray_sink
        self._base = {"component": component, "index": str(index)}
        self._ray: dict[str, Any] = {}
        self.counters: dict[Key, float] = {}
        self.gauges: dict[Key, float] = {}
        self.histograms: dict[Key, list[float]] = {}  # bucket counts..., +Inf count, sum

    def _sink(self, name: str) -> Any:
        if not self._ray_sink:
            return _NULL
        metric = self._ray.get(name)
        if metric is None:
            metric = self._ray[name] = _ray_metric(DEFS[name])
        return metric

    def inc(self, name: str, n: float = 1, **labels: str) -> None:
        if not self.enabled or not n:
            return
        key = (name, tuple(sorted(labels.items())))
        self.counters[key] = self.counters.get(key, 0.0) + n
        self._sink(name).inc(n, tags=self._base | labels)

    def set(self, name: str, value: float, **labels: str) -> None:
        if not self.enabled:
            return
        key = (name, tuple(sorted(labels.items())))
        self.gauges[key] = value
        self._sink(name).set(value, tags=self._base | labels)

    def observe(self, name: str, value: float, **labels: str) -> None:
        if not self.enabled:
            return
        key = (name, tuple(sorted(labels.items())))
        bounds = DEFS[name].buckets
        h = self.histograms.get(key)
        if h is None:
            h = self.histograms[key] = [0.0] * (len(bounds) + 2)
        h[bisect.bisect_left(bounds, value)] += 1
        h[-1] += value
        self._sink(name).observe(value, tags=self._base | labels)

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the API's /metrics (serve/metrics.py renders it)."""
        return {"labels": dict(self._base), "counters": list(self.counters.items()),
                "gauges": list(self.gauges.items()), "histograms": list(self.histograms.items())}


class _NullSink:
    def inc(self, *_: Any, **__: Any) -> None: ...
    def set(self, *_: Any, **__: Any) -> None: ...
    def observe(self, *_: Any, **__: Any) -> None: ...


_NULL = _NullSink()


def _ray_metric(d: MetricDef) -> Any:
    from ray.util import metrics
    keys = ("component", "index", *d.labels)
    if d.kind == "counter":
        return metrics.Counter(d.name, d.help, tag_keys=keys)
    if d.kind == "gauge":
        return metrics.Gauge(d.name, d.help, tag_keys=keys)
    return metrics.Histogram(d.name, d.help, boundaries=list(d.buckets), tag_keys=keys)


def was_restarted() -> bool:
    """True in an actor that Ray restarted after a crash (counted as a restart)."""
    try:
        import ray
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # noqa: BLE001 -- outside an actor (tests, the driver): not a restart
        return False
