"""DuckDB rows for communication: chat messages, receipts, message interventions, consents.

Synchronous, on the one ``Store`` connection (the EventLog actor runs these in
worker threads). Chat messages live in ``messages`` (kind ``chat``); one-click
and bulk messages are ``intervention_records`` of kind ``message``.
"""
from __future__ import annotations

import json
from typing import Any

from engine import voiding
from engine.store import Store

CHAT_COLUMNS = ("message_id, course_id, sender_id, recipient_id, body, epoch(created_at), epoch(delivered_at), "
                "epoch(read_at)")
INTERVENTION_KEYS = ("intervention_id", "course_id", "student_id", "professor_id", "kind", "created_at")
SENDER_OF = {"student": "professor", "professor": "student"}  # who sends to each role


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
            f"SELECT {CHAT_COLUMNS} FROM messages WHERE kind = 'chat' AND course_id = ? "
            "AND json_extract_string(body, '$.student_id') = ? AND (? IS NULL OR created_at < to_timestamp(?)) "
            "ORDER BY created_at DESC LIMIT ?", (course_id, student_id, before, before, limit)).fetchall()
        return [_chat(r) for r in reversed(rows)]

    # -- receipts -------------------------------------------------------------------

    def mark(self, role: str, recipient_id: str, ids: list[str], what: str, at: float) -> dict[str, list[str]]:
        """Set delivered_at or read_at (first time only) on the recipient's chats and interventions.

        The recipient is a ``role`` ("student" or "professor") and an id: a professor and a student may
        share an id, and neither may mark what was sent to the other. Read implies delivered.
        -> {"chat": [ids changed], "intervention": [ids changed]}; ids that are not the recipient's are
        left alone (and not reported).
        """
        changed, _, _ = self.mark_many([(role, recipient_id, ids, what)], at)
        return changed[0]

    def mark_many(self, requests: list[tuple[str, str, list[str], str]], at: float
                  ) -> tuple[list[dict[str, list[str]]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Many receipts in one transaction, one UPDATE per table and kind (receipts arrive in bursts:
        a bulk message is delivered to a whole class at once).

        -> (per request {"chat": ids, "intervention": ids}, the changed chat messages, the changed
        interventions as {intervention_id, course_id, student_id, professor_id, delivered_at, read_at}).
        """
        assert all(what in ("delivered", "read") and role in ("student", "professor")
                   for role, _, _, what in requests)
        changed: list[dict[str, list[str]]] = [{"chat": [], "intervention": []} for _ in requests]
        chats: dict[str, dict[str, Any]] = {}
        interventions: dict[str, dict[str, Any]] = {}
        cur = self._cur()
        cur.execute("BEGIN")
        try:
            for what in ("delivered", "read"):
                triples = sorted({(role, rid, i) for role, rid, ids, w in requests if w == what for i in ids})
                if not triples:
                    continue
                sets = f"{what}_at = to_timestamp($at)" + (
                    ", delivered_at = coalesce(delivered_at, to_timestamp($at))" if what == "read" else "")
                # a chat's recipient is on the other side from its sender ("from")
                params = {"at": at, "sender": [SENDER_OF[t[0]] for t in triples], "rid": [t[1] for t in triples],
                          "id": [t[2] for t in triples]}
                for row in cur.execute(
                        f"UPDATE messages SET {sets} FROM (SELECT unnest($sender) AS sender, unnest($rid) AS rid, "
                        f"unnest($id) AS id) v WHERE messages.message_id = v.id AND messages.recipient_id = v.rid "
                        f"AND json_extract_string(messages.body, '$.from') = v.sender AND kind = 'chat' "
                        f"AND messages.{what}_at IS NULL RETURNING {CHAT_COLUMNS}", params).fetchall():
                    chats[row[0]] = _chat(row)
                students = [t for t in triples if t[0] == "student"]  # only students receive interventions
                if not students:
                    continue
                params = {"at": at, "rid": [t[1] for t in students], "id": [t[2] for t in students]}
                for row in cur.execute(
                        f"UPDATE intervention_records SET {sets} FROM (SELECT unnest($rid) AS rid, unnest($id) AS id) v "
                        f"WHERE intervention_records.intervention_id = v.id AND intervention_records.student_id = v.rid "
                        f"AND intervention_records.{what}_at IS NULL RETURNING intervention_id, course_id, "
                        f"student_id, professor_id, epoch(delivered_at), epoch(read_at)", params).fetchall():
                    interventions[row[0]] = dict(zip(("intervention_id", "course_id", "student_id",
                                                      "professor_id", "delivered_at", "read_at"), row))
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        claimed: set[tuple[str, str, str, str]] = set()
        for n, (role, rid, ids, what) in enumerate(requests):  # each change reported once, to its first asker
            for i in ids:
                if (role, rid, i, what) in claimed:
                    continue
                if i in chats and chats[i]["recipient_id"] == rid and chats[i]["from"] == SENDER_OF[role]:
                    changed[n]["chat"].append(i)
                elif i in interventions and role == "student" and interventions[i]["student_id"] == rid:
                    changed[n]["intervention"].append(i)
                else:
                    continue
                claimed.add((role, rid, i, what))
        return changed, list(chats.values()), list(interventions.values())

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

    def course_interventions(self, course_id: str, limit: int = 200,
                             student_id: str | None = None) -> list[dict[str, Any]]:
        """The course's latest interventions (or one student's) with receipts and holdout flag, newest first."""
        rows = self._cur().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, kind, payload, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at), holdout FROM intervention_records WHERE course_id = $c "
            "AND ($s IS NULL OR student_id = $s) ORDER BY created_at DESC LIMIT $n",
            {"c": course_id, "s": student_id, "n": limit}).fetchall()
        return [{"intervention_id": r[0], "course_id": r[1], "student_id": r[2], "professor_id": r[3],
                 "kind": r[4], **json.loads(r[5]), "created_at": r[6], "delivered_at": r[7], "read_at": r[8],
                 "holdout": r[9]} for r in rows]

    def help_history(self, students: dict[str, list[str]]) -> dict[str, dict[str, list[tuple]]]:
        """For these students (by course), the help delivered (never held-out records) as
        (intervention id, when on the course clock, read, status when sent), oldest first: what the
        escalation rule counts."""
        keys = [f"{course_id}/{student_id}" for course_id, ids in students.items() for student_id in ids]
        if not keys:
            return {}
        rows = self._cur().execute(
            "SELECT course_id, student_id, intervention_id, epoch(created_at), read_at IS NOT NULL, "
            "json_extract_string(payload, '$.status_before') FROM intervention_records "
            "WHERE course_id || '/' || student_id IN (SELECT unnest(?)) AND NOT holdout "
            "ORDER BY created_at, intervention_id", (keys,)).fetchall()
        out: dict[str, dict[str, list[tuple]]] = {}
        for course_id, student_id, ref, at, read, before in rows:
            out.setdefault(course_id, {}).setdefault(student_id, []).append((ref, at, read, before))
        return out

    def inbox(self, student_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """What a student sees: their interventions (never held-out ones), with receipts, newest first."""
        rows = self._cur().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, kind, payload, epoch(created_at), "
            "epoch(delivered_at), epoch(read_at) FROM intervention_records WHERE student_id = ? "
            "AND NOT holdout ORDER BY created_at DESC LIMIT ?", (student_id, limit)).fetchall()
        return [{"intervention_id": r[0], "course_id": r[1], "student_id": r[2], "professor_id": r[3],
                 "kind": r[4], **json.loads(r[5]), "created_at": r[6], "delivered_at": r[7], "read_at": r[8]}
                for r in rows]

    def events_of(self, course_id: str, student_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The students' counted events in the course, oldest first (for intervention outcomes): voided
        xAPI statements' events and the voiding markers are left out, as everywhere else."""
        rows = self._cur().execute(
            "SELECT student_id, epoch_us(ts) / 1e6, type, activity_id, correct, progress "
            "FROM student_activity_log WHERE course_id = ? AND student_id IN (SELECT unnest(?)) "
            f"AND {voiding.COUNTS_SQL} ORDER BY seq", (course_id, student_ids)).fetchall()
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
