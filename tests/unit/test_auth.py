"""The replica's token cache (serve/auth.py): tokens in use are re-checked together before they
expire, so a class posting every few seconds costs the log one call a second, not one per token;
a revoked token still stops within the cache time."""
from __future__ import annotations

import asyncio
import hashlib

import pytest
from fastapi import HTTPException

from serve.auth import Authenticator, Principal


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Log:
    """The EventLog's two lookups over a dict of token digests, counting the calls."""

    def __init__(self, tokens: dict[str, tuple[str, str]]) -> None:
        self.tokens = {digest(t): p for t, p in tokens.items()}
        self.single = 0
        self.batched: list[int] = []

    async def lookup(self, h: str):
        self.single += 1
        return self.tokens.get(h)

    async def lookup_many(self, hs: list[str]):
        self.batched.append(len(hs))
        return [self.tokens.get(h) for h in hs]


def authenticator(log: Log, cache_s: float = 0.6) -> Authenticator:
    return Authenticator(digest("admin"), log.lookup, log.lookup_many, cache_s=cache_s,
                         refresh_every_s=0.05, refresh_ahead_s=0.3)


def test_tokens_in_use_are_rechecked_together_and_never_looked_up_one_by_one_again():
    tokens = {f"t{i}": ("student", f"s{i}") for i in range(50)}
    log = Log(tokens)

    async def run():
        auth = authenticator(log)
        for token in tokens:
            assert await auth.principal(token) == Principal("student", tokens[token][1])
        for _ in range(30):  # 1.5 s: two and a half cache lifetimes, every token used all along
            for token in tokens:
                await auth.principal(token)
            await asyncio.sleep(0.05)
        return auth

    auth = asyncio.run(run())
    assert log.single == 50  # the first use of each token only
    assert log.batched and max(log.batched) == 50 and len(log.batched) <= 10
    assert all(auth.known(t) for t in tokens)


def test_a_revoked_token_stops_within_the_cache_time_though_in_use():
    log = Log({"t1": ("student", "s1"), "t2": ("student", "s2")})

    async def run():
        auth = authenticator(log)
        await auth.principal("t1")
        await auth.principal("t2")
        del log.tokens[digest("t1")]  # rotated
        for _ in range(16):  # 0.8 s > the 0.6 s cache time
            await auth.principal("t2")
            try:
                await auth.principal("t1")
            except HTTPException as exc:
                return exc.status_code, auth
            await asyncio.sleep(0.05)
        return None, auth

    status, auth = asyncio.run(run())
    assert status == 401
    assert auth.known("t2") and not auth.known("t1")


def test_unused_tokens_are_not_rechecked_and_expire():
    log = Log({"t1": ("student", "s1")})

    async def run():
        auth = authenticator(log)
        await auth.principal("t1")
        await asyncio.sleep(1.3)  # never used again: one re-check at most, so gone by ~0.95 s
        return auth

    auth = asyncio.run(run())
    assert len(log.batched) <= 1  # at most the re-check while its last use was recent
    assert not auth.known("t1")


def test_a_token_moved_to_another_principal_is_dropped_before_it_would_expire():
    log = Log({"t1": ("student", "s1")})

    async def run():
        auth = authenticator(log)
        await auth.principal("t1")
        log.tokens[digest("t1")] = ("student", "someone-else")
        await asyncio.sleep(0.45)  # re-checked from 0.3 s on; cached, it would hold until 0.6 s
        return auth

    auth = asyncio.run(run())
    assert log.batched and not auth.known("t1")


def test_an_unknown_token_is_refused_and_not_cached():
    log = Log({})

    async def run():
        auth = authenticator(log)
        with pytest.raises(HTTPException) as exc:
            await auth.principal("guess")
        return exc.value.status_code, auth

    status, auth = asyncio.run(run())
    assert status == 401 and not auth.known("guess") and log.single == 1


def held_authenticator(log: Log) -> Authenticator:
    return Authenticator(digest("admin"), log.lookup, log.lookup_many, cache_s=30.0,
                         refresh_every_s=0.05, refresh_ahead_s=0.3, stream_recheck_s=0.2)


def test_an_open_connection_learns_its_token_was_revoked_though_the_cache_would_keep_it():
    """A socket authenticated at its handshake holds its token; a rotation ends it within the
    re-check time, not never (the REST cache alone re-checked only tokens used again)."""
    log = Log({"t1": ("student", "s1"), "t2": ("student", "s2")})

    async def run():
        auth = held_authenticator(log)
        with auth.hold("t1", await auth.principal("t1")) as revoked1, \
                auth.hold("t2", await auth.principal("t2")) as revoked2:
            await asyncio.sleep(0.3)
            assert not revoked1.is_set() and not revoked2.is_set()
            del log.tokens[digest("t1")]  # rotated
            await asyncio.wait_for(revoked1.wait(), 1.0)
            await asyncio.sleep(0.3)
            return revoked2.is_set(), auth

    still_open_revoked, auth = asyncio.run(run())
    assert not still_open_revoked
    assert not auth.known("t1")  # nor does REST take it any longer
    assert max(log.batched) == 2  # both held tokens re-checked in one call


def test_forgetting_a_principal_ends_its_connections_at_once_and_released_ones_are_not_rechecked():
    log = Log({"t1": ("student", "s1")})

    async def run():
        auth = held_authenticator(log)
        principal = await auth.principal("t1")
        with auth.hold("t1", principal) as revoked:
            auth.forget(principal)  # the student erased on this replica
            assert revoked.is_set()
        log.batched.clear()
        await asyncio.sleep(0.5)
        return auth

    auth = asyncio.run(run())
    assert not auth._held and log.batched == []


def test_the_admin_token_is_not_held():
    log = Log({})

    async def run():
        auth = held_authenticator(log)
        with auth.hold("admin", await auth.principal("admin")) as revoked:
            await asyncio.sleep(0.3)
            return revoked.is_set()

    assert asyncio.run(run()) is False and log.batched == []
