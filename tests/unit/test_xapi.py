import pytest

from engine import xapi
from engine.catalog import Catalog
from engine.course import Activity, Course

CATALOG = Catalog(courses={"c1": Course("c1", "p1", "C", "live", (
    Activity("quiz1", "Quiz 1", 10, xapi_iri="https://lms.example/activities/q-001"),
    Activity("reading", "Reading", 5)))}, rosters={"c1": {"s1": "Student"}})


def statement(verb, object_id="https://lms.example/activities/q-001", **extra):
    return {"actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"}, "object": {"id": object_id},
            "context": {"contextActivities": {"parent": [{"id": "https://lms.example/courses/c1"}]}}, **extra}


@pytest.mark.parametrize("verb, result, kind, extra", [
    ("answered", {"success": True}, "attempt", {"correct": True}),
    ("passed", {}, "attempt", {"correct": True}),
    ("failed", {}, "attempt", {"correct": False}),
    ("progressed", {"score": {"scaled": 0.4}}, "progress", {"progress": 0.4}),
    ("completed", {}, "activity_completed", {}),
    ("initialized", {}, "activity_started", {}),
    ("attempted", {}, "activity_started", {}),
    ("terminated", {}, "heartbeat", {}),
    ("progressed", {"completion": True}, "activity_completed", {}),
    ("initialized", {"completion": True}, "activity_completed", {}),
])
def test_verbs_map_to_events(verb, result, kind, extra):
    st = xapi.check(statement(verb, result=result, timestamp="2026-01-07T10:00:00Z"))
    event, note = xapi.to_event(st, CATALOG, None, 1.0)
    assert note == "applied" and event.type == kind and event.course_id == "c1" and event.student_id == "s1"
    for field, value in extra.items():
        assert getattr(event, field) == value
    assert event.event_id == f"xapi:{st['id']}" and event.ts == 1767780000.0


def test_activity_by_declared_iri_else_last_segment_and_duration():
    event, _ = xapi.to_event(xapi.check(statement("answered", "https://x/y/reading",
                                                  result={"success": False, "duration": "PT1M30S"})),
                             CATALOG, None, 1.0)
    assert (event.activity_id, event.duration_s) == ("reading", 90.0)


@pytest.mark.parametrize("st, words", [
    (statement("experienced"), "stored, not applied"),
    (statement("answered"), "without result.success"),
    ({**statement("passed"), "actor": {"account": {"homePage": "https://lms.example", "name": "stranger"}}}, "not on the roster"),
    ({**statement("passed"), "context": {}}, "no course"),
    (statement("passed", "https://x/unknown"), "no activity"),
])
def test_statements_that_do_not_apply_say_why(st, words):
    event, note = xapi.to_event(xapi.check(st), CATALOG, None, 1.0)
    assert event is None and words in note


@pytest.mark.parametrize("bad, words", [
    ("text", "JSON object"), ({"verb": {}, "object": {}}, "actor: is required"),
    ({**statement("passed"), "verb": {"id": "passed"}}, "IRI"),
    ({**statement("passed"), "id": "not-a-uuid"}, "UUID"),
    ({**statement("passed"), "timestamp": "yesterday"}, "ISO 8601"),
])
def test_invalid_statements_are_refused(bad, words):
    with pytest.raises(xapi.StatementError) as err:
        xapi.check(bad)
    assert words in str(err.value)


def test_actor_keys_and_configured_mapping_before_account_name():
    from engine.catalog import Catalog
    from engine.xapi import actor_key, student_of
    assert actor_key({"mbox": "mailto:Ada@Example.org"}) == "mbox:mailto:ada@example.org"
    assert actor_key({"mbox_sha1sum": "AB" * 20}) == "mbox_sha1sum:" + "ab" * 20
    assert actor_key({"openid": "https://id.example/ada"}) == "openid:https://id.example/ada"
    assert actor_key({"account": {"homePage": "https://lms", "name": "u1"}}) == "account:https://lms|u1"
    assert actor_key({"name": "no identifier"}) is None
    catalog = Catalog(xapi_actors={"mbox:mailto:ada@example.org": "s1", "account:https://lms|u1": "s2"})
    assert student_of({"mbox": "mailto:ADA@example.org"}, catalog) == "s1"
    assert student_of({"account": {"homePage": "https://lms", "name": "u1"}}, catalog) == "s2"  # mapped wins
    assert student_of({"account": {"homePage": "https://other", "name": "s7"}}, catalog) == "s7"  # name fallback
    assert student_of({"mbox": "mailto:nobody@example.org"}, catalog) is None


