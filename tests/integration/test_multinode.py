"""Several Ray nodes on this machine; a worker node removed under load loses nothing."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ray


def test_removing_a_worker_node_under_load_loses_nothing(tmp_path):
    out = tmp_path / "multinode.json"
    proc = subprocess.run([sys.executable, "-m", "loadtests.multinode", "--workers", "2", "--students", "200",
                           "--batches", "40", "--json", str(out)],
                          capture_output=True, text=True, check=False, timeout=600, start_new_session=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    spread = r["placement_before"]
    assert len(spread) == 3, spread  # shards and hubs spread over all three nodes
    assert r["removed_node_actors"] and "event-log" not in r["removed_node_actors"]
    assert "removed worker" not in r["placement_after"]  # they restarted on the surviving nodes
    assert r["acknowledged"] == r["logged"] == 40 * 200 and r["mismatched"] == []
    assert r["event_log_on_head"]
    assert r["live_students"] == 200 and r["live_started"] == r["replayed_students"]
