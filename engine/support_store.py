"""DuckDB rows of the communication features: office-hours history, peer groups and past
pairs, notification preferences and the delivery log (tables at the end of schema.sql).

Plain functions over a ``Store`` (the EventLog actor runs them in worker threads)."""
from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa

from engine.office_hours import DONE, HELPED_WINDOW_S, IN_PROGRESS, WAITING, Entry
from engine.store import Store

TABLES = ("peer_groups", "peer_pairs", "notification_preferences", "notification_log")  # also in store.TABLES
_OH_COLUMNS = ("entry_id", "course_id", "student_id", "topic", "joined_at", "state", "started_at",
               "ended_at", "tier", "position", "defers", "helped_by", "nudged")


def save_entry(store: Store, entry: Entry) -> None:
    row = entry.to_row()
    store.cursor().execute(
        f"INSERT OR REPLACE INTO office_hours_queue ({', '.join(_OH_COLUMNS)}) VALUES "
        "(?, ?, ?, ?, to_timestamp(?), ?, to_timestamp(?), to_timestamp(?), ?, ?, ?, ?, ?)",
        [row[c] for c in _OH_COLUMNS])


def office_hours_state(store: Store, course_ids: list[str], now: float | None = None,
                       history: int = 50) -> dict[str, dict[str, Any]]:
    """Per course: open entries, recent help durations (oldest first), who was helped within
    ``HELPED_WINDOW_S`` (student, when)."""
    now = time.time() if now is None else now
    if not course_ids:
        return {}
    cur = store.cursor()
    out: dict[str, dict[str, Any]] = {c: {"entries": [], "durations": [], "helped": []} for c in course_ids}
    rows = cur.execute(
        "SELECT entry_id, course_id, student_id, coalesce(topic, ''), epoch(joined_at), coalesce(tier, 0), "
        "coalesce(position, 0), state, coalesce(defers, 0), epoch(started_at), epoch(ended_at), helped_by, "
        "coalesce(nudged, false) FROM office_hours_queue WHERE course_id IN (SELECT unnest(?)) "
        "AND state IN (?, ?)", (course_ids, WAITING, IN_PROGRESS)).fetchall()
    for r in rows:
        out[r[1]]["entries"].append(Entry(*r))
    for course_id, secs in cur.execute(
            "SELECT course_id, epoch(ended_at) - epoch(started_at) FROM office_hours_queue "
            "WHERE course_id IN (SELECT unnest(?)) AND state = ? AND started_at IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY course_id ORDER BY ended_at DESC) <= ? "
            "ORDER BY ended_at", (course_ids, DONE, history)).fetchall():
        out[course_id]["durations"].append(float(secs))
    for course_id, sid, started in cur.execute(
            "SELECT course_id, student_id, max(epoch(started_at)) FROM office_hours_queue "
            "WHERE course_id IN (SELECT unnest(?)) AND started_at IS NOT NULL GROUP BY ALL",
            (course_ids,)).fetchall():
        if now - started < HELPED_WINDOW_S:
            out[course_id]["helped"].append((sid, started))
    return out


