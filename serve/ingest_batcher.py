"""This replica's small ingest requests reach the EventLog together, not one Ray call each.

A live class sends one or two events per request, ~100-150 requests a second at 1,000-1,500
students, and a Ray call costs each side about a millisecond of CPU: more than the log spends
committing the events. So while a call with small batches is on its way to the log, the small
batches of later requests wait here and go in the next call, together (``EventLog.append_many``,
up to ``MAX_GATHERED`` batches and ``MAX_GATHERED_EVENTS`` events). Nothing waits when nothing is
in flight: a quiet class's request is sent at once, as before.

Each batch is still its own request to the log: checked against the roster, deduplicated and
committed on its own terms (all or nothing), and answered on its own: a refused batch (422, 409)
fails only its own request. Big batches (a gateway's, over ``SMALL_EVENTS``) go straight to the log,
many in flight at once, as before. A call that fails (the log restarting) fails each request in it,
as separate calls would have: clients retry.
"""
from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from actors.topology import DomainError

SMALL_EVENTS = 200  # batches of at most this many events are gathered
MAX_GATHERED = 200  # batches in one call ...
MAX_GATHERED_EVENTS = 10_000  # ... and events (a call's bytes stay ~1.4 MB)


@dataclass
class _Waiting:
    packed: bytes
    events: int
    request_id: str | None
    answer: asyncio.Future


class IngestBatcher:
    """``append(packed, events, request_id)`` -> the log's ack for this one batch (or its error)."""

    def __init__(self, log: Any) -> None:
        self._log = log  # the EventLog's Ray handle
        self._waiting: list[_Waiting] = []
        self._in_flight = False
        self._task: asyncio.Task | None = None

    async def append(self, packed: bytes, events: int, request_id: str | None) -> dict[str, int]:
        if events > SMALL_EVENTS:
            return await self._log.append.remote(packed, None, request_id)
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(packed, events, request_id, answer))
        self._send_next()
        return await answer  # a request cancelled here leaves the call (and the others) alone

    def _send_next(self) -> None:
        if self._in_flight:
            return
        self._waiting = [w for w in self._waiting if not w.answer.done()]  # their clients went away
        if not self._waiting:
            return
        taken, events = 1, self._waiting[0].events
        while (taken < min(len(self._waiting), MAX_GATHERED)
               and events + self._waiting[taken].events <= MAX_GATHERED_EVENTS):
            events += self._waiting[taken].events
            taken += 1
        group, self._waiting = self._waiting[:taken], self._waiting[taken:]
        self._task = asyncio.get_running_loop().create_task(self._send(group))  # held: not collected mid-call
        self._in_flight = True

    async def _send(self, group: list[_Waiting]) -> None:
        try:
            if len(group) == 1:  # alone: the plain call (its error raised as is)
                try:
                    results: list[Any] = [await self._log.append.remote(group[0].packed, None, group[0].request_id)]
                except DomainError as exc:
                    results = [exc]
            else:
                results = await self._log.append_many.remote([w.packed for w in group],
                                                             [w.request_id for w in group])
        except asyncio.CancelledError:  # the replica is stopping
            for waiting in group:
                waiting.answer.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 (the call failed: each of its requests fails with it, as it would alone)
            results = [exc, *(_copy(exc) for _ in group[1:])]  # one each: tracebacks are per request
        finally:
            self._in_flight = False
            self._send_next()
        for waiting, result in zip(group, results):
            if waiting.answer.done():  # its client went away
                continue
            if isinstance(result, BaseException):
                waiting.answer.set_exception(result)
            else:
                waiting.answer.set_result(result)


def _copy(exc: Exception) -> Exception:
    try:
        return copy.copy(exc)
    except Exception:  # noqa: BLE001 (an exception that will not copy is shared, as a last resort)
        return exc
