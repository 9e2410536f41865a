"""The DuckDB file: schema, the event log, the catalogue, snapshots.

Synchronous and free of Ray: the EventLog actor runs these calls in worker
threads, each on its own cursor. One process owns the file (DuckDB allows one
read-write process), so analytics queries also come through here.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine import privacy
from engine.catalog import Catalog
from engine.config import AlertConfig
from engine.course import Activity, Course
from engine.event_arrow import ArrowBatch, log_table
from engine.events import Event, EventBatch
from engine.id_index import IdIndex, id_hashes

LOG_COLUMNS = ("seq", "event_id", "fingerprint", "student_id", "course_id", "activity_id", "type",
               "ts", "received_at", "progress", "correct", "duration_s", "ts_given", "shard_key")
TABLES = ("student_activity_log", "real_time_progress_snapshots", "intervention_records",
          "engagement_metrics", "alert_configurations", "professors", "courses", "students",
          "enrollments", "tokens", "messages", "office_hours_queue", "audit_log",
          "shard_checkpoints", "erased_event_ids", "xapi_statements", "xapi_credentials",
          "work_view_consents", "xapi_actor_map", "peer_groups", "peer_pairs", "notification_preferences", "notification_log", "log_high_water")


WAL_CHECKPOINT_MB = 256  # a restart replays at most this much WAL (~1 s here for 224 MB, 1.8M events)
QUIET_CHECKPOINT_BYTES = 16 << 20
CHECKPOINT_NEAR_BYTES = 16 << 20  # a commit with the WAL this close to the threshold may checkpoint
AUDIT_QUIET_KEYS = 10_000  # repeated looks remembered at once before the due ones are dropped


class Store:
    def __init__(self, path: Path | str, threads: int = 0) -> None:
        """``threads``: DuckDB's worker threads (0: its default, one per core). The EventLog runs
        with 1 (``Settings.log_db_threads``): its commits are small inserts, and a second DuckDB
        thread made each one cost 10-40% more CPU (``loadtests/bench_commit.py``: 1.61 against
        1.32 ms for one event, 6.45 against 4.66 for 4,000) on a core the shards and replicas
        need; its analytics read the derived tables on one thread anyway (docs/architecture.md,
        "DuckDB's threads")."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = duckdb.connect(str(self.path), config={"threads": threads} if threads else {})
        self.threads = int(self._db.execute("SELECT current_setting('threads')").fetchone()[0])  # as DuckDB runs
        # TIMESTAMP columns hold UTC. DuckDB converts ``to_timestamp`` (a TIMESTAMPTZ) into one with
        # the session's time zone, the host's by default: on a UTC+9 host every such time came back 9 h
        # off (office-hours sessions, delivery log). Every cursor of this file converts in UTC.
        self._db.execute("SET GLOBAL TimeZone = 'UTC'")
        self._lock = threading.Lock()
        self._append_lock = threading.Lock()
        self._append_cur: duckdb.DuckDBPyConnection | None = None
        self.checkpointing = False  # a CHECKPOINT is running (set by the caller before it starts one)
        # a snapshot replaces its students' rows, an erasure deletes one student's: two transactions
        # deleting the same rows conflict in DuckDB, so they take turns
        self._student_rows = threading.Lock()
        self._erased_students: set[str] = set()  # erased while this file is open (snapshots leave them out)
        self._audit_quiet_lock = threading.Lock()
        self._audit_quiet: dict[tuple, float] = {}  # a repeated look -> when it is written again (``audit``)
        self._db.execute(resources.files("engine").joinpath("schema.sql").read_text())
        # DuckDB checkpoints (compresses the WAL into the file) when the WAL passes this size, inside
        # whichever commit crosses it: ~0.7 us per event at 16 MB. Bigger, so a burst does not pay
        # for it; the log checkpoints when ingest is quiet (``checkpoint_if_due``).
        self._db.execute(f"SET checkpoint_threshold = '{WAL_CHECKPOINT_MB}MB'")
        self.prune_snapshots()

    def prune_snapshots(self) -> int:
        """Drop snapshot rows a later row of the same student (and shard layout) supersedes; -> rows
        dropped. Snapshots replace their students' rows as they are written; this clears files
        written before they did (one row per changed student every 30 s, never pruned)."""
        cur = self.cursor()
        try:
            return cur.execute(
                "DELETE FROM real_time_progress_snapshots WHERE rowid IN (SELECT rowid FROM "
                "real_time_progress_snapshots QUALIFY row_number() OVER (PARTITION BY shard_count, "
                "shard_index, course_id, student_id ORDER BY seq DESC, snapshot_at DESC) > 1)").fetchone()[0]
        finally:
            cur.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._db.cursor()

    def wal_bytes(self) -> int:
        try:  # one stat: the log asks before every commit (``commit_may_wait``)
            return self.path.with_name(self.path.name + ".wal").stat().st_size
        except FileNotFoundError:
            return 0

    def commit_may_wait(self) -> bool:
        """Whether a commit now may wait for a checkpoint: one is running (``checkpointing``), or
        the WAL is close enough to ``checkpoint_threshold`` that DuckDB may run one inside the commit
        (~1 s at 256 MB). The log then commits off its event loop (actors/commit.py)."""
        return self.checkpointing or self.wal_bytes() >= (WAL_CHECKPOINT_MB << 20) - CHECKPOINT_NEAR_BYTES

    def checkpoint_if_due(self, min_wal_bytes: int = QUIET_CHECKPOINT_BYTES) -> bool:
        """Checkpoint when the WAL holds at least ``min_wal_bytes``; False when it was not due or
        a transaction was running (DuckDB refuses then; the next quiet moment tries again)."""
        if self.wal_bytes() < min_wal_bytes:
            return False
        try:
            self.cursor().execute("CHECKPOINT")
            return True
        except duckdb.Error:
            return False

    def close(self) -> None:
        with self._append_lock:
            if self._append_cur is not None:
                self._append_cur.close()
                self._append_cur = None
        self._db.execute("CHECKPOINT")
        self._db.close()

    # -- the event log -------------------------------------------------------

    def append(self, events: list[Event] | EventBatch | ArrowBatch) -> None:
        """Insert one committed batch in a single transaction (the wire table as is, times converted)."""
        batch = log_table(ArrowBatch.of(events), LOG_COLUMNS)
        with self._append_lock:  # one commit at a time (the group committer's order), on one cursor
            if self._append_cur is None:
                self._append_cur = self.cursor()
            # one statement, its own transaction, straight from the Arrow table: a cursor and
            # BEGIN/COMMIT cost ~0.3 ms a commit, registering the table as a view ~0.55 ms more.
            # DuckDB finds ``_log_batch`` among this frame's locals (a replacement scan): 1.35 ms of
            # CPU for a one-event commit against 1.75 through ``from_arrow(...).insert_into`` (DuckDB
            # 2.0.1; per row the same for big batches)
            _log_batch = batch  # read by the statement below, by name
            self._append_cur.execute("INSERT INTO student_activity_log SELECT * FROM _log_batch")

    def event_index(self) -> tuple[IdIndex, dict[str, int], int]:
        """Every logged event id's fingerprint (by id hash), erased ones by sha256, and the highest seq."""
        cur = self.cursor()
        rows = cur.execute("SELECT count(*) FROM student_activity_log").fetchall()[0][0]
        index = IdIndex(rows)
        ids = cur.sql("SELECT event_id, fingerprint FROM student_activity_log").to_arrow_reader(1 << 16)
        for chunk in ids:  # a chunk at a time: ids become Python strings to be hashed
            index.add(id_hashes(chunk.column(0)), chunk.column(1).to_numpy())
        erased = dict(cur.execute("SELECT event_id_hash, fingerprint FROM erased_event_ids").fetchall())
        max_seq = cur.execute("SELECT greatest(coalesce((SELECT max(seq) FROM student_activity_log), 0), "
                              "coalesce((SELECT max(seq) FROM log_high_water), 0))").fetchone()[0]
        return index, erased, int(max_seq)

    def fingerprints_of(self, event_ids: list[str]) -> dict[str, int]:
        """Logged fingerprints of these ids, exactly (the index keys hashes; see engine/id_index.py)."""
        rows = self.cursor().execute("SELECT event_id, fingerprint FROM student_activity_log "
                                     "WHERE event_id IN (SELECT unnest($ids))", {"ids": event_ids}).fetchall()
        return dict(rows)

    def events_for_shard(self, count: int, index: int, after_seq: int, limit: int,
                         upto_seq: int | None = None, course_id: str | None = None) -> list[Event]:
        """One shard's logged events in (after_seq, upto_seq], in seq order (one course's only)."""
        cur = self.cursor()
        rows = cur.execute(
            "SELECT event_id, student_id, course_id, activity_id, type, epoch_us(ts) / 1e6, "
            "progress, correct, duration_s, ts_given, epoch_us(received_at) / 1e6, fingerprint, seq "
            "FROM student_activity_log WHERE shard_key % $count = $index AND seq > $after "
            "AND seq <= $upto AND ($course IS NULL OR course_id = $course) ORDER BY seq LIMIT $limit",
            {"count": count, "index": index, "after": after_seq, "limit": limit, "course": course_id,
             "upto": upto_seq if upto_seq is not None else 2**62}).fetchall()
        return [Event(*row) for row in rows]

    # -- snapshots -----------------------------------------------------------

    def write_snapshot(self, count: int, index: int, seq: int, rows: list[dict[str, Any]]) -> None:
        """The shard's changed students and its checkpoint at ``seq``, in one transaction; rows of
        students erased since the shard sent them are left out. Only an erasure that has committed
        counts: one still under way (its student off the roster, their rows still in the log) keeps
        their row, else the checkpoint would move past events their row no longer holds."""
        with self._student_rows:  # asked under the lock: an erasure that ran first is not undone
            if self._erased_students:
                rows = [r for r in rows if r["student_id"] not in self._erased_students]
            self._write_snapshot(count, index, seq, rows)

    def erase_student(self, student_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """``privacy.erase`` (every row about the student, one transaction), never beside a snapshot."""
        with self._student_rows:
            cur = self.cursor()
            try:
                erased = privacy.erase(cur, student_id)
            finally:
                cur.close()
            self._erased_students.add(student_id)
            return erased

    def _write_snapshot(self, count: int, index: int, seq: int, rows: list[dict[str, Any]]) -> None:
        cur = self.cursor()
        try:
            cur.execute("BEGIN")
            if rows:  # one Arrow insert: executemany ran a statement per row (~0.5 ms each)
                cur.register("snapshot_rows", pa.table({
                    "course_id": pa.array([r["course_id"] for r in rows], pa.string()),
                    "student_id": pa.array([r["student_id"] for r in rows], pa.string()),
                    "completion": pa.array([r["completion"] for r in rows], pa.float64()),
                    "time_on_task_s": pa.array([r["time_on_task_s"] for r in rows], pa.float64()),
                    "state": pa.array([json.dumps(r["state"]) for r in rows], pa.string())}))
                # a restart reads each student's latest row only: the rows these replace go
                cur.execute("DELETE FROM real_time_progress_snapshots WHERE shard_count = $count "
                            "AND shard_index = $index AND (course_id, student_id) IN "
                            "(SELECT (course_id, student_id) FROM snapshot_rows)",
                            {"count": count, "index": index})
                cur.execute("INSERT INTO real_time_progress_snapshots SELECT now(), $seq, $count, $index, "
                            "course_id, student_id, completion, time_on_task_s, state::JSON FROM snapshot_rows",
                            {"seq": seq, "count": count, "index": index})
            cur.execute("INSERT OR REPLACE INTO shard_checkpoints VALUES (?, ?, ?, now())",
                        (count, index, seq))
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def load_snapshot(self, count: int, index: int) -> tuple[int, list[dict[str, Any]]]:
        """The shard's checkpoint seq and each of its students' latest state at or before it, read in
        one transaction: a snapshot of the same shard committing between the two reads (a dying
        incarnation's call still running in the log) would leave out the students it rewrote."""
        cur = self.cursor()
        try:
            cur.execute("BEGIN")
            row = cur.execute("SELECT seq FROM shard_checkpoints WHERE shard_count = ? AND shard_index = ?",
                              (count, index)).fetchone()
            seq = 0 if row is None else int(row[0])
            states = [] if row is None else cur.execute(
                "SELECT state FROM real_time_progress_snapshots WHERE shard_count = ? AND shard_index = ? "
                "AND seq <= ? QUALIFY row_number() OVER (PARTITION BY course_id, student_id "
                "ORDER BY seq DESC) = 1", (count, index, seq)).fetchall()
            cur.execute("COMMIT")
            return seq, [json.loads(s[0]) for s in states]
        finally:
            cur.close()

    # -- the catalogue -------------------------------------------------------

    def load_catalog(self) -> Catalog:
        cur = self.cursor()
        catalog = Catalog()
        for pid, name, email in cur.execute("SELECT professor_id, name, email FROM professors").fetchall():
            catalog.professors[pid] = {"professor_id": pid, "name": name, "email": email}
        for row in cur.execute("SELECT course_id, professor_id, title, clock, starts_at, ends_at, "
                               "activities FROM courses").fetchall():
            catalog.courses[row[0]] = course_from_row(row)
        for course_id, config in cur.execute("SELECT course_id, config FROM alert_configurations").fetchall():
            catalog.configs[course_id] = AlertConfig.from_dict(json.loads(config))
        for sid, name in cur.execute("SELECT student_id, name FROM students").fetchall():
            catalog.students[sid] = name
        for course_id, sid in cur.execute("SELECT course_id, student_id FROM enrollments").fetchall():
            catalog.rosters.setdefault(course_id, {})[sid] = catalog.students.get(sid, sid)
        catalog.xapi_actors = dict(cur.execute("SELECT actor_key, student_id FROM xapi_actor_map").fetchall())
        return catalog

    def load_tokens(self) -> dict[str, tuple[str, str]]:
        rows = self.cursor().execute(
            "SELECT token_hash, role, principal_id FROM tokens WHERE revoked_at IS NULL").fetchall()
        return {h: (role, pid) for h, role, pid in rows}

    def save_professor(self, professor_id: str, name: str, email: str | None) -> None:
        self.cursor().execute("INSERT OR REPLACE INTO professors (professor_id, name, email) VALUES (?, ?, ?)",
                              (professor_id, name, email))

    def save_course(self, course: Course) -> None:
        self.cursor().execute(
            "INSERT OR REPLACE INTO courses (course_id, professor_id, title, clock, starts_at, ends_at, "
            "activities) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (course.course_id, course.professor_id, course.title, course.clock, course.starts_at,
             course.ends_at, json.dumps([activity_to_dict(a) for a in course.activities])))

    def save_students(self, course_id: str, students: Iterable[tuple[str, str]]) -> None:
        rows = list(students)
        with self._student_rows:  # an erased id enrolled again is a new student: snapshots keep them
            self._erased_students.difference_update(sid for sid, _ in rows)
        cur = self.cursor()
        cur.execute("BEGIN")
        cur.executemany("INSERT OR REPLACE INTO students (student_id, name) VALUES (?, ?)", rows)
        cur.executemany("INSERT OR IGNORE INTO enrollments (course_id, student_id) VALUES (?, ?)",
                        [(course_id, sid) for sid, _ in rows])
        cur.execute("COMMIT")

    def save_tokens(self, tokens: Iterable[tuple[str, str, str]],
                    revoke_for: Iterable[tuple[str, str]] = ()) -> None:
        """Store new (hash, role, principal) tokens, revoking first those of the (role, principal)s given."""
        cur = self.cursor()
        cur.execute("BEGIN")
        for role, pid in revoke_for:
            cur.execute("UPDATE tokens SET revoked_at = now() WHERE role = ? AND principal_id = ? "
                        "AND revoked_at IS NULL", (role, pid))
        cur.executemany("INSERT INTO tokens (token_hash, role, principal_id) VALUES (?, ?, ?)", list(tokens))
        cur.execute("COMMIT")

    def save_actor_map(self, rows: list[tuple[str, str]]) -> None:
        cur = self.cursor()
        cur.execute("BEGIN")
        cur.executemany("INSERT OR REPLACE INTO xapi_actor_map (actor_key, student_id) VALUES (?, ?)", rows)
        cur.execute("COMMIT")

    def save_config(self, course_id: str, config: AlertConfig, updated_by: str) -> None:
        self.cursor().execute("INSERT OR REPLACE INTO alert_configurations (course_id, config, updated_by) "
                              "VALUES (?, ?, ?)", (course_id, json.dumps(config.to_dict()), updated_by))

    def audit(self, role: str, actor_id: str, action: str, target: str | None,
              detail: dict[str, Any] | None = None, repeat_after_s: float = 0.0,
              now: float | None = None) -> bool:
        """One audit row; -> whether it was written. With ``repeat_after_s`` the same look (actor,
        action, target and detail) is written at most once in that many seconds: a view a client
        refreshes every 2 s is one row a minute, not thirty. Kept in memory: a restart writes anew."""
        key = None
        if repeat_after_s > 0:
            key = (role, actor_id, action, target, json.dumps(detail or {}, sort_keys=True))
            now = time.monotonic() if now is None else now
            with self._audit_quiet_lock:
                if self._audit_quiet.get(key, now) > now:
                    return False
                self._audit_quiet.pop(key, None)  # re-inserted last: the dict stays in order of expiry
                self._audit_quiet[key] = now + repeat_after_s
                while len(self._audit_quiet) > AUDIT_QUIET_KEYS:  # bounded: forget the look due soonest
                    del self._audit_quiet[next(iter(self._audit_quiet))]
        try:
            self.cursor().execute("INSERT INTO audit_log (actor_role, actor_id, action, target, detail) "
                                  "VALUES (?, ?, ?, ?, ?)", (role, actor_id, action, target,
                                                             json.dumps(detail or {})))
        except BaseException:
            if key is not None:  # not written: the next look must be
                with self._audit_quiet_lock:
                    self._audit_quiet.pop(key, None)
            raise
        return True

    def save_intervention(self, record: dict[str, Any]) -> None:
        payload = {k: v for k, v in record.items() if k not in
                   ("intervention_id", "course_id", "student_id", "professor_id", "kind", "created_at",
                    "holdout")}
        self.cursor().execute(
            "INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, kind, "
            "payload, created_at, holdout) VALUES (?, ?, ?, ?, ?, ?, make_timestamp((? * 1e6)::BIGINT), ?)",
            (record["intervention_id"], record["course_id"], record["student_id"], record["professor_id"],
             record["kind"], json.dumps(payload), record["created_at"], bool(record.get("holdout", False))))

    def save_interventions(self, records: list[dict[str, Any]]) -> None:
        """Several records (a bulk intervention) in one transaction."""
        cur = self.cursor()
        cur.execute("BEGIN")
        try:
            cur.executemany(
                "INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, kind, "
                "payload, created_at, holdout) VALUES (?, ?, ?, ?, ?, ?, make_timestamp((? * 1e6)::BIGINT), ?)",
                [(r["intervention_id"], r["course_id"], r["student_id"], r["professor_id"], r["kind"],
                  json.dumps({k: v for k, v in r.items() if k not in _RECORD_COLUMNS}), r["created_at"],
                  bool(r.get("holdout", False))) for r in records])
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    def interventions(self, student_id: str, course_id: str | None = None, limit: int = 200) -> list[dict]:
        rows = self.cursor().execute(
            "SELECT intervention_id, course_id, student_id, professor_id, kind, payload, "
            "epoch(created_at) FROM intervention_records WHERE student_id = ? AND NOT holdout "
            "AND (? IS NULL OR course_id = ?) ORDER BY created_at DESC LIMIT ?",
            (student_id, course_id, course_id, limit)).fetchall()
        return [{"intervention_id": r[0], "course_id": r[1], "student_id": r[2], "professor_id": r[3],
                 "kind": r[4], **json.loads(r[5]), "created_at": r[6]} for r in rows]

    def student_events(self, course_id: str, student_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """A student's latest events in a course, newest first (the drill-down timeline)."""
        rows = self.cursor().execute(
            "SELECT event_id, type, activity_id, epoch_us(ts) / 1e6, progress, correct, duration_s "
            "FROM student_activity_log WHERE course_id = ? AND student_id = ? ORDER BY seq DESC LIMIT ?",
            (course_id, student_id, limit)).fetchall()
        keys = ("event_id", "type", "activity_id", "ts", "progress", "correct", "duration_s")
        return [dict(zip(keys, r)) for r in rows]

    def counts(self) -> dict[str, int]:
        cur = self.cursor()
        return {t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


_RECORD_COLUMNS = ("intervention_id", "course_id", "student_id", "professor_id", "kind", "created_at", "holdout")


def activity_to_dict(a: Activity) -> dict[str, Any]:
    return {"activity_id": a.activity_id, "title": a.title, "expected_minutes": a.expected_minutes,
            "xapi_iri": a.xapi_iri, "simplified_of": a.simplified_of, "due_at": a.due_at}


def course_from_row(row: tuple) -> Course:
    course_id, professor_id, title, clock, starts_at, ends_at, activities = row
    acts = tuple(Activity(**a) for a in json.loads(activities))
    return Course(course_id, professor_id, title, clock, acts, starts_at, ends_at)
