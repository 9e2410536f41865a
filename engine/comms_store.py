"""DuckDB rows for communication: chat messages, receipts, message interventions, consents.

Synchronous, on the one ``Store`` connection (the EventLog actor runs these in
worker threads). Chat messages live in ``messages`` (kind ``chat``); one-click
and bulk messages are ``intervention_records`` of kind ``message``.
"""
from __future__ import annotations

import json
from typing import Any

from engine.store import Store

INTERVENTION_KEYS = ("intervention_id", "course_id", "student_id", "professor_id", "kind", "created_at")


class CommsStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _cur(self):
        return self._store.cursor()

    # -- chat ---------------------------------------------------------------------

    def save_chat(self, m: dict[str, Any]) -> None:
        self._cur().execute(
            "INSERT INTO messages (message_id, course_id, sender_id, recipient_id, kind, body, created_at) "
            "VALUES (?, ?, ?, ?, 'chat', ?, to_timestamp(?))",
            (m["message_id"], m["course_id"], m["sender_id"], m["recipient_id"],
             json.dumps({"text": m["text"], "from": m["from"], "student_id": m["student_id"]}), m["created_at"]))

    def thread(self, course_id: str, student_id: str, limit: int = 200,
               before: float | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` messages of a thread, oldest first."""
        rows = self._cur().execute(
            "SELECT message_id, course_id, sender_id, recipient_id, body, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at) FROM messages WHERE kind = 'chat' AND course_id = ? "
            "AND json_extract_string(body, '$.student_id') = ? AND (? IS NULL OR created_at < to_timestamp(?)) "
            "ORDER BY created_at DESC LIMIT ?", (course_id, student_id, before, before, limit)).fetchall()
        return [_chat(r) for r in reversed(rows)]

    def chats(self, ids: list[str]) -> list[dict[str, Any]]:
        rows = self._cur().execute(
            "SELECT message_id, course_id, sender_id, recipient_id, body, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at) FROM messages WHERE kind = 'chat' "
            "AND message_id IN (SELECT unnest(?))", (ids,)).fetchall()
        return [_chat(r) for r in rows]

    # -- receipts -------------------------------------------------------------------

    def mark(self, recipient_id: str, ids: list[str], what: str, at: float) -> dict[str, list[str]]:
        """Set delivered_at or read_at (first time only) on the recipient's chats and interventions.

        Read implies delivered. -> {"chat": [ids changed], "intervention": [ids changed]}; ids that are
        not the recipient's are left alone (and not reported).
        """
        assert what in ("delivered", "read")
        cur = self._cur()
        changed: dict[str, list[str]] = {"chat": [], "intervention": []}
        cur.execute("BEGIN")
        try:
            for table, key, who, kind in (("messages", "message_id", "recipient_id", "chat"),
                                          ("intervention_records", "intervention_id", "student_id", "intervention")):
                found = cur.execute(
                    f"SELECT {key} FROM {table} WHERE {who} = ? AND {key} IN (SELECT unnest(?)) "
                    f"AND {what}_at IS NULL", (recipient_id, ids)).fetchall()
                if not found:
                    continue
                hit = [r[0] for r in found]
                sets = f"{what}_at = to_timestamp(?)" + (
                    ", delivered_at = coalesce(delivered_at, to_timestamp(?))" if what == "read" else "")
                args = (at, at) if what == "read" else (at,)
                cur.execute(f"UPDATE {table} SET {sets} WHERE {key} IN (SELECT unnest(?))", (*args, hit))
                changed[kind] = hit
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        return changed

    # -- message interventions (one-click and bulk) -------------------------------------

    def save_interventions(self, records: list[dict[str, Any]]) -> None:
        """Many intervention records in one transaction (a bulk message is all or nothing)."""
        rows = [(r["intervention_id"], r["course_id"], r["student_id"], r["professor_id"], r["kind"],
                 json.dumps({k: v for k, v in r.items() if k not in INTERVENTION_KEYS and k != "holdout"}),
                 r["created_at"], bool(r.get("holdout"))) for r in records]
        cur = self._cur()
        cur.execute("BEGIN")
        try:
            cur.executemany("INSERT INTO intervention_records (intervention_id, course_id, student_id, "
                            "professor_id, kind, payload, created_at, holdout) "
                            "VALUES (?, ?, ?, ?, ?, ?, to_timestamp(?), ?)", rows)
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    def course_interventions(self, course_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The course's latest interventions with receipts and holdout flag, newest first."""
        rows = self._cur().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, kind, payload, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at), holdout FROM intervention_records WHERE course_id = ? "
            "ORDER BY created_at DESC LIMIT ?", (course_id, limit)).fetchall()
        return [{"intervention_id": r[0], "course_id": r[1], "student_id": r[2], "professor_id": r[3],
                 "kind": r[4], **json.loads(r[5]), "created_at": r[6], "delivered_at": r[7], "read_at": r[8],
                 "holdout": r[9]} for r in rows]

    def inbox(self, student_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """What a student sees: their interventions (never held-out ones), with receipts, newest first."""
        rows = self._cur().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, kind, payload, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at) FROM intervention_records WHERE student_id = ? "
            "AND NOT holdout ORDER BY created_at DESC LIMIT ?", (student_id, limit)).fetchall()
        return [{"intervention_id": r[0], "course_id": r[1], "student_id": r[2], "professor_id": r[3],
                 "kind": r[4], **json.loads(r[5]), "created_at": r[6], "delivered_at": r[7], "read_at": r[8]}
                for r in rows]

    def intervention_receipts(self, intervention_ids: list[str]) -> dict[str, tuple]:
        """{id: (course_id, student_id, professor_id, delivered_at, read_at)}."""
        rows = self._cur().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, epoch(delivered_at), epoch(read_at) "
            "FROM intervention_records WHERE intervention_id IN (SELECT unnest(?))", (intervention_ids,)).fetchall()
        return {r[0]: r[1:] for r in rows}

    def events_of(self, course_id: str, student_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The students' events in the course, oldest first (for intervention outcomes)."""
        rows = self._cur().execute(
            "SELECT student_id, epoch_us(ts) / 1e6, type, activity_id, correct, progress "
            "FROM student_activity_log WHERE course_id = ? AND student_id IN (SELECT unnest(?)) "
            "ORDER BY seq", (course_id, student_ids)).fetchall()
        out: dict[str, list[dict[str, Any]]] = {}
        for sid, ts, kind, activity, correct, progress in rows:
            out.setdefault(sid, []).append({"ts": ts, "type": kind, "activity_id": activity,
                                            "correct": correct, "progress": progress})
        return out

    # -- live work view consent ------------------------------------------------------------

    def set_consent(self, course_id: str, student_id: str, consent: bool) -> None:
        self._cur().execute("INSERT OR REPLACE INTO work_view_consents (course_id, student_id, consent, "
                            "updated_at) VALUES (?, ?, ?, now())", (course_id, student_id, consent))

    def consents(self) -> set[tuple[str, str]]:
        rows = self._cur().execute(
            "SELECT course_id, student_id FROM work_view_consents WHERE consent").fetchall()
        return {(c, s) for c, s in rows}


def _chat(r: tuple) -> dict[str, Any]:
    body = json.loads(r[4])
    return {"message_id": r[0], "course_id": r[1], "student_id": body["student_id"], "from": body["from"],
            "sender_id": r[2], "recipient_id": r[3], "text": body["text"], "created_at": r[5],
            "delivered_at": r[6], "read_at": r[7]}
