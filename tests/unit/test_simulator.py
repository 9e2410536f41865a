"""The cohort simulator without a server: determinism, archetypes, cohort files, evaluation."""
from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from classpulse import cli
from serve.bodies import CourseIn
from simulator import cohort as cohorts
from simulator import evaluate, offline


def run(tmp_path, name="a", **kw):
    c = cohorts.default(**({"students": 120, "seed": 5, "minutes": 60} | kw))
    return offline.run(c, tmp_path / name), tmp_path / name


def test_same_seed_same_events_and_truth(tmp_path):
    a, _ = run(tmp_path, "a")
    b, _ = run(tmp_path, "b")
    c, _ = run(tmp_path, "c", seed=6)
    assert (a["events_sha256"], a["truth_sha256"]) == (b["events_sha256"], b["truth_sha256"])
    assert a["events_sha256"] != c["events_sha256"]


def test_parts_hold_fixed_student_ranges(tmp_path, monkeypatch):
    monkeypatch.setattr(offline, "PART_STUDENTS", 25)
    manifest = offline.run(cohorts.default(students=60, seed=9, minutes=20), tmp_path / "p")
    assert manifest["parts"] == 3
    events = offline.read_events(tmp_path / "p")
    assert events.height == manifest["events"] and events["student_id"].n_unique() == 60


def test_archetypes_behave_as_declared(tmp_path):
    _, out = run(tmp_path, students=400, minutes=60)
    events, truth = offline.read_events(out), offline.read_truth(out)
    kinds = truth.select("student_id", "archetype").unique()
    errors = (events.filter(pl.col("type") == "attempt").join(kinds, on="student_id")
              .group_by("archetype").agg(pl.col("correct").not_().mean().alias("error_rate")))
    rate = dict(errors.iter_rows())
    assert rate["struggling"] > rate["steady"] + 0.15
    on_track = ~(truth["idle"] | truth["struggling"] | truth["at_risk"])
    assert truth["on_track"].to_list() == on_track.to_list() and 0 < on_track.mean() < 1
    idle = dict(truth.group_by("archetype").agg(pl.col("idle").mean()).iter_rows())
    assert idle["disengaging"] > 0.2 and idle["disengaging"] > 5 * idle["steady"]
    struggle = dict(truth.group_by("archetype").agg(pl.col("struggling").mean()).iter_rows())
    assert struggle["struggling"] > 2 * struggle["steady"]
    first = (events.filter(pl.col("type") != "heartbeat").join(kinds, on="student_id")
             .group_by("archetype").agg(pl.col("ts").min()))
    starts = dict(first.iter_rows())
    assert starts["late_starter"] > starts["steady"]


@pytest.mark.parametrize("data, key", [
    ({"studnets": 5}, "studnets"),
    ({"students": 0}, "students"),
    ({"mix": {"wizard": 1.0}}, "mix.wizard"),
    ({"skills": {"basics": {"p_learn": 1.5}}}, "skills.basics.p_learn"),
    ({"course": {"activities": [{"activity_id": "a", "title": "A", "expected_minutes": 5, "skill": "s",
                                 "difficulty": 3}]}}, "course.activities[0].difficulty"),
    ({"course": {"colour": "red"}}, "course.colour"),
    ({"minutes": 0.5}, "minutes"),  # ran nothing: the runs step through whole minutes
    ({"minutes": 2.9}, "minutes"),  # ran 2, while the at-risk horizon said 2.9
    ({"minutes": True}, "minutes"),
])
def test_cohort_errors_name_the_key(data, key):
    with pytest.raises(cohorts.CohortError) as err:
        cohorts.from_dict(data)
    assert err.value.key == key


def _activity(**kw):
    return {"activity_id": "a", "title": "A", "expected_minutes": 5, "skill": "s"} | kw


def _course_body(course):
    return {"course_id": course.get("course_id", "sim-course"), "professor_id": "p", "title": course.get("title", "T"),
            "activities": [{k: a[k] for k in ("activity_id", "title", "expected_minutes")}
                           for a in course.get("activities", [_activity()])]}


