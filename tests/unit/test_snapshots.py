"""Shard snapshots in the DuckDB file: a restart reads each student's latest state, and rows a later
snapshot replaces are gone (a 3-hour class of 1,000 left ~360k superseded rows before)."""
import os
import threading
import time
from pathlib import Path

import duckdb

from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]


def row(student: str, completion: float, course: str = "c1") -> dict:
    return {"course_id": course, "student_id": student, "completion": completion, "time_on_task_s": 1.0,
            "state": {"course_id": course, "student_id": student, "completion_sum": completion}}


def rows_of(store: Store) -> list[tuple]:
    return store.cursor().execute(
        "SELECT shard_count, shard_index, course_id, student_id, seq FROM real_time_progress_snapshots "
        "ORDER BY ALL").fetchall()


def test_a_snapshot_replaces_its_students_rows_and_keeps_the_others(store):
    store.write_snapshot(2, 0, 10, [row("s1", 0.1), row("s2", 0.2)])
    store.write_snapshot(2, 0, 20, [row("s1", 0.5)])  # s2 unchanged since: its row stays
    store.write_snapshot(2, 1, 20, [row("s3", 0.3)])
    assert rows_of(store) == [(2, 0, "c1", "s1", 20), (2, 0, "c1", "s2", 10), (2, 1, "c1", "s3", 20)]
    seq, states = store.load_snapshot(2, 0)
    assert seq == 20
    assert sorted((s["student_id"], s["completion_sum"]) for s in states) == [("s1", 0.5), ("s2", 0.2)]


def test_another_shard_layout_keeps_its_own_rows(store):
    """A restart with another shard count replays from the log; going back finds its rows intact."""
    store.write_snapshot(2, 0, 10, [row("s1", 0.1)])
    store.write_snapshot(4, 1, 30, [row("s1", 0.9)])
    assert store.load_snapshot(2, 0) == (10, [row("s1", 0.1)["state"]])
    assert store.load_snapshot(4, 1) == (30, [row("s1", 0.9)["state"]])


def test_the_same_student_in_two_courses_is_two_rows(store):
    store.write_snapshot(1, 0, 5, [row("s1", 0.1, "c1"), row("s1", 0.2, "c2")])
    store.write_snapshot(1, 0, 9, [row("s1", 0.4, "c2")])
    assert rows_of(store) == [(1, 0, "c1", "s1", 5), (1, 0, "c2", "s1", 9)]


def test_opening_a_file_drops_rows_written_before_snapshots_replaced_them(tmp_path):
    path = tmp_path / "log.duckdb"
    Store(path).close()
    db = duckdb.connect(str(path))  # the table as earlier versions left it: every snapshot kept
    for seq in (10, 20, 30):
        for student in ("s1", "s2"):
            db.execute("INSERT INTO real_time_progress_snapshots VALUES (now(), ?, 1, 0, 'c1', ?, ?, 0, ?)",
                       (seq, student, seq / 100, f'{{"student_id": "{student}", "seq": {seq}}}'))
    db.execute("INSERT INTO shard_checkpoints VALUES (1, 0, 30, now())")
    db.close()
    store = Store(path)
    try:
        assert rows_of(store) == [(1, 0, "c1", "s1", 30), (1, 0, "c1", "s2", 30)]
        assert store.prune_snapshots() == 0
        seq, states = store.load_snapshot(1, 0)
        assert seq == 30 and sorted(s["seq"] for s in states) == [30, 30]
    finally:
        store.close()


def test_snapshots_and_an_erasure_take_turns_and_the_erased_student_stays_gone(store):
    """A shard snapshots every 30 s while an admin may erase one of its students: both delete that
    student's rows, which DuckDB refuses as a conflict when two transactions overlap, and a
    snapshot sent before the erasure must not put the student back."""
    errors: list[Exception] = []
    erased = threading.Event()

    def snapshots():
        for seq in range(1, 400):
            try:
                store.write_snapshot(1, 0, seq, [row("s1", seq / 1000), row("s2", 0.5)])
            except Exception as exc:  # noqa: BLE001 - what the test is about
                errors.append(exc)
            if erased.is_set() and seq % 50 == 0:
                break

    writer = threading.Thread(target=snapshots)
    writer.start()
    time.sleep(0.05)
    store.erase_student("s1")
    erased.set()
    writer.join()
    assert errors == []
    assert [r[3] for r in rows_of(store)] == ["s2"]


