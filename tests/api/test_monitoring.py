"""Monitoring over real HTTP: /metrics, freshness on live views, stats, request ids, clean logs."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


def scrape(stack) -> dict[str, list]:
    r = get(stack, "/metrics", stack.admin_token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def total(metrics: dict, family: str, suffix: str, **labels: str) -> float:
    return sum(s.value for s in metrics.get(family, []) if s.name == family + suffix
               and all(s.labels.get(k) == v for k, v in labels.items()))


def post(stack, token, events, **headers):
    with stack.client(token) as c:
        return c.post("/api/events", json={"events": events}, headers=headers)


def test_metrics_is_admin_only_and_moves_when_a_batch_is_ingested(stack):
    room = create_class(stack, students=3)
    assert get(stack, "/metrics", None).status_code == 401
    assert get(stack, "/metrics", room.professor_token).status_code == 403
    before = scrape(stack)
    s0 = next(iter(room.student_tokens))
    batch = [event(room, s0, "attempt", correct=i % 2 == 0) for i in range(7)]
    assert post(stack, room.student_tokens[s0], batch).status_code == 202
    after = scrape(stack)
    ingested = "classpulse_events_ingested"
    assert total(after, ingested, "_total", source="api") - total(before, ingested, "_total", source="api") == 7
    commits = "classpulse_commit_latency_seconds"
    assert total(after, commits, "_count") > total(before, commits, "_count")
    assert total(after, commits, "_bucket", le="+Inf") == total(after, commits, "_count")
    components = {s.labels["component"] for samples in after.values() for s in samples}
    assert {"event_log", "shard", "hub"} <= components
    assert total(after, "classpulse_fold_seconds", "_count", component="shard") > 0


def test_rejected_events_are_counted_by_reason(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    before = scrape(stack)
    bad = [event(room, s0, "attempt") | {"progress": 7}]  # invalid at the edge
    assert post(stack, stack.admin_token, [*bad, event(room, s0)]).status_code == 422
    unknown = [event(room, s0) | {"student_id": "nobody-here"}]  # valid shape, not on the roster
    assert post(stack, stack.admin_token, unknown).status_code == 422
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the edge counts its rejections with a fire-and-forget call
        after = scrape(stack)
        rejected = "classpulse_events_rejected"
        if total(after, rejected, "_total", reason="validation") - total(before, rejected, "_total",
                                                                          reason="validation") == 2:
            break
        time.sleep(0.3)
    assert total(after, rejected, "_total", reason="validation") - \
        total(before, rejected, "_total", reason="validation") == 2
    assert total(after, rejected, "_total", reason="roster") - total(before, rejected, "_total", reason="roster") == 1


def test_request_id_is_echoed_or_made_up(stack):
    first, second = get(stack, "/api/health", None), get(stack, "/api/health", None)
    assert first.headers["x-request-id"] and "," not in first.headers["x-request-id"]  # one id, once
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    r = httpx.get(stack.api_url + "/api/admin/stats", timeout=30,
                  headers={"Authorization": f"Bearer {stack.admin_token}", "X-Request-ID": "ops-check-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "ops-check-1"


def test_live_views_carry_their_lag_and_event_to_push_is_measured(stack):
    room = create_class(stack, students=3)
    s0 = next(iter(room.student_tokens))
    before = scrape(stack)
    url = stack.api_url.replace("http://", "ws://") + f"/ws/professor/{room.professor_id}/progress-updates"
    with connect(url, additional_headers={"Authorization": f"Bearer {room.professor_token}"},
                 open_timeout=10) as ws:
        snap = json.loads(ws.recv(timeout=10))
        assert snap["type"] == "snapshot" and isinstance(snap["lag_s"], float)
        e = event(room, s0, "attempt", correct=False)
        assert post(stack, room.student_tokens[s0], [e]).status_code == 202
        while True:
            diff = json.loads(ws.recv(timeout=10))
            if any(s["last_event_id"] == e["event_id"] for s in diff["students"]):
                break
        assert diff["type"] == "diff" and 0 <= diff["lag_s"] < 5
        assert "_received_at" not in diff
        assert total(scrape(stack), "classpulse_subscribers", "", transport="ws") >= 1  # one replica
    progress = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token).json()
    assert isinstance(progress["lag_s"], float) and progress["as_of"]
    after = scrape(stack)
    push = "classpulse_event_to_push_seconds"
    assert total(after, push, "_count", transport="ws") > total(before, push, "_count", transport="ws")
    assert total(after, "classpulse_hub_lag_seconds", "_count") > 0
    deadline = time.monotonic() + 15  # replicas report push latencies to the EventLog every 2 s
    while time.monotonic() < deadline:
        stats = get(stack, "/api/admin/stats", stack.admin_token).json()
        if stats["event_to_push_s"]["count"]:
            break
        time.sleep(0.5)
    assert stats["event_to_push_s"]["count"] >= 1 and stats["event_to_push_s"]["p95"] < 5


def test_stats_add_rates_percentiles_and_the_degraded_flag(stack):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    assert post(stack, room.student_tokens[s0], [event(room, s0)]).status_code == 202
    assert get(stack, "/api/admin/stats", room.professor_token).status_code == 403
    stats = get(stack, "/api/admin/stats", stack.admin_token).json()
    assert stats["tables"]["student_activity_log"] >= 1  # what was there stays
    assert stats["db_threads"] == 1  # the log's DuckDB (CLASSPULSE_LOG_DB_THREADS): commits on one thread
    assert stats["ingest_rate_per_s"] > 0 and stats["window_s"] == 60
    for key in ("commit_latency_s", "event_to_push_s", "hub_lag_s"):
        assert set(stats[key]) >= {"count", "p50", "p95", "p99"}
    assert stats["commit_latency_s"]["p50"] <= stats["commit_latency_s"]["p99"]
    assert set(stats["degraded"]) == {"on", "reasons"} and isinstance(stats["degraded"]["reasons"], list)
    history = get(stack, "/api/admin/stats/history", stack.admin_token).json()
    assert history["every_s"] == 10 and isinstance(history["samples"], list)
    assert get(stack, "/api/admin/stats/history", room.professor_token).status_code == 403


def test_fault_injection_is_off_unless_configured(stack):
    with stack.client() as admin:
        r = admin.post("/api/admin/faults", json={"commit_delay_ms": 500})
    assert r.status_code == 404 and "CLASSPULSE_FAULT_INJECTION" in r.json()["error"]


def test_logs_carry_request_ids_and_never_a_token_or_a_student_name(stack):
    tag = uuid.uuid4().hex[:8]
    names = [f"Quirinus Vexleworth{tag}", f"Ottoline Brabazon{tag}"]
    room = create_class(stack, students=1)
    with stack.client() as admin:
        roster = admin.post(f"/api/admin/courses/{room.course_id}/students", json={
            "students": [{"student_id": f"n{i}-{tag}", "name": n} for i, n in enumerate(names)]}).json()
    tokens = {s["student_id"]: s["token"] for s in roster["students"]}
    sid = next(iter(tokens))
    rid = f"req-{tag}"
    ok = post(stack, tokens[sid], [event(room, sid)], **{"X-Request-ID": f"ok-{tag}"})
    assert ok.status_code == 202
    refused = post(stack, stack.admin_token, [event(room, sid) | {"student_id": "not-enrolled"}],
                   **{"X-Request-ID": rid})
    assert refused.status_code == 422 and refused.headers["x-request-id"] == rid
    assert get(stack, f"/api/professor/courses/{room.course_id}/live-progress?token={room.professor_token}",
               None).status_code == 401  # a token in a URL, refused (and never logged)
    with httpx.stream("GET", stack.api_url + f"/api/professor/{room.professor_id}/progress-updates/stream"
                      f"?token={room.professor_token}", timeout=10) as sse:
        assert sse.status_code == 200
    url = stack.api_url.replace("http://", "ws://") + f"/ws/student/{sid}?token={tokens[sid]}"
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "events", "events": [event(room, sid) | {"progress": 9}]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "error"

    logs_dir = Path(stack.info["run_dir"]) / "ray" / "session_latest" / "logs"
    secrets = [stack.admin_token, room.professor_token, *tokens.values(), *names]
    deadline = time.monotonic() + 20
    while True:
        files = [p for p in [*logs_dir.rglob("*"), stack.log_path] if p.is_file()]
        text = {p: p.read_text(errors="replace") for p in files}
        lines = [line for t in text.values() for line in t.splitlines() if rid in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert lines, f"no log line carries {rid} in {logs_dir}"
    carried = [json.loads(line[line.index("{"):]) for line in lines if '"request_id"' in line]
    assert {c["request_id"] for c in carried} == {rid}
    assert any(c["logger"].startswith("actors") for c in carried), "the EventLog's line lacks the id"
    assert any(c["logger"] == "serve.access" for c in carried), "the access line lacks the id"
    for path, content in text.items():
        for secret in secrets:
            assert secret not in content, f"{path} contains a token or a student name"


def test_haproxy_sends_its_request_lines_nowhere(stack):
    """HAProxy logs whole request lines, ``?token=`` included; Ray's default sends them to syslog on
    UDP 127.0.0.1:514, where any syslog daemon would keep them."""
    if stack.info["ingress"] != "haproxy":
        pytest.skip("Serve's default proxy: no HAProxy here")
    configs = list((Path(stack.info["run_dir"]) / "haproxy").glob("*/haproxy.cfg"))  # one per node
    assert configs
    config = configs[0].read_text()
    targets = [line.split()[1] for line in config.splitlines() if line.strip().startswith("log ")
               and line.split()[1] != "global"]
    assert targets and all(t.startswith("/") for t in targets), targets  # sockets of this stack, no UDP
    assert str(Path(stack.info["run_dir"]) / "haproxy" / "no-syslog.sock") in targets


def test_ray_prometheus_endpoint_shows_our_metrics_too(stack):
    port = stack.info.get("ray_metrics_export_port")
    assert port, "run.json names Ray's metrics port"
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    assert post(stack, room.student_tokens[s0], [event(room, s0)]).status_code == 202
    deadline = time.monotonic() + 60  # Ray's agents export every few seconds
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        except httpx.HTTPError:
            text = ""
        if "classpulse_events_ingested" in text and "classpulse_commit_latency_seconds" in text:
            break
        time.sleep(2)
    assert "classpulse_events_ingested" in text and "classpulse_commit_latency_seconds_bucket" in text


def test_xapi_stored_vs_applied_and_analytics_time_are_counted(stack):
    import base64

    from tests.api.test_xapi_api import statement
    room = create_class(stack, students=1)
    s0 = next(iter(room.student_tokens))
    before = scrape(stack)
    batch = [statement(room, s0, "completed", room.activities[0]),
             statement(room, s0, "experienced", room.activities[1])]  # unknown verb: stored only
    basic = base64.b64encode(f"lrs:{stack.admin_token}".encode()).decode()
    r = httpx.post(stack.api_url + "/api/xapi/statements", json=batch, timeout=30,
                   headers={"Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200
    analytics = get(stack, f"/api/professor/courses/{room.course_id}/analytics/real-time", room.professor_token)
    assert analytics.status_code == 200
    after = scrape(stack)
    xapi = "classpulse_xapi_statements"
    assert total(after, xapi, "_total", outcome="stored") - total(before, xapi, "_total", outcome="stored") == 2
    assert total(after, xapi, "_total", outcome="applied") - total(before, xapi, "_total", outcome="applied") == 1
    assert total(after, "classpulse_events_ingested", "_total", source="xapi") - \
        total(before, "classpulse_events_ingested", "_total", source="xapi") == 1
    query = "classpulse_analytics_query_seconds"
    assert total(after, query, "_count") == total(before, query, "_count") + 1
