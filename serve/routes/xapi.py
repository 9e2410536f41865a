"""xAPI 1.0.3 statement resource (the part of an LRS that LMSs and authoring tools send to).

Auth: HTTP Basic with an issued credential (``POST /api/admin/xapi-credentials``:
key as the user name, secret as the password; scoped to its courses), or with
the admin token as the password, or ``Authorization: Bearer`` (admin, or a
student for their own statements). Every request but ``/about`` must carry
``X-Experience-API-Version: 1.0.x``; every response carries ``1.0.3``.
Invalid statements are answered 400 naming the JSON path and the spec rule;
nothing of a rejected request is stored.
"""
from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import ORJSONResponse, Response
from pydantic import Field, model_validator
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import xapi, xapi_validate
from engine.events import iso
from engine.xapi_validate import UUID_RE
from serve.auth import Principal, require, token_from
from serve.bodies import ApiError, Id, Strict, Text, documented, read_json, validate
from serve.context import ApiContext, client_of

VERSION = "1.0.3"
PREFIX = "/api/xapi/"
MAX_STATEMENTS = 1000
SINGLE_STATEMENT_PARAMS = {"statementId", "voidedStatementId", "attachments", "format"}
BASIC = {"WWW-Authenticate": 'Basic realm="classpulse xAPI"'}


