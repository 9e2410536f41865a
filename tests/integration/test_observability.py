"""Metrics move when the thing happens, and the degraded flag follows an injected delay
(actors on a real Ray instance; the HTTP side is in tests/api/test_monitoring.py)."""
from __future__ import annotations

import time

import pytest
import ray

from engine.events import quantize
from tests import classroom

pytestmark = pytest.mark.ray


def fresh(batch):
    """The events as if received now (the edge stamps received_at; hub lag is measured from it)."""
    now = quantize(time.time())
    return [e._replace(received_at=now) for e in batch]


def counter(snapshot: dict, name: str, **labels: str) -> float:
    want = tuple(sorted(labels.items()))
    return sum(v for (n, ls), v in snapshot["counters"] if n == name and (not labels or ls == want))


def histogram_count(snapshot: dict, name: str, **labels: str) -> float:
    want = tuple(sorted(labels.items()))
    return sum(sum(h[:-1]) for (n, ls), h in snapshot["histograms"] if n == name and (not labels or ls == want))


def test_ingest_moves_counters_and_histograms_and_a_killed_shard_counts_a_restart(runtime_factory):
    runtime, _ = runtime_factory(snapshot_interval_s=0.5)
    room = classroom.build(60, tag="m")
    room.enroll(runtime)
    log = runtime.handles.log
    before = ray.get(log.telemetry.remote())
    batches = room.batches(50)
    ray.get(runtime.ingest(batches[0]))
    after = ray.get(log.telemetry.remote())
    assert counter(after, "classpulse_events_ingested", source="api") - \
        counter(before, "classpulse_events_ingested", source="api") == len(batches[0])
    assert histogram_count(after, "classpulse_commit_latency_seconds") > \
        histogram_count(before, "classpulse_commit_latency_seconds")
    assert histogram_count(after, "classpulse_ingest_batch_events") == \
        histogram_count(before, "classpulse_ingest_batch_events") + 1

    with pytest.raises(Exception, match="not on the roster"):  # an unknown student: refused, counted by reason
        bad = batches[1][0]._replace(event_id="m-unknown", student_id="nobody")
        ray.get(runtime.ingest([bad]))
    assert counter(ray.get(log.telemetry.remote()), "classpulse_events_rejected", reason="roster") == 1

    replays = histogram_count(ray.get(log.telemetry.remote()), "classpulse_replay_seconds", component="shard")
    victim = runtime.handles.shard(1)
    ray.kill(victim, no_restart=False)
    for batch in batches[1:]:
        ray.get(runtime.ingest(batch))
    runtime.sync()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        snap = ray.get(log.telemetry.remote())
        if counter(snap, "classpulse_actor_restarts", component="shard") >= 1:
            break
        time.sleep(0.5)
    assert counter(snap, "classpulse_actor_restarts", component="shard") == 1
    assert histogram_count(snap, "classpulse_replay_seconds", component="shard") == replays + 1
    shard = ray.get(victim.telemetry.remote())  # the restarted shard records again
    assert histogram_count(shard, "classpulse_fold_seconds") >= 1
    hub_lag = ray.get(runtime.handles.hub_for(room.course_id).telemetry.remote())["lag"]
    assert hub_lag["count"] >= 1 and hub_lag["p95"] >= 0


def test_degraded_turns_on_under_an_injected_commit_delay_and_off_after(runtime_factory):
    # a 600 ms commit threshold and a 1 s injected delay: clear of scheduling noise on a busy machine
    runtime, _ = runtime_factory(fault_injection=1, stats_window_s=4.0, history_every_s=1.0,
                                 degraded_commit_p99_ms=600)
    room = classroom.build(20, tag="d")
    room.enroll(runtime)
    log = runtime.handles.log
    batches = room.batches(10)
    ray.get(runtime.ingest(fresh(batches[0])))  # the first commit warms DuckDB up; let it leave the window
    time.sleep(4.5)
    ray.get(runtime.ingest(fresh(batches[1])))
    stats = ray.get(log.stats.remote())
    assert stats["degraded"] == {"on": False, "reasons": []}, stats
    assert stats["ingest_rate_per_s"] > 0 and stats["commit_latency_s"]["p99"] is not None

    ray.get(log.set_faults.remote(1000))
    for batch in batches[2:4]:
        ray.get(runtime.ingest(fresh(batch)))
    stats = ray.get(log.stats.remote())
    assert stats["degraded"]["on"], stats
    assert any("commit p99" in r for r in stats["degraded"]["reasons"])
    assert stats["commit_latency_s"]["p99"] >= 1.0

    ray.get(log.set_faults.remote(0))
    time.sleep(4.5)  # the slow commits leave the 4 s window
    for batch in batches[4:6]:
        ray.get(runtime.ingest(fresh(batch)))
    stats = ray.get(log.stats.remote())
    assert stats["degraded"] == {"on": False, "reasons": []}, stats
    history = ray.get(log.stats_history.remote())  # sampled every second: the episode is in it
    assert any(row["degraded"] for row in history) and not history[-1]["degraded"]


def test_fault_injection_is_refused_unless_enabled(runtime_factory):
    runtime, _ = runtime_factory()
    with pytest.raises(Exception, match="fault injection is disabled"):
        ray.get(runtime.handles.log.set_faults.remote(100))


def test_the_request_id_reaches_the_eventlog_and_the_shards_log_lines(runtime_factory, stack):
    import json
    import uuid
    from pathlib import Path
    runtime, _ = runtime_factory(log_level="DEBUG")
    room = classroom.build(10, tag="q")
    room.enroll(runtime)
    rid = f"trace-{uuid.uuid4().hex[:8]}"
    ray.get(runtime.ingest(fresh(room.batches(500)[0]), rid))
    runtime.sync()
    logs_dir = Path(stack.info["run_dir"]) / "ray" / "session_latest" / "logs"
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(line) for p in logs_dir.glob("worker-*.err")
                 for line in p.read_text(errors="replace").splitlines() if rid in line and line.startswith("{")]
        loggers = {line["logger"] for line in lines}
        if {"actors.eventlog", "actors.shard"} <= loggers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"actors.eventlog", "actors.shard"} <= loggers, lines
    assert all(rid in line["request_id"] for line in lines)


def test_with_metrics_off_nothing_is_recorded_but_views_still_say_how_fresh_they_are(runtime_factory):
    runtime, _ = runtime_factory(metrics=0)
    room = classroom.build(10, tag="o")
    room.enroll(runtime)
    ray.get(runtime.ingest(fresh(room.batches(500)[0])))
    runtime.sync()
    snap = ray.get(runtime.handles.log.telemetry.remote())
    assert snap["counters"] == [] and snap["histograms"] == []
    stats = ray.get(runtime.handles.log.stats.remote())
    assert stats["metrics_enabled"] is False and stats["commit_latency_s"]["count"] == 0
    assert stats["events_acknowledged_since_start"] == len(room.batches(500)[0])  # the old figures stay
    progress = ray.get(runtime.live_progress(room.course_id))
    assert 0 < progress["lag_s"] < 30
