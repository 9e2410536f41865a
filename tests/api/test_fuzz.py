"""Schema-driven fuzzing of the whole HTTP API with schemathesis, and hypothesis on the parsers.

Every operation in /openapi.json gets generated (mostly invalid) input as an
admin and as a professor: the server must never answer 5xx and its answers
must match the schema's content types.
"""
from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from engine.events import BatchError, parse_batch
from tests.api_client import create_class

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def api_schema(stack):
    return schemathesis.openapi.from_url(stack.api_url + "/openapi.json", timeout=30)


def _operations(schema):
    ops = [result.ok() for result in schema.get_all_operations()]
    # sockets and the endless SSE stream have their own tests (tests/api/test_live.py)
    return [op for op in ops if not op.path.startswith("/ws/") and not op.path.endswith("/stream")]


def _exercise(op, stack, token, examples, calls):
    """A hypothesis test over one operation; ``calls`` collects the status of every request sent."""
    @given(case=op.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        calls.append(response.status_code)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
        case.validate_response(response, checks=(not_a_server_error, content_type_conformance,
                                                 response_schema_conformance))
    return run


def _fuzz(schema, stack, token, examples):
    """Every operation, ``examples`` generated requests each; collect any 5xx, schema mismatch, or an
    operation that could not be exercised at all."""
    problems = []
    for op in _operations(schema):
        label, calls = f"{op.method.upper()} {op.path}", []
        try:
            _exercise(op, stack, token, examples, calls)()
        except Exception as exc:  # noqa: BLE001 - hypothesis re-raises the minimal failing example
            problems.append(f"{label}: {str(exc)[:300]}")
        if not calls:
            problems.append(f"{label}: no request was generated")
    return problems


def test_no_operation_answers_5xx_to_an_admin_or_a_professor(stack, api_schema):
    room = create_class(stack, students=3)
    assert len(_operations(api_schema)) >= 15
    problems = _fuzz(api_schema, stack, stack.admin_token, 10) + _fuzz(api_schema, stack, room.professor_token, 6)
    assert not problems, "\n".join(sorted(set(problems)))


def test_openapi_documents_request_bodies(api_schema):
    raw = api_schema.raw_schema
    body = raw["paths"]["/api/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventsIn"}
    assert "EventIn" in raw["components"]["schemas"]
    # every JSON body and hand-read query parameter, or schemathesis never generates them
    bodies = {(m, p) for p, ops in raw["paths"].items() for m, op in ops.items() if "requestBody" in op}
    assert len(bodies) >= 19 and ("post", "/api/professor/messages") in bodies
    analytics = raw["paths"]["/api/professor/courses/{course_id}/analytics/export"]["get"]["parameters"]
    assert {"since", "until", "bucket", "section", "format"} <= {q["name"] for q in analytics}


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                  max_size=5),
                     max_leaves=30)
_event_like = st.fixed_dictionaries({}, optional={
    "event_id": st.text(max_size=140) | _json, "student_id": st.text(max_size=70) | _json,
    "course_id": st.text(max_size=70) | _json, "activity_id": st.text(max_size=70) | _json,
    "type": st.sampled_from(["activity_started", "progress", "attempt", "hint_requested",
                             "activity_completed", "heartbeat", "other"]) | _json,
    "ts": st.text(max_size=40) | st.datetimes().map(lambda d: d.isoformat()) | _json,
    "progress": st.floats() | _json, "correct": st.booleans() | _json, "duration_s": st.floats() | _json})


@given(st.lists(_event_like, max_size=5) | _json)
@settings(max_examples=400, deadline=None)
def test_event_parsing_accepts_or_names_every_problem(raw):
    """Any JSON: either a parsed batch, or a BatchError whose errors each name an index and a field."""
    try:
        events = parse_batch(raw, 1.7e9)
    except BatchError as exc:
        assert exc.errors and all(isinstance(e["field"], str) and e["error"] for e in exc.errors)
        return
    assert isinstance(raw, list) and len(events) == len(raw) > 0
    for e in events:
        assert e.type in ("activity_started", "progress", "attempt", "hint_requested", "activity_completed",
                          "heartbeat")
        assert e.progress is None or 0 <= e.progress <= 1


def test_streams_of_an_unknown_professor_are_404_and_documented_as_sse(stack, api_schema):
    """Found by the fuzzer: the admin could open an empty stream for a professor who does not exist."""
    r = httpx.get(stack.api_url + "/api/professor/no-such-prof/progress-updates/stream", timeout=10,
                  headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert r.status_code == 404 and "no-such-prof" in r.text
    sse = api_schema.raw_schema["paths"]["/api/professor/{professor_id}/progress-updates/stream"]["get"]
    assert "text/event-stream" in sse["responses"]["200"]["content"]
