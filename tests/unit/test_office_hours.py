"""The office-hours queue: fair order, defer keeps one's place, wait estimates, ownership."""
from __future__ import annotations

import pytest

from engine.office_hours import DEFAULT_HELP_S, OfficeHoursQueue, QueueError

T0 = 1_767_000_000.0  # a fixed day (UTC), mid-day


def queue_with(*students: str, helped: tuple[str, ...] = (), durations=()) -> OfficeHoursQueue:
    q = OfficeHoursQueue("c1", durations=durations, helped=[(s, T0 - 3600) for s in helped])
    for i, s in enumerate(students):
        q.join(s, f"topic {s}", now=T0 + i)
    return q


def order(q: OfficeHoursQueue) -> list[str]:
    return [e.student_id for e in q.waiting()]


@pytest.mark.parametrize("joined, helped_today, expected", [
    (["a", "b", "c"], (), ["a", "b", "c"]),                      # FIFO
    (["a", "b", "c"], ("a",), ["b", "c", "a"]),                  # helped today goes after the others
    (["a", "b", "c", "d"], ("a", "c"), ["b", "d", "a", "c"]),    # FIFO within each tier
    (["a", "b"], ("a", "b"), ["a", "b"]),
])
def test_order_is_fair_then_fifo(joined, helped_today, expected):
    assert order(queue_with(*joined, helped=helped_today)) == expected


def test_help_yesterday_does_not_count_as_today():
    q = OfficeHoursQueue("c1", helped=[("a", T0 - 86_400)])
    q.join("a", "x", now=T0)
    q.join("b", "x", now=T0 + 1)
    assert order(q) == ["a", "b"]


def test_fairness_does_not_reset_at_midnight_utc_mid_session():
    """Helped at 23:50 UTC and back at 00:10: still helped today, behind those not helped yet."""
    midnight = 1_767_052_800.0  # 2025-12-30 00:00 UTC
    q = OfficeHoursQueue("c1")
    q.join("a", "x", now=midnight - 1200)
    q.take("p1", now=midnight - 600)
    q.finish("a", now=midnight - 300)
    q.join("b", "x", now=midnight + 500)
    q.join("a", "again", now=midnight + 600)
    assert order(q) == ["b", "a"]
    assert [w["helped_today"] for w in q.view(midnight + 600, 900)["waiting"]] == [False, True]


@pytest.mark.parametrize("hours_ago, expected", [(13.0, ["a", "b"]), (11 + 59 / 60, ["b", "a"])])
def test_help_counts_for_twelve_hours_even_within_one_utc_day(hours_ago, expected):
    """Helped at 10:00 UTC and back at 23:30 the same UTC day: past the 12-hour window, so first
    come first served again (the calendar-day rule kept them behind)."""
    day = 1_767_052_800.0 - 86_400  # 2025-12-29 00:00 UTC
    back = day + 23.5 * 3600
    q = OfficeHoursQueue("c1", helped=[("a", back - hours_ago * 3600)])
    q.join("a", "x", now=back)
    q.join("b", "x", now=back + 1)
    assert order(q) == expected


def test_taking_someone_makes_their_next_visit_tier_one():
    q = queue_with("a", "b")
    q.take("prof", now=T0 + 10)
    q.finish("a", now=T0 + 70)
    q.join("a", "again", now=T0 + 80)
    q.join("c", "new", now=T0 + 90)
    assert order(q) == ["b", "c", "a"]


@pytest.mark.parametrize("joined, helped, defer, expected", [
    (["a", "b", "c"], (), "a", ["b", "a", "c"]),          # let the next go first, stay right after them
    (["a", "b", "c"], (), "b", ["a", "c", "b"]),
    (["a", "b", "c", "d"], ("c", "d"), "b", ["a", "c", "b", "d"]),  # crossing into the next tier
])
def test_defer_keeps_place_after_the_next(joined, helped, defer, expected):
    q = queue_with(*joined, helped=helped)
    q.defer(q.entry_of(defer).entry_id)
    assert order(q) == expected


