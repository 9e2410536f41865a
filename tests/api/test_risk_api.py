"""Live progress exposes the trained model's risk, its reasons and the model's info; a course the
model cannot score says why and uses the rules (through a real `classpulse serve`)."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.api_client import get

pytestmark = pytest.mark.ray

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()


def iso(minute: float) -> str:
    return datetime.fromtimestamp(T0 + 60 * minute, tz=UTC).isoformat().replace("+00:00", "Z")


def make_course(stack, window: bool) -> tuple[str, str, list[str]]:
    tag = uuid.uuid4().hex[:8]
    course_id, students = f"risk-{tag}", [f"r{i}-{tag}" for i in range(6)]
    with stack.client() as admin:
        prof = admin.post("/api/admin/professors", json={"professor_id": f"p-{tag}", "name": "Prof"})
        body = {"course_id": course_id, "professor_id": f"p-{tag}", "title": "Lab", "clock": "event",
                "activities": [{"activity_id": f"a{i}", "title": f"Part {i}", "expected_minutes": 10}
                               for i in range(4)]}
        if window:
            body |= {"starts_at": iso(0), "ends_at": iso(60)}
        assert admin.post("/api/admin/courses", json=body).status_code == 201
        assert admin.post(f"/api/admin/courses/{course_id}/students", json={
            "students": [{"student_id": s, "name": s} for s in students]}).status_code == 201
    return course_id, prof.json()["token"], students


def events_for(course_id: str, students: list[str]) -> list[dict]:
    """Five students work steadily through two parts in 20 minutes; the last gets every answer wrong
    on part 0 for 4 minutes, then goes silent."""
    out = []

    def add(student, minute, kind, activity, **kw):
        out.append({"event_id": str(uuid.uuid4()), "student_id": student, "course_id": course_id,
                    "activity_id": activity, "type": kind, "ts": iso(minute)} | kw)

    for s in students[:-1]:
        for part in range(2):
            start = 10 * part
            add(s, start, "activity_started", f"a{part}")
            for k in range(1, 9):
                add(s, start + k, "attempt", f"a{part}", correct=k % 3 != 0)
            add(s, start + 9, "activity_completed", f"a{part}")
    stuck = students[-1]
    add(stuck, 0, "activity_started", "a0")
    for k in range(1, 5):
        add(stuck, k, "attempt", "a0", correct=False)
    add(students[0], 20, "progress", "a2", progress=0.1)  # the class clock reaches minute 20
    return out


def live(stack, course_id: str, token: str, want=lambda p: True) -> dict:
    deadline = time.monotonic() + 30
    while True:
        r = get(stack, f"/api/professor/courses/{course_id}/live-progress", token)
        assert r.status_code == 200, r.text
        body = r.json()
        if want(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def test_live_progress_carries_the_models_risk_reasons_and_info(stack):
    course_id, token, students = make_course(stack, window=True)
    with stack.client() as c:
        assert c.post("/api/events", json={"events": events_for(course_id, students)}).status_code == 202
    body = live(stack, course_id, token, lambda p: all(s["completion"] > 0 for s in p["students"][:-1]))
    model = body["risk_model"]
    assert model["active"] is True and model["name"] == "risk-lr-v1" and model["in_use"] == "risk-lr-v1"
    assert model["gate"]["passed"] and model["gate"]["auc_mean"] >= 0.8 and model["fallback_reason"] is None
    by_id = {s["student_id"]: s for s in body["students"]}
    stuck = by_id[students[-1]]
    assert stuck["risk"] > max(by_id[s]["risk"] for s in students[:-1])
    assert any("remaining work needs" in r or "no learning activity" in r for r in stuck["reasons"]), stuck
    for s in body["students"]:
        assert s["risk"] < 0.1 or s["reasons"], s

    a = get(stack, f"/api/professor/courses/{course_id}/analytics/real-time", token).json()["at_risk"]
    assert a["model"] == "risk-lr-v1" and a["risk_model"]["active"] and "held-out" in a["note"]
    assert all(s["reasons"] for s in a["students"])


def test_a_course_without_a_session_window_uses_the_rules_and_says_so(stack):
    course_id, token, students = make_course(stack, window=False)
    with stack.client() as c:
        assert c.post("/api/events", json={"events": events_for(course_id, students)}).status_code == 202
    body = live(stack, course_id, token, lambda p: any(s["completion"] > 0 for s in p["students"]))
    model = body["risk_model"]
    assert model["active"] is False and model["in_use"] == "rules-v1" and "session window" in model["fallback_reason"]
    a = get(stack, f"/api/professor/courses/{course_id}/analytics/real-time", token).json()["at_risk"]
    assert a["model"] == "rules-v1" and "fallback" in a["note"] and "session window" in a["note"]


def test_an_imported_simulated_cohort_gets_the_same_risk_live_as_offline(stack, tmp_path):
    """No drift between training and serving: half a simulated session, imported through the API,
    scores exactly as the training pipeline scores the same half session offline."""
    import argparse

    import polars as pl

    from classpulse import risk_store, simulate_cmd
    from classpulse import risk_training as rt
    from simulator import cohort as cohorts
    from simulator import offline
    from simulator.student import iso as iso_of

    course_id = f"imp-{uuid.uuid4().hex[:8]}"
    cohort = cohorts.from_dict({"students": 60, "seed": 5, "minutes": 40, "course": {"course_id": course_id},
                                "mix": {"steady": 0.4, "struggling": 0.3, "disengaging": 0.3}})
    offline.run(cohort, tmp_path / "full")
    cutoff = offline.START_EPOCH + 60 * 20  # the first half of the session
    events = offline.read_events(tmp_path / "full")
    half = events.filter(pl.col("ts") < iso_of(cutoff))  # ISO strings of one format sort as times
    (tmp_path / "half" / "events").mkdir(parents=True)
    half.write_parquet(tmp_path / "half" / "events" / "part-00000.parquet")
    (tmp_path / "half" / "cohort.json").write_text((tmp_path / "full" / "cohort.json").read_text())
    token_file = tmp_path / "admin.token"
    token_file.write_text(stack.admin_token)
    assert simulate_cmd.cmd_import(argparse.Namespace(folder=tmp_path / "half", api=stack.api_url,
                                                      token_file=token_file)) == 0

    model = risk_store.load(risk_store.shipped_folder())
    _, summaries, clock = next(rt.fold(cohort, half.to_dicts(), (0.5,), 180.0))
    from engine.risk_features import extract, session_of
    expected = model.score(extract(summaries, clock, 180.0, session_of(rt.course_of(cohort))))

    body = live(stack, course_id, stack.admin_token,
                lambda p: sum(s["completion"] for s in p["students"]) > 0 and all(
                    s["risk"] == expected[s["student_id"]][0] for s in p["students"]))
    assert body["risk_model"]["active"]
    got = {s["student_id"]: (s["risk"], s["reasons"]) for s in body["students"]}
    for student_id, (risk, reasons) in expected.items():
        assert got[student_id][0] == risk, student_id
        if reasons:  # a struggling student's live reasons start with the struggling rule's words
            assert got[student_id][1][-len(reasons):] == list(reasons), student_id
    assert any(r >= 0.5 for r, _ in expected.values())  # the mix has students in trouble at half time