def test_a_cmi5_session_counts_no_more_time_on_task_than_it_lasted():
    """cmi5 (9.5.4.1) puts the session's whole duration on passed, completed and terminated: taken as
    each one's own time, a 5-minute session counted 20. Only an answer's duration is its own."""
    from engine.course import FoldParams
    from engine.state import StudentState

    progress = "https://w3id.org/xapi/cmi5/result/extensions/progress"
    session = [("initialized", None, "10:00:00"), ("progressed", {"extensions": {progress: 60}}, "10:02:00"),
               ("answered", {"success": True, "duration": "PT30S"}, "10:04:00"),
               ("passed", {"success": True, "duration": "PT5M"}, "10:05:00"),
               ("completed", {"completion": True, "duration": "PT5M"}, "10:05:00"),
               ("terminated", {"duration": "PT5M1S"}, "10:05:01")]
    state, params = StudentState("c1", "s1"), FoldParams(2, 180.0)
    for seq, (verb, result, at) in enumerate(session, 1):
        extra = {"result": result} if result else {}
        event, note = xapi.to_event(xapi.check(statement(verb, timestamp=f"2026-01-07T{at}Z", **extra)),
                                    CATALOG, None, 1.0)
        assert note == "applied", note
        state.apply(event._replace(seq=seq), params)
    assert state.activities["quiz1"].time_on_task_s <= 301.0  # the session's wall time
    assert state.activities["quiz1"].progress == 1.0


@pytest.mark.parametrize("result, progress", [
    ({"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 1}}, 0.01),
    ({"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 60}}, 0.6),
    ({"extensions": {"http://id.tincanapi.com/extension/progress": 100}}, 1.0),
    ({"extensions": {"http://id.tincanapi.com/extension/progress": 0.5}}, 0.005),
    ({"score": {"scaled": 1}}, 1.0),
    ({"score": {"scaled": 0.25}}, 0.25),
])
def test_progress_extensions_are_percentages_and_score_scaled_a_fraction(result, progress):
    event, note = xapi.to_event(xapi.check(statement("progressed", result=result)), CATALOG, None, 1.0)
    assert note == "applied" and event.progress == pytest.approx(progress)


def test_an_unmapped_actor_is_named_by_its_identifier_in_the_note():
    st = {**statement("passed"), "actor": {"mbox": "mailto:Jdoe@Example.edu"}}
    event, note = xapi.to_event(xapi.check(st), CATALOG, None, 1.0)
    assert event is None and note == "actor 'mbox:mailto:jdoe@example.edu' is not on the roster of 'c1'"


def test_a_timestamp_far_in_the_future_on_a_live_course_is_applied_at_the_time_received():
    """A browser clock 6 minutes ahead: the statement was stored but never applied, and every
    resend was "already stored", so the student's work was lost. It applies, stamped on arrival."""
    from engine.xapi_ingest import Caller, plan

    now = 1767780000.0
    ahead = xapi.check(statement("completed", timestamp="2026-01-07T10:06:00Z"))  # now + 360 s
    p = plan([ahead], {}, {}, CATALOG, Caller("xapi:k1", frozenset({"c1"}), "c1"), now)
    (event,) = p.events
    assert (event.type, event.ts, event.ts_given) == ("activity_completed", now, False)
    assert "360 s in the future" in p.notes[ahead["id"]] and p.rows[ahead["id"]].event_id == event.event_id
    within = xapi.check(statement("completed", timestamp="2026-01-07T10:04:00Z"))  # inside 5 minutes: as given
    p = plan([within], {}, {}, CATALOG, Caller("xapi:k1", frozenset({"c1"}), "c1"), now)
    assert (p.notes[within["id"]], p.events[0].ts, p.events[0].ts_given) == ("applied", now + 240, True)
