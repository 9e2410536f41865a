"""Keyed wake-ups: a notify wakes the polls waiting on its key, and no other."""
from __future__ import annotations

import asyncio
import time

from actors.wakeups import Wakeups


def run(coro):
    return asyncio.run(coro)


def test_notify_wakes_only_its_key():
    async def scenario():
        w = Wakeups()
        a = asyncio.create_task(w.wait(("student", "a"), 5))
        b = asyncio.create_task(w.wait(("student", "b"), 5))
        await asyncio.sleep(0.01)
        w.notify(("student", "a"))
        await asyncio.sleep(0.01)
        woke = (a.done(), b.done())
        w.notify_many([("student", "b"), ("student", "b")])
        await asyncio.wait_for(b, 1)
        return woke, w.waiting(("student", "a")), w.waiting(("student", "b"))

    assert run(scenario()) == ((True, False), 0, 0)


def test_wait_returns_at_the_timeout_and_forgets_the_waiter():
    async def scenario():
        w = Wakeups()
        started = time.monotonic()
        await w.wait("views", 0.05)
        return time.monotonic() - started, w.waiting("views")

    took, left = run(scenario())
    assert 0.04 <= took < 1.0 and left == 0


def test_a_notify_before_anyone_waits_is_not_remembered():
    """Long-polls check for news before waiting, so a notify with no waiter needs no memory."""
    async def scenario():
        w = Wakeups()
        w.notify("views")
        started = time.monotonic()
        await w.wait("views", 0.05)
        return time.monotonic() - started

    assert run(scenario()) >= 0.04
