"""Rolling windows, percentiles and the degraded verdict behind ``GET /api/admin/stats``.

Pure logic (no Ray, no clock of its own: every call takes ``now``), so the
numbers ops and the dashboard see are unit-tested. Observations arrive per
batch, not per event, so a window holds a few thousand samples at most; each
one-second bucket keeps a bounded sample (reservoir) to stay cheap whatever
the load.
"""
from __future__ import annotations

import collections
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

BUCKET_S = 1.0
PER_BUCKET = 256  # samples kept per one-second bucket (reservoir beyond that)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    if lo == hi:
        return float(sorted_values[lo])
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo))


class LatencyWindow:
    """Latency samples of the last ``window_s`` seconds, in one-second buckets."""

    def __init__(self, window_s: float = 60.0, per_bucket: int = PER_BUCKET, seed: int = 0) -> None:
        self.window_s = window_s
        self._per_bucket = per_bucket
        self._buckets: collections.deque[tuple[int, list[float], list[int]]] = collections.deque()
        self._rng = random.Random(seed)

    def observe(self, value: float, now: float, weight: int = 1) -> None:
        """Record one sample (``weight``: how many events it stands for, kept for the count)."""
        key = int(now // BUCKET_S)
        if not self._buckets or self._buckets[-1][0] != key:
            self._buckets.append((key, [], [0]))
            self._trim(now)
        _, values, seen = self._buckets[-1]
        seen[0] += 1
        if len(values) < self._per_bucket:
            values.append(value)
        else:  # reservoir: every sample of the bucket has the same chance to be kept
            j = self._rng.randrange(seen[0])
            if j < self._per_bucket:
                values[j] = value

    def _trim(self, now: float) -> None:
        oldest = int((now - self.window_s) // BUCKET_S)
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()

    def values(self, now: float) -> list[float]:
        self._trim(now)
        return sorted(v for _, values, _ in self._buckets for v in values)

    def count(self, now: float) -> int:
        self._trim(now)
        return sum(seen[0] for _, _, seen in self._buckets)

    def summary(self, now: float) -> dict[str, Any]:
        """{"count", "p50", "p95", "p99", "max"} over the window (None values when empty)."""
        values = self.values(now)
        return {"count": self.count(now), "p50": percentile(values, 50), "p95": percentile(values, 95),
                "p99": percentile(values, 99), "max": values[-1] if values else None}


class RateWindow:
    """A count per second over the last ``window_s`` seconds (events ingested, rejected...)."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._buckets: collections.deque[list[float]] = collections.deque()  # [second, count]
        self._first: float | None = None

    def add(self, n: float, now: float) -> None:
        if self._first is None:
            self._first = now
        key = int(now // BUCKET_S)
        if not self._buckets or self._buckets[-1][0] != key:
            self._buckets.append([key, 0.0])
            self._trim(now)
        self._buckets[-1][1] += n

    def _trim(self, now: float) -> None:
        oldest = int((now - self.window_s) // BUCKET_S)
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()

    def total(self, now: float) -> float:
        self._trim(now)
        return sum(c for _, c in self._buckets)

    def rate(self, now: float) -> float:
        """Per second, over the window (or over the time since the first sample, if shorter)."""
        total = self.total(now)
        if self._first is None:
            return 0.0
        span = min(self.window_s, max(now - self._first, BUCKET_S))
        return total / span


@dataclass(frozen=True)
class Thresholds:
    """When the system calls itself degraded (defaults from the SLOs)."""

    push_p95_s: float = 1.0
    commit_p99_s: float = 0.1
    hub_lag_s: float = 2.0


def degraded(figures: dict[str, Any], limits: Thresholds) -> dict[str, Any]:
    """{"on", "reasons"} for the stats figures (``commit_latency_s``, ``event_to_push_s``,
    ``hub_lag_s`` summaries, the last with ``backlog_s``: the age of the oldest committed event
    no shard has folded yet): on when any crosses its threshold."""
    reasons = []
    push = (figures.get("event_to_push_s") or {}).get("p95")
    if push is not None and push > limits.push_p95_s:
        reasons.append(f"event-to-push p95 {push:.2f}s > {limits.push_p95_s:g}s")
    commit = (figures.get("commit_latency_s") or {}).get("p99")
    if commit is not None and commit > limits.commit_p99_s:
        reasons.append(f"commit p99 {commit * 1000:.0f}ms > {limits.commit_p99_s * 1000:g}ms")
    lag = figures.get("hub_lag_s") or {}
    worst = max([v for v in (lag.get("p95"), lag.get("backlog_s")) if v is not None], default=None)
    if worst is not None and worst > limits.hub_lag_s:
        reasons.append(f"a hub is {worst:.1f}s behind (> {limits.hub_lag_s:g}s)")
    return {"on": bool(reasons), "reasons": reasons}


@dataclass
class History:
    """Samples of a few figures every ``every_s`` seconds, the last ``keep_s`` of them (ops charts)."""

    every_s: float = 10.0
    keep_s: float = 900.0
    rows: collections.deque = field(default_factory=collections.deque)
    _last: float | None = None

    def due(self, now: float) -> bool:
        return self._last is None or now - self._last >= self.every_s

    def add(self, now: float, row: dict[str, Any]) -> None:
        self._last = now
        self.rows.append({"t": now, **row})
        while self.rows and self.rows[0]["t"] < now - self.keep_s:
            self.rows.popleft()

    def since(self, now: float) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["t"] >= now - self.keep_s]


def merge_summaries(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The worst of several windows' summaries (one per hub or replica): max of each figure."""
    out: dict[str, Any] = {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    for part in parts:
        out["count"] += part.get("count") or 0
        for key in ("p50", "p95", "p99", "max"):
            v = part.get(key)
            if v is not None and (out[key] is None or v > out[key]):
                out[key] = v
    return out
