"""The ingest benchmark runs end to end on its own small Ray instance and reports what it measured."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ray


def test_ingest_bench_prints_and_records_its_figures(tmp_path):
    out = tmp_path / "ingest.json"
    proc = subprocess.run([sys.executable, "-m", "loadtests.bench_ingest", "--events", "20000", "--students", "100",
                           "--shards", "1", "--rounds", "2", "--cpu", "--latency-samples", "60", "--out", str(out)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["pure_fold_events_per_s"] > result["actor_events_per_s"] > 1000
    assert 0 < result["ratio"] < 1
    rounds = result["rounds"]  # two rounds, each rate paired with the fold measured around it
    assert len(rounds["pure_fold"]) == len(rounds["by_shards"]["1"]) == 2
    assert rounds["ratios"]["1"] == [r / f for r, f in zip(rounds["by_shards"]["1"], rounds["pure_fold"])]
    assert min(rounds["ratios"]["1"]) <= result["ratio"] <= max(rounds["ratios"]["1"])
    commits = result["commits"]["1"]  # the log's own figures for each round's commits
    assert len(commits) == 2 and all(c["events_per_commit"] >= 1 and c["mean_commit_ms"] > 0 for c in commits)
    assert "the log's commits" in proc.stdout
    left = result["deferred_s"]["1"]
    assert left["burst_s"] > 0 and left["derive_s"] > 0  # the analytics rounds the burst left were run and timed
    latency = result["commit_latency_ms"]
    assert set(latency) == {"1", "10", "100", "1000"}
    assert [latency[k]["commits"] for k in ("1", "10", "100", "1000")] == [60, 60, 60, 10]
    assert all(0 < v["p50"] <= v["p99"] for v in latency.values())
    assert "CPU per process: EventLog + 1 shards" in proc.stdout and "ray::EventLog" in proc.stdout
