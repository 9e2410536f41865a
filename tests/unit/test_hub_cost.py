"""The hub's refresh shortcuts (issue 2, ingest throughput) give what the plain code gave.

Each cache or fast path added to cut the CourseHub's CPU is checked here against the
straightforward computation, and for staleness: when its input changes, the output must too.
"""
from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ray import cloudpickle

from engine.alerts import RESOLVED, SNOOZED, AlertBook
from engine.config import AlertConfig
from engine.events import iso
from engine.live_view import CourseView, SeqClock
from engine.pacing import RefreshPacer
from engine.state import StudentState, StudentSummary, summaries_of, summary_rows
from engine.status import window_stats
from tests.factories import T0, course, ev, params


def reference_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- iso(): seconds cached, milliseconds by hand ------------------------------------------------

@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=-5e10, max_value=2.5e11, allow_nan=False))
def test_iso_matches_datetime_for_any_time(epoch):
    assert iso(epoch) == reference_iso(epoch)


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=4_000_000_000), st.integers(min_value=0, max_value=999),
       st.sampled_from([0.0, 0.0004995, 0.0005, 0.0009995, 0.0009999995, -0.0000005]))
def test_iso_matches_datetime_at_rounding_edges(second, ms, nudge):
    epoch = second + ms / 1000 + nudge
    assert iso(epoch) == reference_iso(epoch)


def test_iso_same_second_different_milliseconds_are_not_served_from_the_cache():
    assert iso(T0 + 0.001) == reference_iso(T0 + 0.001)
    assert iso(T0 + 0.002) != iso(T0 + 0.001)
    assert iso(T0 + 1.002) != iso(T0 + 0.002)
    assert iso(None) is None and iso(0) == "1970-01-01T00:00:00.000Z"


# -- window_stats(): cached per (tail, window) -----------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="cxh", max_size=40), st.integers(min_value=1, max_value=20))
def test_cached_window_stats_equal_the_computation(tail, window):
    assert window_stats(tail, window) == window_stats.__wrapped__(tail, window)


# -- the live view: a changed summary changes the wire ---------------------------------------------

def _summary(events) -> StudentSummary:
    state = StudentState("c1", "s1")
    for e in events:
        state.apply(e, params())
    return state.summary(params(), {})


def test_a_changed_summary_changes_the_wire_even_within_one_second():
    view = CourseView(course(), AlertConfig(), {"s1": "Ann"}, SeqClock())
    first = [ev("attempt", correct=True, t=0.001, seq=1)]
    view.apply(_summary(first))
    view.refresh()
    assert view.views["s1"]["last_event_ts"] == reference_iso(T0 + 0.001)
    seq = view.seq
    view.apply(_summary(first + [ev("attempt", correct=True, t=0.002, seq=2)]))
    view.refresh()
    assert view.views["s1"]["last_event_ts"] == reference_iso(T0 + 0.002)
    assert [s["student_id"] for s in view.updates_since(seq)["students"]] == ["s1"]


def test_a_changed_tail_changes_status_and_alerts():
    """Same tail prefix, then more wrong attempts: the (cached) window must follow the tail."""
    view = CourseView(course(), AlertConfig(), {"s1": "Ann"}, SeqClock())
    events = [ev("attempt", correct=False, t=i, seq=i + 1) for i in range(2)]
    view.apply(_summary(events))
    view.refresh()
    assert view.views["s1"]["status"] == "active"
    events.append(ev("attempt", correct=False, t=2, seq=3))
    view.apply(_summary(events))
    view.refresh()
    assert view.views["s1"]["status"] == "struggling"
    assert [a.kind for a in view.alerts.active()] == ["struggling"]
    events += [ev("attempt", correct=True, t=3 + i, seq=4 + i) for i in range(3)]
    view.apply(_summary(events))
    view.refresh()
    assert view.views["s1"]["status"] == "active" and view.alerts.active() == []


# -- shard -> hub transport as plain tuples --------------------------------------------------------

