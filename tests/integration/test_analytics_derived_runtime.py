"""On real actors: the analytics the EventLog answers from its derived tables (kept after commits)
equal the per-event pass over the same log, after ingest, xAPI voiding, a student's erasure and a
restart of the EventLog itself. A range covering the whole log takes the per-event pass and must
give the same answer as the whole-log request, which reads the derived tables."""
from __future__ import annotations

import time
import uuid

import pytest
import ray

from engine.analytics.params import AnalyticsParams
from tests.factories import T0, ev
from tests.integration.test_xapi_voiding import send, statement, void
from tests.unit.analytics_log import assert_same, canonical

pytestmark = pytest.mark.ray
EVERYTHING = AnalyticsParams(since=0.0, until=32503680000.0)  # the per-event pass, over all of it


def same_both_ways(log, course: str) -> dict:
    fast = ray.get(log.analytics_raw.remote(course, AnalyticsParams()))
    full = ray.get(log.analytics_raw.remote(course, EVERYTHING))
    for key in ("params",):
        fast.pop(key), full.pop(key)
    assert_same(canonical(fast), canonical(full))
    return fast


def test_derived_analytics_equal_the_per_event_pass_through_voiding_erasure_and_restart(runtime_factory):
    runtime, _ = runtime_factory()
    log, course = runtime.handles.log, f"c-{uuid.uuid4().hex[:6]}"
    students = [f"s{i}" for i in range(6)]
    ray.get(log.add_professor.remote("p-an", "Prof"))
    ray.get(log.add_course.remote({"course_id": course, "professor_id": "p-an", "title": "A", "clock": "event",
                                   "activities": [{"activity_id": f"a{i}", "title": "A", "expected_minutes": 2}
                                                  for i in range(3)]}))
    ray.get(log.add_students.remote(course, [{"student_id": s, "name": s} for s in students]))
    events, t = [], 0.0
    for k in range(240):
        s, a = students[k % 6], f"a{(k // 12) % 3}"
        t += (5, 40, 200, 15)[k % 4]
        kind = ("activity_started", "attempt", "hint_requested", "attempt", "progress", "activity_completed")[k % 6]
        events.append(ev(kind, s, a, t, course=course, correct=(k % 3 == 0) if kind == "attempt" else None,
                         progress=0.5 if kind == "progress" else None, duration=20.0 if k % 7 == 0 else None))
    for i in range(0, len(events), 40):
        ray.get(runtime.ingest(events[i:i + 40]))
    first = same_both_ways(log, course)
    assert sum(n for _, _, n, _ in first["heatmap"]["cells"]) == 240

    # xAPI: statements applied, then one voided (its student is derived again from the log)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + t + 60))
    done = statement(course, "s1", "completed", "a2", timestamp=stamp)
    wrong = statement(course, "s2", "answered", "a1", result={"success": False}, timestamp=stamp)
    send(log, [done, wrong])
    same_both_ways(log, course)
    send(log, [void(done["id"])])
    after_void = same_both_ways(log, course)
    assert sum(n for _, _, n, _ in after_void["heatmap"]["cells"]) == 241  # 240 + the answer; the completion gone

    ray.get(log.erase_student.remote("s3"))
    after_erase = same_both_ways(log, course)
    assert sum(n for _, _, n, _ in after_erase["heatmap"]["cells"]) == 241 - 40

    # the EventLog dies and Ray restarts it: the derived tables are in the file, more events still derive
    ray.kill(log, no_restart=False)
    deadline = time.monotonic() + 90
    while True:
        try:
            ray.get(log.ready.remote(), timeout=30)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    ray.get(runtime.ingest([ev("attempt", "s4", "a0", t + 120, course=course, correct=True)]))
    restarted = same_both_ways(log, course)
    assert sum(n for _, _, n, _ in restarted["heatmap"]["cells"]) == 202