class XapiEdge:
    """ASGI middleware for ``/api/xapi/*``: CORS (browser-hosted content posts cross-origin) and the
    version header on every response, errors included (Communication 3.3)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(self._versioned, allow_origins=["*"], allow_methods=["GET", "POST", "PUT"],
                                   allow_headers=["Authorization", "Content-Type", "X-Experience-API-Version"],
                                   expose_headers=["X-Experience-API-Version", "X-Experience-API-Consistent-Through"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _versioned(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_versioned(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Experience-API-Version"] = VERSION
            await send(message)
        await self.app(scope, receive, send_versioned)


class ActorMapping(Strict):
    student_id: Id
    actor: dict[str, Any]  # an xAPI Agent: exactly one of mbox, mbox_sha1sum, openid, account


class ActorMapIn(Strict):
    mappings: Annotated[list[ActorMapping], Field(min_length=1, max_length=10_000)]


class CredentialIn(Strict):
    """One course (``course_id``) or an institution's courses (``institution`` + ``course_ids``)."""

    course_id: Id | None = None
    institution: Text | None = None
    course_ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> CredentialIn:
        if (self.course_id is None) == (self.course_ids is None):
            raise ValueError("give either course_id, or institution with course_ids")
        if self.course_ids is not None and self.institution is None:
            raise ValueError("course_ids need an institution name")
        return self


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["xapi"])

    async def caller(request: Request) -> Principal:
        """Bearer token, or Basic: an issued key + secret, or any user name + the admin token."""
        token, user = token_from(request), None
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if token is None and scheme.lower() == "basic":
            try:
                user, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8 (UnicodeDecodeError is one)
                raise ApiError(401, "authorization", "malformed Basic credentials", headers=BASIC) from None
        try:
            principal = await ctx.principal(token or None, client_of(request, ctx.config.trust_forwarded))
        except HTTPException as exc:
            if exc.status_code == 401:
                raise ApiError(401, "authorization", str(exc.detail), headers=BASIC) from None
            raise
        if principal.role == "xapi" and user != principal.id:
            raise ApiError(401, "authorization", "the user name is not this credential's key", headers=BASIC)
        return principal

    def check_version(request: Request) -> None:
        version = request.headers.get("x-experience-api-version")
        if version is None:
            raise ApiError(400, "X-Experience-API-Version", "the X-Experience-API-Version header is required")
        if version != "1.0" and not (version.startswith("1.0.") and version[4:].isdigit()):
            raise ApiError(400, "X-Experience-API-Version", f"unsupported version '{version}'; use 1.0.x")

    async def read_body(request: Request) -> Any:
        """The JSON body; unparsable JSON is a 400 here, as the xAPI spec answers bad requests."""
        try:
            return await read_json(request, ctx.config.max_body_bytes)
        except ApiError as exc:
            if exc.status == 422:
                raise ApiError(400, exc.field, exc.error) from None
            raise

    @r.get("/api/xapi/about")
    async def about() -> ORJSONResponse:
        return ORJSONResponse({"version": [VERSION]})

    async def store(request: Request, raw: list[Any], principal: Principal | None = None) -> list[str]:
        """Check, authorise and store statements (all or nothing); -> their ids."""
        principal = principal or await caller(request)
        if principal.role not in ("admin", "xapi", "student"):
            raise HTTPException(403, "statements are sent with an xAPI credential, the admin token or a "
                                     "student's own token")
        check_version(request)
        if not 1 <= len(raw) <= MAX_STATEMENTS:
            raise ApiError(400, "statements", f"send 1 to {MAX_STATEMENTS} statements")
        statements = []
        for i, item in enumerate(raw):
            try:
                statements.append(xapi.check(item))
            except xapi.StatementError as exc:
                raise ApiError(400, f"[{i}].{exc.path}", str(exc)) from None
        # a student's own statements only: the log checks them by the actor mapping (403 otherwise)
        result = await ctx.log.xapi.remote(statements, principal.role, principal.id)
        return result["ids"]

    @r.put("/api/xapi/statements")
    async def put_statement(request: Request, statementId: str | None = None) -> Response:
        principal = await caller(request)  # a 401 before anything is said about the request
        body = await read_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "statement", "PUT takes one statement")
        if statementId is None:
            raise ApiError(400, "statementId", "required: the statement's UUID, in the query string")
        if not UUID_RE.match(statementId):
            raise ApiError(400, "statementId", "must be a UUID")
        if str(body.get("id", statementId)).lower() != statementId.lower():
            raise ApiError(400, "id", "the statement's id differs from statementId")
        await store(request, [body | {"id": statementId}], principal)
        return Response(status_code=204)

    @r.post("/api/xapi/statements")
    async def post_statements(request: Request) -> ORJSONResponse:
        principal = await caller(request)  # a 401 before the body is read
        body = await read_body(request)
        return ORJSONResponse(await store(request, body if isinstance(body, list) else [body], principal))

    @r.get("/api/xapi/statements")
    async def get_statement(request: Request, statementId: str | None = None,
                            voidedStatementId: str | None = None) -> ORJSONResponse:
        principal = await caller(request)
        check_version(request)
        if principal.role not in ("admin", "xapi"):
            raise HTTPException(403, "reading statements needs an xAPI credential or the admin token")
        if (statementId is None) == (voidedStatementId is None):
            raise ApiError(400, "statementId", "give statementId or voidedStatementId (statement queries "
                                               "are not supported)")
        extra = sorted(set(request.query_params) - SINGLE_STATEMENT_PARAMS)
        if extra:  # Communication 2.1.3: only attachments and format may go with a statement id
            raise ApiError(400, extra[0], "not allowed with statementId or voidedStatementId")
        wanted = statementId or voidedStatementId
        if not UUID_RE.match(wanted):
            raise ApiError(400, "statementId" if statementId else "voidedStatementId", "must be a UUID")
        found = await ctx.log.statement.remote(wanted, voidedStatementId is not None, principal.role, principal.id)
        if found is None:
            raise HTTPException(404, f"no {'voided ' if voidedStatementId else ''}statement '{wanted}'")
        stored = iso(found["stored"])
        authority = {"objectType": "Agent", "account": {"homePage": "urn:classpulse", "name": found["credential"]}}
        body = {"timestamp": stored, "version": "1.0.0"} | found["statement"] | {"stored": stored,
                                                                                 "authority": authority}
        return ORJSONResponse(body, headers={"X-Experience-API-Consistent-Through": stored})

    @r.post("/api/admin/xapi-credentials", status_code=201, openapi_extra=documented(CredentialIn))
    async def issue_credential(request: Request) -> ORJSONResponse:
        """A Basic credential for an LMS or authoring tool: the secret is shown once."""
        require(await ctx.caller(request), "admin")
        body = validate(CredentialIn, await read_json(request, ctx.config.max_body_bytes))
        issued = await ctx.log.issue_xapi_credential.remote(body.course_ids or [body.course_id], body.institution)
        return ORJSONResponse(issued | {"endpoint": PREFIX}, status_code=201)

    @r.post("/api/admin/xapi-actors", status_code=201, openapi_extra=documented(ActorMapIn))
    async def map_actors(request: Request) -> ORJSONResponse:
        """Map xAPI actors (by mbox, mbox_sha1sum, openid or account) to roster students."""
        require(await ctx.caller(request), "admin")
        body = validate(ActorMapIn, await read_json(request, ctx.config.max_body_bytes))
        pairs = []
        for i, m in enumerate(body.mappings):
            try:
                xapi_validate.agent(m.actor, f"mappings[{i}].actor")
            except xapi.StatementError as exc:
                raise ApiError(422, exc.path, f"{exc.problem} (xAPI 1.0.3 Data {exc.rule})") from None
            pairs.append((xapi.actor_key(m.actor), m.student_id))
        mapped = await ctx.log.map_xapi_actors.remote(pairs)
        return ORJSONResponse({"mapped": mapped, "actors": [k for k, _ in pairs]}, status_code=201)

    @r.get("/api/admin/xapi-status")
    async def xapi_status(request: Request) -> ORJSONResponse:
        """What came in over xAPI: stored, applied, voided, and why the rest was not applied."""
        require(await ctx.caller(request), "admin")
        return ORJSONResponse(await ctx.log.xapi_summary.remote())

    return r
