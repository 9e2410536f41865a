"""The audit log: a look refreshed every 2 s is one row a minute, not one per refresh."""
from __future__ import annotations

import duckdb
import pytest


def rows(store) -> list[tuple]:
    return store.cursor().execute("SELECT action, target, detail FROM audit_log ORDER BY logged_at").fetchall()


def test_a_repeated_look_is_written_once_per_window(store):
    look = ("professor", "prof-1", "view_work", "stu-1", {"course_id": "c1", "consent": True})
    written = [store.audit(*look, repeat_after_s=60, now=t) for t in range(0, 60, 2)]  # 30 refreshes
    assert written == [True] + [False] * 29 and len(rows(store)) == 1
    assert store.audit(*look, repeat_after_s=60, now=60.0)  # the next minute of watching: its row
    assert len(rows(store)) == 2


def test_another_student_professor_or_consent_is_another_look(store):
    base = {"course_id": "c1", "consent": False}
    assert store.audit("professor", "prof-1", "view_work", "stu-1", base, repeat_after_s=60, now=0)
    assert store.audit("professor", "prof-1", "view_work", "stu-2", base, repeat_after_s=60, now=1)
    assert store.audit("professor", "prof-2", "view_work", "stu-1", base, repeat_after_s=60, now=2)
    assert store.audit("professor", "prof-1", "view_work", "stu-1", base | {"consent": True}, repeat_after_s=60,
                       now=3)  # the student turned sharing on: the first look at their work is written
    assert len(rows(store)) == 4


def test_without_a_window_every_call_is_a_row(store):
    for _ in range(3):
        assert store.audit("professor", "prof-1", "view_student", "stu-1", {"course_id": "c1"})
    assert len(rows(store)) == 3


def test_a_look_whose_row_failed_is_written_at_the_next_refresh(store, monkeypatch):
    """The look was marked written before its INSERT: a failed insert left a minute of looks unlogged."""
    look = ("professor", "prof-1", "view_work", "stu-1", {"course_id": "c1", "consent": True})
    real = store.cursor

    def broken():
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(store, "cursor", broken)
    with pytest.raises(duckdb.IOException):
        store.audit(*look, repeat_after_s=60, now=0)
    monkeypatch.setattr(store, "cursor", real)
    assert store.audit(*look, repeat_after_s=60, now=2) and len(rows(store)) == 1


def test_the_looks_remembered_stay_bounded_forgetting_the_one_due_soonest(store, monkeypatch):
    monkeypatch.setattr("engine.store.AUDIT_QUIET_KEYS", 3)
    for i in range(5):
        store.audit("professor", "prof-1", "view_work", f"stu-{i}", {}, repeat_after_s=60, now=i)
    assert len(store._audit_quiet) == 3
    assert store.audit("professor", "prof-1", "view_work", "stu-0", {}, repeat_after_s=60, now=5)  # forgotten
    assert not store.audit("professor", "prof-1", "view_work", "stu-4", {}, repeat_after_s=60, now=5)
