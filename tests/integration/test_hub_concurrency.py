"""A hub stays responsive with more long-polls waiting than an async actor's default concurrency.

Ray runs at most 1,000 calls of an async actor at once unless told otherwise; long-polls count.
With a poll per student socket, a class of a thousand filled that and every other call to the hub
(summaries from the shards, live progress, interventions) waited for some poll to time out."""
from __future__ import annotations

import time

import pytest
import ray

from tests import classroom

pytestmark = pytest.mark.ray


def test_a_hub_answers_at_once_while_1200_long_polls_wait(runtime_factory):
    runtime, _ = runtime_factory(shards=1, hubs=1)
    room = classroom.build(n=5, tag="cc")
    room.enroll(runtime)
    hub = runtime.handles.hub(0)
    polls = [hub.professor_inbox_since.remote(f"p{i}", 0, 60.0) for i in range(1200)]
    time.sleep(2.0)  # every poll is waiting in the hub
    started = time.monotonic()
    live = ray.get(runtime.live_progress(room.course_id), timeout=20)
    assert time.monotonic() - started < 5.0  # with the default cap: after a poll times out (60 s)
    assert len(live["students"]) == 5
    ready, _ = ray.wait(polls, num_returns=len(polls), timeout=0)
    assert not ready  # the polls were all still waiting
    for ref in polls:
        ray.cancel(ref)
