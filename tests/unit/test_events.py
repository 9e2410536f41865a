import pytest

from engine.events import BatchError, parse_batch

GOOD = {"event_id": "e1", "student_id": "s1", "course_id": "c1", "activity_id": "a1",
        "type": "attempt", "correct": True, "ts": "2026-11-25T10:00:00Z"}


def test_a_valid_event_parses_with_its_time():
    [e] = parse_batch([GOOD])
    assert (e.event_id, e.type, e.correct, e.ts_given) == ("e1", "attempt", True, True)
    assert e.ts == 1795600800.0


def test_missing_ts_is_server_time():
    [e] = parse_batch([{k: v for k, v in GOOD.items() if k != "ts"}], received_at=123.0)
    assert e.ts == 123.0 and not e.ts_given


@pytest.mark.parametrize("change, field, words", [
    ({"type": "dance"}, "type", "Input should be"),
    ({"progress": 1.5, "type": "progress"}, "progress", "less than or equal to 1"),
    ({"progress": -0.1, "type": "progress"}, "progress", "greater than or equal to 0"),
    ({"type": "progress", "progress": None}, "progress", "required"),
    ({"correct": None}, "correct", "required"),
    ({"correct": "yes"}, "correct", "boolean"),
    ({"student_id": "has space"}, "student_id", "[A-Za-z0-9._-]"),
    ({"course_id": "x" * 65}, "course_id", "[A-Za-z0-9._-]"),
    ({"event_id": "e" * 129}, "event_id", "at most 128"),
    ({"event_id": ""}, "event_id", "at least 1"),
    # the server's own ids: a client claiming one made the statement, or its voiding, 409 forever
    ({"event_id": "xapi:3f2a"}, "event_id", "reserved"),
    ({"event_id": "void:xapi:3f2a"}, "event_id", "reserved"),
    ({"ts": "yesterday"}, "ts", "datetime"),
    ({"activity_id": None}, "activity_id", "required"),
    ({"duration_s": -1}, "duration_s", "greater than or equal to 0"),
    # the contract's types, not whatever converts: a number of seconds-or-milliseconds, a boolean
    # read as 1.0 (the activity completed), a number as text
    ({"ts": 253402300800}, "ts", "ISO-8601"),
    ({"type": "progress", "progress": True}, "progress", "a number"),
    ({"type": "progress", "progress": "0.5"}, "progress", "a number"),
    ({"duration_s": "3"}, "duration_s", "a number"),
])
def test_each_bad_field_is_named(change, field, words):
    with pytest.raises(BatchError) as err:
        parse_batch([GOOD, GOOD | change])
    [problem] = err.value.errors
    assert problem["index"] == 1 and problem["field"] == field
    assert words in problem["error"]


def test_heartbeat_needs_no_activity():
    [e] = parse_batch([{"event_id": "h", "student_id": "s1", "course_id": "c1", "type": "heartbeat"}])
    assert e.activity_id is None and not e.is_learning


@pytest.mark.parametrize("raw, words", [(None, "list"), ([], "1 to 1000"), ([GOOD] * 1001, "1 to 1000")])
def test_batch_shape(raw, words):
    with pytest.raises(BatchError) as err:
        parse_batch(raw)
    assert words in err.value.errors[0]["error"]


def test_every_invalid_event_is_listed():
    with pytest.raises(BatchError) as err:
        parse_batch([GOOD | {"type": "x"}, GOOD, "not an object", GOOD | {"progress": 9, "type": "progress"}])
    assert [e["index"] for e in err.value.errors] == [0, 2, 3]


def test_fingerprint_ignores_server_filled_time_but_not_content():
    raw = {k: v for k, v in GOOD.items() if k != "ts"}
    [a] = parse_batch([raw], received_at=1.0)
    [b] = parse_batch([raw], received_at=2.0)
    [c] = parse_batch([raw | {"correct": False}], received_at=1.0)
    assert a.fingerprint == b.fingerprint != c.fingerprint and a.fingerprint != 0


def test_the_reserved_prefixes_are_the_ones_the_server_writes():
    from engine import voiding
    from engine.events import RESERVED_PREFIXES
    assert voiding.PREFIX in RESERVED_PREFIXES
    [e] = parse_batch([GOOD | {"event_id": "my-xapi:1"}])  # only a prefix is reserved
    assert e.event_id == "my-xapi:1"