@pytest.mark.parametrize("course, key, api_body_refuses", [
    # the registry refuses a course naming an activity twice; offline, each copy was completed
    ({"activities": [_activity(), _activity(title="again")]}, "course.activities[1].activity_id", False),
    ({"activities": [_activity(expected_minutes=0)]}, "course.activities[0].expected_minutes", True),
    ({"activities": [_activity(expected_minutes=-5)]}, "course.activities[0].expected_minutes", True),
    ({"activities": [_activity(expected_minutes=10_001)]}, "course.activities[0].expected_minutes", True),
    ({"activities": [_activity(expected_minutes="5")]}, "course.activities[0].expected_minutes", False),
    ({"activities": [_activity(activity_id="has space")]}, "course.activities[0].activity_id", True),
    ({"activities": [_activity(activity_id="x" * 65)]}, "course.activities[0].activity_id", True),
    ({"activities": [_activity(title="")]}, "course.activities[0].title", True),
    ({"course_id": "bad course id!"}, "course.course_id", True),
    ({"course_id": "c" * 60}, "course.course_id", False),  # a valid id, but c...c-s00004 is 67 characters
    ({"title": "t" * 201}, "course.title", True),
])
def test_a_course_the_api_would_refuse_is_refused_here(course, key, api_body_refuses):
    with pytest.raises(cohorts.CohortError) as err:
        cohorts.from_dict({"students": 5, "course": course})
    assert err.value.key == key
    if api_body_refuses:  # the same limits as the API's
        with pytest.raises(ValidationError):
            CourseIn.model_validate(_course_body(course))


def test_a_course_at_the_apis_limits_is_accepted():
    course = {"course_id": "c" * 57, "title": "t" * 200,
              "activities": [_activity(activity_id="x" * 64, title="t" * 200, expected_minutes=10_000),
                             _activity(activity_id="b", expected_minutes=0.5)]}
    assert cohorts.from_dict({"students": 5, "course": course}).course_id == "c" * 57
    CourseIn.model_validate(_course_body(course))


def test_a_session_is_whole_minutes_and_every_one_is_simulated(capsys):
    cohort = cohorts.from_dict({"students": 3, "minutes": 3.0})
    assert cohort.minutes == 3 and isinstance(cohort.minutes, int)
    _, truth = offline.simulate(cohort, range(3))
    assert sorted({t["minute"] for t in truth}) == [0, 1, 2, 3]
    for command in (["simulate", "--offline", "--out", "x"], ["demo"]):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args([*command, "--minutes", "0.5"])
        assert "--minutes: invalid int value: '0.5'" in capsys.readouterr().err


def test_example_cohorts_load():
    from pathlib import Path
    for path in (Path(cohorts.__file__).parent / "cohorts").glob("*.toml"):
        assert cohorts.load(path).students > 0


def test_evaluation_on_a_constructed_case():
    truth, shown = [], []
    for m in range(10):  # s1 struggles minutes 2-7; the system shows it from minute 4 to 8
        truth.append({"student_id": "s1", "minute": m, "struggling": 2 <= m <= 7, "idle": False})
        shown.append({"student_id": "s1", "minute": m, "status": "struggling" if 4 <= m <= 8 else "active"})
        truth.append({"student_id": "s2", "minute": m, "struggling": False, "idle": m >= 5})  # idle never shown
        shown.append({"student_id": "s2", "minute": m, "status": "active"})
    r = evaluate.evaluate(truth, shown)
    s = r["struggling"]
    assert (s["true_samples"], s["shown_samples"]) == (6, 5)
    assert (s["precision"], s["recall"]) == (0.8, round(4 / 6, 3))  # tp 4 (4..7), fp 1 (8), fn 2 (2, 3)
    assert s["median_delay_min"] == 2 and s["episodes"] == 1 and s["episodes_missed"] == 0
    i = r["idle"]
    assert (i["recall"], i["precision"], i["episodes_missed"], i["median_delay_min"]) == (0.0, None, 1, None)


