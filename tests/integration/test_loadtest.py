"""A short real Locust run (100 students on their sockets + a professor stream) with the SLO gates."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tests.api_client import get

pytestmark = pytest.mark.ray


def test_100_student_loadtest_meets_the_gates(stack, tmp_path):
    token = tmp_path / "admin.token"
    token.write_text(stack.admin_token)
    out = tmp_path / "lt"
    # two Locust processes: the roster claimed across processes, their results added up
    proc = subprocess.run([sys.executable, "-m", "classpulse", "loadtest", "--students", "100", "--duration", "25s",
                           "--event-every", "3", "--processes", "2",
                           "--host", stack.api_url, "--token-file", str(token), "--out", str(out)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["acknowledged"] > 500 and result["rejected"] == 0
    # the stamps the steady window and events/s are taken from: each ack, each student's first send
    assert len(result["acked_at"]) == result["acknowledged"] and len(result["first_sent"]) == 100
    assert max(result["first_sent"].values()) < result["stopping_at"] < max(result["acked_at"]) + 3
    latencies = [ms for _, ms in result["samples"]]
    assert len(latencies) > 300  # the professor saw most events arrive
    assert len({round(ms) for ms in latencies}) > 50  # measured, not one repeated value
    assert len(list((out / "parts").glob("result-*.json"))) == 3  # the master and two workers
    assert int((out / "parts" / "claimed").read_text()) == 100  # each student claimed once
    assert (out / "report.html").exists() and (out / "locust_stats.csv").exists()
    # a class is not on one beat: sends spread over the 3 s period (Locust's constant_pacing had
    # every student posting within the same ~0.3 s)
    beat = Counter(int((t % 3.0) / 0.3) for t in result["sent"])
    assert len(result["sent"]) >= result["acknowledged"] and max(beat.values()) < 0.3 * len(result["sent"]), beat
    # the live stack keeps no load student, and no file keeps their tokens
    assert not (out / "class.json").exists(), proc.stdout[-3000:]
    assert get(stack, f"/api/admin/students/{result['course_id']}-s0", stack.admin_token).status_code == 404
