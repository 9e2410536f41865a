"""Planning xAPI requests (engine/xapi_ingest.py) and the voided fold (engine/voiding.py)."""
import uuid

import pytest

from engine import voiding, xapi
from engine.catalog import Catalog
from engine.course import Activity, Course, FoldParams
from engine.events import Event
from engine.state import to_snapshot
from engine.xapi_ingest import Caller, IngestError, Stored, plan, same_statement

CATALOG = Catalog(courses={c: Course(c, "p1", c, "live", (Activity("q1", "Q1", 10), Activity("q2", "Q2", 10)))
                           for c in ("c1", "c2")},
                  rosters={"c1": {"s1": "S1"}, "c2": {"s1": "S1"}})
ADMIN = Caller("admin:admin")
C1 = Caller("xapi:k1", frozenset({"c1"}), "c1")
VOID = "http://adlnet.gov/expapi/verbs/voided"


def st(verb="completed", course="c1", activity="q1", **extra):
    body = {"actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": f"https://lms.example/a/{activity}"}, **extra}
    if course:
        body["context"] = {"contextActivities": {"parent": [{"id": f"https://lms.example/courses/{course}"}]}}
    return xapi.check(body)


def void(target_id):
    return xapi.check({"actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": VOID},
                       "object": {"objectType": "StatementRef", "id": target_id}})


def test_new_statements_are_stored_and_mapped_ones_applied():
    a, b = st(), st("experienced")
    p = plan([a, b], {}, {}, CATALOG, ADMIN, 100.0)
    assert list(p.rows) == [a["id"], b["id"]] and len(p.events) == 1
    assert p.rows[a["id"]].event_id == f"xapi:{a['id']}" and p.rows[b["id"]].event_id is None
    assert "stored, not applied" in p.notes[b["id"]]


def test_repeated_id_in_one_request_is_400_and_reused_id_with_other_content_is_409():
    a = st()
    with pytest.raises(IngestError) as err:
        plan([a, dict(a)], {}, {}, CATALOG, ADMIN, 1.0)
    assert (err.value.status, err.value.path) == (400, "[1].id")
    other = st("failed") | {"id": a["id"]}
    with pytest.raises(IngestError) as err:
        plan([other], {a["id"]: Stored(a)}, {}, CATALOG, ADMIN, 1.0)
    assert err.value.status == 409


def test_same_statement_again_is_acknowledged_not_reapplied_and_lrs_fields_are_ignored():
    a = st()
    returned = a | {"stored": "2026-01-01T00:00:00Z", "authority": {"mbox": "mailto:x@example.com"},
                    "version": "1.0.0", "timestamp": "2026-01-01T00:00:00Z"}
    assert same_statement(a, returned) and not same_statement(a, a | {"result": {"success": True}})
    p = plan([returned], {a["id"]: Stored(a, event_id="xapi:" + a["id"])}, {}, CATALOG, ADMIN, 1.0)
    assert not p.rows and not p.events and p.notes[a["id"]] == "already stored"


def test_course_credential_may_not_write_to_another_course_but_defaults_to_its_own():
    with pytest.raises(IngestError) as err:
        plan([st(course="c2")], {}, {}, CATALOG, C1, 1.0)
    assert err.value.status == 403 and "c2" in err.value.problem
    p = plan([st(course=None)], {}, {}, CATALOG, C1, 1.0)  # no parent: the credential's course
    assert p.events[0].course_id == "c1"
    p = plan([st(course="some-lms-course")], {}, {}, CATALOG, C1, 1.0)  # parent names no course here
    assert p.events[0].course_id == "c1"


def test_voiding_an_applied_statement_commits_a_marker_for_its_event():
    a = st()
    p = plan([void(a["id"])], {a["id"]: Stored(a, "c1", "s1", "xapi:" + a["id"])}, {}, CATALOG, ADMIN, 5.0)
    (marker,) = p.events
    assert voiding.is_marker(marker) and voiding.target(marker) == "xapi:" + a["id"]
    assert (marker.student_id, marker.course_id) == ("s1", "c1") and p.voided == {a["id"]: p.ids[0]}


def test_voiding_in_the_same_request_and_before_the_target_arrives():
    a = st()
    v = void(a["id"])
    p = plan([a, v], {}, {}, CATALOG, ADMIN, 5.0)  # voided in its own request: never applied
    assert not p.events and p.rows[a["id"]].voided_by == v["id"]
    p = plan([v], {}, {}, CATALOG, ADMIN, 5.0)  # target unknown: accepted (Data 2.3.2.s2.b5)
    assert not p.events and p.rows[v["id"]].voids == a["id"]
    p = plan([a], {}, {a["id"]: v["id"]}, CATALOG, ADMIN, 6.0)  # the target arrives later
    assert not p.events and p.rows[a["id"]].voided_by == v["id"]


def test_a_voiding_statement_cannot_be_voided():
    a = st()
    v = void(a["id"])
    with pytest.raises(IngestError) as err:
        plan([void(v["id"])], {v["id"]: Stored(v, voids=a["id"])}, {}, CATALOG, ADMIN, 1.0)
    assert err.value.status == 400 and "2.3.2" in err.value.problem
    with pytest.raises(IngestError):
        plan([v, void(v["id"])], {}, {}, CATALOG, ADMIN, 1.0)


def test_students_may_not_void_and_credentials_only_in_their_courses():
    a = st(course="c2")
    with pytest.raises(IngestError) as err:
        plan([void(a["id"])], {}, {}, CATALOG, Caller("student:s1", may_void=False), 1.0)
    assert err.value.status == 403
    with pytest.raises(IngestError) as err:
        plan([void(a["id"])], {a["id"]: Stored(a, "c2", "s1", "xapi:x", credential="admin:admin")}, {},
             CATALOG, C1, 1.0)
    assert err.value.status == 403


