"""Right of access and right to erasure for one student, as SQL over the DuckDB file.

The tables are found, not listed: every table with a ``student_id`` column is
the student's, so a table added later is exported and erased without anyone
remembering to add it here. Rows that name the student another way are
listed in ``_OTHER_LINKS``. Erasure keeps only a SHA-256 of each event id
(with the event's fingerprint) so a client retrying an old batch still gets
"duplicate" rather than re-creating the erased events.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb

# (table, condition naming the student) for rows not keyed by a student_id column.
_OTHER_LINKS = (
    ("messages", "sender_id = $sid OR recipient_id = $sid"),
    ("tokens", "principal_id = $sid AND role = 'student'"),
    # by account name, or by an actor identifier mapped to them (an mbox...: ``_mapped_statements``)
    ("xapi_statements", ("json_extract_string(statement, '$.actor.account.name') = $sid "
                         "OR statement_id IN (SELECT unnest($mapped))")),
    ("audit_log", "target = $sid"),
    ("peer_pairs", "student_a = $sid OR student_b = $sid"),
    # a peer group naming the student goes with them (ids are [A-Za-z0-9._-], so the quoted match is exact)
    ("peer_groups", "CAST(members AS VARCHAR) LIKE '%\"' || $sid || '\"%'"),
)
# Kept (the erasure itself is audited; erased ids are hashes and name no one).
_NEVER_ERASED = {"erased_event_ids"}
_SECRET_COLUMNS = {"token_hash"}


def erased_id(event_id: str) -> str:
    """What an erased event's id is kept as."""
    return hashlib.sha256(event_id.encode()).hexdigest()


def student_tables(cur: duckdb.DuckDBPyConnection) -> list[str]:
    rows = cur.execute("SELECT DISTINCT table_name FROM information_schema.columns "
                       "WHERE column_name = 'student_id' AND table_schema = 'main' ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] not in _NEVER_ERASED]


def _scopes(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    present = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'main'").fetchall()}
    links = {t: cond for t, cond in _OTHER_LINKS if t in present}
    keyed = student_tables(cur)
    return ([(t, f"student_id = $sid OR ({links[t]})" if t in links else "student_id = $sid") for t in keyed]
            + [(t, cond) for t, cond in links.items() if t not in keyed])


def _mapped_statements(cur: duckdb.DuckDBPyConnection, student_id: str) -> list[str]:
    """Statements whose actor is mapped to the student but whose row does not name them (stored
    before it could be applied: no course, voided before it arrived, mapped later)."""
    from engine.xapi import actor_key  # engine.xapi is the one definition of an actor's key

    keys = {k for (k,) in cur.execute("SELECT actor_key FROM xapi_actor_map WHERE student_id = $sid",
                                      {"sid": student_id}).fetchall()}
    if not keys:
        return []
    rows = cur.execute("SELECT statement_id, json_extract(statement, '$.actor') FROM xapi_statements "
                       "WHERE student_id IS NULL").fetchall()
    return [sid for sid, raw in rows if isinstance(actor := json.loads(raw), dict) and actor_key(actor) in keys]


def _params(cur: duckdb.DuckDBPyConnection, student_id: str) -> dict[str, dict[str, Any]]:
    """The query parameters for each table's condition."""
    return {"xapi_statements": {"sid": student_id, "mapped": _mapped_statements(cur, student_id)}}


def export(cur: duckdb.DuckDBPyConnection, student_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every stored row about the student, table by table (secrets left out)."""
    out: dict[str, list[dict[str, Any]]] = {}
    params = _params(cur, student_id)
    for table, cond in _scopes(cur):
        rel = cur.execute(f"SELECT * FROM {table} WHERE {cond}", params.get(table, {"sid": student_id}))
        names = [d[0] for d in rel.description]
        rows = [dict(zip(names, r)) for r in rel.fetchall()]
        for row in rows:
            for col in _SECRET_COLUMNS & row.keys():
                row[col] = "(withheld)"
            for col, value in row.items():
                if isinstance(value, str) and col in ("statement", "payload", "body", "detail", "state"):
                    row[col] = _maybe_json(value)
        out[table] = rows
    return out


def erase(cur: duckdb.DuckDBPyConnection, student_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Delete every row about the student in one transaction.

    Returns rows removed per table and the erased events as {event_id: fingerprint}
    (the caller swaps them for their hashes in its in-memory idempotency index)."""
    removed: dict[str, int] = {}
    cur.execute("BEGIN")
    try:
        ids = cur.execute("SELECT event_id, fingerprint FROM student_activity_log WHERE student_id = $sid",
                          {"sid": student_id}).fetchall()
        if ids:
            cur.executemany("INSERT OR IGNORE INTO erased_event_ids VALUES (?, ?)",
                            [(erased_id(e), fp) for e, fp in ids])
            cur.execute("INSERT OR REPLACE INTO log_high_water SELECT 1, greatest(max(seq), (SELECT max(seq) "
                        "FROM log_high_water)) FROM student_activity_log")  # their rows may be the newest
        params = _params(cur, student_id)  # before their actor mappings go
        for table, cond in _scopes(cur):
            args = params.get(table, {"sid": student_id})
            n = cur.execute(f"SELECT count(*) FROM {table} WHERE {cond}", args).fetchone()[0]
            if n:
                cur.execute(f"DELETE FROM {table} WHERE {cond}", args)
                removed[table] = int(n)
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise
    return removed, dict(ids)


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
