"""Bulk-message planning: recipients, templates, holdouts, limits (pure, no Ray)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import chat, interventions, messaging
from engine.course import Activity, Course
from engine.messaging import MessagingError

COURSE = Course("c1", "p1", "Algebra", "event", (Activity("a1", "Fractions", 5), Activity("a2", "Ratios", 5)))


def student(sid, status, current=None, name=None):
    return {"student_id": sid, "name": name or f"Ada {sid}", "status": status, "current_activity_id": current}


CLASS = [student("s1", "struggling", "a1"), student("s2", "struggling", "a2"), student("s3", "active", "a1"),
         student("s4", "struggling", "a1"), student("s5", "not_started")]


def test_a_filter_picks_exactly_the_students_struggling_on_that_activity():
    assert messaging.select({"status": "struggling", "activity_id": "a1"}, COURSE, CLASS) == ["s1", "s4"]
    assert messaging.select({"status": "struggling"}, COURSE, CLASS) == ["s1", "s2", "s4"]
    assert messaging.select({"activity_id": "a1"}, COURSE, CLASS) == ["s1", "s3", "s4"]
    assert messaging.select("all", COURSE, CLASS) == ["s1", "s2", "s3", "s4", "s5"]
    assert messaging.select(["s3", "s1"], COURSE, CLASS) == ["s1", "s3"]


@pytest.mark.parametrize("to, field", [
    (["s1", "ghost", 7], "to[1]"), ([], "to"), ("everyone", "to"), ({"status": "sleepy"}, "to.status"),
    ({"activity_id": "nope"}, "to.activity_id"), ({"colour": "red"}, "to"),
    ({"status": "completed"}, "to"),  # matches nobody
])
def test_bad_recipients_are_named(to, field):
    with pytest.raises(MessagingError) as err:
        messaging.select(to, COURSE, CLASS)
    assert err.value.status == 422 and err.value.field == field
    if isinstance(to, list) and len(to) == 3:
        assert [e["field"] for e in err.value.errors] == ["to[1]", "to[2]"]


def test_templates_render_per_student_with_the_activity_of_the_filter():
    plan = messaging.plan({"course_id": "c1", "to": {"status": "struggling", "activity_id": "a1"},
                           "template": "encourage_1"}, COURSE, CLASS)
    assert set(plan["send"]) == {"s1", "s4"} and plan["hold"] == {}
    assert plan["send"]["s1"].startswith("Hi Ada, you're making real progress on Fractions")
    assert plan["activity_id"] == "a1" and plan["template"] == "encourage_1"


def test_free_text_uses_each_students_current_activity_and_keeps_unknown_braces():
    plan = messaging.plan({"to": ["s2", "s5"], "text": "{first_name}: {activity} {unknown} {0}"}, COURSE, CLASS)
    assert plan["send"] == {"s2": "Ada: Ratios {unknown} {0}", "s5": "Ada: this course {unknown} {0}"}


def test_braces_that_are_no_placeholder_stay_as_written():
    text = "see slide {3, then: if (x) { return {}; } {{name}} {name!r}"
    plan = messaging.plan({"to": ["s2"], "text": text + " {first_name}"}, COURSE, CLASS)
    assert plan["send"] == {"s2": text.replace("{{name}}", "{Ada s2}") + " Ada"}


def test_a_malformed_resource_url_is_refused_by_name():
    with pytest.raises(interventions.InterventionError) as err:
        interventions.build({"kind": "resource", "resource_url": "http://[::1"}, COURSE, "p1", "s1")
    assert (err.value.status, err.value.field) == (422, "resource_url")


def test_a_resource_url_is_capped_like_a_webhook_url():
    """A 1 MiB URL in one bulk resource to 1,500 students cost ~1.5 GB across log, hub and replica."""
    ok = "https://example.org/" + "a" * (interventions.MAX_URL - 20)
    assert interventions.build({"kind": "resource", "resource_url": ok}, COURSE, "p1", "s1")["resource_url"] == ok
    for bad in (ok + "a", "https://example.org/" + "a" * (1 << 20), 12345):
        with pytest.raises(interventions.InterventionError) as err:
            interventions.build({"kind": "resource", "resource_url": bad}, COURSE, "p1", "s1")
        assert (err.value.status, err.value.field) == (422, "resource_url")


def test_holdout_keeps_a_random_fraction_out_and_is_reproducible():
    many = [student(f"s{i}", "struggling", "a1") for i in range(40)]
    a = messaging.plan({"to": "all", "text": "hi", "holdout": 0.25}, COURSE, many, seed=3)
    b = messaging.plan({"to": "all", "text": "hi", "holdout": 0.25}, COURSE, many, seed=3)
    assert len(a["hold"]) == 10 and len(a["send"]) == 30 and not set(a["hold"]) & set(a["send"])
    assert a == b
    with pytest.raises(MessagingError) as err:
        messaging.plan({"to": "all", "text": "hi", "holdout": 0.9}, COURSE, many)
    assert err.value.field == "holdout"


def test_no_holdout_in_the_request_means_the_courses_and_zero_means_none():
    many = [student(f"s{i}", "struggling", "a1") for i in range(40)]
    course_default = messaging.plan({"to": "all", "text": "hi"}, COURSE, many, seed=3, default_holdout=0.25)
    assert len(course_default["hold"]) == 10 and course_default["holdout_share"] == 0.25
    also_default = messaging.plan({"to": "all", "text": "hi", "holdout": None}, COURSE, many, default_holdout=0.25)
    assert len(also_default["hold"]) == 10
    none = messaging.plan({"to": "all", "text": "hi", "holdout": 0}, COURSE, many, default_holdout=0.25)
    assert none["hold"] == {} and len(none["send"]) == 40 and none["holdout_share"] == 0
    ones = [messaging.plan({"to": ["s1"], "text": "hi", "holdout": 0.25}, COURSE, many, seed=seed)
            for seed in range(400)]
    assert 60 <= sum(bool(one["hold"]) for one in ones) <= 140  # a single recipient is held out with that
    # probability, as a single-student intervention is


def test_a_holdout_never_exceeds_half_of_several_recipients():
    three = [student(f"s{i}", "struggling", "a1") for i in range(3)]
    held = [len(messaging.plan({"to": "all", "text": "hi", "holdout": 0.5}, COURSE, three, seed=seed)["hold"])
            for seed in range(200)]
    assert set(held) == {1}  # round(1.5) was 2 of 3: more than the 0.5 maximum


@pytest.mark.parametrize("body, status, field", [
    ({"to": "all"}, 422, "text"),
    ({"to": "all", "template": "nope"}, 422, "template"),
    ({"to": "all", "text": "   "}, 422, "text"),
    ({"to": "all", "text": "x" * (messaging.MAX_TEXT + 1)}, 413, "text"),
    ({"to": "all", "text": "hi", "activity_id": "zz"}, 422, "activity_id"),
    ([], 422, "body"),
])
def test_bad_bodies(body, status, field):
    with pytest.raises(MessagingError) as err:
        messaging.plan(body, COURSE, CLASS)
    assert (err.value.status, err.value.field) == (status, field)


def test_templates_are_listed_with_their_placeholders():
    listed = messaging.templates()
    assert {t["template_id"] for t in listed} >= {"encourage_1", "encourage_2", "check_in"}
    assert all("{first_name}" in t["text"] for t in listed)




JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
                    | st.sampled_from(["all", "s1", "a1", "struggling", "encourage_1", "{first_name}"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["to", "text", "template", "holdout", "activity_id", "status", "ids",
                                         "id", "step", "answer", "course_id", "message", "resource_url",
                                         "extension_minutes", "alternative_activity_id", "x"]), inner, max_size=6),
                    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_is_either_a_plan_or_a_named_refusal(body):
    """Whatever a client sends, the rules answer with a result or a MessagingError (a 4xx), never a crash."""
    for call in (lambda: messaging.plan(body, COURSE, CLASS, seed=1),
                 lambda: chat.read_ids(body if isinstance(body, dict) else {"ids": body}),
                 lambda: chat.work_state(body if isinstance(body, dict) else {"answer": body}, COURSE, "s1"),
                 lambda: chat.resolve_course(body, ["c1"])):
        try:
            call()
        except MessagingError as exc:
            assert 400 <= exc.status < 500 and exc.field
    if isinstance(body, dict):
        for kind in interventions.KINDS:
            try:
                interventions.build(body | {"kind": kind}, COURSE, "p1", "s1")
            except interventions.InterventionError as exc:
                assert exc.status == 422 and exc.field


def test_extensions_move_the_students_due_date_and_held_out_ones_do_not():
    from engine.course import Activity, Course
    course = Course("c1", "p1", "C", "live", (Activity("a1", "One", 5, due_at=1000.0), Activity("a2", "Two", 5),
                                               Activity("a3", "Three", 5)))
    ext = {"course_id": "c1", "kind": "extension", "activity_id": "a1", "extension_minutes": 30}
    records = [ext, ext | {"extension_minutes": 15}, ext | {"holdout": True, "extension_minutes": 600},
               ext | {"activity_id": "a2"}, ext | {"course_id": "c2"}, {"course_id": "c1", "kind": "hint"}]
    assert interventions.due_dates(course, records) == [
        {"activity_id": "a1", "title": "One", "due_at": 1000.0 + 45 * 60, "declared_due_at": 1000.0,
         "extension_minutes": 45.0},
        {"activity_id": "a2", "title": "Two", "due_at": None, "declared_due_at": None, "extension_minutes": 30.0}]
    assert interventions.due_dates(course, []) == [
        {"activity_id": "a1", "title": "One", "due_at": 1000.0, "declared_due_at": 1000.0, "extension_minutes": 0.0}]
