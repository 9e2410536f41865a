"""The figures and gates of the load tests (no Locust or Ray here)."""
from __future__ import annotations

import argparse
from pathlib import Path

from classpulse import loadtest_cmd
from loadtests import multinode


def test_percentiles_are_nearest_rank():
    assert loadtest_cmd._pct(list(range(1, 21)), 0.95) == 19  # not the maximum
    assert loadtest_cmd._pct(list(range(1, 101)), 0.95) == 95
    assert loadtest_cmd._pct([7.0], 0.99) == 7.0


def test_events_refused_during_the_ramp_fail_the_run(monkeypatch, tmp_path: Path):
    """Locust resets its failure counts once every user runs (--reset-stats): refusals during the
    ramp reached no gate."""
    figures = {"students": 10, "acknowledged": 97, "rejected": 3, "stored": 97, "lost": 0, "steady_samples": 50,
               "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0, "run_p50_ms": 20.0, "run_p95_ms": 40.0,
               "run_p99_ms": 60.0, "requests_per_s": 5.0, "events_per_s": 5.0, "failures": 0, "course_id": "c"}
    monkeypatch.setattr(loadtest_cmd, "run_locust", lambda *_a, **_k: dict(figures))
    args = argparse.Namespace(students=10, duration="10s", event_every=1.0, out=tmp_path, processes=0, p95_ms=1000.0)
    assert loadtest_cmd._run(args, "http://x", "admin") == 1
    monkeypatch.setattr(loadtest_cmd, "run_locust", lambda *_a, **_k: figures | {"rejected": 0})
    assert loadtest_cmd._run(args, "http://x", "admin") == 0


def test_the_multinode_drill_fails_when_an_event_is_lost_or_a_state_differs():
    ok = {"acknowledged": 10, "logged": 10, "mismatched": []}
    assert multinode.passed(ok)
    assert not multinode.passed(ok | {"logged": 9})
    assert not multinode.passed(ok | {"mismatched": ["s1"]})


def test_the_capacity_samples_never_count_an_exited_locust_as_cpu(monkeypatch):
    """Locust's processes leave the sum when they exit: their CPU seconds fall to 0, and the
    negative difference was added to the machine's (one sample of 61 cores on 2)."""
    import psutil

    from loadtests import bench_capacity
    locust = iter([1.0, 1.7, 2.4, 3.1, 0.0, 0.0])
    ticks = iter([False] * 5 + [True])
    sampler = bench_capacity.Sampler(psutil.Process())
    monkeypatch.setattr(sampler._stop, "wait", lambda _s: next(ticks))
    monkeypatch.setattr(sampler, "_locust_seconds", lambda: next(locust))
    monkeypatch.setattr(sampler, "_stack_rss", lambda: 0)
    monkeypatch.setattr(psutil, "cpu_percent", lambda _i=None: 90.0)
    sampler._loop()
    assert len(sampler.cpu) == 5 and all(0 <= c <= psutil.cpu_count() for c in sampler.cpu)
