"""Concurrent small requests share calls to the log (serve/ingest_batcher.py), yet each is
answered on its own terms: a refused batch fails only its own request."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


def test_concurrent_requests_share_calls_and_each_gets_its_own_answer(stack):
    room = create_class(stack, students=30)
    students = sorted(room.student_tokens)
    taken = event(room, students[0], "hint_requested")
    with stack.client() as c:
        assert c.post("/api/events", json={"events": [taken]}).status_code == 202
    before = get(stack, "/api/admin/stats", stack.admin_token).json()

    posts = [(room.student_tokens[s], [event(room, s, "attempt", correct=True)]) for s in students]
    posts.append((None, [taken | {"type": "activity_started"}]))  # its id, other content: 409
    posts.append((None, [event(room, students[1], "attempt") | {"student_id": "nobody-here"}]))  # 422
    posts.append((None, [taken]))  # the same event again: a duplicate
    posts = posts * 3  # the second and third rounds: duplicates of the first (and the same refusals)

    def post(token_and_events):
        token, events = token_and_events
        with stack.client(token) as c:
            r = c.post("/api/events", json={"events": events})
            return r.status_code, r.json()

    with ThreadPoolExecutor(len(posts)) as pool:
        answers = list(pool.map(post, posts))

    n = len(students)
    for round_ in range(3):
        got = answers[round_ * (n + 3):(round_ + 1) * (n + 3)]
        assert all(status == 202 for status, _ in got[:n]), got[:n]
        assert got[n][0] == 409 and got[n][1]["field"] == "event_id"
        assert got[n + 1][0] == 422 and got[n + 1][1]["field"] == "student_id"
        assert got[n + 2] == (202, {"accepted": 0, "duplicates": 1})
    # each student's event was accepted once in all, and acknowledged as a duplicate otherwise
    for i in range(n):
        bodies = [answers[r * (n + 3) + i][1] for r in range(3)]
        assert sum(b["accepted"] for b in bodies) == 1 and sum(b["duplicates"] for b in bodies) == 2, bodies

    after = get(stack, "/api/admin/stats", stack.admin_token).json()
    assert after["events_acknowledged_since_start"] - before["events_acknowledged_since_start"] == n
    calls = after["gathered_calls"] - before["gathered_calls"]
    batches = after["gathered_batches"] - before["gathered_batches"]
    assert calls >= 1 and batches > calls  # some requests did share a call
