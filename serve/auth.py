"""Who is calling: bearer tokens (or ``?token=`` on streams) to a Principal.

The admin token is compared in constant time; other tokens are looked up by
their SHA-256 in the EventLog and cached per replica for ``CACHE_S`` seconds
(a rotated token keeps working at most that long on a replica that cached it).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

CACHE_S = 30.0
CACHE_MAX = 100_000


@dataclass(frozen=True)
class Principal:
    role: str  # admin | professor | student
    id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ADMIN = Principal("admin", "admin")


def token_from(request: Request, allow_query: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query_params.get("token") or None
    return None


class Authenticator:
    def __init__(self, admin_token_hash: str, lookup) -> None:
        self._admin_hash = admin_token_hash
        self._lookup = lookup  # async (token_hash) -> (role, id) | None
        self._cache: dict[str, tuple[Principal, float]] = {}

    def known(self, token: str | None) -> bool:
        """Whether ``token`` was verified recently (or is the admin token), without a lookup."""
        if not token:
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(digest)
        return hmac.compare_digest(digest, self._admin_hash) or bool(cached and cached[1] > time.monotonic())

    async def principal(self, token: str | None) -> Principal:
        if not token:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        digest = hashlib.sha256(token.encode()).hexdigest()
        if hmac.compare_digest(digest, self._admin_hash):
            return ADMIN
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        found = await self._lookup(digest)
        if found is None:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
        principal = Principal(*found)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = (principal, now + CACHE_S)
        return principal


    def forget(self, principal: Principal) -> None:
        """Drop a principal's cached tokens (an erased student's token stops here at once)."""
        self._cache = {d: c for d, c in self._cache.items() if c[0] != principal}


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"this needs a {' or '.join(roles)} token")