def ev(eid, kind, seq, t, **kw):
    return Event(eid, "s1", "c1", "q1", kind, float(t), kw.get("progress"), kw.get("correct"), None, True,
                 float(t), 0, seq)


def test_refold_equals_a_fold_that_never_saw_the_voided_event():
    params = FoldParams(2, 180.0)
    kept = [ev("e1", "attempt", 1, 0, correct=False), ev("e3", "attempt", 3, 20, correct=True)]
    voided = ev("e2", "activity_completed", 2, 10)
    log = [kept[0], voided, kept[1], voiding.marker("e2", "s1", "c1", 30.0)._replace(seq=4)]
    rebuilt = voiding.refold("c1", "s1", log, params)
    reference = voiding.refold("c1", "s1", kept, params)
    assert rebuilt.completion(params) == 0.0 and rebuilt.seq == 4
    assert to_snapshot(rebuilt) | {"seq": 0} == to_snapshot(reference) | {"seq": 0}
    # the marker first, the voided event later (it arrived after its voider): still left out
    assert voiding.refold("c1", "s1", [log[3]._replace(seq=1), kept[0], voided, kept[1]], params).completion(params) == 0


def test_voiding_twice_makes_the_same_marker():
    a = voiding.marker("xapi:" + str(uuid.uuid4()), "s1", "c1", 1.0)
    b = voiding.marker(a.event_id[5:], "s1", "c1", 2.0)
    assert a.event_id == b.event_id and a.fingerprint == b.fingerprint


def test_an_attempt_with_result_completion_also_completes_the_activity_and_voiding_undoes_both():
    params = FoldParams(2, 180.0)
    a = st("passed", result={"success": True, "completion": True})
    p = plan([a], {}, {}, CATALOG, ADMIN, 5.0)
    attempt, done = p.events
    assert (attempt.type, attempt.correct) == ("attempt", True)
    assert (done.type, done.activity_id, done.event_id) == ("activity_completed", "q1", f"xapi:{a['id']}:completed")
    log = [e._replace(seq=i) for i, e in enumerate(p.events, 1)]
    assert voiding.refold("c1", "s1", log, params).activities["q1"].progress == 1.0
    row = p.rows[a["id"]]
    v = plan([void(a["id"])], {a["id"]: row}, {}, CATALOG, ADMIN, 6.0)
    assert sorted(voiding.target(m) for m in v.events) == [attempt.event_id, done.event_id]
    log += [m._replace(seq=len(log) + i) for i, m in enumerate(v.events, 1)]
    state = voiding.refold("c1", "s1", log, params)
    assert "q1" not in state.activities or state.activities["q1"].progress == 0.0


GROUP = {"objectType": "Group", "member": [{"mbox": "mailto:a@uni.example"}, {"mbox": "mailto:b@uni.example"}]}


@pytest.mark.parametrize("sent, again", [
    ({"timestamp": "2026-01-07T10:00:00Z"}, {"timestamp": "2026-01-07T10:00:00.000Z"}),
    ({"timestamp": "2026-01-07T10:00:00Z"}, {"timestamp": "2026-01-07T11:00:00+01:00"}),
    ({"verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}}},
     {"verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"de": "abgeschlossen"}}}),
    ({"object": {"id": "https://lms.example/a/q1", "definition": {"name": {"en": "Q1"}}}},
     {"object": {"id": "https://lms.example/a/q1"}}),
    ({"actor": GROUP}, {"actor": GROUP | {"member": GROUP["member"][::-1]}}),
    ({"object": {"id": "https://lms.example/a/q1"}}, {"object": {"objectType": "Activity", "id": "https://lms.example/a/q1"}}),
    ({"actor": {"mbox": "mailto:ada@uni.example"}}, {"actor": {"objectType": "Agent", "mbox": "mailto:ada@uni.example"}}),
    ({"actor": {"mbox": "mailto:ada@uni.example"}}, {"actor": {"mbox": "mailto:ada@Uni.EXAMPLE"}}),
    ({"context": {"registration": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}},
     {"context": {"registration": "FD41C918-B88B-4B20-A0A5-A4C32391AAA0"}}),
])
def test_an_equivalent_statement_sent_again_is_the_same_statement(sent, again):
    """Data 2.3.1: a resend differing only in what the comparison ignores is acknowledged, not 409."""
    a = xapi.check(st() | sent)
    b = xapi.check(a | again)
    assert same_statement(a, b) and same_statement(b, a)
    p = plan([b], {a["id"]: Stored(a, event_id="xapi:" + a["id"])}, {}, CATALOG, ADMIN, 1.0)
    assert p.notes[a["id"]] == "already stored"


@pytest.mark.parametrize("sent, again", [
    ({"timestamp": "2026-01-07T10:00:00Z"}, {"timestamp": "2026-01-07T10:00:01Z"}),
    ({"object": {"id": "https://lms.example/a/q1"}}, {"object": {"id": "https://lms.example/A/q1"}}),
    ({"actor": {"mbox": "mailto:ada@uni.example"}}, {"actor": {"mbox": "mailto:Ada@uni.example"}}),
    ({"actor": {"mbox": "mailto:ada@uni.example"}}, {"actor": {"objectType": "Group", "mbox": "mailto:ada@uni.example"}}),
    ({"result": {"extensions": {"https://x.example/e": {"definition": 1}}}},
     {"result": {"extensions": {"https://x.example/e": {"definition": 2}}}}),
])
def test_a_statement_differing_in_what_counts_is_a_conflict(sent, again):
    a = xapi.check(st() | sent)
    assert not same_statement(a, xapi.check(a | again))
