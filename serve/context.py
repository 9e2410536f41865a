"""What every route needs: the runtime facade, who is calling, and ownership checks."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, WebSocket

from actors.metrics import ObsConfig, Recorder
from actors.runtime import Runtime
from serve.auth import Authenticator, Principal, token_from
from serve.bodies import ApiError
from serve.inboxes import StudentInboxes
from serve.ingest_batcher import IngestBatcher
from serve.ratelimit import TokenBuckets


@dataclass(frozen=True)
class ApiConfig:
    namespace: str
    shards: int
    hubs: int
    admin_token_hash: str
    max_body_bytes: int = 1 << 20
    rate_per_s: float = 50.0
    rate_burst: float = 200.0
    auth_failures_per_min: float = 100.0
    obs: ObsConfig = field(default_factory=ObsConfig)
    trust_forwarded: bool = False  # X-Forwarded-For comes from our own reverse proxy (settings.trusted_proxy)


class ApiContext:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.runtime = Runtime.connect(config.namespace, config.shards, config.hubs)
        self.log = self.runtime.handles.log
        self.ingest = IngestBatcher(self.log)  # small batches of concurrent requests share a call
        self.auth = Authenticator(config.admin_token_hash, lambda h: self.log.authenticate.remote(h),
                                  lambda hs: self.log.authenticate_many.remote(hs))
        self.limits = TokenBuckets(config.rate_per_s, config.rate_burst)
        self.failures = TokenBuckets(config.auth_failures_per_min / 60.0, config.auth_failures_per_min)
        from serve.observe import Streams
        self.metrics = Recorder(config.obs.enabled, "api", os.getpid(), config.obs.ray_sink)
        self.streams = Streams(self.metrics, lambda *report: self.log.report_push.remote(*report))
        self.inboxes = StudentInboxes(self.runtime)  # one inbox poll per hub for every student socket here

    async def principal(self, token: str | None, client: str) -> Principal:
        # While a client address is over its failure budget, only tokens this replica verified
        # recently get through (behind one proxy many users share an address; they keep working).
        if self.failures.rate_limited(client) and not self.auth.known(token):
            raise ApiError(429, "authorization", "too many failed authentications; slow down",
                           headers={"Retry-After": str(self.failures.retry_after(client))})
        try:
            principal = await self.auth.principal(token)
        except HTTPException:
            if token:  # a wrong token is a guess; a missing one is not
                self.failures.allow(client)
            raise
        if not principal.is_admin and not self.limits.allow(f"{principal.role}:{principal.id}"):
            key = f"{principal.role}:{principal.id}"
            raise ApiError(429, "authorization", "rate limit exceeded for this token",
                           headers={"Retry-After": str(self.limits.retry_after(key))})
        return principal

    async def caller(self, request: Request) -> Principal:
        return await self.principal(token_from(request), client_of(request, self.config.trust_forwarded))

    async def socket_caller(self, ws: WebSocket) -> Principal:
        return await self.principal(socket_token(ws), client_of(ws, self.config.trust_forwarded))

    async def own_course_in(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """``own_course`` of the body's ``course_id``: 422 naming it when missing or not text."""
        course_id = body.get("course_id")
        if not isinstance(course_id, str) or not course_id:
            raise ApiError(422, "course_id", "required: the id of one of your courses")
        return await self.own_course(principal, course_id)

    async def own_course(self, principal: Principal, course_id: str) -> dict[str, Any]:
        """The course, if the caller may see it: 404 unknown, 403 someone else's."""
        course = await self.log.course.remote(course_id)
        if not (principal.is_admin or (principal.role == "professor" and course["professor_id"] == principal.id)):
            raise HTTPException(403, f"course '{course_id}' is not yours")
        return course


def socket_token(ws: WebSocket) -> str | None:
    """A WebSocket's token: the bearer header, else ``?token=`` (browsers cannot set headers)."""
    header = ws.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return (value.strip() if scheme.lower() == "bearer" else ws.query_params.get("token")) or None


def client_of(conn: Request | WebSocket, trust_forwarded: bool = False) -> str:
    """The client's address, for the failed-authentication limit. X-Forwarded-For is anyone's to
    write: only behind a proxy the operator runs (``trust_forwarded``) is it read, and then its last
    entry, the one that proxy appended (the first is whatever the client sent)."""
    forwarded = conn.headers.get("x-forwarded-for") if trust_forwarded else None
    if forwarded:
        return forwarded.split(",")[-1].strip() or "unknown"
    return conn.client.host if conn.client else "unknown"
