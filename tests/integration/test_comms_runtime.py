"""Communication state across actor restarts (real Ray): consents survive a hub and an
EventLog restart; the work states themselves are ephemeral; chat history is in DuckDB."""
from __future__ import annotations

import time

import pytest
import ray

from actors.topology import DomainError
from tests import classroom
from tests.restarts import restart

pytestmark = pytest.mark.ray


def test_consent_survives_restarts_and_revoking_stops_sharing(runtime_factory):
    runtime, _ = runtime_factory(shards=1, hubs=1)
    room = classroom.build(n=5, tag="wv")
    room.enroll(runtime)
    log = runtime.handles.log
    s0, s1 = room.students[:2]
    ray.get(log.work_consent.remote(room.course_id, s0, True))
    message = ray.get(log.chat_send.remote(room.course_id, s0, "student", "hello"))
    state = {"type": "work_state", "course_id": room.course_id, "student_id": s0, "shared": True,
             "activity_id": "a1", "step": 1, "answer": "42", "ts": "2026-01-01T00:00:00+00:00"}

    hub = runtime.handles.hub_for(room.course_id)
    restart(hub)  # the hub reloads consents from the EventLog
    ray.get(hub.share_work.remote(room.professor_id, state))
    assert ray.get(hub.latest_work_state.remote(room.course_id, s0)) == state
    with pytest.raises(DomainError):  # never consented
        ray.get(hub.share_work.remote(room.professor_id, state | {"student_id": s1}))

    ray.kill(log, no_restart=False)  # the EventLog reloads them from DuckDB
    deadline = time.monotonic() + 60
    while True:
        try:
            view = ray.get(log.work_view.remote(room.course_id, s0), timeout=30)
            break
        except ray.exceptions.RayActorError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert view["consent"] is True and view["state"] == state
    assert [m["message_id"] for m in ray.get(log.chat_thread.remote(room.course_id, s0))] == \
        [message["message_id"]]

    ray.get(log.work_consent.remote(room.course_id, s0, False))
    with pytest.raises(DomainError):
        ray.get(hub.share_work.remote(room.professor_id, state))
    assert ray.get(log.work_view.remote(room.course_id, s0)) == {
        "course_id": room.course_id, "student_id": s0, "consent": False, "state": None}


def test_frames_for_several_professors_wake_each_of_their_polls(runtime_factory):
    """A batch of professor frames (receipts of a bulk message) reaches every professor's
    long-poll at once, not only the last one's (wake-ups are keyed per professor)."""
    runtime, _ = runtime_factory(shards=1, hubs=1)
    hub = runtime.handles.hub(0)
    polls = {p: hub.professor_inbox_since.remote(p, 0, 20.0) for p in ("prof-a", "prof-b")}
    time.sleep(1.0)  # both polls are waiting on the hub
    started = time.monotonic()
    ray.get(hub.post_professor_many.remote([("prof-a", {"type": "receipt", "n": 1}),
                                            ("prof-b", {"type": "receipt", "n": 2})]))
    answers = {p: ray.get(ref, timeout=30) for p, ref in polls.items()}
    assert time.monotonic() - started < 5  # woken, not timed out (20 s)
    assert [m["n"] for m in answers["prof-a"]["messages"]] == [1]
    assert [m["n"] for m in answers["prof-b"]["messages"]] == [2]


def test_ignored_help_still_escalates_after_the_hub_restarts(runtime_factory):
    """A restarted hub started a fresh escalation tracker: the ignored interventions were forgotten
    and the escalation alert vanished. It now reloads them from intervention_records."""
    runtime, _ = runtime_factory(shards=1, hubs=1)
    room = classroom.build(n=10, tag="esc")
    room.enroll(runtime)
    log = runtime.handles.log
    ray.get(log.configure.remote(room.course_id, {"escalate_after_ignored": 2, "escalate_after_minutes": 0},
                                 "test"))
    for batch in room.batches():
        ray.get(runtime.ingest(batch))
    runtime.sync()
    hub = runtime.handles.hub_for(room.course_id)
    ray.get(hub.refresh_now.remote())
    live = ray.get(runtime.live_progress(room.course_id))
    stuck = next(a["student_id"] for a in live["alerts"] if a["kind"] == "struggling")
    for text in ("try again", "still there?"):
        ray.get(log.intervene.remote(room.professor_id, stuck,
                                     {"course_id": room.course_id, "kind": "message", "message": text, "holdout": 0}))

    def escalated():
        ray.get(hub.refresh_now.remote())
        return [a for a in ray.get(runtime.live_progress(room.course_id))["alerts"]
                if a["kind"] == "escalation" and a["student_id"] == stuck]

    assert escalated()
    restart(hub)
    assert escalated()
