"""Office hours (students queue, professors help), peer-help groups, notification preferences
and the delivery log. Thin: authorise, validate the shape, call one actor method."""
from __future__ import annotations

from typing import Any

import ray
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import ORJSONResponse

from actors.notifier import NOTIFIER
from engine.alerts import course_of
from engine.peer_groups import MAX_SIZE, MIN_SIZE
from serve.auth import Principal, require
from serve.bodies import ApiError, read_json
from serve.context import ApiContext


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["office hours, peer groups, notifications"])
    limit = ctx.config.max_body_bytes

    def hub(course_id: str):
        return ctx.runtime.handles.hub_for(course_id)

    handles: dict[str, Any] = {}

    def notifier():
        if "notifier" not in handles:  # a named, restartable actor: one lookup per replica
            handles["notifier"] = ray.get_actor(NOTIFIER, namespace=ctx.config.namespace)
        return handles["notifier"]

    async def student(request: Request) -> Principal:
        principal = await ctx.caller(request)
        require(principal, "student")
        return principal

    async def body_of(request: Request) -> dict[str, Any]:
        body = await read_json(request, limit)
        if not isinstance(body, dict):
            raise ApiError(422, "body", "must be a JSON object")
        return body

    def course_field(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ApiError(422, "course_id", "required: the course whose office hours you mean")
        return value

    def entry_course(entry_id: str) -> str:
        course_id = course_of(entry_id)
        if course_id is None:
            raise HTTPException(404, f"no office-hours entry '{entry_id}'")
        return course_id

    # -- students ----------------------------------------------------------------------

    @r.post("/api/student/office-hours", status_code=201)
    async def join(request: Request) -> ORJSONResponse:
        principal = await student(request)
        body = await body_of(request)
        course_id = course_field(body.get("course_id"))
        topic = body.get("topic", "")
        if not isinstance(topic, str):
            raise ApiError(422, "topic", "must be text")
        place, new = await hub(course_id).office_hours_join.remote(course_id, principal.id, topic)
        return ORJSONResponse(place, status_code=201 if new else 200)

    @r.get("/api/student/office-hours")
    async def my_place(request: Request, course_id: str | None = None) -> dict[str, Any]:
        principal = await student(request)
        course_id = course_field(course_id)
        return await hub(course_id).office_hours_mine.remote(course_id, principal.id)

    @r.delete("/api/student/office-hours")
    async def leave_mine(request: Request, course_id: str | None = None) -> dict[str, Any]:
        principal = await student(request)
        course_id = course_field(course_id)
        return await hub(course_id).office_hours_leave.remote(course_id, principal.id, None)

    @r.delete("/api/student/office-hours/{entry_id}")
    async def leave(entry_id: str, request: Request) -> dict[str, Any]:
        principal = await student(request)
        course_id = entry_course(entry_id)
        return await hub(course_id).office_hours_leave.remote(course_id, principal.id, entry_id)

    @r.post("/api/student/office-hours/defer")
    async def defer_mine(request: Request) -> dict[str, Any]:
        principal = await student(request)
        course_id = course_field((await body_of(request)).get("course_id"))
        return await hub(course_id).office_hours_defer.remote(course_id, principal.id, None)

    @r.post("/api/student/office-hours/{entry_id}/defer")
    async def defer(entry_id: str, request: Request) -> dict[str, Any]:
        principal = await student(request)
        course_id = entry_course(entry_id)
        return await hub(course_id).office_hours_defer.remote(course_id, principal.id, entry_id)

    @r.get("/api/student/peer-groups")
    async def my_groups(request: Request) -> dict[str, Any]:
        """The peer-help groups the student was put in (for a client that was offline when pushed)."""
        principal = await student(request)
        groups = []
        for course_id in await ctx.log.student_courses.remote(principal.id):
            groups += [g | {"course_id": course_id} for g in await ctx.log.peer_groups.remote(course_id)
                       if principal.id in {m["student_id"] for m in g["members"]}]
        return {"student_id": principal.id, "groups": groups}

    # -- professors --------------------------------------------------------------------

    async def own(request: Request, course_id: str) -> Principal:
        principal = await ctx.caller(request)
        await ctx.own_course(principal, course_id)
        return principal

    @r.get("/api/professor/courses/{course_id}/office-hours")
    async def queue(course_id: str, request: Request) -> dict[str, Any]:
        await own(request, course_id)
        return await hub(course_id).office_hours_view.remote(course_id)

    @r.get("/api/professor/courses/{course_id}/office-hours/history")
    async def history(course_id: str, request: Request) -> dict[str, Any]:
        await own(request, course_id)
        return {"course_id": course_id, "sessions": await ctx.log.office_hours_history.remote(course_id)}

    @r.post("/api/professor/courses/{course_id}/office-hours/next")
    async def take_next(course_id: str, request: Request) -> dict[str, Any]:
        principal = await own(request, course_id)
        return await hub(course_id).office_hours_take.remote(course_id, principal.id, None)

    @r.post("/api/professor/courses/{course_id}/office-hours/close")
    async def close(course_id: str, request: Request) -> dict[str, Any]:
        """Office hours are over: every waiting student leaves the queue (sessions in progress go on)."""
        await own(request, course_id)
        return await hub(course_id).office_hours_close.remote(course_id)

    @r.post("/api/professor/courses/{course_id}/office-hours/{student_id}/remove")
    async def remove(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        await own(request, course_id)
        return await hub(course_id).office_hours_remove.remote(course_id, student_id)

    @r.post("/api/professor/courses/{course_id}/office-hours/{student_id}/take")
    async def take(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        principal = await own(request, course_id)
        return await hub(course_id).office_hours_take.remote(course_id, principal.id, student_id)

    @r.post("/api/professor/courses/{course_id}/office-hours/{student_id}/finish")
    async def finish(course_id: str, student_id: str, request: Request) -> dict[str, Any]:
        await own(request, course_id)
        return await hub(course_id).office_hours_finish.remote(course_id, student_id)

    # -- peer groups ---------------------------------------------------------------------

    @r.get("/api/professor/courses/{course_id}/peer-groups/suggest")
    async def suggest(course_id: str, request: Request, activity_id: str | None = None, size: int = 3,
                      min_accuracy: float = 0.75) -> dict[str, Any]:
        await own(request, course_id)
        if not activity_id:
            raise ApiError(422, "activity_id", "required: the activity to group students for")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ApiError(422, "size", f"must be between {MIN_SIZE} and {MAX_SIZE}")
        if not 0.0 <= min_accuracy <= 1.0:
            raise ApiError(422, "min_accuracy", "must be between 0 and 1")
        return await hub(course_id).peer_suggest.remote(course_id, activity_id, size, min_accuracy)

    @r.get("/api/professor/courses/{course_id}/peer-groups")
    async def groups(course_id: str, request: Request) -> dict[str, Any]:
        await own(request, course_id)
        return {"course_id": course_id, "groups": await ctx.log.peer_groups.remote(course_id)}

    @r.post("/api/professor/courses/{course_id}/peer-groups", status_code=201)
    async def push(course_id: str, request: Request) -> ORJSONResponse:
        principal = await own(request, course_id)
        body = await body_of(request)
        activity_id = body.get("activity_id")
        if activity_id is not None and not isinstance(activity_id, str):
            raise ApiError(422, "activity_id", "must be an activity id")
        stored = await hub(course_id).peer_push.remote(course_id, activity_id, body.get("groups"),
                                                       f"{principal.role}:{principal.id}")
        return ORJSONResponse({"course_id": course_id, "groups": stored}, status_code=201)

    # -- notifications -------------------------------------------------------------------

    async def professor(request: Request) -> Principal:
        principal = await ctx.caller(request)
        require(principal, "professor")
        return principal

    @r.get("/api/professor/notifications/preferences")
    async def preferences(request: Request) -> dict[str, Any]:
        principal = await professor(request)
        return await notifier().preferences.remote(principal.id)

    @r.put("/api/professor/notifications/preferences")
    async def set_preferences(request: Request) -> dict[str, Any]:
        principal = await professor(request)
        return await notifier().set_preferences.remote(principal.id, await read_json(request, limit))

    @r.get("/api/professor/notifications")
    async def notifications(request: Request, limit_rows: int = 200) -> dict[str, Any]:
        principal = await professor(request)
        rows = await ctx.log.deliveries.remote(principal.id, max(1, min(limit_rows, 1000)))
        return {"professor_id": principal.id, "notifications": rows}

    return r
