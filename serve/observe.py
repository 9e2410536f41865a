"""What an API replica observes: request ids and access lines at the edge, streams and their
event-to-push latency, and the Prometheus text of ``GET /metrics``.

- ``RequestIds`` (ASGI middleware): takes ``X-Request-ID`` when it is a sane id or makes one,
  sets it for the request's log lines and actor calls, echoes it in the response header (and
  the WebSocket accept; under Ray Serve, Serve already does both with the same id, so it is
  not added twice), and logs one JSON access line (path without the query string, so
  ``?token=`` never reaches a log; INFO for errors and slow requests, DEBUG otherwise).
- ``Streams``: open subscribers and event-to-push latency on this replica; the samples go to
  the EventLog every ``REPORT_S`` (one call, not one per message) for the stats window.
- ``render``: every actor's and this replica's metrics, rendered by prometheus_client.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from ray.exceptions import RayError

from actors import logs
from actors.metrics import DEFS, Recorder

log = logging.getLogger("serve.access")
REPORT_S = 2.0
SLOW_S = 1.0


class RequestIds:
    def __init__(self, app: Any, echo: bool = True) -> None:
        self.app = app
        self.echo = echo

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        rid = logs.new_request_id(given)
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = [0]

        async def send_with_id(message: dict) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                status[0] = message.get("status", 101)
                if self.echo:
                    message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            elif message["type"] == "websocket.close" and not status[0]:
                status[0] = 403
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = time.perf_counter() - started
            level = logging.INFO if status[0] >= 400 or (scope["type"] == "http" and took > SLOW_S) \
                else logging.DEBUG
            if log.isEnabledFor(level):
                log.log(level, "%s %s %s %.1fms", scope.get("method", "WS"), scope.get("path", ""),
                        status[0], took * 1000)
            logs.request_id.reset(token)


class Streams:
    """Subscribers and event-to-push latency of this replica's professor streams."""

    def __init__(self, metrics: Recorder, report) -> None:
        self.metrics = metrics
        self._report = report  # (replica, samples, subscribers) -> ObjectRef (EventLog.report_push)
        self.replica = f"{os.uname().nodename}:{os.getpid()}"
        self.open: dict[str, int] = {}
        self._samples: list[float] = []
        self._task: asyncio.Task | None = None

    def opened(self, transport: str) -> None:
        self.open[transport] = self.open.get(transport, 0) + 1
        self.metrics.set("classpulse_subscribers", self.open[transport], transport=transport)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._report_forever())

    def closed(self, transport: str) -> None:
        self.open[transport] = max(0, self.open.get(transport, 0) - 1)
        self.metrics.set("classpulse_subscribers", self.open[transport], transport=transport)

    def sent(self, transport: str, message: dict[str, Any]) -> dict[str, Any]:
        """Call just before sending: record, and drop the private ``_received_at``."""
        received_at = message.pop("_received_at", None)
        if self.metrics.enabled:
            self.metrics.inc("classpulse_stream_messages", transport=transport, type=str(message.get("type")))
            if received_at is not None:
                took = max(0.0, time.time() - received_at)
                self.metrics.observe("classpulse_event_to_push_seconds", took, transport=transport)
                if len(self._samples) < 10_000:
                    self._samples.append(took)
        return message

    async def _report_forever(self) -> None:
        while True:
            await asyncio.sleep(REPORT_S)
            samples, self._samples = self._samples, []
            try:
                await self._report(self.replica, samples, sum(self.open.values()))
            except (RayError, TimeoutError):  # the EventLog restarting: these samples are lost
                log.debug("push report failed", exc_info=True)


def in_serve_replica() -> bool:
    """True inside a Ray Serve replica (whose own middleware echoes X-Request-ID)."""
    from ray import serve
    from ray.serve.exceptions import RayServeException
    try:
        serve.get_replica_context()
        return True
    except RayServeException:
        return False


def render(snapshots: list[dict[str, Any]]) -> bytes:
    """Prometheus text for recorder snapshots (one per process), on a private registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snapshots))
    return generate_latest(registry)


class _Collector:
    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self._snapshots = snapshots

    def collect(self):
        families: dict[str, Any] = {}

        def family(name: str):
            if name not in families:
                d = DEFS[name]
                kind = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
                        "histogram": HistogramMetricFamily}[d.kind]
                families[name] = kind(d.name, d.help, labels=["component", "index", *d.labels])
            return families[name]

        for snap in self._snapshots:
            base = [snap["labels"]["component"], snap["labels"]["index"]]
            for (name, labels), value in snap["counters"]:
                family(name).add_metric(base + _values(name, labels), value)
            for (name, labels), value in snap["gauges"]:
                family(name).add_metric(base + _values(name, labels), value)
            for (name, labels), h in snap["histograms"]:
                buckets, total = [], 0.0
                for bound, n in zip([*map(str, DEFS[name].buckets), "+Inf"], h[:-1]):
                    total += n
                    buckets.append((bound, total))
                family(name).add_metric(base + _values(name, labels), buckets, h[-1])
        yield from families.values()


def _values(name: str, labels: tuple[tuple[str, str], ...]) -> list[str]:
    given = dict(labels)
    return [given.get(k, "") for k in DEFS[name].labels]
