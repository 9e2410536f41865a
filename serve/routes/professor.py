"""Professor routes: courses, live progress, drill-down, alerts, thresholds, interventions."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import ORJSONResponse

from engine import instants
from engine.alerts import course_of
from serve.auth import require
from serve.bodies import ApiError, read_json
from serve.context import ApiContext


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["professor"])
    limit = ctx.config.max_body_bytes

    @r.get("/api/professor/courses")
    async def my_courses(request: Request) -> dict[str, Any]:
        principal = await ctx.caller(request)
        require(principal, "professor", "admin")
        return {"courses": await ctx.log.courses_of.remote(principal.id)}

    @r.get("/api/professor/courses/{course_id}/live-progress")
    async def live_progress(course_id: str, request: Request) -> dict[str, Any]:
        await ctx.own_course(await ctx.caller(request), course_id)
        return await ctx.runtime.live_progress(course_id)

    @r.get("/api/professor/courses/{course_id}/students/{student_id}")
    async def student_detail(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        """Drill-down on one student (audit-logged: who looked at whom, when)."""
        principal = await ctx.caller(request)
        await ctx.own_course(principal, course_id)
        roster = await ctx.log.roster.remote(course_id)
        if student_id not in roster:
            raise HTTPException(404, f"student '{student_id}' is not in '{course_id}'")
        shard = ctx.runtime.handles.shard(ctx.runtime.topology.shard_of(student_id))
        view, detail, interventions, timeline, due_dates, _ = await asyncio.gather(
            ctx.runtime.handles.hub_for(course_id).student_view.remote(course_id, student_id),
            shard.student_detail.remote(course_id, student_id),
            ctx.log.interventions_of.remote(student_id, course_id),
            ctx.log.timeline.remote(course_id, student_id),
            ctx.log.due_dates.remote(course_id, student_id),
            ctx.log.audit.remote(principal.role, principal.id, "view_student", student_id,
                                 {"course_id": course_id}))
        return {"course_id": course_id, "student": view, "activities": (detail or {}).get("activities", {}),
                "recent_interactions": (detail or {}).get("tail", ""), "interventions": interventions,
                "timeline": timeline, "due_dates": due_dates}

    @r.get("/api/professor/courses/{course_id}/alerts/configure")
    async def get_config(course_id: str, request: Request) -> dict[str, Any]:
        await ctx.own_course(await ctx.caller(request), course_id)
        return await ctx.log.config.remote(course_id)

    @r.put("/api/professor/courses/{course_id}/alerts/configure")
    async def configure(course_id: str, request: Request) -> dict[str, Any]:
        principal = await ctx.caller(request)
        await ctx.own_course(principal, course_id)
        body = await read_json(request, limit)
        return await ctx.log.configure.remote(course_id, body, f"{principal.role}:{principal.id}")

    async def alert_course(request: Request, alert_id: str) -> tuple[str, Any]:
        principal = await ctx.caller(request)
        course_id = course_of(alert_id)
        if course_id is None:
            raise HTTPException(404, f"unknown alert '{alert_id}'")
        await ctx.own_course(principal, course_id)
        return course_id, ctx.runtime.handles.hub_for(course_id)

    @r.post("/api/professor/alerts/{alert_id}/acknowledge")
    async def acknowledge(alert_id: str, request: Request) -> dict[str, Any]:
        course_id, hub = await alert_course(request, alert_id)
        alert = await hub.acknowledge.remote(course_id, alert_id)
        if alert is None:
            raise HTTPException(404, f"unknown alert '{alert_id}'")
        return alert

    @r.post("/api/professor/alerts/{alert_id}/snooze")
    async def snooze(alert_id: str, request: Request) -> dict[str, Any]:
        course_id, hub = await alert_course(request, alert_id)
        body = await read_json(request, limit)
        until = _snooze_until(body)
        alert = await hub.snooze.remote(course_id, alert_id, until)
        if alert is None:
            raise HTTPException(404, f"unknown alert '{alert_id}'")
        return alert

    @r.post("/api/professor/interventions/{student_id}", status_code=201)
    async def intervene(student_id: str, request: Request) -> ORJSONResponse:
        principal = await ctx.caller(request)
        body = await read_json(request, limit)
        if not isinstance(body, dict):
            raise ApiError(422, "body", "must be a JSON object")
        course = await ctx.own_course_in(principal, body)
        record = await ctx.log.intervene.remote(_sender(principal, course), student_id, body)
        return ORJSONResponse(record, status_code=201)

    @r.post("/api/professor/courses/{course_id}/interventions", status_code=201)
    async def intervene_many(course_id: str, request: Request) -> ORJSONResponse:
        """One intervention for ``student_ids`` or every student with ``status``; ``holdout`` share optional."""
        principal = await ctx.caller(request)
        course = await ctx.own_course(principal, course_id)
        body = await read_json(request, limit)
        if not isinstance(body, dict):
            raise ApiError(422, "body", "must be a JSON object")
        students = await _targets(ctx, course_id, body)
        out = await ctx.log.intervene_many.remote(_sender(principal, course), course_id, students,
                                                  body | {"course_id": course_id})
        return ORJSONResponse(out, status_code=201)

    return r


def _sender(principal, course: dict[str, Any]) -> str:
    """Whom an intervention is from: the caller, or for the admin the course's professor (delivered
    and read receipts go to the sender's inbox: an "admin" inbox is nobody's, or a professor's
    named so in another course)."""
    return course["professor_id"] if principal.is_admin else principal.id


STATUSES = ("active", "struggling", "idle", "not_started", "completed")
MAX_TARGETS = 10_000


async def _targets(ctx: ApiContext, course_id: str, body: dict[str, Any]) -> list[str]:
    """``student_ids`` (1..10,000 ids) or ``status`` (everyone with it now, from live progress)."""
    ids, status = body.get("student_ids"), body.get("status")
    if (ids is None) == (status is None):
        raise ApiError(422, "student_ids", "give either 'student_ids' (a list) or 'status'")
    if status is not None:
        if status not in STATUSES:
            raise ApiError(422, "status", f"must be one of {', '.join(STATUSES)}")
        live = await ctx.runtime.live_progress(course_id)
        students = [s["student_id"] for s in live["students"] if s["status"] == status]
        if not students:
            raise ApiError(422, "status", f"no student of '{course_id}' is {status} now")
        return students
    if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_TARGETS
            or not all(isinstance(s, str) for s in ids)):
        raise ApiError(422, "student_ids", f"must be a list of 1 to {MAX_TARGETS} student ids")
    return ids


def _snooze_until(body: Any) -> float:
    """``{"minutes": 1..1440}`` or ``{"until": ISO-8601}`` -> epoch seconds."""
    if isinstance(body, dict) and "minutes" in body:
        minutes = body["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= 1440:
            raise ApiError(422, "minutes", "must be a number of minutes between 0 and 1440")
        return time.time() + 60 * minutes
    if isinstance(body, dict) and isinstance(body.get("until"), str):
        try:
            until = instants.parse(body["until"])
        except ValueError as exc:
            raise ApiError(422, "until", str(exc)) from None
        if until <= time.time():
            raise ApiError(422, "until", "must be in the future")
        return until
    raise ApiError(422, "minutes", "give 'minutes' (1-1440) or 'until' (ISO-8601)")
