"""The FastAPI application: thin routes that validate, authorise, call one
actor method and map the outcome to a status code.

``build_app`` makes the app for a given stack; ``serve/deployment.py`` wraps
it in a Ray Serve deployment, and the benchmark runs the same app under plain
uvicorn for comparison.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from actors import logs
from actors.topology import DomainError
from serve.auth import require
from serve.bodies import ApiError, add_body_schemas
from serve.context import ApiConfig, ApiContext
from serve.observe import RequestIds, in_serve_replica, render
from serve.routes import admin, analytics, comms, events, live, office_hours, professor, xapi

__all__ = ["ApiConfig", "build_app"]
log = logging.getLogger(__name__)


def build_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(title="classpulse", version="0.1.0", default_response_class=ORJSONResponse,
                  description="Real-time student progress monitoring. See docs/api.md.")
    logs.configure(config.obs.log_level)
    ctx = ApiContext(config)
    install_error_handlers(app)
    app.add_middleware(xapi.XapiEdge)  # CORS and the version header on /api/xapi/*
    app.add_middleware(RequestIds, echo=not in_serve_replica())

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus text: every actor's metrics and this replica's (admin token)."""
        require(await ctx.caller(request), "admin")
        snapshots = [ctx.metrics.snapshot()]
        for ref in ctx.runtime.telemetry():
            try:
                part = await asyncio.wait_for(ref, 5.0)
            except (ray.exceptions.RayError, TimeoutError):  # restarting: back on the next scrape
                log.debug("an actor did not report its metrics", exc_info=True)
                continue
            snapshots.append(part.get("metrics", part))
        return Response(render(snapshots), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/health", tags=["ops"])
    async def health() -> ORJSONResponse:
        try:
            await asyncio.wait_for(ctx.log.ready.remote(), 5.0)
        except Exception:  # noqa: BLE001 - any failure to answer means "not ready yet"
            return ORJSONResponse({"status": "starting"}, status_code=503, headers={"Retry-After": "2"})
        return ORJSONResponse({"status": "ok"})

    for module in (admin, events, professor, analytics, live, xapi, comms, office_hours):
        app.include_router(module.router(ctx))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_body_schemas(FastAPI.openapi(app))
        return app.openapi_schema
    app.openapi = openapi
    return app


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to the contract's error shape; a client can never cause a 500."""

    def body(status: int, field: str | None, error: str, errors: list | None = None,
             headers: dict[str, str] | None = None) -> ORJSONResponse:
        payload: dict[str, Any] = {"error": error, "field": field}
        if errors:
            payload["errors"] = errors
        return ORJSONResponse(payload, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> ORJSONResponse:
        return body(exc.status, exc.field, exc.error, exc.errors, exc.headers)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> ORJSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return body(exc.status, exc.field, exc.error, exc.errors, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        return body(exc.status_code, None, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        errors = [{"index": None, "field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                  for e in exc.errors()]
        return body(422, errors[0]["field"] if errors else None, "invalid request", errors)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> ORJSONResponse:
        if isinstance(exc, DomainError):
            return await domain_error(request, exc)
        if isinstance(exc, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                            ray.exceptions.GetTimeoutError, asyncio.TimeoutError)):
            return body(503, None, "a backend actor is restarting; retry shortly", headers={"Retry-After": "1"})
        log.exception("unexpected error")
        return body(500, None, "internal error")