def test_summary_rows_round_trip_through_ray_pickling():
    state = StudentState("c1", "s1")
    for e in [ev("attempt", correct=False, t=0, seq=1), ev("hint_requested", t=3, seq=2)]:
        state.apply(e, params())
    summaries = [state.summary(params(), {"a1": 10.0}), _summary([ev("heartbeat", activity=None, seq=3)])]
    rows = summary_rows(summaries)
    assert all(type(r) is tuple for r in rows)
    back = summaries_of(pickle.loads(cloudpickle.dumps(rows, protocol=5)))
    assert back == summaries and all(type(s) is StudentSummary for s in back)
    assert back[0].tail == "xh" and back[0].errors == 1
    assert summaries_of(summaries) == summaries  # StudentSummary objects pass through


# -- AlertBook: O(1) pruning of resolved alerts, the students-with-alerts fast path ----------------

class Seqs:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def test_history_forgets_the_oldest_resolved_alerts_only():
    book = AlertBook("c1", Seqs(), history=4)
    book.update("keep", [("idle", "quiet")], 1.0)  # stays open throughout
    for i in range(6):
        book.update(f"s{i}", [("struggling", "wrong")], 10.0 + i)
        book.update(f"s{i}", [], 20.0 + i)  # resolves
    held = [book.get(a) for a in list(book._by_id)]
    assert len(held) == 4
    assert sum(a.state != RESOLVED for a in held) == 1
    resolved = sorted((a for a in held if a.state == RESOLVED), key=lambda a: a.seq)
    assert [a.student_id for a in resolved] == ["s3", "s4", "s5"]  # the newest three


def test_a_reader_behind_a_forgotten_resolution_is_told_so():
    """A stream resumed from before a resolution the book no longer holds would keep showing that
    alert open: ``forgotten_through`` says a snapshot is needed (CourseView.updates_since)."""
    book = AlertBook("c1", Seqs(), history=2)
    opened = book.update("s0", [("idle", "quiet")], 1.0)[0]
    reader_at = opened.seq  # a client saw the alert open, then went away
    resolved = book.update("s0", [], 2.0)[0]
    for i in range(3):
        book.update(f"s{i + 1}", [("idle", "quiet")], 3.0 + i)
        book.update(f"s{i + 1}", [], 4.0 + i)
    assert book.get(resolved.alert_id) is None  # forgotten: ``since`` cannot report its resolution
    assert resolved.alert_id not in {a.alert_id for a in book.since(reader_at)}
    assert book.forgotten_through >= resolved.seq > reader_at


def test_a_reopened_alert_gets_its_own_id_when_now_repeats():
    """On an event clock 'now' can repeat: a reopened alert used to take the resolved one's id (the
    notifier then took it for one already notified; an acknowledgement of the old one landed on it)."""
    book = AlertBook("c1", Seqs(), history=2)
    first = book.update("s1", [("behind", "at 10%")], 5.0)[0]
    book.update("s1", [], 5.0)
    again = book.update("s1", [("behind", "at 10%")], 5.0)[0]
    assert again.alert_id != first.alert_id and again.state == "open"
    assert book.get(first.alert_id).state == "resolved"
    for i in range(4):
        book.update(f"o{i}", [("idle", "quiet")], 6.0 + i)
        book.update(f"o{i}", [], 7.0 + i)
    assert book.get(again.alert_id).state == "open"  # the open one is never forgotten
    assert book.get(first.alert_id) is None  # the resolved one is, past the history kept


def test_an_open_alert_resolves_when_its_condition_clears():
    book = AlertBook("c1", Seqs())
    book.update("s1", [("idle", "quiet"), ("behind", "at 10%")], 1.0)
    changed = book.update("s1", (), 2.0)
    assert sorted(a.kind for a in changed) == ["behind", "idle"] and all(a.state == RESOLVED for a in changed)
    assert book.update("s1", (), 3.0) == [] and book.active() == []
    assert book.update("s1", [("idle", "quiet")], 4.0)[0].state == "open"