def test_times_round_trip_exactly_on_a_host_that_is_not_on_utc(tmp_path):
    """``to_timestamp`` into a TIMESTAMP column converts with the session's time zone: on a UTC+9
    host an office-hours session read back started 9 h later than it did. Run where TZ is Tokyo."""
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from engine.store import Store\n"
        "from engine import support_store\n"
        "s = Store(sys.argv[1])\n"
        "t = 1800000000.25\n"
        "support_store.save_deliveries(s, [{'notification_id': 'n1', 'channel': 'in_app', 'professor_id': 'p1',"
        " 'status': 'sent', 'attempts': 1, 'created_at': t, 'updated_at': t}])\n"
        "row = support_store.deliveries(s, 'p1')[0]\n"
        "print(row['created_at'] - t)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "tz.duckdb")], capture_output=True, text=True,
                         env={**os.environ, "TZ": "Asia/Tokyo"}, check=True, cwd=ROOT)
    assert float(out.stdout.strip()) == 0.0


def test_a_snapshot_committing_between_the_reads_of_a_restart_loses_no_student(store):
    """A restarting shard reads its checkpoint, then its students' rows. If its dying incarnation's
    snapshot commits in between, the students it rewrote have rows past the checkpoint read: the
    restart must still see every student as of one moment (before: s2 was simply missing)."""
    store.write_snapshot(4, 0, 10, [row("s1", 0.1), row("s2", 0.1)])
    real = store.cursor

    class Interleaved:  # a cursor that lets the late snapshot commit right after the checkpoint read
        def __init__(self, cur):
            self.cur = cur

        def execute(self, sql, *args):
            result = self.cur.execute(sql, *args)
            if "FROM shard_checkpoints" in sql:
                store.cursor = real
                store.write_snapshot(4, 0, 20, [row("s2", 0.6)])
            return result

        def __getattr__(self, name):
            return getattr(self.cur, name)

    store.cursor = lambda: Interleaved(real())
    seq, states = store.load_snapshot(4, 0)
    assert (seq, sorted((s["student_id"], s["completion_sum"]) for s in states)) == (10, [("s1", 0.1), ("s2", 0.1)])
    seq, states = store.load_snapshot(4, 0)  # and the next restart sees the late snapshot whole
    assert (seq, sorted((s["student_id"], s["completion_sum"]) for s in states)) == (20, [("s1", 0.1), ("s2", 0.6)])


def test_an_erasure_still_under_way_keeps_the_students_row_in_step_with_the_checkpoint(store):
    """The log takes a student off the roster, then waits for their queued events before deleting.
    If that wait fails (503, ask again), snapshots meanwhile must keep the student's row current:
    leaving it out while the checkpoint moves on made a restart load their older row and replay
    only after the new checkpoint, losing the events between."""
    store.write_snapshot(4, 0, 10, [row("s1", 0.1), row("s2", 0.1)])
    store.write_snapshot(4, 0, 20, [row("s1", 0.2), row("s2", 0.2)])  # s1 off the roster, not yet erased
    assert sorted((s["student_id"], s["completion_sum"]) for s in store.load_snapshot(4, 0)[1]) == \
        [("s1", 0.2), ("s2", 0.2)]
    store.erase_student("s1")
    store.write_snapshot(4, 0, 30, [row("s1", 0.3), row("s2", 0.3)])  # sent before the shard forgot s1
    assert [s["student_id"] for s in store.load_snapshot(4, 0)[1]] == ["s2"]
    store.save_students("c1", [("s1", "Enrolled again")])
    store.write_snapshot(4, 0, 40, [row("s1", 0.05)])
    assert sorted(s["student_id"] for s in store.load_snapshot(4, 0)[1]) == ["s1", "s2"]
