"""Abuse over real connections: a WebSocket flood, a professor socket that never reads."""
from __future__ import annotations

import json
import time

import httpx
import psutil
import pytest
import websocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api_client import create_class, event

pytestmark = pytest.mark.ray


def ws_url(stack, path):
    return stack.api_url.replace("http://", "ws://") + path


def replica_rss(stack) -> int:
    """RSS of the stack's Serve replica process(es) (descendants of the `classpulse serve` process)."""
    root = psutil.Process(stack.info["pid"])
    total = 0
    for p in root.children(recursive=True):
        try:
            if "ServeReplica" in p.name() + " ".join(p.cmdline()):
                total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    assert total > 0, "no Serve replica found under the stack"
    return total


def test_a_flooding_socket_is_rate_limited_then_closed_and_others_keep_their_latency(stack):
    room = create_class(stack, students=2)
    flooder, other = list(room.student_tokens)
    frames = 1500  # cheap frames arrive far faster than the per-token budget (burst 200, then 50/s)
    with connect(ws_url(stack, f"/ws/student/{flooder}"),
                 additional_headers={"Authorization": f"Bearer {room.student_tokens[flooder]}"}) as ws:
        for i in range(frames):
            ws.send(json.dumps({"type": "no-such-frame", "request_id": str(i)}))
        t0 = time.monotonic()  # meanwhile, another student is served promptly
        with stack.client(room.student_tokens[other]) as c:
            r = c.post("/api/events", json={"events": [event(room, other, "activity_started")]})
        other_took = time.monotonic() - t0
        answers = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                answers.append(json.loads(ws.recv(timeout=60)))
    assert r.status_code == 202 and other_took < 5.0
    assert closed.value.rcvd.code == 1008 and "slow down" in closed.value.rcvd.reason
    answered = [a for a in answers if a.get("status") != 429]
    limited = [a for a in answers if a.get("status") == 429]
    assert 150 <= len(answered) <= 260  # the burst (plus what refilled meanwhile), each answered properly
    assert all("unknown frame type" in a["errors"][0]["error"] for a in answered)
    assert len(limited) == 1000 and limited[0]["errors"][0]["retry_after_s"] >= 1
    assert httpx.get(stack.api_url + "/api/health", timeout=10).status_code == 200


def test_a_professor_socket_that_never_reads_does_not_grow_server_memory(stack):
    room = create_class(stack, students=200, activities=4)
    students = list(room.student_tokens)
    url = ws_url(stack, f"/ws/professor/{room.professor_id}/progress-updates")
    slow = websocket.create_connection(url, header=[f"Authorization: Bearer {room.professor_token}"],
                                       timeout=30)
    base = replica_rss(stack)
    with stack.client() as admin:  # many diffs: every batch changes every student
        for round_ in range(40):
            batch = [event(room, s, "attempt", activity=room.activities[round_ % 4], correct=round_ % 3 != 0)
                     for s in students]
            for i in range(0, len(batch), 1000):
                assert admin.post("/api/events", json={"events": batch[i:i + 1000]}).status_code == 202
            time.sleep(0.3)
    grown = replica_rss(stack) - base
    assert grown < 60 * 2**20, f"replica RSS grew {grown / 2**20:.0f} MiB for one slow consumer"
    # when it finally reads, it catches up to the latest state: what waited was in the kernel's socket
    # buffers (bounded by them), never in a queue inside the server
    latest = {e["student_id"]: e["event_id"] for e in batch}  # the last round's events
    seen: dict[str, str] = {}
    received = 0
    deadline = time.monotonic() + 120
    while seen != latest and time.monotonic() < deadline:
        message = json.loads(slow.recv())
        received += 1
        seen.update({s["student_id"]: s["last_event_id"] for s in message["students"]})
    slow.close()
    assert seen == latest, f"not caught up after {received} messages"
