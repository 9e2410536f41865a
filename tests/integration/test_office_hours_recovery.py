"""Office-hours queues survive a restarted hub and a restarted stack (they are written through
to DuckDB), with order, defers, sessions in progress and help history intact."""
from __future__ import annotations

import time

import pytest
import ray

from tests import classroom

pytestmark = pytest.mark.ray


def shape(view):
    return ([(w["student_id"], w["topic"], w["helped_today"], w["defers"]) for w in view["waiting"]],
            [h["student_id"] for h in view["in_progress"]], view["history_size"])


def test_queue_survives_a_killed_hub_and_a_restarted_stack(runtime_factory):
    runtime, settings = runtime_factory()
    room = classroom.build(6, tag="oh")
    room.enroll(runtime)
    cid = room.course_id
    hub = runtime.handles.hub_for(cid)
    students = [s["student_id"] for s in room.roster()]
    for sid in students[:5]:
        ray.get(hub.office_hours_join.remote(cid, sid, f"about {sid}"))
    ray.get(hub.office_hours_take.remote(cid, room.professor_id, students[0]))
    time.sleep(0.2)
    ray.get(hub.office_hours_finish.remote(cid, students[0]))
    ray.get(hub.office_hours_join.remote(cid, students[0], "again"))  # helped today: goes last
    first = ray.get(hub.office_hours_view.remote(cid))["waiting"][0]["student_id"]
    ray.get(hub.office_hours_defer.remote(cid, first, None))
    ray.get(hub.office_hours_take.remote(cid, room.professor_id, students[3]))
    before = shape(ray.get(hub.office_hours_view.remote(cid)))
    assert before[0][-1][0] == students[0] and before[0][-1][2] is True and before[1] == [students[3]]
    assert before[2] == 1

    ray.kill(hub, no_restart=False)  # Ray restarts it; it reloads the queue from DuckDB
    assert shape(ray.get(hub.office_hours_view.remote(cid))) == before

    runtime.stop()
    again, _ = runtime_factory(data_dir=settings.data_dir, namespace=settings.namespace + "-b")
    hub = again.handles.hub_for(cid)
    assert shape(ray.get(hub.office_hours_view.remote(cid))) == before
    ray.get(hub.office_hours_finish.remote(cid, students[3]))
    assert ray.get(hub.office_hours_view.remote(cid))["history_size"] == 2
