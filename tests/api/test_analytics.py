"""The real-time analytics endpoint, its exports and the report, on constructed logs."""
from __future__ import annotations

import io
import time

import httpx
import polars as pl
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
    assert a["at_risk"]["students"] == [] and a["at_risk"]["insufficient_data"]
    assert a["comparative"]["insufficient_data"]  # 3 on the roster, none started


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


# -- query parameters, exports, holdout, report (analytics issue) ---------------------------------


def path(room, tail="analytics/real-time"):
    return f"/api/professor/courses/{room.course_id}/{tail}"


@pytest.fixture(scope="module")
def busy(stack):
    """A class with a day of work: two activities, errors on the second, hints."""
    room = create_class(stack, students=5, activities=2)
    events = []
    for i, s in enumerate(room.student_tokens):
        events.append(event(room, s, "activity_started", activity="act0", ts=f"2026-01-07T10:0{i}:00Z"))
        events.append(event(room, s, "activity_completed", activity="act0", ts=f"2026-01-07T10:0{i}:40Z"))
        events.append(event(room, s, "hint_requested", activity="act1", ts=f"2026-01-07T10:1{i}:00Z"))
        for k in range(3):
            events.append(event(room, s, "attempt", activity="act1", correct=k == 2, ts=f"2026-01-07T10:1{i}:2{k}Z"))
    with stack.client() as c:
        assert c.post("/api/events", json={"events": events}).status_code == 202
    time.sleep(0.6)
    return room


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("since=2026-01-08T00:00:00Z&until=2026-01-07T00:00:00Z", "until"),
    ("bucket=0", "bucket"), ("bucket=five", "bucket"), ("window_minutes=100000", "window_minutes"),
    ("student_id=not-on-roster", "student_id"), ("student_id=bad%20id", "student_id"), ("colour=red", "colour")])
def test_bad_query_parameters_get_a_422_naming_them(stack, busy, query, field):
    r = get(stack, path(busy) + "?" + query, busy.professor_token)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["errors"][0]["field"] == field


def test_unknown_course_is_404_and_someone_elses_403(stack, busy):
    assert get(stack, "/api/professor/courses/no-such-course/analytics/real-time", busy.professor_token).status_code == 404
    other = create_class(stack, students=1)
    assert get(stack, path(busy, "analytics/export?section=heatmap"), other.professor_token).status_code == 403
    # who asks is checked before what they ask for: a bad section from a stranger is still 401/403
    assert get(stack, path(busy, "analytics/export?section=everything"), other.professor_token).status_code == 403
    assert httpx.get(stack.api_url + path(busy, "analytics/export?section=everything")).status_code == 401


