"""Derived facts and rollups kept up to date after commits, so analytics read small tables.

``sources.prepare`` derives, per request, each learning event's ``spent``, ``gap_before``,
``prev_type`` and ``gain`` with one sort of the course's whole log. Those columns depend only
on the student's earlier events (and ``spent`` on the next one), so they can be derived once,
as events are committed, and kept:

* ``analytics_tails``: each student's last counted learning event (its ``spent`` is provisional,
  ``duration_s`` or 0, until the next event arrives);
* ``analytics_facts``: every other counted learning event, final (per-event rows, read only by
  analyses bounded in time, such as intervention windows);
* ``analytics_marks``: per student and activity, the last event type and the highest progress
  mark so far (what ``prev_type`` and ``gain`` of the next event need);
* rollups of the final rows, one row per key, upserted: ``analytics_blocks`` (student x 5-minute
  block x after-a-hint), ``analytics_activities`` (student x activity), ``analytics_sessions``
  (student x session; sessions split at gaps above the idle threshold).

A read adds the tails to the rollups (``rollups.py``), so the answer equals the full
computation at the same log position. ``catch_up`` runs one transaction per round over the log
rows committed since ``analytics_state.up_to_seq``: markers first (a voided event's student is
rebuilt from the log), then courses whose idle threshold changed (rebuilt: ``spent`` and
sessions depend on it), then the new events appended to the tails.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from engine import voiding
from engine.analytics.patterns import DONE_SQL, FIRST_SQL

BLOCK_S = 300          # rollup block: 5 minutes (session buckets that are multiples of it read the rollup)
CHUNK = 1_000_000      # log rows per transaction when catching up a long way
DEFAULT_CAP = 180.0
TABLES = ("analytics_facts", "analytics_tails", "analytics_marks", "analytics_blocks", "analytics_activities",
          "analytics_sessions")
_MARK = "CASE WHEN type = 'activity_completed' THEN 1.0 WHEN type = 'progress' THEN progress END"
FACT_COLUMNS = ("course_id, student_id, activity_id, type, ts, e, seq, correct, progress, duration_s, "
                "gap_before, prev_type, gain, session, spent, session_end")

# Per-key aggregates of the rows a round adds (``_delta``): every new event (a student's new last
# event with its provisional ``spent``), and for each previous tail a correction row (``corr``: counts
# nothing; ``spent`` and ``end_spent`` are the change from its provisional values to its final ones).
# So the rollups always cover every event, tails included, and a read needs no extra step.
_N = "count(*) FILTER (WHERE NOT corr"
BLOCKS_SQL = f"""
    SELECT course_id, student_id, (epoch_us(ts) // {BLOCK_S * 1_000_000}) * {BLOCK_S} AS block,
           coalesce(prev_type = 'hint_requested', false) AS after_hint, {_N}) AS events,
           {_N} AND type = 'attempt') AS attempts, {_N} AND type = 'attempt' AND correct) AS correct,
           {_N} AND {DONE_SQL}) AS done, sum(spent) AS spent, sum(gain) AS gain, min(e) AS min_e, max(e) AS max_e
    FROM _delta GROUP BY ALL"""
ACTIVITIES_SQL = f"""
    SELECT course_id, student_id, coalesce(activity_id, '') AS activity_id, {_N}) AS events,
           {_N} AND type = 'attempt') AS attempts, {_N} AND type = 'attempt' AND NOT correct) AS errors,
           {_N} AND type = 'hint_requested') AS hints, {_N} AND {DONE_SQL}) AS done, sum(spent) AS spent
    FROM _delta GROUP BY ALL"""
SESSIONS_SQL = f"""
    SELECT course_id, student_id, session, {_N}) AS events,
           {_N} AND type = 'attempt') AS attempts, {_N} AND type = 'attempt' AND correct) AS correct,
           {_N} AND {DONE_SQL}) AS done, sum(spent) AS active, {_N} AND type = 'hint_requested') AS hints,
           {_N} AND {FIRST_SQL}) AS started, min(e) AS min_e, max(e) AS max_e,
           sum(end_spent) AS last_spent
    FROM _delta GROUP BY ALL"""

_UPSERTS = (
    ("analytics_blocks", BLOCKS_SQL, "course_id, student_id, block, after_hint",
     ("events = events + excluded.events, attempts = attempts + excluded.attempts, "
      "correct = correct + excluded.correct, done = done + excluded.done, spent = spent + excluded.spent, "
      "gain = gain + excluded.gain, min_e = least(min_e, excluded.min_e), max_e = greatest(max_e, excluded.max_e)")),
    ("analytics_activities", ACTIVITIES_SQL, "course_id, student_id, activity_id",
     ("events = events + excluded.events, attempts = attempts + excluded.attempts, "
      "errors = errors + excluded.errors, hints = hints + excluded.hints, done = done + excluded.done, "
      "spent = spent + excluded.spent")),
    ("analytics_sessions", SESSIONS_SQL, "course_id, student_id, session",
     ("events = events + excluded.events, attempts = attempts + excluded.attempts, "
      "correct = correct + excluded.correct, done = done + excluded.done, active = active + excluded.active, "
      "hints = hints + excluded.hints, started = started + excluded.started, min_e = least(min_e, excluded.min_e), "
      "max_e = greatest(max_e, excluded.max_e), last_spent = last_spent + excluded.last_spent")),
)


RULES = 3  # the derivation rules' version: rows derived under another are derived again (catch_up)
# 2: a ``duration_s`` replaces the gap *before* its event, as the fold charges it (1: the gap after)
# 3: ``done`` counts an activity once (the event bringing it to 1), ``started`` the activities begun


def up_to_seq(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.execute("SELECT up_to_seq FROM analytics_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def catch_up(cur: duckdb.DuckDBPyConnection, target_seq: int, caps: dict[str, float],
             progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Bring the derived tables up to ``target_seq`` (committed log rows), with each course's idle
    threshold from ``caps`` (courses not in it: the default). Returns what the rounds did;
    ``progress(up_to, target)`` after each round."""
    done = {"rounds": 0, "rows": 0, "rebuilt_students": 0, "rebuilt_courses": 0}
    _same_rules(cur)
    # one statement however many courses: ``executemany`` ran one per course, so with 500 courses in
    # the catalogue a 300-event round took ~250 ms of CPU instead of ~110 (2026-12-08)
    cur.execute("CREATE OR REPLACE TEMP TABLE _caps AS SELECT unnest($ids::VARCHAR[]) AS course_id, "
                "unnest($caps::DOUBLE[]) AS cap", {"ids": list(caps), "caps": list(caps.values())})
    while True:
        start = up_to_seq(cur)
        if start >= target_seq and not _changed_caps(cur):
            return done
        end = min(target_seq, start + CHUNK)
        cur.execute("BEGIN")
        try:
            _round(cur, start, max(end, start), done)
            cur.execute("INSERT OR REPLACE INTO analytics_state VALUES (1, $b)", {"b": max(end, start)})
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        done["rounds"] += 1
        if progress:
            progress(max(end, start), target_seq)


