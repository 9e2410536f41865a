"""The actor runtime on a real Ray instance: ingest, statuses, idempotency, recovery."""
from __future__ import annotations

import collections
import time

import pytest
import ray

from actors.registry import hash_token
from engine.events import quantize
from tests import classroom
from tests.classroom import comparable, reference_states
from tests.factories import T0, ev
from tests.restarts import restart

pytestmark = pytest.mark.ray


def ingest_all(runtime, batches):
    acks = [ray.get(runtime.ingest(b)) for b in batches]
    return sum(a["accepted"] for a in acks), sum(a["duplicates"] for a in acks)


def states_of(runtime):
    return {k: comparable(v) for k, v in runtime.shard_states().items()}


def statuses(progress):
    return {s["student_id"]: s["status"] for s in progress["students"]}


@pytest.fixture
def loaded(runtime_factory):
    runtime, settings = runtime_factory(snapshot_interval_s=1.0)
    room = classroom.build(200, tag="r")
    room.enroll(runtime)
    accepted, dups = ingest_all(runtime, room.batches())
    assert (accepted, dups) == (len(room.events), 0)
    runtime.sync()
    return runtime, settings, room


def test_200_student_class_shows_the_right_statuses_and_alerts(loaded):
    runtime, _, room = loaded
    progress = ray.get(runtime.live_progress(room.course_id))
    assert statuses(progress) == room.expected
    assert len(progress["students"]) == 200
    by_id = {s["student_id"]: s for s in progress["students"]}
    for sid, group in room.expected.items():
        want = {"completed": 1.0, "struggling": 0.25, "idle": 0.125, "active": 0.125, "not_started": 0.0}[group]
        assert by_id[sid]["completion"] == pytest.approx(want)
    kinds = collections.Counter(a["kind"] for a in progress["alerts"])
    assert kinds["struggling"] == 40 and kinds["idle"] == 40
    assert all(a["priority"] in (1, 2, 3) and a["message"] for a in progress["alerts"])
    assert states_of(runtime) == reference_states(room.events)


def test_duplicates_are_acknowledged_and_never_counted_twice(loaded):
    runtime, _, room = loaded
    before = ray.get(runtime.live_progress(room.course_id))
    rows = ray.get(runtime.handles.log.stats.remote())["tables"]["student_activity_log"]
    assert ingest_all(runtime, room.batches(300)) == (0, len(room.events))
    runtime.sync()
    assert ray.get(runtime.handles.log.stats.remote())["tables"]["student_activity_log"] == rows
    assert ray.get(runtime.live_progress(room.course_id))["students"] == before["students"]
    assert states_of(runtime) == reference_states(room.events)


def test_a_shard_killed_mid_stream_recovers_identical_state(runtime_factory):
    runtime, _ = runtime_factory(snapshot_interval_s=0.5)
    room = classroom.build(200, tag="k")
    room.enroll(runtime)
    batches = room.batches(100)
    victim = runtime.handles.shard(1)
    for i, batch in enumerate(batches):
        if i == len(batches) // 2:
            ray.kill(victim, no_restart=False)  # Ray restarts it; it must rebuild from snapshot + log
        ray.get(runtime.ingest(batch))
    runtime.sync()
    assert states_of(runtime) == reference_states(room.events)
    assert ray.get(victim.status.remote())["applied_seq"] >= len(room.events) - 200
    assert statuses(ray.get(runtime.live_progress(room.course_id))) == room.expected


def test_a_killed_hub_rebuilds_the_same_live_view(loaded):
    runtime, _, room = loaded
    before = ray.get(runtime.live_progress(room.course_id))
    restart(runtime.handles.hub_for(room.course_id))
    after = ray.get(runtime.live_progress(room.course_id))
    assert sorted(after["students"], key=lambda s: s["student_id"]) == \
        sorted(before["students"], key=lambda s: s["student_id"])


def test_restarting_everything_on_the_same_data_keeps_live_progress(loaded, runtime_factory):
    runtime, settings, room = loaded
    ray.get([runtime.handles.shard(i).snapshot.remote() for i in range(2)])  # half from snapshots
    before = ray.get(runtime.live_progress(room.course_id))
    states = states_of(runtime)
    runtime.stop()
    again, _ = runtime_factory(data_dir=settings.data_dir, namespace=settings.namespace + "-b")
    again.sync()
    after = ray.get(again.live_progress(room.course_id))
    assert after["students"] == before["students"] and after["as_of"] == before["as_of"]
    assert states_of(again) == states
    assert ingest_all(again, room.batches()) == (0, len(room.events))


