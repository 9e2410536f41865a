"""Rolling windows, percentiles and the degraded verdict (engine/telemetry.py)."""
from __future__ import annotations

import pytest

from engine.telemetry import (
    History,
    LatencyWindow,
    RateWindow,
    Thresholds,
    degraded,
    merge_summaries,
    percentile,
)


def test_percentile_interpolates_like_numpy():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0


def test_latency_window_forgets_what_is_older_than_the_window():
    w = LatencyWindow(window_s=10)
    for i in range(100):
        w.observe(1.0, now=1000.0 + i * 0.05)  # 1000.0 .. 1004.95
    assert w.summary(1009.0)["count"] == 100
    assert w.summary(1012.0)["count"] == 100 - 60  # the buckets of 1000 .. 1002 left the window
    w.observe(0.001, now=1015.5)
    s = w.summary(1015.6)
    assert s["count"] == 1 and s["p99"] == pytest.approx(0.001) and s["max"] == pytest.approx(0.001)
    assert w.summary(1100.0) == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}


def test_latency_window_keeps_a_bounded_sample_per_second_but_counts_everything():
    w = LatencyWindow(window_s=60, per_bucket=50)
    for i in range(10_000):
        w.observe(i / 10_000, now=500.2)
    assert len(w.values(500.5)) == 50
    s = w.summary(500.5)
    assert s["count"] == 10_000
    assert 0.3 < s["p50"] < 0.7  # a uniform sample of a uniform stream stays near the middle


def test_rate_window_is_per_second_over_the_window_or_since_the_first_sample():
    r = RateWindow(window_s=60)
    assert r.rate(0.0) == 0.0
    r.add(100, now=10.0)
    r.add(100, now=14.5)
    assert r.rate(15.0) == pytest.approx(200 / 5.0)  # only 5 s of history yet
    assert r.rate(69.0) == pytest.approx(200 / 59)
    r.add(60, now=120.0)
    assert r.rate(125.0) == pytest.approx(60 / 60)  # a full window of history now
    assert r.rate(200.0) == 0.0


def test_degraded_names_every_threshold_crossed_and_clears_when_figures_recover():
    limits = Thresholds(push_p95_s=1.0, commit_p99_s=0.1, hub_lag_s=2.0)
    bad = {"event_to_push_s": {"p95": 1.5}, "commit_latency_s": {"p99": 0.25},
           "hub_lag_s": {"p95": 0.1, "backlog_s": 3.0}}
    verdict = degraded(bad, limits)
    assert verdict["on"] and len(verdict["reasons"]) == 3
    assert "event-to-push" in verdict["reasons"][0] and "commit p99 250ms" in verdict["reasons"][1]
    assert "3.0s behind" in verdict["reasons"][2]
    good = {"event_to_push_s": {"p95": 0.2}, "commit_latency_s": {"p99": 0.01},
            "hub_lag_s": {"p95": 0.3, "backlog_s": 0.0}}
    assert degraded(good, limits) == {"on": False, "reasons": []}
    assert degraded({"commit_latency_s": {"p99": None}}, limits) == {"on": False, "reasons": []}
    assert degraded({"commit_latency_s": {"p99": 0.05}}, Thresholds(commit_p99_s=0.01))["on"]


def test_history_keeps_fifteen_minutes_sampled_every_interval():
    h = History(every_s=10, keep_s=900)
    t = 0.0
    while t < 2000:
        if h.due(t):
            h.add(t, {"x": t})
        t += 1
    rows = h.since(t)
    assert len(rows) == 90 and rows[0]["t"] >= t - 900 and rows[-1]["x"] == 1990


def test_merge_summaries_takes_the_worst_of_each_figure():
    merged = merge_summaries([{"count": 3, "p50": 0.1, "p95": 0.5, "p99": 0.6, "max": 0.7},
                              {"count": 0, "p50": None, "p95": None, "p99": None, "max": None},
                              {"count": 2, "p50": 0.2, "p95": 0.3, "p99": 0.9, "max": 1.0}])
    assert merged == {"count": 5, "p50": 0.2, "p95": 0.5, "p99": 0.9, "max": 1.0}