def test_store_refuses_a_change_to_what_an_alert_is():
    book = AlertBook("c1", Seqs())
    alert = book.update("s1", [("idle", "quiet")], 1.0)[0]
    with pytest.raises(TypeError, match="kind"):
        book._store(alert, kind="behind")


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_alert_book_invariants_under_random_use(seed):
    rng = random.Random(seed)
    history = rng.randint(1, 12)
    book = AlertBook("c1", Seqs(), history=history)
    kinds = ["struggling", "idle", "behind", "at_risk"]
    students = [f"s{i}" for i in range(5)]
    resolved_seen: dict[str, int] = {}  # id -> seq when it resolved (latest)
    now = 0.0
    for _ in range(120):
        now += rng.choice([0.0, 0.0, 1.0, 30.0])  # event clocks repeat 'now'
        op = rng.random()
        if op < 0.75:
            student = rng.choice(students)
            conditions = [(k, f"{k} now") for k in kinds if rng.random() < 0.3]
            for a in book.update(student, conditions, now):
                if a.state == RESOLVED:
                    resolved_seen[a.alert_id] = a.seq
                else:
                    resolved_seen.pop(a.alert_id, None)
        elif op < 0.85 and book.active():
            book.snooze(rng.choice(book.active()).alert_id, now + rng.choice([0.0, 1.0, 60.0]))
        elif op < 0.95 and book.active():
            book.acknowledge(rng.choice(book.active()).alert_id)
        else:
            gone = rng.choice(students)
            book.forget_student(gone)
            resolved_seen = {i: s for i, s in resolved_seen.items() if book.get(i) is not None}
        held = list(book._by_id.values())
        active = {(a.student_id, a.kind): a for a in held if a.state != RESOLVED}
        assert active == book._active
        counts: dict[str, int] = {}
        for student, _ in book._active:
            counts[student] = counts.get(student, 0) + 1
        assert book._students == counts
        assert book.snoozed_students == {a.student_id for a in book._active.values() if a.state == SNOOZED}
        kept = [a for a in held if a.state == RESOLVED]
        assert len(held) <= history or not kept  # over the cap only while nothing resolved is left
        dropped = [seq for i, seq in resolved_seen.items() if book.get(i) is None]
        if dropped and kept:
            assert max(dropped) < min(a.seq for a in kept)  # the oldest resolved went first
        if dropped:
            assert len(held) >= history or not kept  # nothing forgotten beyond what the cap needs


# -- the refresh pacer -------------------------------------------------------------------------------

def test_pacer_refreshes_a_quiet_class_at_once_and_a_busy_one_per_push_interval():
    pacer = RefreshPacer(push_interval_s=0.1, refresh_interval_s=0.25)
    assert pacer.delay(100.0) == 0.0
    pacer.started(100.0, woken=True)
    pacer.finished(0.002)  # a quick refresh: the guard (16 ms) is under the push interval
    assert pacer.delay(100.03) == pytest.approx(0.07)
    assert pacer.delay(100.2) == 0.0
    assert pacer.idle_timeout() == 0.25


def test_pacer_duty_guard_spaces_slow_refreshes():
    pacer = RefreshPacer(push_interval_s=0.1, refresh_interval_s=0.25, duty=8)
    pacer.started(100.0, woken=True)
    pacer.finished(0.1)  # 100 ms of CPU: the next refresh no sooner than 800 ms after this one began
    assert pacer.delay(100.15) == pytest.approx(0.65)
    assert pacer.idle_timeout() == pytest.approx(0.8)
    pacer.started(101.0, woken=False)  # a timed refresh counts for the guard too...
    pacer.finished(0.05)
    assert pacer.delay(101.1) == pytest.approx(0.3)
    pacer.finished(0.001)  # ... and a quick one lifts it
    assert pacer.delay(101.1) == 0.0
