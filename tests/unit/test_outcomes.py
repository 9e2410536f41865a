"""An intervention's outcome reads the student's counted events only (voided ones never count)."""
from __future__ import annotations

from datetime import datetime

from engine import outcomes, voiding
from engine.comms_store import CommsStore
from engine.store import Store


def test_a_voided_completion_after_the_help_is_no_completion(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    rows = [("e1", "attempt", "2026-01-05T09:00:00", False),
            ("e2", "activity_completed", "2026-01-05T09:10:00", None),  # voided below
            (voiding.PREFIX + "e2", voiding.VOIDED, "2026-01-05T09:11:00", None)]
    for seq, (event_id, kind, ts, correct) in enumerate(rows, start=1):
        when = datetime.fromisoformat(ts)
        store.cursor().execute("INSERT INTO student_activity_log VALUES (?, ?, 0, 's1', 'c1', ?, ?, ?, ?, NULL, ?, "
                               "NULL, true, 0)", (seq, event_id, None if kind == voiding.VOIDED else "a1", kind,
                                                  when, when, correct))
    events = CommsStore(store).events_of("c1", ["s1"])["s1"]
    assert [e["type"] for e in events] == ["attempt"]
    help_at = datetime.fromisoformat("2026-01-05T09:05:00+00:00").timestamp()  # the log keeps UTC
    out = outcomes.outcome({"created_at": help_at, "activity_id": "a1", "status_before": "struggling"}, events)
    assert out["completed_after"] is False and out["improved"] is None