def test_per_student_heatmap_time_range_and_trajectory(stack, busy):
    s0 = next(iter(busy.student_tokens))
    r = get(stack, path(busy) + f"?student_id={s0}&bucket=5&since=2026-01-07T10:00:00Z&until=2026-01-07T11:00:00Z",
            busy.professor_token)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["params"]["student_id"] == s0 and a["params"]["bucket"] == 5
    assert a["heatmap"]["by_weekday_hour"] == [{"weekday": 3, "hour": 10, "events": 6, "students": 1}]
    assert a["comparative"]["student"]["student_id"] == s0
    assert [t["students"] for t in a["comparative"]["trajectory"]] == [5] * len(a["comparative"]["trajectory"])
    assert a["bottlenecks"][0]["activity_id"] == "act1"
    late = get(stack, path(busy) + "?since=2026-01-08T00:00:00Z", busy.professor_token).json()
    assert late["heatmap"]["insufficient_data"] and late["heatmap"]["by_weekday_hour"] == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_parse_back_with_their_content_type_and_filename(stack, busy, fmt):
    r = get(stack, path(busy, f"analytics/export?section=bottlenecks&format={fmt}"), busy.professor_token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith({"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}[fmt])
    assert f'filename="{busy.course_id}-bottlenecks.{fmt}"' in r.headers["content-disposition"]
    frame = pl.read_csv(io.BytesIO(r.content)) if fmt == "csv" else pl.read_parquet(io.BytesIO(r.content))
    assert frame["activity_id"].to_list() == ["act1", "act0"]
    assert frame.filter(pl.col("activity_id") == "act1")["error_rate"].item() == pytest.approx(2 / 3, abs=1e-3)
    heat = get(stack, path(busy, f"analytics/export?section=heatmap&format={fmt}"), busy.professor_token)
    frame = pl.read_csv(io.BytesIO(heat.content)) if fmt == "csv" else pl.read_parquet(io.BytesIO(heat.content))
    assert frame.select("weekday", "hour", "events").rows() == [(3, 10, 30)]


def test_export_refuses_unknown_sections_and_formats(stack, busy):
    assert get(stack, path(busy, "analytics/export?section=everything"), busy.professor_token).json()["field"] == "section"
    r = get(stack, path(busy, "analytics/export?section=heatmap&format=xlsx"), busy.professor_token)
    assert r.status_code == 422 and r.json()["field"] == "format"


def test_bulk_intervention_holds_out_a_share_records_it_and_does_not_deliver_it(stack):
    room = create_class(stack, students=10, activities=2)
    students = list(room.student_tokens)
    with stack.client(room.professor_token) as c:
        r = c.post(f"/api/professor/courses/{room.course_id}/interventions",
                   json={"kind": "message", "message": "Keep going", "student_ids": students, "holdout": 0.3})
        assert r.status_code == 201, r.text
        out = r.json()
        assert len(out["held_out"]) == 3 and len(out["sent"]) == 7 and sorted(out["held_out"] + out["sent"]) == sorted(students)
        bad = c.post(f"/api/professor/courses/{room.course_id}/interventions",
                     json={"kind": "message", "message": "x", "student_ids": students, "holdout": 0.9})
        assert bad.status_code == 422 and bad.json()["field"] == "holdout"
        nobody = c.post(f"/api/professor/courses/{room.course_id}/interventions",
                        json={"kind": "message", "message": "x", "student_ids": ["ghost"]})
        assert nobody.status_code == 422 and nobody.json()["field"] == "student_ids"
        single = c.post(f"/api/professor/interventions/{students[0]}",
                        json={"course_id": room.course_id, "kind": "message", "message": "x", "holdout": "lots"})
        assert single.status_code == 422 and single.json()["field"] == "holdout"
    held, sent = out["held_out"][0], out["sent"][0]
    with httpx.Client(base_url=stack.api_url, timeout=30) as c:
        assert c.get("/api/student/inbox", headers={"Authorization": f"Bearer {room.student_tokens[held]}"}
                     ).json()["items"] == []
        items = c.get("/api/student/inbox", headers={"Authorization": f"Bearer {room.student_tokens[sent]}"}
                      ).json()["items"]
        assert [i["message"] for i in items] == ["Keep going"]
    a = get(stack, path(room), room.professor_token).json()
    assert a["interventions"]["by_kind"] == [{"kind": "message", "count": 7, "held_out": 3, "students": 10}]
    kinds = a["interventions"]["effectiveness"]["kinds"]
    assert kinds[0]["method"] == "randomized_holdout" or kinds[0]["held_out"] == 3


def test_report_command_writes_html_with_the_charts(stack, busy, tmp_path):
    from classpulse.cli import main
    token = tmp_path / "token"
    token.write_text(busy.professor_token)
    out = tmp_path / "report.html"
    assert main(["report", busy.course_id, "--api", stack.api_url, "--token-file", str(token),
                 "--out", str(out)]) == 0
    page = out.read_text()
    for chart in ("chart-heatmap", "chart-bottlenecks", "chart-comparative"):
        assert f"vegaEmbed('#{chart}'" in page
    assert "https://vega.github.io/schema/vega-lite" in page and "Effectiveness" in page
    assert main(["report", "no-such-course", "--api", stack.api_url, "--token-file", str(token),
                 "--out", str(tmp_path / "x.html")]) == 1
