"""First version of the real-time analytics endpoint on constructed logs."""
from __future__ import annotations

import time

import pytest

from tests.api_client import create_class, event, get

pytestmark = pytest.mark.ray


def analytics(stack, room, token=None):
    r = get(stack, f"/api/professor/courses/{room.course_id}/analytics/real-time", token or room.professor_token)
    assert r.status_code == 200, r.text
    return r.json()


def test_empty_course_gives_well_formed_insufficient_analyses(stack):
    room = create_class(stack, students=3)
    a = analytics(stack, room)
    assert set(a) >= {"heatmap", "bottlenecks", "at_risk", "patterns", "comparative", "interventions"}
    assert a["heatmap"]["insufficient_data"] and a["patterns"]["insufficient_data"]
    assert all(b["insufficient_data"] for b in a["bottlenecks"])
    assert a["at_risk"]["students"] == []


def test_heatmap_cells_and_bottleneck_ranking_on_a_constructed_log(stack):
    room = create_class(stack, students=4, activities=3)
    students = list(room.student_tokens)
    events = []
    for i, s in enumerate(students):  # Wednesday 2026-01-07, 10:00 and 11:00 UTC
        events.append(event(room, s, "activity_started", activity="act0", ts=f"2026-01-07T10:0{i}:00Z"))
        events.append(event(room, s, "activity_completed", activity="act0", ts=f"2026-01-07T10:0{i}:30Z"))
        events.append(event(room, s, "activity_started", activity="act1", ts=f"2026-01-07T11:0{i}:00Z"))
        for k in range(3):  # act1 is hard: all wrong, nobody completes
            events.append(event(room, s, "attempt", activity="act1", correct=False, ts=f"2026-01-07T11:0{i}:1{k}Z"))
    with stack.client() as c:
        assert c.post("/api/events", json={"events": events}).status_code == 202
    time.sleep(0.6)
    a = analytics(stack, room)
    cells = {(c["weekday"], c["hour"]): c["events"] for c in a["heatmap"]["by_weekday_hour"]}
    assert cells == {(3, 10): 8, (3, 11): 16}
    ranked = [b["activity_id"] for b in a["bottlenecks"]]
    assert ranked[0] == "act1" and ranked[-1] == "act2"  # act2 has no data: last, flagged
    act1 = a["bottlenecks"][0]
    assert (act1["error_rate"], act1["drop_off"], act1["started"]) == (1.0, 1.0, 4)
    act0 = next(b for b in a["bottlenecks"] if b["activity_id"] == "act0")
    # 30 s on the activity + the gap to the next event (capped at idle_after_s 180), as the fold charges it
    assert act0["median_time_s"] == 210.0 and act0["drop_off"] == 0.0
    assert a["comparative"]["median"] == pytest.approx(1 / 3, abs=1e-3)
    assert {s["percentile"] for s in a["comparative"]["students"]} == {100.0}
    other = create_class(stack, students=1)
    assert get(stack, f"/api/professor/courses/{room.course_id}/analytics/real-time",
               other.professor_token).status_code == 403
