"""The derived tables kept after commits answer exactly what a full recompute from the log answers:
after each ingested batch, after voiding, after erasure, after a restart, after the idle threshold
changes, and after a rebuild from scratch (real DuckDB file, engine/analytics/derived.py)."""
from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from engine import privacy, voiding
from engine.analytics import derived
from engine.analytics.params import AnalyticsParams
from engine.course import Activity, Course
from engine.events import Event
from engine.store import Store
from tests.factories import T0, ev
from tests.unit.analytics_log import assert_same, both_paths, canonical

CAP = 180.0
COURSES = {c: Course(c, "p1", "Course", "event", tuple(Activity(f"a{i}", f"A{i}", 2) for i in range(3)))
           for c in ("c1", "c2")}
PARAMS = (AnalyticsParams(), AnalyticsParams(bucket_minutes=7), AnalyticsParams(bucket_minutes=10, session_minutes=30),
          AnalyticsParams(student_id="s1", window_minutes=5), AnalyticsParams(bucket_minutes=1, session_minutes=5))


class Stream:
    """A random but reproducible event stream: out-of-order times, long gaps, durations, falling progress."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seq = 0
        self.t = 0.0
        self.events: list[Event] = []

    def next(self, n: int) -> list[Event]:
        out = []
        for _ in range(n):
            r = self.rng
            self.seq += 1
            self.t += r.choice((5, 20, 45, 90, 200, 400)) if r.random() < 0.9 else -r.choice((10, 300))
            kind = r.choice(("activity_started", "progress", "attempt", "attempt", "hint_requested",
                             "activity_completed", "heartbeat"))
            e = ev(kind, r.choice(("s1", "s2", "s3", "s4")), None if kind == "heartbeat" else r.choice(("a0", "a1", "a2")),
                   self.t, course=r.choice(("c1", "c1", "c2")), seq=self.seq,
                   progress=r.choice((0.2, 0.5, 0.3, 1.0)) if kind == "progress" else None,
                   correct=r.random() < 0.6 if kind == "attempt" else None,
                   duration=r.choice((None, None, None, 30.0, 0.0)))
            out.append(e)
        self.events += out
        return out

    def void(self, event: Event) -> Event:
        self.seq += 1
        marker = voiding.marker(event.event_id, event.student_id, event.course_id, T0 + self.t)._replace(seq=self.seq)
        self.events.append(marker)
        return marker


def check(store: Store, cap: float = CAP) -> None:
    """Both paths agree for both courses and every parameter set."""
    cur = store.cursor()
    for course in COURSES.values():
        for p in PARAMS:
            both_paths(cur, course, cap, p, {c: cap for c in COURSES})


def interventions(store: Store) -> None:
    cur = store.cursor()
    for i, (student, minutes, holdout) in enumerate((("s1", 10, False), ("s2", 20, True), ("s3", 30, False),
                                                     ("s1", 45, False), ("s4", 45, True))):
        at = datetime.fromtimestamp(T0 + 60 * minutes, tz=UTC).replace(tzinfo=None)
        cur.execute("INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, kind, "
                    "payload, created_at, holdout) VALUES (?, 'c1', ?, 'p1', 'hint', '{}', ?, ?)",
                    (f"iv{i}", student, at, holdout))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_batch_appended_equals_a_full_recompute(tmp_path, seed):
    store = Store(tmp_path / "log.duckdb")
    interventions(store)
    stream = Stream(seed)
    for size in (1, 7, 40, 3, 120, 60):
        store.append(stream.next(size))
        check(store)
    assert derived.up_to_seq(store.cursor()) == stream.seq


def test_voided_events_leave_the_derived_tables_as_a_full_recompute_would(tmp_path):
    store = Store(tmp_path / "log.duckdb")
    stream = Stream(7)
    store.append(stream.next(150))
    check(store)
    learning = [e for e in stream.events if e.type != "heartbeat"]
    # void an old event, the student's latest one, and one that has not arrived yet
    latest = max((e for e in learning if e.student_id == "s2"), key=lambda e: e.seq)
    store.append([stream.void(learning[3]), stream.void(latest)])
    check(store)
    early = stream.next(1)[0]
    if early.type == "heartbeat":
        early = early._replace(type="attempt", activity_id="a1", correct=True)
    store.append([stream.void(early)])
    store.append([early._replace(seq=stream.seq + 1)])
    stream.seq += 1
    store.append(stream.next(30))
    check(store)
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM analytics_voided").fetchone()[0] == 3


def test_an_erased_student_leaves_no_derived_rows_and_the_rest_is_unchanged(tmp_path):
    store = Store(tmp_path / "log.duckdb")
    stream = Stream(11)
    store.append(stream.next(200))
    check(store)
    cur = store.cursor()
    privacy.erase(cur, "s2")
    for table in (*derived.TABLES, "analytics_voided"):
        assert cur.execute(f"SELECT count(*) FROM {table} WHERE student_id = 's2'").fetchone()[0] == 0
    check(store)
    store.append([e for e in stream.next(50) if e.student_id != "s2"])
    check(store)


def test_derived_tables_survive_a_restart_and_a_rebuild_gives_the_same(tmp_path):
    path = tmp_path / "log.duckdb"
    store = Store(path)
    stream = Stream(5)
    store.append(stream.next(120))
    check(store)
    store.close()
    store = Store(path)  # a restarted EventLog: picks up where it was
    assert derived.up_to_seq(store.cursor()) == stream.seq
    store.append(stream.next(80))
    check(store)
    cur = store.cursor()
    kept = {t: sorted(cur.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in ("analytics_tails",
                                                                                       "analytics_facts")}
    derived.rebuild(cur, {c: CAP for c in COURSES})
    assert {t: sorted(cur.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in kept} == kept
    check(store)


def test_a_changed_idle_threshold_rederives_its_course(tmp_path):
    store = Store(tmp_path / "log.duckdb")
    stream = Stream(9)
    store.append(stream.next(150))
    check(store)
    done = derived.catch_up(store.cursor(), stream.seq, {"c1": 60.0, "c2": CAP})
    assert done["rebuilt_courses"] == 1
    cur = store.cursor()
    both_paths(cur, COURSES["c1"], 60.0, AnalyticsParams(), {"c1": 60.0, "c2": CAP})
    both_paths(cur, COURSES["c2"], CAP, AnalyticsParams(), {"c1": 60.0, "c2": CAP})


def test_hand_computed_tails_and_rollups():
    """One student, cap 180: the derived rows by hand."""
    from tests.unit.analytics_log import Log
    log = Log(activities=2)
    log.add("s1", "activity_started", "2026-01-07T10:00:00Z", activity="a0")
    log.add("s1", "progress", "2026-01-07T10:01:00Z", activity="a0", progress=0.5)
    log.add("s1", "hint_requested", "2026-01-07T10:11:00Z", activity="a0")   # 600 s gap: a new session
    log.add("s1", "attempt", "2026-01-07T10:11:30Z", activity="a0", correct=True)
    cur = log.cursor()
    derived.catch_up(cur, 4, {"c1": CAP})
    facts = cur.execute("SELECT seq, spent, gap_before, prev_type, gain, session, session_end FROM analytics_facts "
                        "ORDER BY seq").fetchall()
    assert facts == [(1, 60.0, None, None, 0.0, 1, False), (2, 180.0, 60.0, "activity_started", 0.5, 1, True),
                     (3, 30.0, 600.0, "progress", 0.0, 2, False)]
    assert cur.execute("SELECT seq, spent, prev_type, session FROM analytics_tails").fetchall() == [
        (4, 0.0, "hint_requested", 2)]
    sessions = cur.execute("SELECT session, events, attempts, correct, active, last_spent, max_e - min_e "
                           "FROM analytics_sessions ORDER BY session").fetchall()
    assert sessions == [(1, 2, 0, 0, 240.0, 180.0, 60.0), (2, 2, 1, 1, 30.0, 0.0, 30.0)]
    blocks = cur.execute("SELECT block % 3600, after_hint, events, attempts, spent, gain FROM analytics_blocks "
                         "ORDER BY 1, 2").fetchall()
    assert blocks == [(0, False, 2, 0, 240.0, 0.5), (600, False, 1, 0, 30.0, 0.0), (600, True, 1, 1, 0.0, 0.0)]
    assert cur.execute("SELECT activity_id, last_type, max_mark FROM analytics_marks").fetchall() == [
        ("a0", "attempt", 0.5)]


def test_a_request_the_rollups_cannot_answer_exactly_is_answered_from_the_log(tmp_path):
    """A time range, or tables derived with another idle threshold: the per-event path answers."""
    from engine import analytics
    from engine.analytics import rollups
    store = Store(tmp_path / "log.duckdb")
    stream = Stream(13)
    store.append(stream.next(80))
    cur = store.cursor()
    derived.catch_up(cur, stream.seq, {"c1": CAP})
    assert rollups.usable(cur, "c1", CAP, AnalyticsParams())
    assert not rollups.usable(cur, "c1", CAP, AnalyticsParams(since=T0 + 600))
    assert not rollups.usable(cur, "c1", 60.0, AnalyticsParams())
    assert rollups.usable(cur, "no-events-yet", CAP, AnalyticsParams())
    for cap, p in ((CAP, AnalyticsParams(since=T0 + 600, until=T0 + 3000)), (60.0, AnalyticsParams())):
        assert_same(canonical(analytics.query(cur, COURSES["c1"], cap, p, derived=True)),
                    canonical(analytics.query(cur, COURSES["c1"], cap, p)))


def test_rows_derived_under_other_rules_are_derived_again(tmp_path):
    """A file from a version whose rules differed (spent, say) is derived again at the next round."""
    store = Store(tmp_path / "log.duckdb")
    stream = Stream(11)
    store.append(stream.next(100))
    check(store)
    cur = store.cursor()
    for table in derived.TABLES:  # rows the old rules left (here: none of them)
        cur.execute(f"DELETE FROM {table}")
    cur.execute("UPDATE analytics_rules SET version = version - 1")
    derived.catch_up(cur, stream.seq, {c: CAP for c in COURSES})
    check(store)
    assert cur.execute("SELECT version FROM analytics_rules").fetchall() == [(derived.RULES,)]