def rebuild(cur: duckdb.DuckDBPyConnection, caps: dict[str, float]) -> dict[str, int]:
    """Forget every derived row and derive the whole log again (tests, and a repair)."""
    _forget_all(cur)
    target = cur.execute("SELECT coalesce(max(seq), 0) FROM student_activity_log").fetchone()[0]
    return catch_up(cur, int(target), caps)


def _forget_all(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("BEGIN")
    for table in (*TABLES, "analytics_courses", "analytics_voided", "analytics_state"):
        cur.execute(f"DELETE FROM {table}")
    cur.execute("INSERT OR REPLACE INTO analytics_rules VALUES (1, $v)", {"v": RULES})
    cur.execute("COMMIT")


def _same_rules(cur: duckdb.DuckDBPyConnection) -> None:
    """Rows derived under other rules (a file from an earlier version) are forgotten, to be derived
    again from the log."""
    row = cur.execute("SELECT version FROM analytics_rules WHERE id = 1").fetchone()
    if row is None or row[0] != RULES:
        _forget_all(cur)


def forget_student(cur: duckdb.DuckDBPyConnection, student_id: str) -> None:
    """Drop a student's derived rows (erasure does it too: every ``student_id`` table is purged)."""
    for table in (*TABLES, "analytics_voided"):
        cur.execute(f"DELETE FROM {table} WHERE student_id = $s", {"s": student_id})


def _changed_caps(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, float]]:
    return cur.execute("SELECT c.course_id, k.cap FROM analytics_courses c JOIN _caps k USING (course_id) "
                       "WHERE c.cap <> k.cap").fetchall()


