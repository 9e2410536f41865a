"""The EventLog's view of how responsive the stack is: rolling windows, history, degraded.

The EventLog sees every ingest and commit; API replicas report what they
pushed to subscribers (``report_push``), hubs report their lag when asked
(``CourseHub.telemetry``). ``figures`` combines them into what
``GET /api/admin/stats`` shows; ``History`` keeps a sample every
``history_every_s`` for the ops page's 15-minute charts.
"""
from __future__ import annotations

from typing import Any

from actors.metrics import ObsConfig
from engine.telemetry import History, LatencyWindow, RateWindow, degraded, merge_summaries


class Health:
    def __init__(self, obs: ObsConfig) -> None:
        self.obs = obs
        self.commit = LatencyWindow(obs.window_s)
        self.push = LatencyWindow(obs.window_s)
        self.ingested = RateWindow(obs.window_s)
        self.rejected = RateWindow(obs.window_s)
        self.history = History(obs.history_every_s, obs.history_keep_s)
        self.subscribers: dict[str, tuple[float, int]] = {}  # replica -> (reported at, open streams)

    def on_commit(self, events: int, seconds: float, now: float) -> None:
        if self.obs.enabled:
            self.commit.observe(seconds, now, events)

    def on_ingest(self, accepted: int, now: float) -> None:
        if self.obs.enabled:
            self.ingested.add(accepted, now)

    def on_reject(self, events: int, now: float) -> None:
        if self.obs.enabled:
            self.rejected.add(events, now)

    def on_push(self, replica: str, samples: list[float], subscribers: int, now: float) -> None:
        self.subscribers[replica] = (now, subscribers)
        if self.obs.enabled:
            for s in samples:
                self.push.observe(s, now)

    def figures(self, now: float, hub_lags: list[dict[str, Any]], backlog_s: float) -> dict[str, Any]:
        """Rates and latency summaries over the window, and the degraded verdict."""
        lag = merge_summaries(hub_lags) | {"backlog_s": round(backlog_s, 3)}
        live = {r: n for r, (at, n) in self.subscribers.items() if now - at < 3 * max(self.obs.window_s, 10)}
        out = {"window_s": self.obs.window_s, "metrics_enabled": self.obs.enabled,
               "ingest_rate_per_s": round(self.ingested.rate(now), 2),
               "rejected_rate_per_s": round(self.rejected.rate(now), 2),
               "commit_latency_s": _rounded(self.commit.summary(now)),
               "event_to_push_s": _rounded(self.push.summary(now)),
               "hub_lag_s": _rounded(lag), "subscribers": sum(live.values())}
        out["degraded"] = degraded(out, self.obs.thresholds)
        return out

    def sample(self, now: float, figures: dict[str, Any]) -> None:
        """Keep the figures the ops charts draw."""
        self.history.add(now, {
            "ingest_rate_per_s": figures["ingest_rate_per_s"],
            "commit_p99_s": figures["commit_latency_s"]["p99"],
            "event_to_push_p95_s": figures["event_to_push_s"]["p95"],
            "hub_lag_p95_s": figures["hub_lag_s"]["p95"],
            "backlog_s": figures["hub_lag_s"]["backlog_s"],
            "subscribers": figures["subscribers"],
            "degraded": figures["degraded"]["on"]})


def _rounded(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}
