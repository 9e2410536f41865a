"""The EventLog's xAPI side: issued credentials, statement ingest (store, apply, void) and reads.

It lives in the EventLog actor because statements, their events and the
catalogue share the one DuckDB file. Planning and storing a request run under
one lock, so two requests never plan against each other's half-written state
(a voider and its target arriving at once); the events' commit runs outside it,
and if it fails the request's rows are removed again (all or nothing).
"""
from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from actors.commit import GroupCommitter
from actors.registry import Registry
from actors.topology import DomainError
from engine import xapi_store
from engine.events import quantize
from engine.store import Store
from engine.xapi import student_of, voided_target
from engine.xapi_ingest import Caller, IngestError, Plan, plan


class XapiDesk:
    def __init__(self, store: Store, registry: Registry, commit: GroupCommitter) -> None:
        self._store = store
        self._registry = registry
        self._commit = commit
        self._lock = asyncio.Lock()
        self._inflight: dict[str, asyncio.Future] = {}  # statement id -> its request's commit
        self.credentials = self._run_now(xapi_store.credentials)
        self._run_now(xapi_store.reconcile)  # a request cut off by a crash: its retry applies again

    def _run_now(self, fn: Callable, *args: Any) -> Any:
        cur = self._store.cursor()
        try:
            return fn(cur, *args)
        finally:
            cur.close()

    async def _run(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.to_thread(self._run_now, fn, *args)

    # -- credentials -----------------------------------------------------------

    def issue(self, course_ids: list[str], institution: str | None) -> dict[str, Any]:
        """A Basic credential (key, secret) for these courses; the secret is stored only hashed."""
        catalog = self._registry.catalog
        unknown = [c for c in course_ids if c not in catalog.courses]
        if unknown:
            raise DomainError(422, "course_ids", f"unknown course(s): {', '.join(unknown)}")
        key = "xapi-" + secrets.token_hex(8)
        self._run_now(xapi_store.save_credential, key, institution, sorted(set(course_ids)))
        secret = self._registry.issue_token("xapi", key)
        self.credentials[key] = (institution, frozenset(course_ids))
        return {"key": key, "secret": secret, "institution": institution, "course_ids": sorted(set(course_ids))}

    @property
    def planning(self) -> asyncio.Lock:
        """Held while statements are checked against the roster and stored, and released only as
        their events queue for commit. An erasure holds it while it takes the student off the
        roster, so a statement either queues before (and is erased with the rest) or sees them gone."""
        return self._lock

    def caller(self, role: str, principal_id: str) -> Caller:
        """The scope of whoever sends or reads statements."""
        if role == "admin":
            return Caller("admin:admin")
        if role == "xapi" and principal_id in self.credentials:
            _, courses = self.credentials[principal_id]
            only = next(iter(courses)) if len(courses) == 1 else None
            return Caller(f"xapi:{principal_id}", courses, only)
        if role == "student":
            courses = frozenset(c for c, roster in self._registry.catalog.rosters.items() if principal_id in roster)
            only = next(iter(courses)) if len(courses) == 1 else None
            return Caller(f"student:{principal_id}", courses, only, may_void=False)
        raise DomainError(403, "authorization", "statements are sent with an xAPI credential, the admin "
                                                "token or a student's own token")

    # -- statements ----------------------------------------------------------------

    async def ingest(self, statements: list[dict[str, Any]], role: str, principal_id: str) -> dict[str, Any]:
        """Store every statement of the request and apply those that map (all or nothing)."""
        caller = self.caller(role, principal_id)
        if role == "student":  # their own statements only, as mapped (an LMS account named after
            # them may be mapped to another student: the route's check reads account.name alone)
            foreign = [i for i, st in enumerate(statements)
                       if student_of(st["actor"], self._registry.catalog) != principal_id]
            if foreign:
                raise DomainError(403, "actor", f"statements {foreign[:10]} are for another student")
        ids = [st["id"] for st in statements]
        targets = [t for st in statements if (t := voided_target(st)) is not None]
        async with self._lock:
            known, voiders = await self._run(xapi_store.known, ids + targets)
            try:
                todo = plan(statements, known, voiders, self._registry.catalog, caller, quantize(time.time()))
            except IngestError as exc:
                raise DomainError(exc.status, exc.path, exc.problem) from None
            await self._run(xapi_store.save, todo)
            waits = [self._inflight[sid] for sid in ids if sid in known and sid in self._inflight]
            done = asyncio.get_running_loop().create_future()
            for sid in todo.rows:
                self._inflight[sid] = done
            # a task of its own: the commit and its undo run on even if this call is cancelled
            commit = asyncio.ensure_future(self._commit_or_undo(todo, done))
            await asyncio.sleep(0)  # its first step queues the events, before the lock is released
        applied = await asyncio.shield(commit)
        for wait in waits:  # a statement sent again while its first request commits: answer after it
            try:
                await asyncio.shield(wait)
            except (DomainError, asyncio.CancelledError):
                raise DomainError(503, "statements", "an earlier request with these statements failed; "
                                                     "send them again") from None
        return {"ids": ids, "applied": applied,
                "results": [{"id": sid, "note": todo.notes.get(sid)} for sid in ids]}

    async def _commit_or_undo(self, todo: Plan, done: asyncio.Future) -> int:
        """Commit the plan's events; if that fails in any way, remove the plan's rows again (all or
        nothing), so a retry applies the statements instead of finding them "already stored". A crash
        between ``save`` and here is undone at the next start (``xapi_store.reconcile``)."""
        try:
            applied = (await self._commit.append(todo.events)).accepted if todo.events else 0
        except BaseException as exc:
            await asyncio.shield(self._run(xapi_store.unsave, todo))
            done.set_exception(exc if isinstance(exc, DomainError) else
                               DomainError(503, "statements", "the statements could not be committed; send "
                                                              "them again"))
            done.exception()  # retrieved: only later waiters need it
            raise
        else:
            done.set_result(True)
        finally:
            for sid in todo.rows:
                self._inflight.pop(sid, None)
            if not done.done():
                done.cancel()
        return applied

    async def read(self, statement_id: str, voided: bool, role: str, principal_id: str) -> dict[str, Any] | None:
        """A stored statement by id; a voided one only when asked for as voided (Communication 2.1.3)."""
        caller = self.caller(role, principal_id)
        found = await self._run(xapi_store.statement, statement_id)
        if found is None or (found["row"].voided_by is not None) != voided:
            return None
        row = found["row"]
        if not caller.may_use(row.course_id) and row.credential != caller.credential:
            raise DomainError(403, "statementId", "this statement belongs to a course outside this credential")
        return {"statement": row.statement, "stored": found["stored"], "credential": row.credential}

    async def summary(self) -> dict[str, Any]:
        return await self._run(xapi_store.summary)
