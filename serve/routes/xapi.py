"""xAPI statement ingest (the LRS statement resource, xAPI 1.0.3; the LRS issue completes it).

Auth: ``Authorization: Bearer <token>`` (admin, or a student for their own
statements) or HTTP Basic with the admin token as the password. Invalid
statements are answered 400 (the spec's code) and nothing of the request is
stored.
"""
from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import ORJSONResponse, Response

from engine import xapi
from engine.events import iso
from serve.auth import Principal, token_from
from serve.bodies import ApiError, read_json
from serve.context import ApiContext, client_of

VERSION = "1.0.3"
MAX_STATEMENTS = 1000
HEADERS = {"X-Experience-API-Version": VERSION}


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["xapi"])

    async def caller(request: Request) -> Principal:
        token = token_from(request)
        header = request.headers.get("authorization", "")
        if token is None and header.lower().startswith("basic "):
            try:
                _, _, token = base64.b64decode(header[6:].strip()).decode().partition(":")
            except Exception:
                raise ApiError(401, "authorization", "malformed Basic credentials") from None
        return await ctx.principal(token or None, client_of(request))

    def check_version(request: Request) -> None:
        version = request.headers.get("x-experience-api-version")
        if version is not None and not version.startswith("1.0"):
            raise ApiError(400, "X-Experience-API-Version", f"unsupported version '{version}'; use 1.0.x",
                           headers=HEADERS)

    @r.get("/api/xapi/about")
    async def about() -> ORJSONResponse:
        return ORJSONResponse({"version": [VERSION]}, headers=HEADERS)

    async def store(request: Request, raw: list[Any]) -> list[str]:
        """Check, authorise and store statements (all or nothing); -> their ids."""
        principal = await caller(request)
        if principal.role not in ("admin", "student"):
            raise HTTPException(403, "statements are sent by an LRS credential (admin) or a student")
        check_version(request)
        if not 1 <= len(raw) <= MAX_STATEMENTS:
            raise ApiError(400, "statements", f"send 1 to {MAX_STATEMENTS} statements", headers=HEADERS)
        statements = []
        for i, item in enumerate(raw):
            try:
                statements.append(xapi.check(item))
            except xapi.StatementError as exc:
                raise ApiError(400, f"[{i}]", str(exc), headers=HEADERS) from None
        if principal.role == "student":
            foreign = [i for i, st in enumerate(statements)
                       if (st["actor"].get("account") or {}).get("name") != principal.id]
            if foreign:
                raise ApiError(403, "actor", f"statements {foreign[:10]} are for another student")
        result = await ctx.log.xapi.remote(statements, f"{principal.role}:{principal.id}")
        return result["ids"]

    @r.put("/api/xapi/statements")
    async def put_statement(request: Request, statementId: str) -> Response:
        body = await read_json(request, ctx.config.max_body_bytes)
        if not isinstance(body, dict):
            raise ApiError(400, "statement", "PUT takes one statement", headers=HEADERS)
        if body.get("id", statementId) != statementId:
            raise ApiError(400, "id", "the statement's id differs from statementId", headers=HEADERS)
        await store(request, [body | {"id": statementId}])
        return Response(status_code=204, headers=HEADERS)

    @r.post("/api/xapi/statements")
    async def post_statements(request: Request) -> ORJSONResponse:
        body = await read_json(request, ctx.config.max_body_bytes)
        return ORJSONResponse(await store(request, body if isinstance(body, list) else [body]), headers=HEADERS)

    @r.get("/api/xapi/statements")
    async def get_statement(request: Request, statementId: str) -> ORJSONResponse:
        principal = await caller(request)
        if not principal.is_admin:
            raise HTTPException(403, "reading statements needs the LRS (admin) credential")
        found: dict[str, Any] | None = await ctx.log.statement.remote(statementId)
        if found is None:
            raise HTTPException(404, f"no statement '{statementId}'")
        stored = iso(found["stored"])
        authority = {"objectType": "Agent", "account": {"homePage": "urn:classpulse", "name": found["credential"]}}
        return ORJSONResponse(found["statement"] | {"stored": stored, "authority": authority},
                              headers=HEADERS | {"X-Experience-API-Consistent-Through": stored})

    return r
