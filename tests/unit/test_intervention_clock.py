"""Help is stamped on the course's clock, and a send records whether a coin chose (no Ray: the EventLog's
intervention code over a real DuckDB file, with a stand-in hub)."""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from actors.comms import EventLogComms
from actors.eventlog import EventLog
from engine import interventions
from engine.config import AlertConfig
from engine.course import Activity, Course
from engine.events import iso
from engine.store import Store
from tests.factories import T0

STUDENTS = [f"s{i}" for i in range(10)]


class Remote:
    """``actor.method.remote(...)`` awaited, answered by a plain function."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def remote(self, *args):
        future = asyncio.get_running_loop().create_future()
        future.set_result(self.fn(*args))
        return future


class Hub:
    def __init__(self, watermark: float | None) -> None:
        students = [{"student_id": s, "name": s, "status": "struggling", "current_activity_id": "a1"}
                    for s in STUDENTS]
        self.live = {"course_id": "c1", "as_of": iso(watermark), "students": students}
        self.delivered: list[str] = []
        self.live_progress = Remote(lambda course_id: self.live)
        self.clock_now = Remote(lambda course_id: watermark)
        self.student_view = Remote(lambda course_id, student_id: {"status": "struggling"})
        self.deliver = Remote(lambda student_id, frame: self.delivered.append(student_id))
        self.deliver_many = Remote(lambda items: self.delivered.extend(s for s, _ in items))


def log_of(cls, tmp_path, clock: str = "event", holdout: float = 0.2, watermark: float | None = T0 + 620):
    course = Course("c1", "p1", "Course", clock, (Activity("a1", "A1", 10.0),), T0, T0 + 3600)
    catalog = SimpleNamespace(courses={"c1": course}, config=lambda cid: AlertConfig(intervention_holdout=holdout),
                              enrolled=lambda cid, sid: sid in STUDENTS)
    log = cls.__new__(cls)
    log._store = Store(tmp_path / "log.duckdb")
    log._registry = SimpleNamespace(catalog=catalog)
    hub = Hub(watermark)
    log._handles = SimpleNamespace(hub_for=lambda course_id: hub)
    return log, hub


class Comms(EventLogComms):
    """The EventLog's messaging part alone (the EventLog reads its catalogue the same way)."""

    @property
    def catalog(self):
        return self._registry.catalog


def stored(log) -> list[tuple]:
    rows = log._store.cursor().execute(
        "SELECT student_id, epoch(created_at), holdout, payload FROM intervention_records ORDER BY student_id").fetchall()
    return [(s, t, h, json.loads(p)) for s, t, h, p in rows]


def test_an_event_clock_course_stamps_help_just_after_its_watermark_not_the_wall_clock(tmp_path):
    log, _hub = log_of(Comms, tmp_path, holdout=0.0)
    asyncio.run(log.send_messages("p1", {"course_id": "c1", "to": ["s1", "s2"], "text": "hi"}))
    assert {round(t, 3) for _, t, _, _ in stored(log)} == {round(T0 + 620.001, 3)}  # 1 ms after the watermark


def test_single_and_bulk_interventions_use_the_course_clock_too(tmp_path):
    log, _hub = log_of(EventLog.__ray_metadata__.modified_class, tmp_path, holdout=0.0)
    out = asyncio.run(log.intervene_many("p1", "c1", ["s1", "s2", "s3"], {"kind": "hint", "message": "try x"}))
    assert out["records"][0]["created_at"] == iso(T0 + 620.001)
    assert {round(t, 3) for _, t, _, _ in stored(log)} == {round(T0 + 620.001, 3)}


def test_stamped_at_by_clock():
    course = Course("c1", "p1", "C", "event", (Activity("a1", "A1", 10.0),), T0, T0 + 3600)
    assert interventions.stamped_at(course, T0 + 620, wall=5.0) == pytest.approx(T0 + 620.001)
    assert interventions.stamped_at(course, None, wall=5.0) == T0  # no event yet: the session start
    live = Course("c1", "p1", "C", "live", (Activity("a1", "A1", 10.0),))
    assert interventions.stamped_at(live, T0 + 620, wall=5.0) == 5.0


def test_a_bulk_message_with_no_holdout_uses_the_courses_and_an_explicit_zero_holds_none(tmp_path):
    log, hub = log_of(Comms, tmp_path, holdout=0.2)
    out = asyncio.run(log.send_messages("p1", {"course_id": "c1", "to": "all", "text": "hi"}))
    assert (len(out["held_out"]), out["count"]) == (2, 8) and out["holdout_share"] == 0.2
    rows = stored(log)
    assert sum(h for _, _, h, _ in rows) == 2 and all(p["randomized"] for *_, p in rows)
    assert len({p["send_id"] for *_, p in rows}) == 1
    assert sorted(hub.delivered) == sorted(s for s, _, h, _ in rows if not h)

    log, hub = log_of(Comms, tmp_path / "zero", holdout=0.2)
    out = asyncio.run(log.send_messages("p1", {"course_id": "c1", "to": "all", "text": "hi", "holdout": 0}))
    assert (out["holdout_share"], out["held_out"], out["count"]) == (0.0, [], 10)
    assert not any(p["randomized"] for *_, p in stored(log))  # the professor chose: no coin


def test_an_intervention_records_its_send_and_whether_a_coin_chose(tmp_path):
    log, _hub = log_of(EventLog.__ray_metadata__.modified_class, tmp_path, holdout=0.0)
    asyncio.run(log.intervene_many("p1", "c1", STUDENTS, {"kind": "hint", "message": "x", "holdout": 0.3}))
    asyncio.run(log.intervene("p1", "s1", {"course_id": "c1", "kind": "hint", "message": "y"}))
    rows = stored(log)
    bulk = [p for *_, p in rows if p["message"] == "x"]
    ad_hoc = [p for *_, p in rows if p["message"] == "y"]
    assert all(p["randomized"] for p in bulk) and len({p["send_id"] for p in bulk}) == 1
    assert sum(h for _, _, h, p in rows if p["message"] == "x") == 3
    assert [p["randomized"] for p in ad_hoc] == [False] and ad_hoc[0]["send_id"] != bulk[0]["send_id"]