def test_defer_twice_moves_two_places_and_last_cannot_defer():
    q = queue_with("a", "b", "c")
    entry = q.entry_of("a")
    q.defer(entry.entry_id)
    q.defer(entry.entry_id)
    assert order(q) == ["b", "c", "a"]
    with pytest.raises(QueueError) as err:
        q.defer(entry.entry_id)
    assert err.value.status == 409
    q.join("d", "x", now=T0 + 50)  # a newcomer joins behind the deferred student
    assert order(q) == ["b", "c", "a", "d"]


def test_wait_estimates_default_then_history():
    q = queue_with("a", "b", "c")
    waits = q.estimated_waits(now=T0 + 5)
    assert [waits[q.entry_of(s).entry_id] for s in "abc"] == [0, DEFAULT_HELP_S, 2 * DEFAULT_HELP_S]
    q = queue_with("a", "b", "c", durations=[60, 120, 600])  # median 120: one long session does not skew it
    q.take("prof", now=T0 + 10)  # a is being helped for 30 s at now
    waits = q.estimated_waits(now=T0 + 40)
    assert [waits[q.entry_of(s).entry_id] for s in "bc"] == [90, 210]
    assert q.typical_help_s() == 120


def test_finish_records_duration_and_overdue():
    q = queue_with("a", "b")
    q.take("prof", "b", now=T0 + 10)
    assert order(q) == ["a"]
    assert [e.student_id for e in q.overdue(T0 + 10 + 901, max_help_s=900)] == ["b"]
    assert q.overdue(T0 + 10 + 899, max_help_s=900) == []
    done = q.finish("b", now=T0 + 310)
    assert done.state == "done" and q.durations == [300]
    with pytest.raises(QueueError):
        q.finish("b", now=T0 + 320)


def test_joining_twice_keeps_the_place_and_ownership_is_checked():
    q = queue_with("a", "b")
    first = q.entry_of("a")
    again, new = q.join("a", "other topic", now=T0 + 100)
    assert not new and again.entry_id == first.entry_id and order(q) == ["a", "b"]
    with pytest.raises(QueueError) as err:
        q.owned(first.entry_id, "b")
    assert err.value.status == 403
    with pytest.raises(QueueError) as err:
        q.owned("oh_nope", "a")
    assert err.value.status == 404
    q.leave(first.entry_id, now=T0 + 200)
    assert order(q) == ["b"]
    with pytest.raises(QueueError) as err:
        q.take("prof", "a")
    assert err.value.status == 404


def test_queue_rebuilds_from_its_rows():
    q = queue_with("a", "b", "c", helped=("a",))
    q.defer(q.entry_of("b").entry_id)
    rows = [e for e in q.entries.values()]
    again = OfficeHoursQueue("c1", entries=rows)
    assert order(again) == order(q) == ["c", "b", "a"]
    again.join("d", "x", now=T0 + 60)
    assert order(again) == ["c", "b", "d", "a"]


def test_an_erased_student_leaves_the_queue_and_cannot_be_taken():
    q = queue_with("a", "b", "c", helped=("b",))
    q.take("p1", "c", now=T0 + 10)  # being helped
    q.forget("a")
    q.forget("c")
    q.forget("b")
    assert order(q) == [] and q.in_progress() == [] and not q.helped_recently("b", T0)
    with pytest.raises(QueueError):
        q.take("p1", "a", now=T0 + 20)


def test_a_professor_removes_one_waiting_student_or_closes_the_queue():
    q = queue_with("a", "b", "c", "d")
    q.take("p1", "a", now=T0 + 10)
    removed = q.remove("b", now=T0 + 11)
    assert removed.state == "left" and removed.ended_at == T0 + 11 and order(q) == ["c", "d"]
    with pytest.raises(QueueError) as err:
        q.remove("a")  # being helped, not waiting
    assert err.value.status == 404
    closed = q.close(now=T0 + 20)
    assert sorted(e.student_id for e in closed) == ["c", "d"] and {e.state for e in closed} == {"left"}
    assert order(q) == [] and [e.student_id for e in q.in_progress()] == ["a"]  # help in progress goes on
    assert q.close() == []
