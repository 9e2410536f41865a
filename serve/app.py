"""The FastAPI application: thin routes that validate, authorise, call one
actor method and map the outcome to a status code.

``build_app`` makes the app for a given stack; ``serve/deployment.py`` wraps
it in a Ray Serve deployment, and the benchmark runs the same app under plain
uvicorn for comparison.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ray
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import ORJSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from actors.runtime import Runtime
from actors.topology import DomainError
from engine.events import BatchError, parse_batch
from serve.auth import Authenticator, Principal, require, token_from
from serve.bodies import ApiError, CourseIn, ProfessorIn, RosterIn, read_json, validate

log = logging.getLogger(__name__)
ACTOR_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ApiConfig:
    namespace: str
    shards: int
    hubs: int
    admin_token_hash: str
    max_body_bytes: int = 1 << 20


def build_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(title="classpulse", version="0.1.0", default_response_class=ORJSONResponse,
                  description="Real-time student progress monitoring. See docs/api.md.")
    runtime = Runtime.connect(config.namespace, config.shards, config.hubs)
    handles = runtime.handles
    auth = Authenticator(config.admin_token_hash, lambda h: handles.log.authenticate.remote(h))
    install_error_handlers(app)

    async def caller(request: Request) -> Principal:
        return await auth.principal(token_from(request))

    async def own_course(principal: Principal, course_id: str) -> dict[str, Any]:
        """The course, if the caller may see it: 404 unknown, 403 someone else's."""
        course = await handles.log.course.remote(course_id)
        if not (principal.is_admin or (principal.role == "professor" and course["professor_id"] == principal.id)):
            raise HTTPException(403, f"course '{course_id}' is not yours")
        return course

    @app.get("/api/health", tags=["ops"])
    async def health() -> ORJSONResponse:
        try:
            await asyncio.wait_for(handles.log.ready.remote(), 5.0)
        except Exception:
            return ORJSONResponse({"status": "starting"}, status_code=503, headers={"Retry-After": "2"})
        return ORJSONResponse({"status": "ok"})

    # -- admin ----------------------------------------------------------------

    @app.post("/api/admin/professors", status_code=201, tags=["admin"])
    async def add_professor(request: Request) -> ORJSONResponse:
        require(await caller(request), "admin")
        body = validate(ProfessorIn, await read_json(request, config.max_body_bytes))
        professor, created = await handles.log.add_professor.remote(
            body.professor_id, body.name, body.email, body.rotate_token)
        return ORJSONResponse(professor, status_code=201 if created or professor["token"] else 200)

    @app.post("/api/admin/courses", status_code=201, tags=["admin"])
    async def add_course(request: Request) -> ORJSONResponse:
        require(await caller(request), "admin")
        body = validate(CourseIn, await read_json(request, config.max_body_bytes))
        course, created = await handles.log.add_course.remote(_epochs(body.model_dump()))
        return ORJSONResponse(course, status_code=201 if created else 200)

    @app.post("/api/admin/courses/{course_id}/students", status_code=201, tags=["admin"])
    async def add_students(course_id: str, request: Request) -> ORJSONResponse:
        require(await caller(request), "admin")
        body = validate(RosterIn, await read_json(request, config.max_body_bytes))
        students = await handles.log.add_students.remote(
            course_id, [s.model_dump() for s in body.students], body.rotate_tokens)
        return ORJSONResponse({"course_id": course_id, "students": students}, status_code=201)

    @app.get("/api/admin/stats", tags=["admin"])
    async def stats(request: Request) -> dict[str, Any]:
        require(await caller(request), "admin")
        return await handles.log.stats.remote()

    # -- events ---------------------------------------------------------------

    @app.post("/api/events", status_code=202, tags=["events"])
    async def post_events(request: Request) -> ORJSONResponse:
        principal = await caller(request)
        require(principal, "admin", "student")
        body = await read_json(request, config.max_body_bytes)
        raw = body.get("events") if isinstance(body, dict) else None
        try:
            events = parse_batch(raw, time.time())
        except BatchError as exc:
            raise ApiError(422, exc.errors[0]["field"], exc.errors[0]["error"], exc.errors) from None
        if principal.role == "student":
            foreign = [i for i, e in enumerate(events) if e.student_id != principal.id]
            if foreign:
                raise ApiError(403, "student_id", f"events {foreign[:10]} are for another student")
        ack = await runtime.ingest(events)
        return ORJSONResponse({"accepted": ack["accepted"], "duplicates": ack["duplicates"]}, status_code=202)

    # -- professor --------------------------------------------------------------

    @app.get("/api/professor/courses", tags=["professor"])
    async def my_courses(request: Request) -> dict[str, Any]:
        principal = await caller(request)
        require(principal, "professor", "admin")
        courses = await handles.log.courses_of.remote(principal.id)
        return {"courses": courses}

    @app.get("/api/professor/courses/{course_id}/live-progress", tags=["professor"])
    async def live_progress(course_id: str, request: Request) -> dict[str, Any]:
        principal = await caller(request)
        await own_course(principal, course_id)
        return await runtime.live_progress(course_id)

    @app.get("/api/professor/courses/{course_id}/alerts/configure", tags=["professor"])
    async def get_config(course_id: str, request: Request) -> dict[str, Any]:
        await own_course(await caller(request), course_id)
        return await handles.log.config.remote(course_id)

    @app.put("/api/professor/courses/{course_id}/alerts/configure", tags=["professor"])
    async def configure(course_id: str, request: Request) -> dict[str, Any]:
        principal = await caller(request)
        await own_course(principal, course_id)
        body = await read_json(request, config.max_body_bytes)
        return await handles.log.configure.remote(course_id, body, f"{principal.role}:{principal.id}")

    return app


def _epochs(spec: dict[str, Any]) -> dict[str, Any]:
    """ISO datetimes in a course spec -> epoch seconds (the engine's time unit)."""
    def conv(v: Any) -> Any:
        return v.timestamp() if isinstance(v, datetime) else v
    out = {k: conv(v) for k, v in spec.items()}
    out["activities"] = [{k: conv(v) for k, v in a.items()} for a in spec["activities"]]
    return out


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
    async def http_error(_: Request, exc: HTTPException) -> ORJSONResponse:
        return body(exc.status_code, None, str(exc.detail), headers=exc.headers)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        errors = [{"index": None, "field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                  for e in exc.errors()]
        return body(422, errors[0]["field"] if errors else None, "invalid request", errors)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> ORJSONResponse:
        if isinstance(exc, DomainError):
            return await domain_error(_, exc)
        if isinstance(exc, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                            ray.exceptions.GetTimeoutError, asyncio.TimeoutError)):
            return body(503, None, "a backend actor is restarting; retry shortly",
                        headers={"Retry-After": "1"})
        log.exception("unexpected error")
        return body(500, None, "internal error")
