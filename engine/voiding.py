"""Voided events: a marker in the log, and the fold that leaves voided events out.

Voiding never edits the log. A marker event (type ``voided``, id
``void:<event_id>``, same student and course) is committed like any event, so
it reaches the student's shard in log order and survives restarts. The rule a
replay and the live shards share: a student's state is the fold, in log order,
of their events minus markers and minus every event a marker names. A shard
that folds a marker rebuilds that student from the log this way; an event
whose marker came first (it was voided before it arrived) is skipped.
"""
from __future__ import annotations

from collections.abc import Iterable

import duckdb

from engine.course import FoldParams
from engine.events import Event
from engine.state import StudentState

VOIDED = "voided"
PREFIX = "void:"
# SQL over student_activity_log: rows that count (no markers, nothing a marker names).
COUNTS_SQL = (f"type <> '{VOIDED}' AND event_id NOT IN (SELECT substr(event_id, {len(PREFIX) + 1}) "
              f"FROM student_activity_log WHERE type = '{VOIDED}')")


def marker(event_id: str, student_id: str, course_id: str, received_at: float) -> Event:
    """The marker voiding ``event_id``: its content depends only on the target, so voiding twice is a
    duplicate, never a conflict."""
    e = Event(PREFIX + event_id, student_id, course_id, None, VOIDED, received_at, None, None, None,
              False, received_at)
    return e._replace(fingerprint=e.content_fingerprint())


def is_marker(event: Event) -> bool:
    return event.type == VOIDED


def target(event: Event) -> str:
    return event.event_id[len(PREFIX):]


def refold(course_id: str, student_id: str, events: Iterable[Event], params: FoldParams,
           voided: set[str] = frozenset()) -> StudentState:
    """One student's state from their log events (in seq order), leaving out markers, the events
    they name and ``voided``. ``seq`` is the last seq seen, markers included, so read models
    take the rebuilt state as newer than what they hold."""
    events = list(events)
    skip = set(voided) | {target(e) for e in events if is_marker(e)}
    state = StudentState(course_id, student_id)
    for e in events:
        if not is_marker(e) and e.event_id not in skip:
            state.apply(e, params)
    if events:
        state.seq = max(state.seq, max(e.seq for e in events))
    return state


def replay(events: Iterable[Event], params: dict[str, FoldParams]) -> dict[tuple[str, str], StudentState]:
    """The reference fold of a whole log without voided events (what live state must equal)."""
    by_student: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        by_student.setdefault((e.course_id, e.student_id), []).append(e)
    return {key: refold(key[0], key[1], evs, params[key[0]]) for key, evs in by_student.items()}


# -- reads of the log (run in the process that owns the DuckDB file) -----------------

_EVENT_COLUMNS = ("event_id, student_id, course_id, activity_id, type, epoch_us(ts) / 1e6, progress, correct, "
                  "duration_s, ts_given, epoch_us(received_at) / 1e6, fingerprint, seq")


def student_log(cur: duckdb.DuckDBPyConnection, course_id: str, student_id: str, upto_seq: int) -> list[Event]:
    """Every logged event of one student in one course up to ``upto_seq``, markers included."""
    rows = cur.execute(f"SELECT {_EVENT_COLUMNS} FROM student_activity_log WHERE course_id = ? AND "
                       "student_id = ? AND seq <= ? ORDER BY seq", (course_id, student_id, upto_seq)).fetchall()
    return [Event(*row) for row in rows]


def shard_voided(cur: duckdb.DuckDBPyConnection, shards: int, index: int) -> list[tuple[str, str, str]]:
    """(course_id, student_id, voided event id) for every marker of one shard's students."""
    rows = cur.execute(f"SELECT course_id, student_id, substr(event_id, {len(PREFIX) + 1}) FROM "
                       f"student_activity_log WHERE type = '{VOIDED}' AND shard_key % ? = ?",
                       (shards, index)).fetchall()
    return [tuple(r) for r in rows]