def _round(cur: duckdb.DuckDBPyConnection, a: int, b: int, done: dict[str, int]) -> None:
    # 1. markers: record what they void; a student whose counted event is voided is rebuilt
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE _markers AS
        SELECT substr(event_id, {len(voiding.PREFIX) + 1}) AS event_id, student_id, seq FROM student_activity_log
        WHERE seq > $a AND seq <= $b AND type = '{voiding.VOIDED}'""", {"a": a, "b": b})
    cur.execute("INSERT INTO analytics_voided SELECT * FROM _markers")
    cur.execute("CREATE OR REPLACE TEMP TABLE _dirty (course_id VARCHAR, student_id VARCHAR)")
    if cur.execute("SELECT count(*) FROM _markers").fetchone()[0]:
        cur.execute("""INSERT INTO _dirty SELECT DISTINCT course_id, student_id FROM student_activity_log
                       WHERE seq <= $a AND event_id IN (SELECT event_id FROM _markers)""", {"a": a})
    # 2. courses whose idle threshold changed: derive them again from their whole log up to a
    for course_id, cap in _changed_caps(cur):
        for table in TABLES:
            cur.execute(f"DELETE FROM {table} WHERE course_id = $c", {"c": course_id})
        cur.execute("UPDATE analytics_courses SET cap = $cap WHERE course_id = $c", {"c": course_id, "cap": cap})
        _append(cur, "l.course_id = $c AND l.seq <= $a", {"c": course_id, "a": a})
        done["rebuilt_courses"] += 1
    # 3. voided students: the same, one student at a time in SQL (all of theirs up to b)
    dirty = cur.execute("SELECT count(*) FROM _dirty").fetchone()[0]
    if dirty:
        for table in TABLES:
            cur.execute(f"DELETE FROM {table} WHERE (course_id, student_id) IN (SELECT (course_id, student_id) "
                        f"FROM _dirty)")
        _append(cur, "l.seq <= $b AND (l.course_id, l.student_id) IN (SELECT (course_id, student_id) FROM _dirty)",
                {"b": b})
        done["rebuilt_students"] += dirty
    # 4. the new events of everyone else, appended to their tails
    done["rows"] += _append(cur, "l.seq > $a AND l.seq <= $b AND (l.course_id, l.student_id) NOT IN "
                                 "(SELECT (course_id, student_id) FROM _dirty)", {"a": a, "b": b})
    cur.execute("""INSERT INTO analytics_courses SELECT DISTINCT l.course_id, coalesce(k.cap, $d)
                   FROM student_activity_log l LEFT JOIN _caps k USING (course_id)
                   WHERE l.seq > $a AND l.seq <= $b ON CONFLICT DO NOTHING""", {"a": a, "b": b, "d": DEFAULT_CAP})


def _append(cur: duckdb.DuckDBPyConnection, where: str, values: dict[str, Any]) -> int:
    """Derive the selected log rows after each student's tail; returns the learning events added."""
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE _new AS
        SELECT l.course_id, l.student_id, l.activity_id, l.type, l.ts, epoch(l.ts) AS e, l.seq, l.correct,
               l.progress, l.duration_s
        FROM student_activity_log l
        WHERE {where} AND l.type <> 'heartbeat' AND l.type <> '{voiding.VOIDED}'
          AND l.event_id NOT IN (SELECT event_id FROM analytics_voided)""", values)
    added = cur.execute("SELECT count(*) FROM _new").fetchone()[0]
    if not added:
        return 0
    # the students' tails join the new rows, so windows see the previous event; marks seed prev_type/gain
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE _x AS
        WITH u AS (
            SELECT t.course_id, t.student_id, t.activity_id, t.type, t.ts, t.e, t.seq, t.correct, t.progress,
                   t.duration_s, t.gap_before, t.prev_type, t.gain, t.session, true AS old
            FROM analytics_tails t SEMI JOIN (SELECT DISTINCT course_id, student_id FROM _new) s
                ON s.course_id = t.course_id AND s.student_id = t.student_id
            UNION ALL
            SELECT *, NULL, NULL, NULL, NULL, false FROM _new),
        v AS (
            SELECT u.*, coalesce(k.cap, c.cap, {DEFAULT_CAP}) AS cap,
                   CASE WHEN old THEN u.gap_before ELSE e - lag(e) OVER w END AS gb,
                   lead(e) OVER w - e AS gap_after, lead(duration_s) OVER w AS next_duration,
                   CASE WHEN old THEN u.prev_type ELSE coalesce(lag(type) OVER wa, m.last_type) END AS pt,
                   CASE WHEN old THEN u.gain ELSE greatest(coalesce({_MARK}, 0) - coalesce(greatest(
                       max({_MARK}) OVER (wa ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), m.max_mark), 0), 0)
                   END AS gn
            FROM u LEFT JOIN analytics_courses c USING (course_id) LEFT JOIN _caps k USING (course_id)
            LEFT JOIN analytics_marks m ON NOT u.old AND m.course_id = u.course_id AND m.student_id = u.student_id
                 AND m.activity_id = coalesce(u.activity_id, '')
            WINDOW w AS (PARTITION BY u.course_id, u.student_id ORDER BY seq),
                   wa AS (PARTITION BY u.course_id, u.student_id, u.activity_id, old ORDER BY seq)),
        f AS (SELECT *, CASE WHEN NOT old AND (gb IS NULL OR gb > cap) THEN 1 ELSE 0 END AS flag FROM v)
        SELECT course_id, student_id, activity_id, type, ts, e, seq, correct, progress, duration_s,
               gb AS gap_before, pt AS prev_type, gn AS gain,
               sum(CASE WHEN old THEN session ELSE flag END) OVER (w ROWS UNBOUNDED PRECEDING) AS session,
               coalesce(duration_s, 0) + CASE WHEN next_duration IS NULL
                   THEN least(greatest(coalesce(gap_after, 0), 0), cap) ELSE 0 END AS spent,
               coalesce(lead(flag) OVER w = 1, true) AS session_end, gap_after IS NULL AS last, old
        FROM f WINDOW w AS (PARTITION BY course_id, student_id ORDER BY seq)""")
    cur.execute(f"INSERT INTO analytics_facts SELECT {FACT_COLUMNS} FROM _x WHERE NOT last")
    # a tail's provisional spent was coalesce(duration_s, 0): there was no next event to measure to
    cur.execute("""CREATE OR REPLACE TEMP TABLE _delta AS
        SELECT course_id, student_id, activity_id, type, ts, e, correct, progress, prev_type, session, old AS corr,
               spent - CASE WHEN old THEN coalesce(duration_s, 0.0) ELSE 0.0 END AS spent,
               CASE WHEN old THEN 0.0 ELSE gain END AS gain,
               CASE WHEN session_end THEN spent ELSE 0.0 END - CASE WHEN old THEN coalesce(duration_s, 0.0) ELSE 0.0 END
                   AS end_spent
        FROM _x""")
    for table, sql, keys, update in _UPSERTS:
        cur.execute(f"INSERT INTO {table} {sql} ON CONFLICT ({keys}) DO UPDATE SET {update}")
    cur.execute(f"INSERT OR REPLACE INTO analytics_tails SELECT {FACT_COLUMNS} FROM _x WHERE last")
    cur.execute(f"""INSERT INTO analytics_marks
        SELECT course_id, student_id, coalesce(activity_id, ''), arg_max(type, seq), max({_MARK})
        FROM _x WHERE NOT old GROUP BY ALL
        ON CONFLICT (course_id, student_id, activity_id) DO UPDATE
        SET last_type = excluded.last_type, max_mark = greatest(max_mark, excluded.max_mark)""")
    return int(added)