def test_killing_the_event_log_loses_no_acknowledged_event(runtime_factory):
    runtime, _ = runtime_factory()
    room = classroom.build(50, tag="l")
    room.enroll(runtime)
    batches = room.batches(40)
    acked = set()
    for i, batch in enumerate(batches):
        if i == len(batches) // 2:
            ray.kill(runtime.handles.log, no_restart=False)
        ray.get(runtime.ingest(batch))  # retried by Ray on the restarted log
        acked.update(e.event_id for e in batch)
    runtime.sync()
    stats = ray.get(runtime.handles.log.stats.remote())
    assert stats["tables"]["student_activity_log"] == len(acked) == len(room.events)
    assert states_of(runtime) == reference_states(room.events)


def test_verify_against_log_finds_agreement_and_a_tampered_shard(loaded):
    runtime, _, room = loaded
    report = runtime.verify_against_log()
    assert report["events_replayed"] == len(room.events) and report["mismatched"] == []
    assert report["students_compared"] == len({e.student_id for e in room.events})
    # make one shard forget a student: the check must notice
    victim = next(iter(runtime.shard_states())).split("/", 1)[1]
    shard = runtime.handles.shard(runtime.topology.shard_of(victim))
    assert ray.get(shard.forget.remote(victim)) == 1
    assert runtime.verify_against_log()["mismatched"] == [f"{room.course_id}/{victim}"]


def test_the_log_checks_many_tokens_in_one_call(loaded):
    """What an API replica's token re-check asks (serve/auth.py): a rotated token and one never
    issued come back as None, the current one as its principal, in the order asked."""
    log = loaded[0].handles.log
    first, _ = ray.get(log.add_professor.remote("p-tokens", "P"))
    rotated, _ = ray.get(log.add_professor.remote("p-tokens", "P", None, True))
    asked = [hash_token(first["token"]), hash_token(rotated["token"]), hash_token("cpp_never-issued")]
    assert ray.get(log.authenticate_many.remote(asked)) == [None, ("professor", "p-tokens"), None]


def test_a_new_idle_threshold_is_charged_as_a_replay_would_and_a_restarted_shard_keeps_it(runtime_factory):
    """Time on task caps each gap between a student's events at the course's idle threshold.
    Changing the threshold folds the course again from the log. Before, gaps folded earlier kept
    the old cap, a restarted shard charged only its tail with the new one, and the replay check
    that ops run after a drill called every student of the course wrong."""
    runtime, _ = runtime_factory(snapshot_interval_s=3600)
    room = classroom.build(6, tag="cap")
    room.enroll(runtime)
    students = [s["student_id"] for s in room.roster()]
    base = time.time() - 7200 - T0

    def attempts(start: float, n: int) -> list:  # 400 s apart: over the default cap (180), under 600
        out = []
        for sid in students:
            for i in range(n):
                e = ev("attempt", sid, "a1", base + start + 400 * i, course=room.course_id, correct=False,
                       event_id=f"cap-{sid}-{start}-{i}")
                e = e._replace(ts=quantize(e.ts), received_at=quantize(e.received_at))  # as the API stores
                out.append(e._replace(fingerprint=e.content_fingerprint()))
        return out

    def time_on_task() -> dict[str, float]:
        runtime.sync()
        return {s["student_id"]: s["time_on_task_s"]
                for s in ray.get(runtime.live_progress(room.course_id))["students"]}

    ingest_all(runtime, [attempts(0, 3)])
    runtime.sync()
    ray.get([runtime.handles.shard(i).snapshot.remote() for i in range(runtime.topology.shards)])
    ray.get(runtime.handles.log.configure.remote(room.course_id, {"idle_after_s": 600}, "test"))
    ingest_all(runtime, [attempts(1200, 2)])
    live = time_on_task()
    assert runtime.verify_against_log()["mismatched"] == []
    assert list(live.values()) == [pytest.approx(4 * 400)] * len(students)  # every gap under the new cap, whole
    victim = runtime.handles.shard(runtime.topology.shard_of(students[0]))
    restart(victim)  # rebuilds from its snapshot (written by the refold) + the log's tail
    assert time_on_task() == live
    assert runtime.verify_against_log()["mismatched"] == []
