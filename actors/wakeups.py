"""Keyed wake-ups for long-polls: a change wakes only the polls that asked about it.

A hub holds one long-poll per professor socket (chat and receipts), per professor stream (the
live views) and per Serve replica for its student sockets' inboxes. With one shared condition
every refresh of a course woke every inbox poll only for it to find nothing and wait again. Here
each poll waits on its own key ("views", ``INBOXES``, ("professor", id)).
"""
from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable

INBOXES = "inboxes"  # the key of the replicas' student-inbox polls (every student's messages)


class Wakeups:
    def __init__(self) -> None:
        self._waiting: dict[Hashable, set[asyncio.Future]] = {}

    async def wait(self, key: Hashable, timeout: float) -> None:
        """Until ``notify(key)`` or ``timeout`` seconds, whichever comes first."""
        future = asyncio.get_running_loop().create_future()
        waiters = self._waiting.setdefault(key, set())
        waiters.add(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            waiters.discard(future)
            if not waiters and self._waiting.get(key) is waiters:
                del self._waiting[key]

    def notify(self, key: Hashable) -> None:
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(None)

    def notify_many(self, keys: Iterable[Hashable]) -> None:
        for key in set(keys):
            self.notify(key)

    def waiting(self, key: Hashable) -> int:
        return len(self._waiting.get(key, ()))
