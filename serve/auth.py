"""Who is calling: bearer tokens (or ``?token=`` on streams) to a Principal.

The admin token is compared in constant time; other tokens are looked up by
their SHA-256 in the EventLog and cached per replica for ``CACHE_S`` seconds
(a rotated token keeps working at most that long on a replica that cached it).

Tokens in use are re-checked before they expire, all in one call to the log
(``REFRESH_EVERY_S``): a student posting every 10 s would otherwise cost one
lookup every ~30 s, ~50 calls a second to the log for a class of 1,500. A
token the log no longer knows is dropped at that re-check.

An open WebSocket or SSE stream was authenticated once, at its handshake: it
``hold``s its token, and the tokens held are re-checked in the same call every
``STREAM_RECHECK_S``; a connection whose token was revoked or rotated (or whose
student was erased) is told so and closes. The admin token is configuration,
not revocable while the server runs, so it is never re-checked.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from fastapi import HTTPException, Request

log = logging.getLogger(__name__)
CACHE_S = 30.0
CACHE_MAX = 100_000
REFRESH_EVERY_S = 1.0  # how often tokens near their expiry are re-checked together
REFRESH_AHEAD_S = 10.0  # ... those expiring within this; used within CACHE_S
STREAM_RECHECK_S = 10.0  # how often the tokens of open sockets and streams are re-checked


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
    def __init__(self, admin_token_hash: str, lookup: Callable[[str], Awaitable[tuple[str, str] | None]],
                 lookup_many: Callable[[list[str]], Awaitable[list[tuple[str, str] | None]]] | None = None,
                 cache_s: float = CACHE_S, refresh_every_s: float = REFRESH_EVERY_S,
                 refresh_ahead_s: float = REFRESH_AHEAD_S, stream_recheck_s: float = STREAM_RECHECK_S) -> None:
        self._admin_hash = admin_token_hash
        self._lookup = lookup  # async (token_hash) -> (role, id) | None
        self._lookup_many = lookup_many  # async [token_hash] -> [(role, id) | None], or None: no re-checks
        self._cache_s, self._every, self._ahead = cache_s, refresh_every_s, refresh_ahead_s
        self._cache: dict[str, tuple[Principal, float]] = {}  # digest -> (principal, expires at)
        self._used: dict[str, float] = {}  # digest -> last use
        self._refresher: asyncio.Task | None = None
        self._stream_every = stream_recheck_s
        self._held: dict[asyncio.Event, tuple[str, Principal]] = {}  # open connection -> (digest, principal)
        self._held_checked = time.monotonic()

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
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[1] > now:
            self._used[digest] = now
            return cached[0]
        found = await self._lookup(digest)
        if found is None:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
        self._used[digest] = now  # only verified tokens are remembered (guesses would grow this)
        principal = Principal(*found)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
            self._used = {digest: now}
        self._cache[digest] = (principal, now + self._cache_s)
        self._start_refresher()
        return principal

    def forget(self, principal: Principal) -> None:
        """Drop a principal's cached tokens and end its open connections (an erased student's token
        stops here at once; other replicas see it at their next re-check)."""
        self._cache = {d: c for d, c in self._cache.items() if c[0] != principal}
        for revoked, (_, held_by) in list(self._held.items()):
            if held_by == principal:
                revoked.set()

    @contextlib.contextmanager
    def hold(self, token: str | None, principal: Principal) -> Iterator[asyncio.Event]:
        """While an open connection authenticated with ``token`` lasts: an event set once the token
        no longer names ``principal`` (revoked, rotated, the student erased), seen within
        ``STREAM_RECHECK_S``. The connection waits on it and closes."""
        revoked = asyncio.Event()
        if principal.is_admin or not token:
            yield revoked
            return
        self._held[revoked] = (hashlib.sha256(token.encode()).hexdigest(), principal)
        self._start_refresher()
        try:
            yield revoked
        finally:
            self._held.pop(revoked, None)

    def _start_refresher(self) -> None:
        if self._lookup_many is not None and (self._refresher is None or self._refresher.done()):
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while self._cache or self._held:
            await asyncio.sleep(self._every)
            try:
                await self.refresh()
            except Exception:  # the log restarting: entries expire as they would have; next round retries
                log.warning("token re-check failed", exc_info=True)

    async def refresh(self) -> int:
        """Re-check, in one call, the tokens used within the cache time that expire soon (extend the
        ones still valid for the same principal, drop the others, forget unused ones) and, every
        ``stream_recheck_s``, the tokens open connections hold (end those no longer valid);
        -> how many tokens were re-checked."""
        now = time.monotonic()
        self._used = {d: t for d, t in self._used.items() if now - t < self._cache_s}
        self._cache = {d: c for d, c in self._cache.items() if c[1] > now}
        due = [d for d, (_, expires) in self._cache.items() if expires - now < self._ahead and d in self._used]
        held = dict(self._held) if now - self._held_checked >= self._stream_every else {}
        asked = list(dict.fromkeys([*due, *(digest for digest, _ in held.values())]))
        if not asked:
            return 0
        async with asyncio.timeout(self._ahead):  # a stuck log: the entries expire as they would have
            answers = dict(zip(asked, await self._lookup_many(asked)))
        for digest in due:
            cached, found = self._cache.get(digest), answers[digest]
            if cached is None:
                continue
            if found is None or Principal(*found) != cached[0]:
                del self._cache[digest]
            else:
                self._cache[digest] = (cached[0], now + self._cache_s)  # from before the call, not its answer
        for revoked, (digest, principal) in held.items():
            found = answers[digest]
            if found is None or Principal(*found) != principal:
                revoked.set()
                self._cache.pop(digest, None)
        if held:
            self._held_checked = now
        return len(asked)


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"this needs a {' or '.join(roles)} token")
