"""xAPI 1.0.3 Data rules, one table row per rule: a valid variant is accepted, an invalid one is
refused with the JSON path and the section of the spec that it breaks."""
import copy
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from engine import xapi
from engine.catalog import Catalog
from engine.course import Activity, Course
from engine.xapi_ingest import Caller, plan
from engine.xapi_validate import StatementError, validate

DELETE = object()
SHA1 = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
UUID = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
ACCOUNT = {"homePage": "https://lms.example", "name": "s1"}


def base() -> dict:
    return {"id": UUID, "actor": {"objectType": "Agent", "name": "Ann", "account": dict(ACCOUNT)},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
            "object": {"objectType": "Activity", "id": "https://lms.example/activities/q1",
                       "definition": {"name": {"en": "Question 1"}, "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                                      "interactionType": "choice", "correctResponsesPattern": ["a"],
                                      "choices": [{"id": "a", "description": {"en": "A"}}, {"id": "b"}]}},
            "result": {"success": True, "completion": False, "response": "a", "duration": "PT1M30S",
                       "score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10},
                       "extensions": {"https://example.com/ext/x": None}},
            "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7", "platform": "Moodle",
                        "revision": "2", "language": "en-US",
                        "contextActivities": {"parent": [{"id": "https://lms.example/courses/c1"}]},
                        "statement": {"objectType": "StatementRef", "id": UUID}},
            "timestamp": "2026-01-07T10:00:00.000Z"}


def with_(changes: dict) -> dict:
    """The base statement with dotted paths set (DELETE removes a key)."""
    st = base()
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = st
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return st


VALID = {
    "base": {},
    "actor by mbox": {"actor": {"mbox": "mailto:ann@example.com"}},
    "actor by mbox_sha1sum": {"actor": {"mbox_sha1sum": SHA1}},
    "actor by openid": {"actor": {"openid": "http://ann.openid.example.org/"}},
    "identified group": {"actor": {"objectType": "Group", "account": ACCOUNT, "member": []}},
    "anonymous group": {"actor": {"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]}},
    "no id (assigned later)": {"id": DELETE},
    "uppercase UUID": {"id": UUID.upper()},
    "object is an Agent": {"object": {"objectType": "Agent", "mbox": "mailto:b@example.com"},
                           "context.revision": DELETE, "context.platform": DELETE},
    "object is a StatementRef": {"object": {"objectType": "StatementRef", "id": UUID},
                                 "context.revision": DELETE, "context.platform": DELETE},
    "SubStatement": {"object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.com"},
                                "verb": {"id": "http://example.com/planned"},
                                "object": {"id": "http://example.com/website"},
                                "timestamp": "2030-01-01T00:00:00Z"},
                     "context.revision": DELETE, "context.platform": DELETE},
    "voiding statement": {"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                          "object": {"objectType": "StatementRef", "id": UUID},
                          "context.revision": DELETE, "context.platform": DELETE, "result": DELETE},
    "timestamp with offset": {"timestamp": "2026-01-07T10:00:00+05:30"},
    "timestamp without zone": {"timestamp": "2026-01-07T10:00:00"},
    "timestamp nanoseconds": {"timestamp": "2026-01-07T10:00:00.123456789Z"},
    "duration with days": {"result.duration": "P1DT2H"},
    "duration in weeks": {"result.duration": "P4W"},
    "duration fraction": {"result.duration": "PT4H35M59.14S"},
    "scaled at -1": {"result.score": {"scaled": -1}},
    "raw equal to max": {"result.score": {"raw": 10, "min": 0, "max": 10}},
    "language tags": {"verb.display": {"zh-Hant-TW": "x", "es-419": "y", "und": "z", "en-GB-oed": "w",
                                       "x-private": "v", "sr-Latn-RS": "u"}},
    "single context activity": {"context.contextActivities": {"grouping": {"id": "https://lms.example/p"}}},
    "version 1.0.0": {"version": "1.0.0"},
    "stored and authority": {"stored": "2026-01-07T10:00:00Z", "authority": {"mbox": "mailto:lrs@example.com"}},
    "attachment by fileUrl": {"attachments": [{"usageType": "http://id.tincanapi.com/attachment/certificate",
                                               "display": {"en": "Cert"}, "contentType": "application/pdf",
                                               "length": 10, "sha2": "abc", "fileUrl": "https://x.example/c.pdf"}]},
}