def test_a_minute_left_out_of_the_evaluation_neither_joins_nor_splits_episodes():
    """Minutes a late live loop left out were dropped before the episodes were found: two idle
    spells either side of one became one episode, its miss hidden and its delay stretched (review)."""
    def case(idle_minutes, shown_idle, left_out):
        truth = [{"student_id": "s1", "minute": m, "struggling": False, "idle": m in idle_minutes}
                 for m in range(8)]
        shown = [{"student_id": "s1", "minute": m, "status": "idle" if m in shown_idle else "active"}
                 for m in range(8) if m not in left_out]
        r = evaluate.evaluate(truth, shown)["idle"]
        return r["episodes"], r["episodes_missed"], r["median_delay_min"]

    # idle at 3 and at 5 (two spells), only the second shown; minute 4 (not idle) left out
    assert case({3, 5}, {5}, left_out={4}) == (2, 1, 0)
    # idle 3-5 (one spell), shown from 5; minute 4 left out: still one spell, found 2 minutes in
    assert case({3, 4, 5}, {5}, left_out={4}) == (1, 0, 2)
    # a spell whose every minute was left out is not judged
    assert case({3}, set(), left_out={3}) == (0, 0, None)


def test_minutes_the_live_view_could_not_be_read_count_as_not_detected():
    """A 10-minute idle episode read once out of 10: recall 0.1, not 1.0 over the one read."""
    truth = [{"student_id": "s1", "minute": m, "struggling": False, "idle": True} for m in range(10)]
    shown = [{"student_id": "s1", "minute": m, "status": "idle" if m == 9 else None} for m in range(10)]
    r = evaluate.evaluate(truth, shown)
    assert r["idle"]["recall"] == 0.1 and r["idle"]["median_delay_min"] == 9 and r["unread_samples"] == 9


def test_a_refused_frame_that_is_transient_is_sent_again_and_others_are_not():
    """503 (the log restarting) and 429 (rate limit) answers mean "send again": the driver does, with
    the same events, after the wait the frame asks for; a 409 or 422 is a real refusal."""
    import asyncio
    import json

    from simulator import live

    class Socket:
        def __init__(self) -> None:
            self.frames: list[str] = []

        async def send(self, frame: str) -> None:
            self.frames.append(frame)

    async def go(answers):
        ws, acks, run = Socket(), asyncio.Queue(), live.LiveRun(cohorts.default(students=1), "http://x")
        for answer in answers:
            acks.put_nowait(answer)
        await live._send(run, ws, [{"event_id": "e1"}], acks)
        return ws.frames, run

    frames, run = asyncio.run(go([
        {"type": "error", "status": 503, "retry_after_s": 0.01, "errors": []},
        {"type": "error", "status": 429, "errors": [{"retry_after_s": 0.01}]},
        {"type": "ack", "accepted": 1, "duplicates": 0}]))
    assert len(frames) == 3 and len(set(frames)) == 1 and json.loads(frames[0])["events"] == [{"event_id": "e1"}]
    assert (run.acknowledged, run.resent_frames, run.sent) == (1, 2, [{"event_id": "e1"}])
    frames, run = asyncio.run(go([{"type": "error", "status": 409, "errors": [{"error": "used"}]}]))
    assert len(frames) == 1 and run.acknowledged == 0


def test_event_ids_name_the_run_so_a_live_run_repeated_does_not_reuse_them():
    from simulator.student import SimStudent

    c = cohorts.default(students=1, seed=3)
    first, again, later = (SimStudent(c, 0, epoch) for epoch in (1_800_000_000.0, 1_800_000_000.0, 1_800_000_042.5))
    def first_ids(s):
        out = []
        while len(out) < 3:  # an action may be an idle spell with no event
            out += [e["event_id"] for e in s.act()]
        return out[:3]

    assert first_ids(first) == first_ids(again)  # a run's ids are reproducible (offline, retries) ...
    assert not set(first_ids(later)) & set(first_ids(SimStudent(c, 0, 1_800_000_000.0)))  # ... not reused


def test_write_part_keeps_each_students_emission_order(tmp_path):
    """Same-ts events of one student (an attempt and the progress it earned) stay in the order the
    student emitted them: the serial ending each event id increases down the file."""
    cohort = cohorts.default(students=60, seed=5, minutes=60)
    (tmp_path / "events").mkdir()
    (tmp_path / "truth").mkdir()
    offline.write_part(cohort, 0, range(cohort.students), str(tmp_path))
    events = offline.read_events(tmp_path)
    serials = events.with_columns(pl.col("event_id").str.split("-").list.last().cast(pl.Int64).alias("serial"))
    same_ts = serials.filter(pl.col("ts").is_duplicated().over("student_id"))
    assert same_ts.height > 0  # the case that matters is there
    for _, rows in serials.group_by("student_id"):
        assert rows["serial"].diff().drop_nulls().min() > 0
