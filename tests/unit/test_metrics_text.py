"""Metric recording and the Prometheus text of GET /metrics (actors/metrics.py, serve/observe.py)."""
from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from actors import logs
from actors.metrics import DEFS, Recorder


def families(text: bytes) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def test_recorder_snapshot_renders_as_prometheus_text(monkeypatch):
    from serve.observe import render
    monkeypatch.setattr("actors.metrics._ray_metric", lambda d: _Null())  # no Ray process here
    log, shard = Recorder(True, "event_log"), Recorder(True, "shard", 2)
    log.inc("classpulse_events_ingested", 1000, source="api")
    log.inc("classpulse_events_ingested", 5, source="xapi")
    log.observe("classpulse_commit_latency_seconds", 0.004)
    log.observe("classpulse_commit_latency_seconds", 0.3)
    shard.set("classpulse_hub_queue_students", 7, hub="1")
    fams = families(render([log.snapshot(), shard.snapshot()]))
    ingested = {s.labels["source"]: s.value for s in fams["classpulse_events_ingested"].samples
                if s.name.endswith("_total")}
    assert ingested == {"api": 1000, "xapi": 5}
    buckets = {s.labels["le"]: s.value for s in fams["classpulse_commit_latency_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets["0.0025"] == 0 and buckets["0.005"] == 1 and buckets["0.25"] == 1
    assert buckets["0.5"] == 2 and buckets["+Inf"] == 2
    total = [s for s in fams["classpulse_commit_latency_seconds"].samples if s.name.endswith("_sum")]
    assert abs(total[0].value - 0.304) < 1e-9
    gauge = fams["classpulse_hub_queue_students"].samples[0]
    assert gauge.value == 7 and gauge.labels == {"component": "shard", "index": "2", "hub": "1"}


def test_a_disabled_recorder_records_nothing():
    r = Recorder(False, "event_log")
    r.inc("classpulse_events_ingested", 10, source="api")
    r.observe("classpulse_commit_latency_seconds", 0.1)
    assert r.snapshot()["counters"] == [] and r.snapshot()["histograms"] == []


def test_every_metric_has_help_and_histograms_have_buckets():
    for d in DEFS.values():
        assert d.help and d.kind in ("counter", "gauge", "histogram")
        assert (d.kind == "histogram") == bool(d.buckets)
        assert list(d.buckets) == sorted(d.buckets)


def test_log_lines_are_json_with_the_request_id_and_no_tokens():
    buf = io.StringIO()
    logs.configure("INFO", buf)
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == logs.HANDLER_NAME)
    handler.setStream(buf)
    token = logs.request_id.set("req-42")
    try:
        logging.getLogger("serve.test").info("GET /s?token=%s auth=%s id=%s", "cps_" + "x" * 30,
                                             "Bearer abc.def", "st-1")
        logging.getLogger("serve.test").debug("hidden at INFO")
    finally:
        logs.request_id.reset(token)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "req-42" and lines[0]["level"] == "INFO"
    assert "cps_" not in lines[0]["message"] and "abc.def" not in lines[0]["message"]
    assert "st-1" in lines[0]["message"]


def test_request_ids_from_clients_are_kept_only_when_sane():
    assert logs.new_request_id("abc-123") == "abc-123"
    assert logs.new_request_id("bad id\nwith newline") != "bad id\nwith newline"
    assert len(logs.new_request_id(None)) == 16


class _Null:
    def inc(self, *a, **k): ...
    def set(self, *a, **k): ...
    def observe(self, *a, **k): ...
