"""The course read model: snapshots, coalesced diffs, no ticking fields."""
from engine.config import AlertConfig
from engine.live_view import CourseView, SeqClock
from engine.state import StudentState
from tests.factories import course, ev, params


def make_view(n_students=3):
    roster = {f"s{i}": f"Student {i}" for i in range(n_students)}
    return CourseView(course(), AlertConfig(), roster, SeqClock())


def summary(student, events):
    state = StudentState("c1", student)
    for e in events:
        state.apply(e._replace(student_id=student), params())
    return state.summary(params(), {})


def test_roster_students_start_not_started_and_snapshot_lists_all():
    view = make_view()
    view.refresh()
    snap = view.updates_since(None)
    assert snap["type"] == "snapshot" and len(snap["students"]) == 3
    assert {s["status"] for s in snap["students"]} == {"not_started"}
    assert {s["name"] for s in snap["students"]} == {"Student 0", "Student 1", "Student 2"}


def test_diff_carries_only_changed_students_coalesced():
    view = make_view()
    view.refresh()
    seq = view.seq
    assert view.updates_since(seq) is None
    view.apply(summary("s1", [ev("attempt", correct=True, t=0, seq=1)]))
    view.apply(summary("s1", [ev("attempt", correct=True, t=0, seq=1), ev("attempt", correct=True, t=5, seq=2)]))
    view.refresh()
    diff = view.updates_since(seq)
    assert diff["type"] == "diff" and [s["student_id"] for s in diff["students"]] == ["s1"]
    assert diff["students"][0]["last_event_id"] and diff["students"][0]["status"] == "active"
    assert view.updates_since(diff["seq"]) is None


def test_refresh_without_change_sends_nothing():
    view = make_view()
    view.apply(summary("s1", [ev("attempt", correct=True, t=0, seq=1)]))
    view.refresh()
    seq = view.seq
    for _ in range(5):
        view.refresh()
    assert view.updates_since(seq) is None


def test_older_summary_is_ignored():
    view = make_view()
    newer = summary("s1", [ev("attempt", correct=True, seq=5), ev("activity_completed", seq=6)])
    older = summary("s1", [ev("attempt", correct=True, seq=5)])
    assert view.apply(newer) and not view.apply(older)
    view.refresh()
    assert view.views["s1"]["completion"] == 0.25


def test_a_summary_of_the_same_events_over_new_activities_replaces_the_held_one():
    view = make_view()
    done = summary("s1", [ev("activity_completed", seq=6)])
    assert view.apply(done) and not view.apply(done)  # the same again: nothing new
    wider = done._replace(completion=done.completion / 2)  # the course gained activities
    assert view.apply(wider)
    view.refresh()
    assert view.views["s1"]["completion"] == wider.completion


def test_new_alerts_appear_in_the_diff_and_a_stale_cursor_gets_a_snapshot():
    view = make_view()
    view.refresh()
    seq = view.seq
    view.apply(summary("s2", [ev("attempt", correct=False, t=i, seq=i + 1) for i in range(3)]))
    view.refresh()
    diff = view.updates_since(seq)
    assert [a["kind"] for a in diff["alerts"]] == ["struggling"]
    assert view.updates_since(view.base_seq - 1)["type"] == "snapshot"
    view.alerts.forgotten_through = view.seq  # a resolution the alert history no longer holds
    assert view.updates_since(seq)["type"] == "snapshot"
    assert view.updates_since(view.seq) is None
    # a cursor ahead of the view (another stack's, a skewed clock's) gets a snapshot, not silence
    assert view.updates_since(view.seq + 10**12)["type"] == "snapshot"


def test_config_change_reassesses_at_once():
    view = make_view()
    view.apply(summary("s1", [ev("attempt", correct=False, t=i, seq=i + 1) for i in range(2)]))
    view.refresh()
    assert view.views["s1"]["status"] == "active"
    view.set_config(AlertConfig().merge({"struggling_min_attempts": 2}))
    view.refresh()
    assert view.views["s1"]["status"] == "struggling"


def test_a_snoozed_alert_reopens_on_time_even_when_nothing_else_changes():
    now = [1000.0]
    view = CourseView(course(clock="live"), AlertConfig(), {"s1": "S"}, SeqClock(), wall=lambda: now[0])
    view.apply(summary("s1", [ev("attempt", correct=False, t=i, seq=i + 1, received=-100 + i) for i in range(3)]))
    view.refresh()
    [alert] = view.alerts.active()
    view.alerts.snooze(alert.alert_id, until=view.clock.now() + 60)
    view.refresh()
    assert view.alerts.get(alert.alert_id).state == "snoozed"
    now[0] += 61
    view.refresh()
    assert view.alerts.get(alert.alert_id).state == "open"


def test_a_snooze_lasts_its_minutes_on_an_event_clock_course():
    """The API turns "10 minutes" into a wall-clock instant; on a course running ahead of the wall
    clock (a 60x simulation) the alert used to reopen at the next event, on a replay of last year
    it stayed hidden for good."""
    wall = [0.0]
    view = CourseView(course(clock="event"), AlertConfig(), {"s1": "One"}, SeqClock(), wall=lambda: wall[0])
    view.apply(summary("s1", [ev("attempt", correct=False, t=i, seq=i + 1) for i in range(3)]))
    view.refresh()
    [alert] = [a for a in view.alerts.active() if a.kind == "struggling"]
    wall[0] = view.clock.now() - 3600  # the course runs an hour ahead of the wall clock
    snoozed = view.alerts.snooze(alert.alert_id, view.on_course_clock(wall[0] + 600))
    assert snoozed.snoozed_until == view.clock.now() + 600
    view.apply(summary("s1", [ev("attempt", correct=False, t=i, seq=i + 1) for i in range(5)]))
    view.refresh()
    assert view.alerts.get(alert.alert_id).state == "snoozed"  # 4 course-seconds later: still
    view.apply(summary("s1", [ev("attempt", correct=False, t=i * 200, seq=i + 1) for i in range(5)]))
    view.refresh()
    assert view.alerts.get(alert.alert_id).state == "open"  # past its 10 minutes: back


def test_a_course_switched_to_the_live_clock_is_judged_on_it_at_once():
    """The catalogue took the course's new clock mode at once; the view kept its old clock until
    its hub restarted, so a rebuilt view judged idle differently."""
    view = CourseView(course(clock="event"), AlertConfig(), {"s1": "One"}, SeqClock())
    view.set_course(course(clock="live"))
    assert view.clock.mode == "live"