@pytest.mark.parametrize("changes", VALID.values(), ids=VALID.keys())
def test_valid_statements_are_accepted(changes):
    validate(with_(changes))


INVALID = {
    # (changes, path, rule)
    "not an object": (None, "statement", "2.4"),
    "actor missing": ({"actor": DELETE}, "actor", "2.4.s1"),
    "verb missing": ({"verb": DELETE}, "verb", "2.4.s1"),
    "object missing": ({"object": DELETE}, "object", "2.4.s1"),
    "unknown property": ({"foo": 1}, "foo", "2.2.s4.b1.b7"),
    "wrong case of a key": ({"Actor": {}}, "Actor", "2.2.s4.b1.b7"),
    "null value": ({"result.response": None}, "result.response", "2.2.s4.b1.b1"),
    "null in a language map": ({"verb.display": {"en": None}}, "verb.display.en", "4.2"),
    "id not a UUID": ({"id": "not-a-uuid"}, "id", "2.4.1"),
    "agent without IFI": ({"actor": {"name": "Ann"}}, "actor", "2.4.2.1.s2.b1"),
    "agent with two IFIs": ({"actor": {"mbox": "mailto:a@example.com", "openid": "http://a.example"}},
                            "actor", "2.4.2.1.s2.b1"),
    "mbox not mailto": ({"actor": {"mbox": "ann@example.com"}}, "actor.mbox", "2.4.2.3"),
    "mbox_sha1sum not 40 hex": ({"actor": {"mbox_sha1sum": "abc"}}, "actor.mbox_sha1sum", "2.4.2.3"),
    "openid not a URI": ({"actor": {"openid": "not a uri"}}, "actor.openid", "2.4.2.3"),
    "account without homePage": ({"actor": {"account": {"name": "s1"}}}, "actor.account.homePage", "2.4.2.4"),
    "account homePage no scheme": ({"actor": {"account": {"homePage": "lms.example", "name": "s1"}}},
                                   "actor.account.homePage", "2.4.2.4"),
    "account name not a string": ({"actor": {"account": {"homePage": "https://x", "name": 5}}},
                                  "actor.account.name", "2.4.2.4"),
    "agent objectType wrong case": ({"actor": {"objectType": "agent", "mbox": "mailto:a@example.com"}},
                                    "actor.objectType", "2.4.2"),
    "anonymous group without members": ({"actor": {"objectType": "Group"}}, "actor.member", "2.4.2.2.s4.b1"),
    "group with two IFIs": ({"actor": {"objectType": "Group", "mbox": "mailto:g@example.com", "openid": "http://g"}},
                            "actor", "2.4.2.2.s5.b1"),
    "group member is a group": ({"actor": {"objectType": "Group", "member": [
        {"objectType": "Group", "mbox": "mailto:g@example.com"}]}}, "actor.member[0].objectType", "2.4.2"),
    "group member without IFI": ({"actor": {"objectType": "Group", "member": [{"name": "x"}]}},
                                 "actor.member[0]", "2.4.2.1.s2.b1"),
    "verb id missing": ({"verb": {"display": {"en": "x"}}}, "verb.id", "2.4.3"),
    "verb id not an IRI": ({"verb": {"id": "answered"}}, "verb.id", "2.4.3"),
    "verb display bad tag": ({"verb.display": {"english!": "x"}}, "verb.display.english!", "2.2.s4.b2"),
    "verb display tag too long": ({"verb.display": {"abcdefghi": "x"}}, "verb.display.abcdefghi", "2.2.s4.b2"),
    "verb display not a map": ({"verb.display": "answered"}, "verb.display", "4.2"),
    "objectType unknown": ({"object.objectType": "Thing"}, "object.objectType", "2.4.4.s2"),
    "activity without id": ({"object.id": DELETE}, "object.id", "2.4.4.1"),
    "activity id relative": ({"object.id": "/activities/q1"}, "object.id", "2.4.4.1"),
    "activity type not IRI": ({"object.definition.type": "quiz"}, "object.definition.type", "2.4.4.1"),
    "interactionType unknown": ({"object.definition.interactionType": "essay"},
                                "object.definition.interactionType", "2.4.4.1.s13.b1"),
    "interaction without interactionType": ({"object.definition.interactionType": DELETE},
                                            "object.definition.interactionType", "2.4.4.1.s13.b1"),
    "duplicate component ids": ({"object.definition.choices": [{"id": "a"}, {"id": "a"}]},
                                "object.definition.choices[1].id", "2.4.4.1.s16.b1"),
    "agent object without objectType": ({"object": {"mbox": "mailto:b@example.com"}}, "object.mbox", "2.2.s4.b1.b7"),
    "StatementRef id not UUID": ({"object": {"objectType": "StatementRef", "id": "x"},
                                  "context.revision": DELETE, "context.platform": DELETE}, "object.id", "2.4.4.3"),
    "SubStatement with id": ({"object": {"objectType": "SubStatement", "id": UUID}}, "object.id", "2.4.4.3.s8.b3"),
    "SubStatement with stored": ({"object": {"objectType": "SubStatement", "stored": "2026-01-01T00:00:00Z"}},
                                 "object.stored", "2.4.4.3.s8.b3"),
    "nested SubStatement": ({"object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.com"},
                                        "verb": {"id": "http://example.com/v"},
                                        "object": {"objectType": "SubStatement"}},
                             "context.revision": DELETE, "context.platform": DELETE},
                            "object.object.objectType", "2.4.4.3.s8.b4"),
    "voiding without StatementRef": ({"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}},
                                     "object.objectType", "2.3.2.s2.b1"),
    "success as a string": ({"result.success": "true"}, "result.success", "2.2.s4.b1.b3"),
    "completion as a number": ({"result.completion": 1}, "result.completion", "2.2.s4.b1.b3"),
    "scaled above 1": ({"result.score": {"scaled": 1.5}}, "result.score.scaled", "2.4.5.1"),
    "scaled as a string": ({"result.score": {"scaled": "0.5"}}, "result.score.scaled", "2.2.s4.b1.b2"),
    "raw below min": ({"result.score": {"raw": -1, "min": 0, "max": 10}}, "result.score.raw", "2.4.5.1"),
    "raw above max": ({"result.score": {"raw": 11, "min": 0, "max": 10}}, "result.score.raw", "2.4.5.1"),
    "min not below max": ({"result.score": {"min": 10, "max": 10}}, "result.score.min", "2.4.5.1"),
    "duration not ISO": ({"result.duration": "90 seconds"}, "result.duration", "4.6"),
    "duration alternative format": ({"result.duration": "PT00:01:30"}, "result.duration", "4.6"),
    "duration empty T": ({"result.duration": "P1DT"}, "result.duration", "4.6"),
    "weeks combined": ({"result.duration": "P4W1D"}, "result.duration", "4.6"),
    "extension key not IRI": ({"result.extensions": {"progress": 1}}, "result.extensions.progress", "4.1.s3.b1"),
    "registration not UUID": ({"context.registration": "abc"}, "context.registration", "2.4.6"),
    "revision with Agent object": ({"object": {"objectType": "Agent", "mbox": "mailto:b@example.com"}},
                                   "context.revision", "2.4.6.s4.b1"),
    "platform with StatementRef object": ({"object": {"objectType": "StatementRef", "id": UUID},
                                           "context.revision": DELETE}, "context.platform", "2.4.6.s4.b2"),
    "contextActivities unknown key": ({"context.contextActivities": {"course": [{"id": "https://x"}]}},
                                      "context.contextActivities.course", "2.2.s4.b1.b7"),
    "context activity without id": ({"context.contextActivities": {"parent": [{}]}},
                                    "context.contextActivities.parent[0].id", "2.4.4.1"),
    "team not a group": ({"context.team": {"mbox": "mailto:t@example.com"}}, "context.team", "2.4.6"),
    "context language bad": ({"context.language": "en_US"}, "context.language", "2.4.6"),
    "context statement not a ref": ({"context.statement": {"id": UUID}}, "context.statement.objectType", "2.4.4.3"),
    "timestamp not ISO": ({"timestamp": "yesterday"}, "timestamp", "4.5"),
    "timestamp date only": ({"timestamp": "2026-01-07"}, "timestamp", "4.5"),
    "timestamp -00:00": ({"timestamp": "2026-01-07T10:00:00-00:00"}, "timestamp", "4.5"),
    "timestamp impossible date": ({"timestamp": "2026-02-30T10:00:00Z"}, "timestamp", "4.5"),
    "stored not ISO": ({"stored": "now"}, "stored", "4.5"),
    "version 2.0": ({"version": "2.0.0"}, "version", "2.4.10.s3.b2"),
    "version without patch": ({"version": "1.0"}, "version", "2.4.10.s3.b2"),
    "authority without IFI": ({"authority": {"name": "LRS"}}, "authority", "2.4.2.1"),
    "attachment without fileUrl": ({"attachments": [{"usageType": "http://x.example/u", "display": {"en": "c"},
                                                     "contentType": "text/plain", "length": 1, "sha2": "a"}]},
                                   "attachments[0].fileUrl", "2.4.11"),
    "attachment length as string": ({"attachments": [{"usageType": "http://x.example/u", "display": {"en": "c"},
                                                      "contentType": "text/plain", "length": "1", "sha2": "a",
                                                      "fileUrl": "https://x.example/f"}]},
                                    "attachments[0].length", "2.4.11"),
}


