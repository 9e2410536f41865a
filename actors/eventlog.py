"""The EventLog actor: owner of the DuckDB file and system of record.

Every event is committed here (group commit) before it is acknowledged, then
handed to the student shards in commit order. The catalogue (professors,
courses, rosters, tokens, alert configs) lives here too, since one process
owns the file; course hubs are told of every catalogue change.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import ray

from actors import logs
from actors.commit import GroupCommitter
from actors.comms import EventLogComms, student_frame
from actors.comms_log import CommsLog
from actors.dispatch import ShardDispatcher
from actors.eventlog_analytics import LogAnalytics
from actors.eventlog_observe import LogObservation
from actors.eventlog_privacy import LogPrivacy
from actors.health import Health
from actors.metrics import ObsConfig, Recorder, was_restarted
from actors.registry import Registry
from actors.topology import DomainError, Handles, Topology
from actors.xapi_desk import XapiDesk
from engine import analytics, holdout, interventions, voiding
from engine.event_arrow import ArrowBatch, unpack
from engine.events import Columns, Event, EventBatch, iso
from engine.store import Store, activity_to_dict

log = logging.getLogger(__name__)


@ray.remote(max_restarts=-1, max_task_retries=-1)
class EventLog(EventLogComms, CommsLog, LogObservation, LogPrivacy, LogAnalytics):
    def __init__(self, db_path: str, topology: Topology, flush_interval_ms: float = 2.0,
                 obs: ObsConfig | None = None, db_threads: int = 1) -> None:
        self._obs = obs = obs or ObsConfig()
        logs.configure(obs.log_level)
        self._topology = topology
        self._handles = Handles(topology)
        self._refolds_due: set[str] = set()  # courses whose new idle threshold some shard may lack
        self._store = Store(Path(db_path), db_threads)
        self._registry = Registry(self._store, self._store.load_catalog())
        self.metrics = Recorder(obs.enabled, "event_log", ray_sink=obs.ray_sink)
        self.health = Health(obs)
        self._commit = GroupCommitter(self._store, self._on_commit, flush_interval_ms / 1000,
                                      on_timed=self._on_timed)
        self._commit.delay_s = obs.commit_delay_ms / 1000 if obs.fault_injection else 0.0
        self._dispatch = ShardDispatcher(self._handles, self._fold_params, self.metrics)
        self._xapi = XapiDesk(self._store, self._registry, self._commit)
        self._started = time.time()
        self._acked = 0
        self._gathered = [0, 0]  # append_many: calls, batches in them (a replica gathering small requests)
        self._history_task: asyncio.Task | None = None
        if was_restarted():
            self.metrics.inc("classpulse_actor_restarts", component="event_log")
            log.warning("event log restarted by Ray")

    @property
    def catalog(self):
        return self._registry.catalog

    def _start(self) -> None:
        self._commit.start()
        self._dispatch.start(self._commit.seq)
        if self._history_task is None:
            self._history_task = asyncio.get_running_loop().create_task(self._sample_forever())
        self._derive_start()

    # -- ingest --------------------------------------------------------------

    async def append(self, columns: bytes | Columns, now: float | None = None,
                     request_id: str | None = None) -> dict[str, int]:
        """Commit a validated batch (all or nothing) and answer once it is durable. ``columns``: the
        packed wire table (``engine.event_arrow``, built by the caller) or plain columns."""
        self._start()
        logs.request_id.set(request_id)
        started = time.perf_counter()
        try:
            batch = ArrowBatch(unpack(columns)) if isinstance(columns, bytes) else EventBatch(columns)
        except (ValueError, OSError) as exc:  # pyarrow's errors are both; nothing was committed
            raise DomainError(422, "events", f"unreadable event batch: {exc}") from None
        errors = self.catalog.check(batch, time.time() if now is None else now)
        if errors:
            self.rejected(len(batch), "roster", errors[0]["error"])
            raise DomainError(422, errors[0]["field"], errors[0]["error"], errors)
        try:
            ack = await self._commit.append(batch)
        except DomainError as exc:
            self.rejected(len(batch), "conflict" if exc.status == 409 else "commit_failed", exc.error)
            raise
        self._acked += ack.accepted
        self._ingested(ack.accepted, ack.duplicates, len(batch), "api", time.perf_counter() - started)
        log.debug("committed %d events (%d duplicates) up to seq %d", ack.accepted, ack.duplicates,
                  ack.last_seq)
        return {"accepted": ack.accepted, "duplicates": ack.duplicates, "last_seq": ack.last_seq}

    async def append_many(self, batches: list[bytes], request_ids: list[str | None]) -> list[dict[str, int] | DomainError]:
        """``append`` for each of several requests' batches (an API replica gathers its small ones,
        serve/ingest_batcher.py): each on its own terms, answered on its own (an ack, or the
        DomainError that refused it); they commit together when they can."""
        async def one(packed: bytes, request_id: str | None) -> dict[str, int] | DomainError:
            try:
                return await self.append(packed, None, request_id)
            except DomainError as exc:
                return exc
            except Exception:  # a defect fails its own request (500, as alone), not the call's others
                log.exception("append of a gathered batch failed (request %s)", request_id)
                return DomainError(500, "log", "internal error")
        self._gathered[0] += 1
        self._gathered[1] += len(batches)
        return await asyncio.gather(*(one(b, r) for b, r in zip(batches, request_ids, strict=True)))

    def _on_commit(self, batch: ArrowBatch) -> None:
        self._dispatch.publish(batch, self._commit.last_request_ids)

    def _fold_params(self, course_ids: set[str]) -> dict[str, Any]:
        return {cid: self.catalog.fold_params(cid) for cid in course_ids if cid in self.catalog.courses}

    async def fold_params(self, course_ids: list[str]) -> dict[str, Any]:
        return self._fold_params(set(course_ids))

    async def committed_seq(self) -> int:
        return self._commit.seq

    async def wait_delivered(self, seq: int | None = None, timeout: float = 30.0) -> int:
        """Wait until every shard has folded everything committed up to ``seq`` (default: now)."""
        self._start()
        target = self._commit.seq if seq is None else seq
        await self._dispatch.wait_delivered(target, timeout)
        return target

    async def shard_events(self, index: int, after_seq: int, upto_seq: int | None, limit: int = 50_000,
                           course_id: str | None = None) -> tuple[list[Event], dict[str, Any]]:
        """Committed events of one shard in (after_seq, upto_seq] (of one course, if given), with
        their courses' fold params."""
        events = await asyncio.to_thread(self._store.events_for_shard, self._topology.shards, index,
                                         after_seq, limit, upto_seq, course_id)
        return events, self._fold_params({e.course_id for e in events})

    async def load_snapshot(self, index: int) -> tuple[int, list[dict[str, Any]]]:
        return await asyncio.to_thread(self._store.load_snapshot, self._topology.shards, index)

    async def write_snapshot(self, index: int, seq: int, rows: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._store.write_snapshot, self._topology.shards, index, seq, rows)

    # -- catalogue -----------------------------------------------------------

    async def authenticate(self, token_hash: str) -> tuple[str, str] | None:
        return self._registry.principal(token_hash)

    async def authenticate_many(self, token_hashes: list[str]) -> list[tuple[str, str] | None]:
        """``authenticate`` for each (an API replica re-checks the tokens it caches, together)."""
        return [self._registry.principal(h) for h in token_hashes]

    async def add_professor(self, professor_id: str, name: str, email: str | None = None,
                            rotate: bool = False) -> tuple[dict[str, Any], bool]:
        return self._registry.add_professor(professor_id, name, email, rotate)

    async def add_course(self, spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        before = self.catalog.courses.get(spec.get("course_id"))
        course, created = self._registry.add_course(spec)
        await self._tell_hub(course.course_id)
        if before is not None and before.activities != course.activities:  # completion is over them
            params = self._fold_params({course.course_id})
            await asyncio.gather(*(self._handles.shard(i).course_changed.remote(course.course_id, params)
                                   for i in range(self._topology.shards)))
        return self.course_info(course.course_id), created

    async def add_students(self, course_id: str, students: list[dict[str, str]],
                           rotate: bool = False) -> list[dict[str, Any]]:
        out = self._registry.add_students(course_id, students, rotate)
        await self._tell_hub(course_id)
        return out

    async def configure(self, course_id: str, updates: dict[str, Any], by: str) -> dict[str, Any]:
        before = self.catalog.config(course_id).idle_after_s if course_id in self.catalog.courses else None
        config = self._registry.configure(course_id, updates, by)
        await self._tell_hub(course_id)
        if before is not None and (config.idle_after_s != before or course_id in self._refolds_due):
            self._refolds_due.add(course_id)  # time on task is capped by it; a retry after a failure refolds
            params = self._fold_params({course_id})
            await asyncio.gather(*(self._handles.shard(i).refold_course.remote(course_id, params)
                                   for i in range(self._topology.shards)))
            self._refolds_due.discard(course_id)
        return config.to_dict()

    def course_info(self, course_id: str) -> dict[str, Any]:
        course = self.catalog.courses.get(course_id)
        if course is None:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        return {"course_id": course.course_id, "professor_id": course.professor_id,
                "title": course.title, "clock": course.clock,
                "activities": [activity_to_dict(a) for a in course.activities],
                "starts_at": course.starts_at, "ends_at": course.ends_at,
                "students": len(self.catalog.rosters.get(course_id, {}))}

    async def course(self, course_id: str) -> dict[str, Any]:
        return self.course_info(course_id)

    async def course_object(self, course_id: str):
        self.course_info(course_id)
        return self.catalog.courses[course_id]

    async def professor_courses(self, professor_id: str) -> list[dict[str, Any]]:
        """A named professor's courses (404 for an unknown professor, unlike ``courses_of``)."""
        if professor_id not in self.catalog.professors:
            raise DomainError(404, "professor_id", f"unknown professor '{professor_id}'")
        return await self.courses_of(professor_id)

    async def courses_of(self, professor_id: str) -> list[dict[str, Any]]:
        return [self.course_info(c.course_id) for c in self.catalog.courses_of(professor_id)]

    async def config(self, course_id: str) -> dict[str, Any]:
        self.course_info(course_id)
        return self.catalog.config(course_id).to_dict()

    async def hub_catalog(self, hub_index: int) -> list[tuple[Any, dict[str, Any], dict[str, str]]]:
        """Every course a hub owns, with its config and roster (a hub rebuilds from this)."""
        return [self._course_bundle(cid) for cid in self.catalog.courses
                if self._topology.hub_of(cid) == hub_index]

    def _course_bundle(self, course_id: str) -> tuple[Any, dict[str, Any], dict[str, str]]:
        return (self.catalog.courses[course_id], self.catalog.config(course_id).to_dict(),
                dict(self.catalog.rosters.get(course_id, {})))

    async def _tell_hub(self, course_id: str) -> None:
        course, config, roster = self._course_bundle(course_id)
        await self._handles.hub_for(course_id).upsert_course.remote(course, config, roster)

    async def audit(self, role: str, actor_id: str, action: str, target: str | None,
                    detail: dict[str, Any] | None = None, repeat_after_s: float = 0.0) -> None:
        """``repeat_after_s``: the same look is written at most once in that many seconds (Store.audit)."""
        await asyncio.to_thread(self._store.audit, role, actor_id, action, target, detail, repeat_after_s)

    # -- interventions ---------------------------------------------------------

    async def intervene(self, professor_id: str, student_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, record (intervention_records) and deliver live to the student's sockets.

        With a holdout share (``holdout`` in the body, else the course's ``intervention_holdout``)
        the student may be drawn to be held out: recorded with ``holdout = true``, not delivered.
        """
        course = self.catalog.courses.get(str(body.get("course_id")))
        if course is None:
            raise DomainError(404, "course_id", f"unknown course '{body.get('course_id')}'")
        if not self.catalog.enrolled(course.course_id, student_id):
            raise DomainError(404, "student_id", f"student '{student_id}' is not in '{course.course_id}'")
        out = await self._intervene(professor_id, course, [student_id], body)
        return out["records"][0]

    async def intervene_many(self, professor_id: str, course_id: str, student_ids: list[str],
                             body: dict[str, Any]) -> dict[str, Any]:
        """One intervention for several students (a bulk or targeted send), with an optional holdout."""
        course = self.catalog.courses.get(course_id)
        if course is None:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        unknown = [s for s in student_ids if not self.catalog.enrolled(course_id, s)]
        if unknown:
            raise DomainError(422, "student_ids", f"not on the roster of '{course_id}': {', '.join(unknown[:10])}")
        return await self._intervene(professor_id, course, list(dict.fromkeys(student_ids)), body)

    async def _intervene(self, professor_id: str, course, student_ids: list[str],
                         body: dict[str, Any]) -> dict[str, Any]:
        now = await self._course_now(course)  # on the course's clock: windows are read against event times
        try:
            share = holdout.share(body.get("holdout"), self.catalog.config(course.course_id).intervention_holdout)
            records = [interventions.build(body, course, professor_id, s, now) for s in student_ids]
        except holdout.HoldoutError as exc:
            raise DomainError(422, exc.field, exc.error) from None
        except interventions.InterventionError as exc:
            raise DomainError(exc.status, exc.field, exc.error) from None
        holdout.stamp(records, holdout.draw(student_ids, share), share)
        hub = self._handles.hub_for(course.course_id)
        views = await asyncio.gather(*(hub.student_view.remote(course.course_id, s) for s in student_ids))
        for record, view in zip(records, views):
            record["status_before"] = (view or {}).get("status")  # the outcome is measured against it
        if len(records) == 1:
            await asyncio.to_thread(self._store.save_intervention, records[0])
        else:
            await asyncio.to_thread(self._store.save_interventions, records)
        for record in records:
            if not record["holdout"]:
                await hub.deliver.remote(record["student_id"], student_frame(record))
        shown = [r | {"created_at": iso(r["created_at"]), "delivered": not r["holdout"]} for r in records]
        return {"course_id": course.course_id, "kind": records[0]["kind"] if records else body.get("kind"),
                "holdout_share": share, "sent": [r["student_id"] for r in records if not r["holdout"]],
                "held_out": [r["student_id"] for r in records if r["holdout"]], "records": shown}

    async def interventions_of(self, student_id: str, course_id: str | None = None) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(self._store.interventions, student_id, course_id)
        return [r | {"created_at": iso(r["created_at"])} for r in rows]

    async def timeline(self, course_id: str, student_id: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(self._store.student_events, course_id, student_id, limit)
        return [r | {"ts": iso(r["ts"])} for r in rows]

    async def student_courses(self, student_id: str) -> list[str]:
        return [cid for cid, roster in self.catalog.rosters.items() if student_id in roster]

    async def roster(self, course_id: str) -> dict[str, str]:
        self.course_info(course_id)
        return dict(self.catalog.rosters.get(course_id, {}))

    # -- xAPI (actors/xapi_desk.py) ---------------------------------------------

    async def xapi(self, statements: list[dict[str, Any]], role: str, principal_id: str) -> dict[str, Any]:
        """Store every checked statement; apply those that map to a roster student; void (one request)."""
        self._start()
        started = time.perf_counter()
        result = await self._xapi.ingest(statements, role, principal_id)
        applied = int(result.get("applied") or 0)
        self.metrics.inc("classpulse_xapi_statements", len(result["ids"]), outcome="stored")
        self.metrics.inc("classpulse_xapi_statements", applied, outcome="applied")
        if applied:
            self._acked += applied
            self._ingested(applied, 0, applied, "xapi", time.perf_counter() - started)
        return result

    async def statement(self, statement_id: str, voided: bool, role: str, principal_id: str) -> dict[str, Any] | None:
        return await self._xapi.read(statement_id, voided, role, principal_id)

    async def issue_xapi_credential(self, course_ids: list[str], institution: str | None) -> dict[str, Any]:
        return self._xapi.issue(course_ids, institution)

    async def map_xapi_actors(self, mappings: list[tuple[str, str]]) -> int:
        return self._registry.map_xapi_actors(mappings)

    async def xapi_summary(self) -> dict[str, Any]:
        return await self._xapi.summary()

    async def student_log(self, course_id: str, student_id: str, upto_seq: int) -> tuple[list[Event], dict[str, Any]]:
        """One student's logged events up to ``upto_seq`` (a shard refolds them after a voiding)."""
        events = await asyncio.to_thread(self._read, voiding.student_log, course_id, student_id, upto_seq)
        return events, self._fold_params({course_id})

    async def shard_voided(self, index: int) -> list[tuple[str, str, str]]:
        return await asyncio.to_thread(self._read, voiding.shard_voided, self._topology.shards, index)

    def _read(self, fn, *args: Any) -> Any:
        cur = self._store.cursor()
        try:
            return fn(cur, *args)
        finally:
            cur.close()

    async def analytics_raw(self, course_id: str,
                            params: analytics.AnalyticsParams | None = None) -> dict[str, Any]:
        """The SQL part of the real-time analytics (engine/analytics/), on its own cursor: from the
        derived tables, caught up to everything committed first (actors/eventlog_analytics.py)."""
        self.course_info(course_id)
        course = self.catalog.courses[course_id]
        cap = self.catalog.config(course_id).idle_after_s
        self._start()
        use_derived = await self._derive_for_read()

        def run() -> dict[str, Any]:
            cur = self._store.cursor()
            try:
                return analytics.query(cur, course, cap, params, derived=use_derived)
            finally:
                cur.close()
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(run)
        finally:
            self.metrics.observe("classpulse_analytics_query_seconds", time.perf_counter() - started)

    # -- operations ----------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        counts = await asyncio.to_thread(self._store.counts)
        c = self._commit
        return {"events_acknowledged_since_start": self._acked, "committed_seq": c.seq,
                "commits": c.commits, "events_per_commit": round(c.committed_events / max(c.commits, 1), 1),
                "mean_commit_ms": round(1000 * c.commit_seconds / max(c.commits, 1), 2),
                "delivered_to_shards": self._dispatch.delivered, "tables": counts,
                "gathered_calls": self._gathered[0], "gathered_batches": self._gathered[1],
                "db_threads": self._store.threads,
                "started_at": self._started} | await self._figures()

    async def ready(self) -> bool:
        self._start()
        return True

    async def close(self) -> None:
        """Flush and close the DuckDB file (called on shutdown)."""
        await self._commit.drain()
        async with self._derive_paused():  # a derive round in flight finishes before the file closes
            await asyncio.to_thread(self._store.close)