def office_hours_history(store: Store, course_id: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = store.cursor().execute(
        "SELECT entry_id, student_id, topic, state, epoch(joined_at), epoch(started_at), epoch(ended_at), "
        "helped_by, defers FROM office_hours_queue WHERE course_id = ? AND state NOT IN (?, ?) "
        "ORDER BY joined_at DESC LIMIT ?", (course_id, WAITING, IN_PROGRESS, limit)).fetchall()
    keys = ("entry_id", "student_id", "topic", "state", "joined_at", "started_at", "ended_at",
            "helped_by", "defers")
    return [dict(zip(keys, r)) for r in rows]


def peer_stats(store: Store, course_id: str, activity_id: str) -> dict[str, Any]:
    """Who completed the activity and how accurately (from the log), and the course's past pairs."""
    cur = store.cursor()
    rows = cur.execute(
        "SELECT student_id, count(*) FILTER (WHERE type = 'attempt') AS attempts, "
        "count(*) FILTER (WHERE type = 'attempt' AND correct) AS correct, "
        "bool_or(type = 'activity_completed' OR (type = 'progress' AND progress >= 1)) AS completed "
        "FROM student_activity_log WHERE course_id = ? AND activity_id = ? GROUP BY student_id",
        (course_id, activity_id)).fetchall()
    pairs = cur.execute("SELECT student_a, student_b FROM peer_pairs WHERE course_id = ?",
                        (course_id,)).fetchall()
    return {"students": [{"student_id": s, "attempts": a, "correct": c, "completed": bool(done)}
                         for s, a, c, done in rows],
            "past_pairs": [tuple(p) for p in pairs]}


def save_groups(store: Store, course_id: str, activity_id: str | None, groups: list[dict[str, Any]],
                by: str) -> None:
    cur = store.cursor()
    cur.execute("BEGIN")
    try:
        for g in groups:
            cur.execute("INSERT INTO peer_groups (group_id, course_id, activity_id, members, created_by) "
                        "VALUES (?, ?, ?, ?, ?)", (g["group_id"], course_id, activity_id,
                                                   json.dumps(g["members"]), by))
            ids = sorted(m["student_id"] for m in g["members"])
            cur.executemany("INSERT INTO peer_pairs (course_id, student_a, student_b, group_id) VALUES (?, ?, ?, ?)",
                            [(course_id, a, b, g["group_id"]) for i, a in enumerate(ids) for b in ids[i + 1:]])
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise


def groups_of(store: Store, course_id: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = store.cursor().execute(
        "SELECT group_id, activity_id, members, created_by, epoch(created_at) FROM peer_groups "
        "WHERE course_id = ? ORDER BY created_at DESC LIMIT ?", (course_id, limit)).fetchall()
    return [{"group_id": g, "activity_id": a, "members": json.loads(m), "created_by": b, "created_at": t}
            for g, a, m, b, t in rows]


def load_preferences(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.cursor().execute("SELECT professor_id, prefs FROM notification_preferences").fetchall()
    return {pid: json.loads(p) for pid, p in rows}


def save_preferences(store: Store, professor_id: str, prefs: dict[str, Any]) -> None:
    store.cursor().execute("INSERT OR REPLACE INTO notification_preferences (professor_id, prefs, updated_at) "
                           "VALUES (?, ?, now())", (professor_id, json.dumps(prefs)))


_LOG_COLUMNS = ("notification_id", "channel", "professor_id", "course_id", "student_id", "alert_id", "kind",
                "priority", "target", "status", "attempts", "last_error", "created_at", "updated_at")
_LOG_TYPES = {c: pa.string() for c in _LOG_COLUMNS} | {"priority": pa.int32(), "attempts": pa.int32(),
                                                       "created_at": pa.float64(), "updated_at": pa.float64()}


def save_deliveries(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert or update delivery rows (keyed by notification and channel), as one Arrow insert:
    a burst of alerts writes hundreds of rows, and row-by-row ``executemany`` held the log's
    DuckDB connection for milliseconds per batch."""
    if not rows:
        return
    latest = {(r["notification_id"], r["channel"]): r for r in rows}  # one row per key: last wins
    table = pa.table({c: pa.array([r.get(c) for r in latest.values()], _LOG_TYPES[c]) for c in _LOG_COLUMNS})
    cur = store.cursor()
    cur.register("deliveries_in", table)
    cur.execute("BEGIN")
    try:
        cur.execute(
            f"INSERT OR REPLACE INTO notification_log ({', '.join(_LOG_COLUMNS)}) SELECT "
            f"{', '.join(_LOG_COLUMNS[:-2])}, to_timestamp(created_at), to_timestamp(updated_at) FROM deliveries_in")
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise
    finally:
        cur.close()


def last_notified(store: Store, since: float) -> list[tuple[str, str, str, float]]:
    """(course, student, kind, when) of the latest notification per alert kind since ``since`` (epoch
    seconds): a restarted notifier keeps its quiet periods (engine/notify.py)."""
    return store.cursor().execute(
        "SELECT course_id, student_id, kind, max(epoch(created_at)) FROM notification_log "
        "WHERE epoch(created_at) >= $s AND course_id IS NOT NULL AND student_id IS NOT NULL "
        "AND kind IS NOT NULL GROUP BY ALL", {"s": since}).fetchall()


def fail_unfinished(store: Store, before: float, reason: str) -> int:
    """Record deliveries still ``pending`` or ``retrying`` from before ``before`` (epoch seconds, a
    notifier's start) as ``failed`` with ``reason``: their retries were in the memory of a notifier
    that is gone. -> how many."""
    rows = store.cursor().execute(
        "UPDATE notification_log SET status = 'failed', last_error = $r, updated_at = to_timestamp($now) "
        "WHERE status IN ('pending', 'retrying') AND epoch(updated_at) < $b RETURNING notification_id",
        {"r": reason, "b": before, "now": time.time()}).fetchall()
    return len(rows)


def deliveries(store: Store, professor_id: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = store.cursor().execute(
        f"SELECT {', '.join(_LOG_COLUMNS[:-2])}, epoch(created_at), epoch(updated_at) FROM notification_log "
        "WHERE professor_id = ? ORDER BY created_at DESC, channel LIMIT ?", (professor_id, limit)).fetchall()
    return [dict(zip(_LOG_COLUMNS, r)) for r in rows]