@pytest.mark.parametrize("changes, path, rule", INVALID.values(), ids=INVALID.keys())
def test_invalid_statements_name_the_path_and_rule(changes, path, rule):
    st = "not a statement" if changes is None else with_(changes)
    with pytest.raises(StatementError) as err:
        validate(st)
    assert err.value.path == path, str(err.value)
    assert rule in err.value.rule and "xAPI 1.0.3 Data" in str(err.value)


def test_context_activities_come_back_as_arrays_and_ids_lowercase():
    out = validate(with_({"id": UUID.upper(), "context.contextActivities": {"parent": {"id": "https://x.example/c1"}}}))
    assert out["context"]["contextActivities"] == {"parent": [{"id": "https://x.example/c1"}]}
    assert out["id"] == UUID


def test_extension_values_may_be_null_and_anything():
    validate(with_({"result.extensions": {"https://x.example/e": None, "https://x.example/f": [1, {"a": None}]}}))


@pytest.mark.parametrize("where", ["result.extensions", "context.extensions", "object.definition.extensions"])
def test_extension_values_nested_too_deep_to_write_back_are_refused(where):
    """A statement stored with 300 nested arrays was answered 200, then reading it back (GET
    ?statementId=, the student export) failed with 500: orjson writes at most 255 levels."""
    import orjson

    def nest(levels):
        value = []
        for _ in range(levels - 1):
            value = [value]
        return value

    ok = validate(with_({where: {"https://x.example/e": nest(32)}}))
    orjson.dumps({"statement": ok, "rows": [ok]})  # what the reads write: fine
    for levels in (33, 300):
        with pytest.raises(StatementError) as err:
            validate(with_({where: {"https://x.example/e": {"deep": nest(levels - 1)}}}))
        assert err.value.path == f"{where}.https://x.example/e" and "32" in err.value.problem



def _paths(node, prefix=()):
    """Every location in a JSON document (keys, and list indexes)."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _paths(value, (*prefix, key))


PATHS = list(_paths(base()))[1:]
JSON = hs.recursive(hs.none() | hs.booleans() | hs.integers() | hs.floats(allow_nan=False) | hs.text(max_size=20),
                    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
CATALOG = Catalog(courses={"c1": Course("c1", "p1", "C", "live", (Activity("q1", "Q1", 10),))},
                  rosters={"c1": {"s1": "S1"}})


@settings(max_examples=400, deadline=None)
@given(hs.sampled_from(PATHS), JSON)
def test_any_json_anywhere_is_accepted_or_refused_cleanly_never_a_crash(path, value):
    """Nothing a client sends can make validation, mapping or planning fail other than with a 400."""
    st = base()
    node = st
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        checked = xapi.check(st)
    except StatementError as err:
        assert err.path and err.rule
        return
    plan([checked], {}, {}, CATALOG, Caller("admin:admin"), time.time())
