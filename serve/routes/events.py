"""Event ingest over HTTP, and the batch handling shared with the student WebSocket."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse

from actors import logs
from engine.event_arrow import pack, to_arrow
from engine.events import BatchError, parse_batch
from serve.auth import Principal, require
from serve.bodies import ApiError, EventsIn, documented, read_json
from serve.context import ApiContext


async def ingest(ctx: ApiContext, principal: Principal, raw: Any) -> dict[str, int]:
    """Validate, authorise and commit one batch; raises ApiError / DomainError."""
    request_id = logs.request_id.get()
    try:
        events = parse_batch(raw, time.time())
    except BatchError as exc:
        ctx.log.count_rejected.remote(len(raw) if isinstance(raw, list) else 1, "validation", request_id)
        raise ApiError(422, exc.errors[0]["field"], exc.errors[0]["error"], exc.errors) from None
    if principal.role == "student":
        foreign = [i for i, e in enumerate(events) if e.student_id != principal.id]
        if foreign:
            ctx.log.count_rejected.remote(len(events), "forbidden", request_id)
            raise ApiError(403, "student_id", f"events {foreign[:10]} are for another student")
    ack = await ctx.ingest.append(pack(to_arrow(events)), len(events), request_id)  # built here, off the log
    return {"accepted": ack["accepted"], "duplicates": ack["duplicates"]}


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["events"])

    @r.post("/api/events", status_code=202, openapi_extra=documented(EventsIn))
    async def post_events(request: Request) -> ORJSONResponse:
        principal = await ctx.caller(request)
        require(principal, "admin", "student")
        body = await read_json(request, ctx.config.max_body_bytes)
        raw = body.get("events") if isinstance(body, dict) else None
        return ORJSONResponse(await ingest(ctx, principal, raw), status_code=202)

    return r
