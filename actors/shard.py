"""StudentShard: many students' write-side state in one actor.

A student is a logical actor, not a Ray actor: ``stable_hash(student_id) % N``
picks the shard. A shard folds committed events in log order, sends each
changed student's summary to the hub that owns the course (coalesced: the
latest summary per student), and writes periodic snapshots so that a
restarted shard replays only the tail of the log.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import ray

from actors import logs, tuning
from actors.metrics import ObsConfig, Recorder, was_restarted
from actors.topology import Handles, Topology
from engine import voiding
from engine.course import FoldParams
from engine.event_arrow import forget_shared, table_columns, unpack
from engine.events import FIELD, Columns, Event, from_columns
from engine.state import StudentState, StudentSummary, from_snapshot, summary_rows, to_snapshot

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (course_id, student_id)
# Least time between two summary sends to one hub: the hub's push_interval_s (0.1 s), as a busy hub
# publishes at most that often and sending more often only recomputes summaries nobody sees. Under
# load this coalesces each student's events into one summary per window instead of one per shard
# call; the first send after a quiet spell goes at once. (0.05 s until 2026-12-07: docs/architecture.md.)
HUB_SEND_EVERY_S = 0.1


@ray.remote(max_restarts=-1, max_task_retries=-1)
class StudentShard:
    def __init__(self, index: int, topology: Topology, snapshot_interval_s: float = 30.0,
                 obs: ObsConfig | None = None) -> None:
        obs = obs or ObsConfig()
        logs.configure(obs.log_level)
        self.metrics = Recorder(obs.enabled, "shard", index, obs.ray_sink)
        self._oldest_received: float | None = None  # of the batch being folded (hub lag)
        self._pending_since: dict[int, float] = {}  # hub -> receipt of the oldest event not sent
        self._coalesced = 0
        self.index = index
        self._topology = topology
        self._handles = Handles(topology)
        self._snapshot_interval = snapshot_interval_s
        self.states: dict[Key, StudentState] = {}
        self._params: dict[str, tuple[FoldParams, dict[str, float]]] = {}
        self.applied = 0  # global seq up to which this shard has folded everything it owns
        self._dirty: set[Key] = set()  # changed since the last snapshot
        self._voided: dict[Key, set[str]] = {}  # event ids voided by markers (engine/voiding.py)
        self._rebuild: set[Key] = set()  # students to refold from the log (a marker arrived)
        self._refolding = 0  # refolds running (each awaits the log; see snapshot)
        self._folding = asyncio.Lock()  # held by a batch's fold and by a course's refold
        self._outbox: dict[int, set[Key]] = {}  # students whose summary a hub still needs
        self._hub_wake: dict[int, asyncio.Event] = {}
        self._hub_busy: dict[int, bool] = {}
        self._ready: asyncio.Future | None = None
        self._tasks: list[asyncio.Task] = []
        self.recovered_events = 0
        self.recovery_seconds = 0.0

    async def _ensure_ready(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                await self._recover()
                self._ready.set_result(True)
            except Exception as exc:
                self._ready.set_exception(exc)
                self._ready = None
                raise
            self._tasks.append(asyncio.get_running_loop().create_task(self._snapshot_forever()))
        await self._ready

    async def _recover(self) -> None:
        started = time.perf_counter()
        # from scratch: a recovery that failed part-way (and is tried again) folded some events
        # into students the snapshot does not hold, and would fold them a second time
        self.states, self._voided, self._rebuild, self._dirty = {}, {}, set(), set()
        seq, rows = await self._handles.log.load_snapshot.remote(self.index)
        for row in rows:
            state = from_snapshot(row)
            self.states[(state.course_id, state.student_id)] = state
        self.applied = seq
        for course_id, student_id, event_id in await self._handles.log.shard_voided.remote(self.index):
            self._voided.setdefault((course_id, student_id), set()).add(event_id)
        courses = {key[0] for key in self.states}
        if courses:
            self._params.update(await self._handles.log.fold_params.remote(sorted(courses)))
        self.recovered_events = await self._pull(None)
        self.recovery_seconds = time.perf_counter() - started
        for key in self.states:
            self._queue_summary(key)
        tuning.quiet_gc()
        log.info("shard %d recovered %d students from snapshot @%d + %d events in %.2fs",
                 self.index, len(rows), seq, self.recovered_events, self.recovery_seconds)
        self._handles.log.note_recovery.remote("shard", self.index, self.recovery_seconds,
                                               self.recovered_events, was_restarted())

    async def _pull(self, upto: int | None) -> int:
        """Fold committed events after ``applied`` (up to ``upto``) straight from the log."""
        total = 0
        while True:
            events, params = await self._handles.log.shard_events.remote(self.index, self.applied, upto)
            if not events:
                break
            if events[0].seq <= self.applied:  # another call folded some meanwhile (two pulls at once)
                events = [e for e in events if e.seq > self.applied]
            self._fold(events, params)
            await self._rebuild_students()
            total += len(events)
        if upto is not None:
            self.applied = max(self.applied, upto)
        return total

    async def apply(self, columns: bytes | Columns, params: dict[str, Any], prev_seq: int | None,
                    upto_seq: int, request_ids: list[str] | None = None) -> int:
        """Fold a committed batch; pull from the log first if a gap shows. ``request_ids``: the
        requests behind the batch, in this call's log lines."""
        logs.request_id.set(",".join(request_ids) if request_ids else None)
        await self._ensure_ready()
        async with self._folding:  # one at a time: the log sends one per shard anyway (refold_course)
            return await self._apply(columns, params, prev_seq, upto_seq)

    async def _apply(self, columns: bytes | Columns, params: dict[str, Any], prev_seq: int | None,
                     upto_seq: int) -> int:
        started = time.perf_counter()
        if isinstance(columns, bytes):  # the log's slice of the replica's wire table
            columns = table_columns(unpack(columns))
        events = from_columns(columns)
        first = events[0].seq if events else upto_seq + 1
        if prev_seq is None or prev_seq > self.applied:
            await self._pull(first - 1)
        fresh = events if events and events[0].seq > self.applied else [e for e in events if e.seq > self.applied]
        if fresh:  # freshness (lag_s) is a product feature: kept with metrics off too
            self._oldest_received = min(e.received_at for e in fresh) if fresh is not events \
                else min(columns[FIELD["received_at"]])
        self._fold(fresh, params)
        self._oldest_received = None
        self.applied = max(self.applied, upto_seq)
        await self._rebuild_students()
        log.debug("shard %d folded %d events up to seq %d", self.index, len(fresh), self.applied)
        if self.metrics.enabled and events:
            self.metrics.observe("classpulse_fold_seconds", time.perf_counter() - started)
            self.metrics.inc("classpulse_updates_coalesced", self._coalesced)
            self._coalesced = 0
            for hub, keys in self._outbox.items():
                self.metrics.set("classpulse_hub_queue_students", len(keys), hub=str(hub))
        return self.applied

    async def _rebuild_students(self) -> None:
        """Refold students whose events were voided from the log up to ``applied``, without them."""
        while self._rebuild:
            key = self._rebuild.pop()
            self._refolding += 1
            try:
                events, params = await self._handles.log.student_log.remote(key[0], key[1], self.applied)
            except BaseException:
                self._rebuild.add(key)  # still to refold: no snapshot may pass its void marker
                raise
            finally:
                self._refolding -= 1
            self._params.update(params)
            if key[0] not in self._params:
                continue
            self.states[key] = voiding.refold(key[0], key[1], events, self._params[key[0]][0],
                                              self._voided.get(key, set()))
            self._dirty.add(key)
            self._queue_summary(key)

    def _fold(self, events: list[Event], params: dict[str, Any]) -> None:
        self._params.update(params)
        states, voided, dirty, all_params = self.states, self._voided, self._dirty, self._params
        touched: dict[Key, None] = {}  # in first-touch order; summaries are queued once per call
        last_seq, folded = self.applied, 0  # events come in seq order
        try:
            for e in events:
                key = (e.course_id, e.student_id)
                if e.type == voiding.VOIDED or (voided and e.event_id in voided.get(key, ())):
                    if e.type == voiding.VOIDED:
                        voided.setdefault(key, set()).add(voiding.target(e))
                        self._rebuild.add(key)
                    last_seq = e.seq
                    continue
                state = states.get(key)
                if state is None:
                    state = states[key] = StudentState(e.course_id, e.student_id)
                state.apply(e, all_params[e.course_id][0])
                touched[key] = None
                folded += 1
                last_seq = e.seq
        finally:
            self.applied = max(self.applied, last_seq)
            dirty.update(touched)
            self._coalesced += folded - len(touched)  # a student's later events in this call
            for key in touched:
                self._queue_summary(key)

    async def course_changed(self, course_id: str, params: dict[str, Any]) -> int:
        """A course's activities changed (``params``: its new fold parameters): its students'
        summaries are sent again, their completion now over the new activity count (until their next
        event they kept the old one). Returns how many."""
        await self._ensure_ready()
        self._params.update(params)
        keys = [key for key in self.states if key[0] == course_id]
        for key in keys:
            self._queue_summary(key)
        return len(keys)

    async def refold_course(self, course_id: str, params: dict[str, Any]) -> int:
        """A course's idle threshold changed (``params``: its new fold parameters): its students are
        folded again from the log with it, so their time on task is what a replay of the log (and
        the analytics) charge, not part under the old threshold and part under the new; a snapshot
        follows at once, so a restart cannot mix them either. Returns how many students."""
        await self._ensure_ready()
        async with self._folding:  # no batch folds meanwhile: it would land in states replaced here
            self._params.update(params)
            events: list[Event] = []
            self._refolding += 1  # no snapshot while states and ``applied`` disagree
            try:
                while True:
                    page, _ = await self._handles.log.shard_events.remote(
                        self.index, events[-1].seq if events else 0, self.applied, 50_000, course_id)
                    if not page:
                        break
                    events.extend(page)
            finally:
                self._refolding -= 1
            by_student: dict[Key, list[Event]] = {}
            for e in events:
                by_student.setdefault((e.course_id, e.student_id), []).append(e)
            fold_params = self._params[course_id][0]
            for key, student_events in by_student.items():
                if key in self.states:
                    self.states[key] = voiding.refold(key[0], key[1], student_events, fold_params,
                                                      self._voided.get(key, set()))
                    self._dirty.add(key)
                    self._queue_summary(key)
        await self.snapshot()
        return len(by_student)

    async def forget(self, student_id: str) -> int:
        """Erasure: drop the student's state in every course (their log rows are already gone)."""
        await self._ensure_ready()
        keys = [k for k in self.states if k[1] == student_id]
        for key in keys:
            del self.states[key]
            self._dirty.discard(key)
            for pending in self._outbox.values():
                pending.discard(key)
        forget_shared(student_id)
        return len(keys)

    # -- to the hubs ----------------------------------------------------------

    def _queue_summary(self, key: Key) -> None:
        """Mark a student for sending; the summary is computed once, when sent (coalesced)."""
        hub = self._topology.hub_of(key[0])
        box = self._outbox.setdefault(hub, set())
        if key in box:
            self._coalesced += 1
        box.add(key)
        if self._oldest_received is not None and hub not in self._pending_since:
            self._pending_since[hub] = self._oldest_received
        if hub not in self._hub_wake:
            self._hub_wake[hub] = asyncio.Event()
            self._tasks.append(asyncio.get_running_loop().create_task(self._send_to_hub(hub)))
        self._hub_wake[hub].set()

    def _summary(self, key: Key) -> StudentSummary | None:
        known = self._params.get(key[0])
        if known is None:
            return None
        params, expected = known
        return self.states[key].summary(params, expected)

    async def _send_to_hub(self, hub: int) -> None:
        last = 0.0
        while True:
            await self._hub_wake[hub].wait()
            wait = last + HUB_SEND_EVERY_S - time.monotonic()
            if wait > 0:  # the first send after a quiet spell goes at once
                await asyncio.sleep(wait)
            self._hub_wake[hub].clear()
            last = time.monotonic()
            keys = self._outbox.pop(hub, set())
            since = self._pending_since.pop(hub, None)
            self.metrics.set("classpulse_hub_queue_students", 0, hub=str(hub))
            batch = summary_rows(s for s in map(self._summary, keys & self.states.keys()) if s is not None)
            if not batch:
                continue
            self._hub_busy[hub] = True
            try:
                await self._handles.hub(hub).apply_summaries.remote(batch, since)
            except Exception:
                log.warning("hub %d unavailable; will resend", hub, exc_info=True)
                self._outbox.setdefault(hub, set()).update(keys)
                self.metrics.set("classpulse_hub_queue_students", len(self._outbox[hub]), hub=str(hub))
                if since is not None:
                    self._pending_since[hub] = min(since, self._pending_since.get(hub, since))
                await asyncio.sleep(0.2)
                self._hub_wake[hub].set()
            finally:
                self._hub_busy[hub] = False

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued summary has reached its hub."""
        await self._ensure_ready()
        deadline = time.monotonic() + timeout
        while any(self._outbox.values()) or any(self._hub_busy.values()):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def summaries_for_hub(self, hub: int) -> list[tuple]:
        """Every summary a (restarted) hub needs from this shard (as ``summary_rows``)."""
        await self._ensure_ready()
        keys = [k for k in self.states if self._topology.hub_of(k[0]) == hub]
        return summary_rows(s for s in map(self._summary, keys) if s is not None)

    # -- snapshots and reads --------------------------------------------------

    async def _snapshot_forever(self) -> None:
        while True:
            await asyncio.sleep(self._snapshot_interval)
            try:
                await self.snapshot()
            except Exception:
                log.warning("snapshot of shard %d failed", self.index, exc_info=True)

    async def snapshot(self) -> int:
        """Write changed students and a checkpoint at ``applied``; return rows written."""
        await self._ensure_ready()
        if self._rebuild or self._refolding:
            # ``applied`` is past a void marker whose student still holds the voided events: a
            # checkpoint now would make a restarted shard skip the marker and keep them. Next time.
            return 0
        keys, seq = list(self._dirty), self.applied
        self._dirty.clear()
        rows = []
        for key in keys:
            state = self.states[key]
            params, _ = self._params[key[0]]
            rows.append({"course_id": key[0], "student_id": key[1],
                         "completion": state.completion(params),
                         "time_on_task_s": sum(a.time_on_task_s for a in state.activities.values()),
                         "state": to_snapshot(state)})
        try:
            await self._handles.log.write_snapshot.remote(self.index, seq, rows)
        except Exception:
            self._dirty.update(keys)
            raise
        return len(rows)

    async def student_detail(self, course_id: str, student_id: str) -> dict[str, Any] | None:
        await self._ensure_ready()
        state = self.states.get((course_id, student_id))
        return None if state is None else {"activities": state.detail(), "tail": state.tail,
                                           "seq": state.seq}

    async def status(self) -> dict[str, Any]:
        await self._ensure_ready()
        return {"index": self.index, "students": len(self.states), "applied_seq": self.applied,
                "recovered_events": self.recovered_events,
                "recovery_seconds": round(self.recovery_seconds, 3)}

    async def telemetry(self) -> dict[str, Any]:
        return self.metrics.snapshot()

    async def fingerprint(self) -> dict[str, Any]:
        """Every student's full state (tests compare this after a recovery)."""
        await self._ensure_ready()
        return {f"{k[0]}/{k[1]}": to_snapshot(s) for k, s in self.states.items()}
