"""CourseHub: the live read models of many courses, and their subscribers.

A hub holds a ``CourseView`` per course it owns (``stable_hash(course_id) %
M``). Shards push student summaries; a refresh loop re-assesses changed
courses and wakes long-polling readers: at once when summaries arrive after a
quiet spell, at most once per ``push_interval_s`` under load (coalesced; less
often when refreshes are slow: ``engine.pacing``), and at least every
``refresh_interval_s`` anyway (live-clock courses are re-assessed every second,
so students go idle on time). Serve replicas call
``updates_since`` for the courses their sockets watch and fan out themselves,
so a hub never holds a socket and one call serves many subscribers. Student
inboxes likewise: each replica long-polls ``inboxes_since`` once per hub for all
its student sockets (one poll per socket held one of the actor's 1,000 default
concurrency slots each, so at a thousand sockets other calls queued behind them).
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import ray

from actors import logs
from actors.hub_comms import HubComms
from actors.hub_support import SupportHub
from actors.metrics import ObsConfig, Recorder, was_restarted
from actors.topology import DomainError, Handles, Topology
from actors.wakeups import INBOXES, Wakeups
from engine.config import AlertConfig
from engine.course import Course
from engine.live_view import CourseView, SeqClock
from engine.pacing import RefreshPacer
from engine.state import StudentSummary, summaries_of
from engine.telemetry import LatencyWindow

log = logging.getLogger(__name__)
VIEWS = "views"  # the wake-up key of live-view long-polls
CLOCK_TICK_S = 1.0
INBOX_LOG_KEEP = 10_000  # live student messages kept hub-wide for those polls (the log has them all)
# An async actor runs at most 1,000 calls at once by default, long-polls included; past that, calls
# wait for a poll to end (up to ~20 s). Polls are cheap while they wait, so the cap is set far out.
MAX_CONCURRENCY = 100_000
FRESH_FOR_S = 15.0  # a course's measured lag is reported this long after its last update


@ray.remote(max_restarts=-1, max_task_retries=-1, max_concurrency=MAX_CONCURRENCY)
class CourseHub(HubComms, SupportHub):
    def __init__(self, index: int, topology: Topology, refresh_interval_s: float = 0.25,
                 risk_model: str = "auto", data_dir: str | None = None, obs: ObsConfig | None = None,
                 push_interval_s: float = 0.1) -> None:
        from classpulse.risk_store import resolve
        obs = obs or ObsConfig()
        logs.configure(obs.log_level)
        self.metrics = Recorder(obs.enabled, "hub", index, obs.ray_sink)
        self._lag = LatencyWindow(obs.window_s)
        self._fresh: dict[str, tuple[float, float]] = {}  # course -> (oldest receipt, applied at)
        self.index = index
        # loaded once per hub process; every course view scores with it (or falls back to the rules)
        self._risk_model, self._risk_info = resolve(risk_model, Path(data_dir) if data_dir else None)
        log.info("hub %d risk: %s", index, self._risk_info.to_wire())
        self._topology = topology
        self._handles = Handles(topology)
        self._interval = refresh_interval_s
        self._push_interval = min(push_interval_s, refresh_interval_s)
        self._seqs = SeqClock()
        self.views: dict[str, CourseView] = {}
        self._wakeups = Wakeups()
        self._ready: asyncio.Future | None = None
        self._last_tick = 0.0
        self._refresh_failed: dict[str, float] = {}  # course -> when its failing refresh was last logged
        self._pacer = RefreshPacer(self._push_interval, self._interval)
        self._summaries_in = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._inbox_log: collections.deque = collections.deque(maxlen=INBOX_LOG_KEEP)  # (seq, student, message)
        self._inbox_dropped = 0  # the seq of the newest message pushed out of _inbox_log (0: none yet)
        self._init_comms()

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
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())
        await self._ready

    async def _recover(self) -> None:
        started = time.perf_counter()
        await self._rebuild()
        took = time.perf_counter() - started
        log.info("hub %d rebuilt %d courses in %.2fs", self.index, len(self.views), took)
        self._handles.log.note_recovery.remote("hub", self.index, took, 0, was_restarted())

    async def _rebuild(self) -> None:
        for course, config, roster in await self._handles.log.hub_catalog.remote(self.index):
            self._upsert(course, config, roster)
        await self._recover_comms()
        shards = [self._handles.shard(i).summaries_for_hub.remote(self.index)
                  for i in range(self._topology.shards)]
        for rows in await asyncio.gather(*shards):
            self._apply_rows(rows)
        self._refresh(force=True)
        await self._recover_escalation()  # needs who is struggling now (the refresh above)

    def _upsert(self, course: Course, config: dict[str, Any], roster: dict[str, str]) -> None:
        view = self.views.get(course.course_id)
        if view is None:
            self.views[course.course_id] = CourseView(course, AlertConfig.from_dict(config), roster, self._seqs,
                                                      risk_model=self._risk_model, risk_info=self._risk_info)
        else:
            view.set_course(course)
            view.set_config(AlertConfig.from_dict(config))
            view.set_roster(roster)

    async def upsert_course(self, course: Course, config: dict[str, Any], roster: dict[str, str]) -> None:
        await self._ensure_ready()
        self._upsert(course, config, roster)
        before = self._seqs.last
        self.views[course.course_id].refresh()
        await self._publish(self._seqs.last != before)

    async def forget_student(self, course_id: str, student_id: str) -> None:
        """Erasure: drop the student's live view, alerts, office-hours entry and undelivered inbox."""
        await self._ensure_ready()
        view = self.views.get(course_id)
        if view is not None:
            view.remove_student(student_id)
        if course_id in self._queues:  # else a later take or nudge would write their row back
            self._queues[course_id].forget(student_id)
        self._inbox_log = collections.deque((m for m in self._inbox_log if m[1] != student_id), maxlen=INBOX_LOG_KEEP)
        await self._publish(True)

    def _apply(self, summaries: list[StudentSummary]) -> None:
        for s in summaries:
            view = self.views.get(s.course_id)
            if view is not None:
                view.apply(s)

    def _apply_rows(self, rows: list[tuple]) -> list[StudentSummary]:
        """Summaries as shards send them (``engine.state.summary_rows``), applied; returns them."""
        summaries = summaries_of(rows)
        self._apply(summaries)
        return summaries

    async def apply_summaries(self, rows: list[tuple], received_since: float | None = None) -> None:
        """Summaries from a shard (``summary_rows``, or StudentSummary objects); ``received_since``:
        receipt of the oldest event behind them."""
        await self._ensure_ready()
        summaries = self._apply_rows(rows)
        self._summaries_in.set()
        if received_since is not None:
            now = time.time()
            if self.metrics.enabled:
                lag = max(0.0, now - received_since)
                self.metrics.observe("classpulse_hub_lag_seconds", lag)
                self._lag.observe(lag, now)
            for course_id in {s.course_id for s in summaries}:
                held = self._fresh.get(course_id)
                if held is None or held[1] < now - self._interval or received_since < held[0]:
                    self._fresh[course_id] = (received_since, now)

    def _freshness(self, course_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Add ``lag_s`` (receipt of the events behind the latest update -> in this view; 0 when
        current) and, for diffs, the private ``_received_at`` the API uses for event-to-push."""
        held = self._fresh.get(course_id)
        now = time.time()
        if held is None or now - held[1] > FRESH_FOR_S:
            message["lag_s"] = 0.0
            return message
        message["lag_s"] = round(held[1] - held[0], 3)
        if message.get("type") == "diff":
            message["_received_at"] = held[0]
        return message

    # -- refresh --------------------------------------------------------------

    def _refresh(self, force: bool = False) -> bool:
        now = time.monotonic()
        tick = force or now - self._last_tick >= CLOCK_TICK_S
        if tick:
            self._last_tick = now
        before = self._seqs.last
        for course_id, view in self.views.items():
            if view.dirty or (tick and view.clock.mode == "live"):
                try:
                    view.refresh()
                except Exception:  # one course's fault must not stop the others' refreshes
                    if now - self._refresh_failed.get(course_id, -60.0) >= 60.0:
                        self._refresh_failed[course_id] = now
                        log.exception("refresh of course %s failed", course_id)
        self._comms_tick()
        return self._seqs.last != before

    async def _refresh_forever(self) -> None:
        """Refresh when summaries come in or every ``refresh_interval_s``, paced by
        ``engine.pacing.RefreshPacer`` (leading-edge throttle, duty-cycle guard)."""
        pacer = self._pacer
        while True:
            try:
                await asyncio.wait_for(self._summaries_in.wait(), pacer.idle_timeout())
                woke = True
            except TimeoutError:
                woke = False
            if woke:
                wait = pacer.delay(time.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)  # summaries arriving meanwhile join this refresh
            self._summaries_in.clear()
            pacer.started(time.monotonic(), woke)
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                changed = self._refresh()
            except Exception:
                log.exception("refresh failed")
                continue
            finally:
                pacer.finished(time.thread_time() - cpu)
            if changed:
                self.metrics.observe("classpulse_hub_refresh_seconds", time.perf_counter() - started)
                await self._publish(True)

    async def _publish(self, changed: bool) -> None:
        if changed:
            self._wakeups.notify(VIEWS)

    # -- reads ----------------------------------------------------------------

    def _view(self, course_id: str) -> CourseView:
        view = self.views.get(course_id)
        if view is None:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        return view

    def _fresh_view(self, course_id: str) -> CourseView:
        """The course's view, refreshed first if summaries came in since. What that refresh
        changed is published at once: the refresh loop would find the view clean and wake no
        stream, so their long-polls slept until their timeout (up to ~22 s, found by review)."""
        view = self._view(course_id)
        if view.dirty:
            before = self._seqs.last
            view.refresh()
            if self._seqs.last != before:
                self._wakeups.notify(VIEWS)
        return view

    async def live_progress(self, course_id: str) -> dict[str, Any]:
        await self._ensure_ready()
        view = self._fresh_view(course_id)
        return self._freshness(course_id, view.live_progress())

    async def updates_since(self, cursors: dict[str, int | None], timeout: float = 15.0) -> dict[str, Any]:
        """{"head", "messages"} for {course_id: seq}: snapshots or diffs, waiting up to ``timeout``
        for one. Every change of these courses up to ``head`` is in the messages (or was before)."""
        await self._ensure_ready()
        return await self._long_poll(lambda: [self._freshness(cid, m) for cid, seq in cursors.items()
                                              if cid in self.views
                                              for m in [self.views[cid].updates_since(seq)] if m is not None],
                                     timeout, VIEWS)

    async def _long_poll(self, collect, timeout: float, key: Hashable) -> dict[str, Any]:
        """Call ``collect()`` until it returns something or ``timeout`` passes; wake when ``key``
        is notified (see actors.wakeups)."""
        deadline = time.monotonic() + timeout
        while True:
            head = self._seqs.last
            messages = collect()
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return {"head": head, "messages": messages}
            await self._wakeups.wait(key, remaining)

    # -- student inboxes (live delivery; the durable copy is in the log) -------

    def _to_inbox(self, student_id: str, message: dict[str, Any]) -> int:
        seq = self._seqs.next()
        if len(self._inbox_log) == self._inbox_log.maxlen:
            self._inbox_dropped = self._inbox_log[0][0]
        self._inbox_log.append((seq, student_id, message))
        return seq

    async def deliver(self, student_id: str, message: dict[str, Any]) -> int:
        await self._ensure_ready()
        seq = self._to_inbox(student_id, message)
        self._note_help(student_id, message)
        self._wakeups.notify(INBOXES)
        return seq

    async def inboxes_since(self, seq: int, timeout: float = 15.0) -> dict[str, Any]:
        """Every student's live messages after ``seq`` (wall-clock microseconds, as every hub seq),
        for a Serve replica to hand to its own student sockets: {"head", "messages": [(seq,
        student_id, message)], "gap"}. The hub keeps the last INBOX_LOG_KEEP messages of all its
        students; ``gap`` is true when some after ``seq`` were already pushed out (a poller that fell
        that far behind): the sockets must re-read their inbox (``GET /api/student/inbox``)."""
        await self._ensure_ready()
        gap = seq < self._inbox_dropped

        def after() -> list[tuple[int, str, dict[str, Any]]]:
            out = []
            for item in reversed(self._inbox_log):  # newest first: stop at the cursor
                if item[0] <= seq:
                    break
                out.append(item)
            return out[::-1]
        if gap:  # answer at once: the caller has messages to catch up on, whether or not new ones come
            return {"head": self._seqs.last, "messages": after(), "gap": True}
        return await self._long_poll(after, timeout, INBOXES) | {"gap": False}

    async def clock_now(self, course_id: str) -> float | None:
        """Now on the course's clock (an event-clock course's watermark; None before any event)."""
        await self._ensure_ready()
        return self._fresh_view(course_id).clock.now()

    async def student_view(self, course_id: str, student_id: str) -> dict[str, Any] | None:
        await self._ensure_ready()
        return self._fresh_view(course_id).views.get(student_id)

    async def acknowledge(self, course_id: str, alert_id: str) -> dict[str, Any] | None:
        await self._ensure_ready()
        alert = self._view(course_id).alerts.acknowledge(alert_id)
        await self._publish(alert is not None)
        return None if alert is None else alert.to_wire()

    async def snooze(self, course_id: str, alert_id: str, until: float) -> dict[str, Any] | None:
        await self._ensure_ready()
        view = self._view(course_id)
        alert = view.alerts.snooze(alert_id, view.on_course_clock(until))
        await self._publish(alert is not None)
        return None if alert is None else alert.to_wire()

    async def refresh_now(self) -> None:
        """Assess every course now (tests and the sync barrier use this)."""
        await self._ensure_ready()
        await self._publish(self._refresh(force=True))

    async def telemetry(self) -> dict[str, Any]:
        """Metrics for /metrics and this hub's lag over the stats window (the EventLog asks)."""
        return {"metrics": self.metrics.snapshot(), "lag": self._lag.summary(time.time())}

    async def status(self) -> dict[str, Any]:
        await self._ensure_ready()
        return {"index": self.index, "courses": len(self.views),
                "students": sum(len(v.summaries) for v in self.views.values())}
