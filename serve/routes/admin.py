"""Admin routes: professors, courses, rosters, stats."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ConfigDict, Field

from engine import instants
from serve.auth import Principal, require
from serve.bodies import ApiError, CourseIn, ProfessorIn, RosterIn, documented, read_json, validate
from serve.context import ApiContext


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["admin"])
    limit = ctx.config.max_body_bytes

    @r.post("/api/admin/professors", status_code=201, openapi_extra=documented(ProfessorIn))
    async def add_professor(request: Request) -> ORJSONResponse:
        require(await ctx.caller(request), "admin")
        body = validate(ProfessorIn, await read_json(request, limit))
        professor, created = await ctx.log.add_professor.remote(
            body.professor_id, body.name, body.email, body.rotate_token)
        return ORJSONResponse(professor, status_code=201 if created or professor["token"] else 200)

    @r.post("/api/admin/courses", status_code=201, openapi_extra=documented(CourseIn))
    async def add_course(request: Request) -> ORJSONResponse:
        require(await ctx.caller(request), "admin")
        body = validate(CourseIn, await read_json(request, limit))
        course, created = await ctx.log.add_course.remote(_epochs(body.model_dump()))
        return ORJSONResponse(course, status_code=201 if created else 200)

    @r.post("/api/admin/courses/{course_id}/students", status_code=201, openapi_extra=documented(RosterIn))
    async def add_students(course_id: str, request: Request) -> ORJSONResponse:
        require(await ctx.caller(request), "admin")
        body = validate(RosterIn, await read_json(request, limit))
        students = await ctx.log.add_students.remote(
            course_id, [s.model_dump() for s in body.students], body.rotate_tokens)
        return ORJSONResponse({"course_id": course_id, "students": students}, status_code=201)

    @r.get("/api/admin/stats")
    async def stats(request: Request) -> dict[str, Any]:
        require(await ctx.caller(request), "admin")
        return await ctx.log.stats.remote()

    @r.get("/api/admin/students/{student_id}")
    async def export_student(student_id: str, request: Request) -> ORJSONResponse:
        """Right of access: every stored row about one student, as JSON."""
        require(await ctx.caller(request), "admin")
        return ORJSONResponse(await ctx.log.export_student.remote(student_id),
                              headers={"Content-Disposition": f'attachment; filename="{student_id}.json"'})

    @r.delete("/api/admin/students/{student_id}")
    async def erase_student(student_id: str, request: Request) -> dict[str, Any]:
        """Right to erasure: purge the student's events, statements, snapshots and derived rows."""
        require(await ctx.caller(request), "admin")
        erased = await ctx.log.erase_student.remote(student_id)
        ctx.auth.forget(Principal("student", student_id))
        return erased

    @r.get("/api/admin/stats/history")
    async def stats_history(request: Request) -> dict[str, Any]:
        """The stats figures sampled every CLASSPULSE_HISTORY_EVERY_S over the last 15 minutes."""
        require(await ctx.caller(request), "admin")
        return {"every_s": ctx.config.obs.history_every_s, "samples": await ctx.log.stats_history.remote()}

    @r.post("/api/admin/faults", openapi_extra=documented(FaultsIn))
    async def faults(request: Request) -> dict[str, Any]:
        """Fault-injection hook for tests and drills; 404 unless CLASSPULSE_FAULT_INJECTION=1."""
        require(await ctx.caller(request), "admin")
        if not ctx.config.obs.fault_injection:
            raise ApiError(404, "faults", "fault injection is disabled (CLASSPULSE_FAULT_INJECTION=0)")
        body = validate(FaultsIn, await read_json(request, limit))
        return await ctx.log.set_faults.remote(body.commit_delay_ms)

    return r


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commit_delay_ms: float = Field(ge=0, le=10_000)


def _epochs(spec: dict[str, Any]) -> dict[str, Any]:
    """ISO datetimes in a course spec -> epoch seconds (the engine's time unit)."""
    def conv(v: Any) -> Any:
        return instants.epoch(v) if isinstance(v, datetime) else v  # naive: UTC
    out = {k: conv(v) for k, v in spec.items()}
    out["activities"] = [{k: conv(v) for k, v in a.items()} for a in spec["activities"]]
    return out
