"""The roster check: a big wire batch is checked a column at a time, and whatever it finds wrong is
named exactly as the per-event check names it."""
import random

import pytest

from engine.catalog import VECTOR_CHECK_MIN, Catalog
from engine.config import AlertConfig
from engine.event_arrow import ArrowBatch
from tests.factories import T0, course, ev


def catalog(clock: str) -> Catalog:
    cat = Catalog()
    for course_id in ("c1", "c2"):
        cat.courses[course_id] = course(4, clock, course_id)
        cat.configs[course_id] = AlertConfig()
        cat.rosters[course_id] = {f"s{i}": f"S{i}" for i in range(20)}
    cat.rosters["c2"].pop("s3")
    return cat


def batch(rng: random.Random, n: int, fault: str | None) -> list:
    events = [ev("attempt", f"s{rng.choice([i for i in range(20) if i != 3])}", f"a{rng.randrange(4) + 1}", rng.random() * 100, correct=True,
                 event_id=f"e{i}")._replace(course_id=rng.choice(["c1", "c2"])) for i in range(n)]
    at = rng.randrange(n)
    e = events[at]
    if fault == "course":
        events[at] = e._replace(course_id="nope")
    elif fault == "student":
        events[at] = e._replace(student_id="s99")
    elif fault == "roster of the other course":
        events[at] = e._replace(course_id="c2", student_id="s3")
    elif fault == "activity":
        events[at] = e._replace(activity_id="a9")
    elif fault == "future":
        events[at] = e._replace(ts=T0 + 10_000, ts_given=True)
    return events


@pytest.mark.parametrize("clock", ["live", "event"])
@pytest.mark.parametrize("fault", [None, "course", "student", "roster of the other course", "activity", "future"])
def test_column_check_names_the_same_errors_as_the_event_check(clock, fault):
    rng = random.Random(f"{clock}-{fault}")
    cat = catalog(clock)
    for n in (VECTOR_CHECK_MIN - 1, VECTOR_CHECK_MIN, 700):
        events = batch(rng, n, fault)
        by_event = cat.check(events, T0)
        assert cat.check(ArrowBatch.of(events), T0) == by_event
        expect_error = fault is not None and not (fault == "future" and clock == "event")
        assert bool(by_event) == expect_error


def test_column_check_follows_roster_changes():
    cat = catalog("event")
    events = [ev("attempt", f"s{i % 10}", "a1", i, correct=True, event_id=f"r{i}") for i in range(100)]
    assert cat.check(ArrowBatch.of(events), T0) == []
    cat.rosters["c1"].pop("s4")
    cat.rosters["c1"]["s40"] = "S40"  # same length: only roster_changed tells the cache
    cat.roster_changed("c1")
    errors = cat.check(ArrowBatch.of(events), T0)
    assert [e["index"] for e in errors] == [i for i in range(100) if i % 10 == 4]
    assert errors[0]["field"] == "student_id"
