"""Voiding on real actors: live state equals a fold of the log that never saw the voided events,
live and after a shard restarts from its snapshot and the log."""
from __future__ import annotations

import time
import uuid

import pytest
import ray

from engine import voiding
from engine.course import FoldParams
from engine.state import StudentState, to_snapshot

pytestmark = pytest.mark.ray
VOID = "http://adlnet.gov/expapi/verbs/voided"


def statement(course, student, verb, activity, **extra):
    return {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": student}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": f"https://lms.example/activities/{activity}"},
            "context": {"contextActivities": {"parent": [{"id": f"https://lms.example/courses/{course}"}]}},
            **extra}


def void(target_id):
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": VOID},
            "object": {"objectType": "StatementRef", "id": target_id}}


def send(log, statements):
    return ray.get(log.xapi.remote(statements, "admin", "admin"))


def independent_reference(log, course, students, voided_ids):
    """Each student's events from the log minus markers and the events of ``voided_ids``, folded anew."""
    params = FoldParams(3, 180.0)
    out = {}
    for sid in students:
        events, _ = ray.get(log.student_log.remote(course, sid, 2**62))
        state = StudentState(course, sid)
        for e in events:
            if e.type != voiding.VOIDED and e.event_id.removeprefix("xapi:") not in voided_ids:
                state.apply(e, params)
        out[f"{course}/{sid}"] = {k: v for k, v in to_snapshot(state).items() if k != "seq"}
    return out


def live(runtime, course, students):
    states = runtime.shard_states()
    return {k: {f: v for f, v in states[k].items() if f != "seq"} for k in (f"{course}/{s}" for s in students)}


def test_voided_statements_leave_live_state_and_a_restarted_shard_agrees(runtime_factory):
    runtime, _ = runtime_factory(snapshot_interval_s=0.5)
    log, course, students = runtime.handles.log, f"c-{uuid.uuid4().hex[:6]}", ["s1", "s2"]
    ray.get(log.add_professor.remote("p-void", "Prof"))
    ray.get(log.add_course.remote({"course_id": course, "professor_id": "p-void", "title": "V", "clock": "event",
                                   "activities": [{"activity_id": f"a{i}", "title": "A", "expected_minutes": 5}
                                                  for i in range(3)]}))
    ray.get(log.add_students.remote(course, [{"student_id": s, "name": s} for s in students]))
    t = "2026-01-07T10:0{}:00Z"
    done0 = statement(course, "s1", "completed", "a0", timestamp=t.format(0))
    wrong = [statement(course, "s1", "answered", "a1", result={"success": False}, timestamp=t.format(i + 1))
             for i in range(3)]
    done1 = statement(course, "s1", "completed", "a1", timestamp=t.format(5))
    other = statement(course, "s2", "completed", "a0", timestamp=t.format(2))
    send(log, [done0, *wrong, done1, other])
    runtime.sync()
    by_id = {s["student_id"]: s for s in ray.get(runtime.live_progress(course))["students"]}
    # three wrong answers on a1, then a1 completed: they got it, so not struggling on it any more
    assert by_id["s1"]["completion"] == pytest.approx(2 / 3, abs=1e-4) and by_id["s1"]["status"] == "active"

    late = statement(course, "s2", "completed", "a1", timestamp=t.format(6))
    result = send(log, [void(done1["id"]), void(wrong[0]["id"]), void(late["id"])])
    assert "effect is removed" in result["results"][0]["note"]
    send(log, [late])  # voided before it arrived: stored, never applied
    runtime.sync()
    voided = {done1["id"], wrong[0]["id"], late["id"]}
    reference = independent_reference(log, course, students, voided)
    assert live(runtime, course, students) == reference
    by_id = {s["student_id"]: s for s in ray.get(runtime.live_progress(course))["students"]}
    assert by_id["s1"]["completion"] == pytest.approx(1 / 3, abs=1e-4) and by_id["s1"]["status"] != "completed"
    assert by_id["s2"]["completion"] == pytest.approx(1 / 3, abs=1e-4)

    time.sleep(1.5)  # a snapshot after the voiding; then the shard dies and rebuilds from it and the log
    victim = runtime.handles.shard(runtime.topology.shard_of("s1"))
    ray.kill(victim, no_restart=False)
    deadline = time.monotonic() + 60
    while True:
        try:
            runtime.sync()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert live(runtime, course, students) == reference
    # the voiding statement itself cannot be voided; nothing of that request is stored
    first_void = result["ids"][0]
    with pytest.raises(Exception) as err:
        send(log, [statement(course, "s2", "completed", "a2"), void(first_void)])
    assert "2.3.2" in str(err.value)
