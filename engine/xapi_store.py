"""xAPI persistence in the DuckDB file: statements (xapi_statements) and issued credentials.

Functions over a cursor of the one process that owns the file (the EventLog
actor runs them in worker threads). A request's statements go in one Arrow
insert inside one transaction with the voided-by updates it implies, so a
request is stored whole or not at all.
"""
from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa

from engine import voiding
from engine.xapi_ingest import Plan, Stored

_ROW = "statement, course_id, student_id, event_id, voids, voided_by, credential"


def known(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> tuple[dict[str, Stored], dict[str, str]]:
    """Stored rows for ``ids``, and {target id: voiding statement id} for stored voiders of ``ids``."""
    if not ids:
        return {}, {}
    rows = cur.execute(f"SELECT statement_id, {_ROW} FROM xapi_statements WHERE statement_id IN "
                       "(SELECT unnest(?))", (ids,)).fetchall()
    voiders = cur.execute("SELECT voids, min(statement_id) FROM xapi_statements WHERE voids IN "
                          "(SELECT unnest(?)) GROUP BY voids", (ids,)).fetchall()
    return {r[0]: _stored(r[1:]) for r in rows}, dict(voiders)


def _stored(row: tuple) -> Stored:
    return Stored(json.loads(row[0]), *row[1:])


def save(cur: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """The plan's new statements and voided-by marks, in one transaction."""
    rows = list(plan.rows.items())
    table = pa.table({
        "statement_id": pa.array([sid for sid, _ in rows], pa.string()),
        "statement": pa.array([json.dumps(r.statement) for _, r in rows], pa.string()),
        "applied": pa.array([r.event_id is not None for _, r in rows], pa.bool_()),
        "note": pa.array([plan.notes.get(sid) for sid, _ in rows], pa.string()),
        "credential": pa.array([r.credential for _, r in rows], pa.string()),
        "course_id": pa.array([r.course_id for _, r in rows], pa.string()),
        "student_id": pa.array([r.student_id for _, r in rows], pa.string()),
        "event_id": pa.array([r.event_id for _, r in rows], pa.string()),
        "voids": pa.array([r.voids for _, r in rows], pa.string()),
        "voided_by": pa.array([r.voided_by for _, r in rows], pa.string()),
    })
    cur.execute("BEGIN")
    try:
        if rows:
            cur.register("incoming_statements", table)
            cur.execute("INSERT INTO xapi_statements (statement_id, statement, applied, note, credential, "
                        "course_id, student_id, event_id, voids, voided_by) SELECT * FROM incoming_statements")
            cur.unregister("incoming_statements")
        for target, by in plan.voided.items():
            cur.execute("UPDATE xapi_statements SET voided_by = ? WHERE statement_id = ?", (by, target))
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise


def unsave(cur: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Undo ``save`` (the events of the plan could not be committed)."""
    cur.execute("BEGIN")
    try:
        if plan.rows:
            cur.execute("DELETE FROM xapi_statements WHERE statement_id IN (SELECT unnest(?))", (list(plan.rows),))
        for target in plan.voided:
            cur.execute("UPDATE xapi_statements SET voided_by = NULL WHERE statement_id = ?", (target,))
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise


# A request's rows can only lose their events while it is in flight when the process dies, and the
# restart reconciles before any new request: they are among the newest rows. Looking back this far
# from the newest (and as far before that in the log, whatever the time zones) keeps a restart from
# scanning the whole log.
RECONCILE_WINDOW = "INTERVAL 1 DAY"


def reconcile(cur: duckdb.DuckDBPyConnection) -> int:
    """Undo what a request stored whose events never reached the log (the process died between
    ``save`` and the events' commit): an applied statement whose event is not in the log is deleted,
    and a voiding statement whose marker is not is deleted with its voided-by mark, so the client's
    retry stores and applies them again instead of finding them "already stored". -> rows removed."""
    since = f"(SELECT max(stored_at) - {RECONCILE_WINDOW} FROM xapi_statements)"
    in_log = ("EXISTS (SELECT 1 FROM student_activity_log l WHERE l.event_id = {} "
              f"AND l.received_at >= {since} - {RECONCILE_WINDOW})")
    marker = f"'{voiding.PREFIX}' || t.event_id"
    cur.execute("BEGIN")
    try:
        lost = cur.execute(
            f"SELECT s.statement_id FROM xapi_statements s WHERE s.stored_at >= {since} "
            f"AND s.event_id IS NOT NULL AND NOT {in_log.format('s.event_id')} "
            "UNION ALL "  # the voider that voided an applied target, whose marker (void:<event id>) is missing
            "SELECT v.statement_id FROM xapi_statements v JOIN xapi_statements t ON t.voided_by = v.statement_id "
            f"WHERE v.stored_at >= {since} AND t.event_id IS NOT NULL AND NOT {in_log.format(marker)}").fetchall()
        ids = [r[0] for r in lost]
        if ids:
            cur.execute("UPDATE xapi_statements SET voided_by = NULL WHERE voided_by IN (SELECT unnest(?))", (ids,))
            cur.execute("DELETE FROM xapi_statements WHERE statement_id IN (SELECT unnest(?))", (ids,))
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise
    return len(ids)


def statement(cur: duckdb.DuckDBPyConnection, statement_id: str) -> dict[str, Any] | None:
    row = cur.execute(f"SELECT epoch(stored_at), {_ROW} FROM xapi_statements WHERE statement_id = ?",
                      (statement_id.lower(),)).fetchone()
    if row is None:
        return None
    return {"stored": row[0], "row": _stored(row[1:])}


def save_credential(cur: duckdb.DuckDBPyConnection, key: str, institution: str | None,
                    course_ids: list[str]) -> None:
    cur.execute("INSERT INTO xapi_credentials (credential_key, institution, course_ids) VALUES (?, ?, ?)",
                (key, institution, course_ids))


def credentials(cur: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, frozenset[str]]]:
    """Every live credential: key -> (institution, course ids)."""
    rows = cur.execute("SELECT credential_key, institution, course_ids FROM xapi_credentials "
                       "WHERE revoked_at IS NULL").fetchall()
    return {key: (inst, frozenset(courses)) for key, inst, courses in rows}


def summary(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts of stored, applied and voided statements, and why the others were not applied."""
    stored, applied, voided = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE applied), count(*) FILTER (WHERE voided_by IS NOT NULL) "
        "FROM xapi_statements").fetchone()
    reasons = cur.execute("SELECT note, count(*) FROM xapi_statements WHERE NOT applied AND voids IS NULL "
                          "AND voided_by IS NULL GROUP BY note ORDER BY 2 DESC, 1 LIMIT 20").fetchall()
    return {"stored": stored, "applied": applied, "voided": voided,
            "not_applied": [{"reason": note, "statements": n} for note, n in reasons]}
