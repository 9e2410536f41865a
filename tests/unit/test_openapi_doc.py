"""/openapi.json names every body and query parameter the routes read by hand, so clients see them
and the fuzz test (tests/api/test_fuzz.py, schemathesis) generates them: 15 of 19 JSON-body routes
and every hand-read query parameter were missing, so none of them was ever fuzzed."""
from __future__ import annotations

import inspect
import re
from unittest import mock

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from engine.analytics.params import KNOWN
from serve.bodies import add_body_schemas
from serve.routes import admin, analytics, comms, events, live, office_hours, professor, xapi

XAPI_STATEMENTS = "/api/xapi/statements"  # the xAPI spec's own resource, documented by the spec


@pytest.fixture(scope="module")
def app_and_doc():
    ctx = mock.MagicMock()
    ctx.config.max_body_bytes = 1 << 20
    app = FastAPI()
    routers = [module.router(ctx) for module in (admin, events, professor, analytics, live, xapi, comms,
                                                  office_hours)]
    for router in routers:
        app.include_router(router)
    return [r for router in routers for r in router.routes], add_body_schemas(FastAPI.openapi(app))


def routes(api_routes):
    for route in api_routes:
        if isinstance(route, APIRoute) and route.path != XAPI_STATEMENTS:
            source = inspect.getsource(route.endpoint)
            for method in route.methods:
                yield method.lower(), route.path, source


def test_every_route_that_reads_a_json_body_documents_it(app_and_doc):
    app, doc = app_and_doc
    reading = {(m, p) for m, p, source in routes(app) if re.search(r"\b(read_json|body_of)\(", source)}
    assert len(reading) >= 19
    missing = sorted((m, p) for m, p in reading if "requestBody" not in doc["paths"][p][m])
    assert not missing, f"JSON bodies /openapi.json does not name: {missing}"
    for m, p in reading:
        ref = doc["paths"][p][m]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]


def test_every_query_parameter_read_by_hand_is_declared(app_and_doc):
    app, doc = app_and_doc
    missing = []
    for m, p, source in routes(app):
        declared = {q["name"] for q in doc["paths"][p][m].get("parameters", []) if q["in"] == "query"}
        read = set(re.findall(r"query_params\.get\(\"(\w+)\"", source))
        if p.startswith("/api/professor/courses/{course_id}/analytics/"):
            read |= set(KNOWN) | ({"section", "format"} if p.endswith("/export") else set())
        missing += [f"{m.upper()} {p} ?{name}" for name in sorted(read - declared)]
    assert not missing, missing
