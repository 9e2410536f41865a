"""Per-token and per-client rate limits (token buckets, per Serve replica).

Valid tokens get ``rate`` requests/s with bursts of ``burst`` (the admin token is
exempt: the simulator and load tests use it). Failed authentications are
limited per client address, so guessing tokens hits 429 quickly.
"""
from __future__ import annotations

import time


class TokenBuckets:
    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self._max = rate, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        if len(self._buckets) >= self._max and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens, now)
        return allowed

    def rate_limited(self, key: str) -> bool:
        """True when ``key`` has no whole token left (without spending one)."""
        tokens, last = self._buckets.get(key, (self.burst, time.monotonic()))
        return min(self.burst, tokens + (time.monotonic() - last) * self.rate) < 1.0

    def retry_after(self, key: str) -> int:
        tokens, _ = self._buckets.get(key, (0.0, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))
