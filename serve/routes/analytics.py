"""Analytics routes: the real-time analyses and their exports (Parquet/CSV)."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engine import analytics
from engine.analytics import export
from serve.bodies import ApiError
from serve.context import ApiContext

EXPORT_ONLY = ("section", "format")


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["analytics"])

    async def analyse(course_id: str, request: Request, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        await ctx.own_course(await ctx.caller(request), course_id)
        query = dict(request.query_params)
        unknown = sorted(set(query) - set(analytics.params.KNOWN) - set(extra))
        if unknown:
            raise ApiError(422, unknown[0], f"unknown query parameter; known: {', '.join(analytics.params.KNOWN + extra)}")
        try:
            p = analytics.parse({k: v for k, v in query.items() if k not in extra})
        except analytics.ParamError as exc:
            raise ApiError(422, exc.errors[0]["field"], exc.errors[0]["error"], exc.errors) from None
        if p.student_id is not None and p.student_id not in await ctx.log.roster.remote(course_id):
            raise ApiError(422, "student_id", f"student '{p.student_id}' is not on the roster of '{course_id}'")
        raw, live, config, course = await asyncio.gather(
            ctx.log.analytics_raw.remote(course_id, p), ctx.runtime.live_progress(course_id),
            ctx.log.config.remote(course_id), ctx.log.course_object.remote(course_id))
        return analytics.combine(raw, course, live, config["risk_threshold"])

    @r.get("/api/professor/courses/{course_id}/analytics/real-time")
    async def analytics_now(course_id: str, request: Request) -> dict[str, Any]:
        """Query: since, until (ISO-8601), bucket (minutes), window_minutes, session_minutes, student_id."""
        return await analyse(course_id, request)

    @r.get("/api/professor/courses/{course_id}/analytics/export")
    async def analytics_export(course_id: str, request: Request) -> Response:
        """One section as a file: ``section`` (see engine/analytics/export.py), ``format`` parquet|csv."""
        await ctx.own_course(await ctx.caller(request), course_id)  # who asks, before what they ask
        section = request.query_params.get("section")
        fmt = request.query_params.get("format", "csv")
        if section not in export.SECTIONS:
            raise ApiError(422, "section", f"must be one of {', '.join(export.SECTIONS)}")
        if fmt not in export.FORMATS:
            raise ApiError(422, "format", f"must be one of {', '.join(export.FORMATS)}")
        analysis = await analyse(course_id, request, EXPORT_ONLY)
        content_type, ext = export.FORMATS[fmt]
        body = await asyncio.to_thread(lambda: export.encode(export.frame(section, analysis), fmt))
        return Response(body, media_type=content_type, headers={
            "Content-Disposition": f'attachment; filename="{course_id}-{section}.{ext}"'})

    return r
