"""Live cohorts: every simulated student is a real client of a running classpulse.

Each student holds its own student WebSocket, sends its events over it at the
pace of the simulated clock (``speed`` x real time) and reacts to what arrives
(``SimStudent.receive``): a hint raises its chance to learn, a message may end
an idle spell, an extension gives it more time (minutes added to its at-risk
horizon), a simpler version or a resource makes the current activity easier to
learn; nothing changes its pace. Event ids are deterministic, so a frame
resent after a lost connection is counted once. A clock task keeps the
event-clock course's watermark moving with heartbeats.

Ground truth is sampled at every whole simulated minute, each as of that
minute even when the sampling loop runs late (``MinuteTruth``); a minute the
loop reaches a minute or more late is not evaluated (the live view read then
shows a later moment), and the run keeps how far behind the loop fell.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from simulator.cohort import Cohort
from simulator.student import SimStudent, Truth, iso

log = logging.getLogger(__name__)
DRAIN_S = 60.0  # after the run, how long a student keeps trying to resend events never acknowledged


class MinuteTruth:
    """Each student's ground truth at whole minutes, as of that minute, however late it is read.

    A student changes only at its own actions and when an intervention reaches it. Before either, at
    simulated time ``t``, ``before_change`` keeps the truth of every minute up to ``t`` not read yet;
    ``read(minute)`` gives that kept truth, or the current one when nothing changed since the minute.
    (Reading the current state and stamping it with an earlier minute mislabelled a late loop's samples.)
    """

    def __init__(self) -> None:
        self.next_minute = 0  # the first minute not read yet
        self._kept: dict[tuple[str, int], Truth] = {}

    def before_change(self, s: SimStudent, t: float) -> None:
        last = math.floor(min(t, s.cohort.minutes))
        for minute in range(self.next_minute, last + 1):
            self._kept.setdefault((s.student_id, minute), s.truth(minute))

    def read(self, students: list[SimStudent], minute: int) -> list[Truth]:
        self.next_minute = minute + 1
        return [self._kept.pop((s.student_id, minute), None) or s.truth(minute) for s in students]


@dataclass
class LiveRun:
    cohort: Cohort
    api: str
    professor_id: str = ""
    professor_token: str = ""
    acknowledged: int = 0
    duplicates: int = 0
    resent_frames: int = 0
    reconnects: int = 0  # sockets lost and opened again (a restart, a fault)
    interventions_received: int = 0
    truth: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # acknowledged events, with sim minute
    # sent (or about to be) but never acknowledged, even after DRAIN_S of trying once the run ended:
    # the server may or may not have committed them
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)
    sim_now: Callable[[], float] = lambda: 0.0
    detected: list[dict[str, Any]] = field(default_factory=list)
    students: list[SimStudent] = field(default_factory=list)
    minute_truth: MinuteTruth = field(default_factory=MinuteTruth)
    behind_max_min: float = 0.0  # how late (simulated minutes) the loop reached its latest minute
    minutes_not_evaluated: int = 0  # reached a minute or more late: the live view then shows a later moment


def setup(cohort: Cohort, api: str, admin_token: str) -> tuple[LiveRun, dict[str, str]]:
    """Create the professor, the course (event clock) and the roster through the admin API."""
    run = LiveRun(cohort, api, professor_id=f"{cohort.course_id}-prof")
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": run.professor_id, "name": "Simulation",
                                                     "rotate_token": True}).raise_for_status().json()
        run.professor_token = prof["token"]
        now = time.time()  # the session window (the risk model predicts finishing by its end)
        c.post("/api/admin/courses", json={
            "course_id": cohort.course_id, "professor_id": run.professor_id, "title": cohort.title,
            "clock": "event", "activities": [{"activity_id": a.activity_id, "title": a.title,
                                              "expected_minutes": a.expected_minutes}
                                             for a in cohort.activities],
            "starts_at": iso(now), "ends_at": iso(now + 60 * cohort.minutes)}).raise_for_status()
        ids = [f"{cohort.course_id}-s{i:05d}" for i in range(cohort.students)]
        tokens = {}
        for start in range(0, len(ids), 1000):
            roster = c.post(f"/api/admin/courses/{cohort.course_id}/students", json={
                "students": [{"student_id": s, "name": f"Sim student {s[-5:]}"} for s in ids[start:start + 1000]],
                "rotate_tokens": True}).raise_for_status().json()
            tokens.update({s["student_id"]: s["token"] for s in roster["students"]})
    return run, tokens


async def run_live(cohort: Cohort, api: str, admin_token: str, evaluate: bool = False,
                   progress: Callable[[float], None] | None = None,
                   prepared: tuple[LiveRun, dict[str, str]] | None = None,
                   during: Callable[[LiveRun], Awaitable[None]] | None = None,
                   stop: asyncio.Event | None = None) -> LiveRun:
    """Drive the cohort for ``cohort.minutes`` simulated minutes (or until ``stop`` is set);
    ``during(run)`` runs alongside (tests and demos use it to act as the professor)."""
    run, tokens = prepared or setup(cohort, api, admin_token)
    wall0, epoch0 = time.monotonic(), time.time()
    sim_now = lambda: (time.monotonic() - wall0) * cohort.speed / 60.0
    run.students = [SimStudent(cohort, i, epoch0) for i in range(cohort.students)]
    run.sim_now = sim_now
    stop = stop or asyncio.Event()
    tasks = [asyncio.create_task(_student(run, s, tokens[s.student_id], sim_now, stop)) for s in run.students]
    tasks.append(asyncio.create_task(_clock(run, admin_token, sim_now, epoch0, stop)))
    if during is not None:
        tasks.append(asyncio.create_task(during(run)))
    await _every_minute(run, evaluate, progress, stop)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return run


async def _every_minute(run: LiveRun, evaluate: bool, progress: Callable[[float], None] | None,
                        stop: asyncio.Event) -> None:
    """At each whole simulated minute: the truth as of that minute and, when evaluating and on time,
    what the live view shows then."""
    for minute in range(run.cohort.minutes + 1):
        await _sleep_until(minute, run.sim_now, stop)
        if stop.is_set():
            break
        behind = run.sim_now() - minute
        if behind > 1 and run.behind_max_min <= 1:
            log.warning("the simulation loop reached minute %d %.1f simulated minutes late (a slow live-progress "
                        "read, or a busy machine); such minutes are not evaluated", minute, behind)
        run.behind_max_min = max(run.behind_max_min, behind)
        run.truth.extend(t.row() for t in run.minute_truth.read(run.students, minute))
        if evaluate and behind < 1:
            run.detected.extend(await _detect(run, minute))
        elif evaluate:
            run.minutes_not_evaluated += 1
        if progress:
            progress(minute / run.cohort.minutes)


async def _student(run: LiveRun, s: SimStudent, token: str, sim_now, stop: asyncio.Event) -> None:
    """One student's socket until the run stops; then, while a frame it sent is unacknowledged (the
    server went away mid-frame), it keeps reconnecting to resend it for up to ``DRAIN_S``: that frame
    may have committed, and a run that ended without asking again could not say what it sent."""
    url = run.api.replace("http://", "ws://").replace("https://", "wss://") + f"/ws/student/{s.student_id}"
    pending: list[dict[str, Any]] = []
    drain_until: float | None = None

    def going() -> bool:
        nonlocal drain_until
        if not stop.is_set():
            return True
        drain_until = drain_until or time.monotonic() + DRAIN_S
        return bool(pending) and time.monotonic() < drain_until

    while going():
        try:
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                                          open_timeout=20) as ws:
                acks: asyncio.Queue = asyncio.Queue()
                reader = asyncio.create_task(_read(run, s, ws, acks, sim_now))
                try:
                    if pending:  # resend what was not acknowledged before the connection dropped
                        run.resent_frames += 1
                        await _send(run, ws, pending, acks, give_up=lambda: not going())
                        pending = []
                    while not stop.is_set():
                        wait = (s.t - sim_now()) * 60.0 / run.cohort.speed
                        if wait > 0:
                            try:
                                await asyncio.wait_for(stop.wait(), min(wait, 1.0))
                            except TimeoutError:
                                pass
                            continue
                        run.minute_truth.before_change(s, s.t)
                        pending = s.act()
                        if pending:
                            await _send(run, ws, pending, acks, give_up=lambda: not going())
                            pending = []
                finally:
                    reader.cancel()
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            log.warning("student %s lost its socket (%s); reconnecting", s.student_id, exc)
            run.reconnects += 1
            await asyncio.sleep(0.5)
    if pending:
        log.warning("student %s: %d events never acknowledged", s.student_id, len(pending))
        run.unconfirmed.extend(pending)


async def _send(run: LiveRun, ws, events: list[dict[str, Any]], acks: asyncio.Queue,
                give_up: Callable[[], bool] = lambda: False) -> None:
    """Send a frame until it is acknowledged or refused for good; a transient refusal (429, 503) is
    sent again after its wait, unless ``give_up()`` (the run ended and its drain ran out): then it
    raises ConnectionError and the frame stays unacknowledged."""
    while True:
        await ws.send(json.dumps({"type": "events", "events": events}))
        answer = await asyncio.wait_for(acks.get(), 30)
        if answer.get("type") == "closed":
            raise ConnectionError("the socket closed before the ack; the frame will be resent")
        if answer.get("type") == "ack":
            run.acknowledged += answer["accepted"]
            run.duplicates += answer["duplicates"]
            run.sent.extend(events)
            return
        if answer.get("status") not in TRANSIENT:
            log.warning("events refused: %s", answer.get("errors"))
            return
        # rate-limited, or the log restarting: the same events again (their ids make a repeat harmless)
        run.resent_frames += 1
        await asyncio.sleep(retry_after(answer))
        if give_up():
            raise ConnectionError("the run ended and the server still asks to wait; the frame stays unconfirmed")


TRANSIENT = (429, 503)


def retry_after(answer: dict[str, Any]) -> float:
    """Seconds an error frame asks the client to wait (on the frame or its first error; else 1)."""
    first = (answer.get("errors") or [{}])[0]
    wait = answer.get("retry_after_s", first.get("retry_after_s") if isinstance(first, dict) else None)
    return float(wait) if isinstance(wait, int | float) and 0 < wait <= 60 else 1.0


async def _read(run: LiveRun, s: SimStudent, ws, acks: asyncio.Queue, sim_now) -> None:
    try:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") in ("ack", "error"):
                await acks.put(message)
            elif message.get("type") == "intervention":
                run.interventions_received += 1
                now = sim_now()
                run.minute_truth.before_change(s, now)
                s.receive(message, now)
    except websockets.WebSocketException:
        pass
    finally:
        await acks.put({"type": "closed"})  # a sender waiting for an ack learns at once


async def _clock(run: LiveRun, admin_token: str, sim_now, epoch0: float, stop: asyncio.Event) -> None:
    """Heartbeats that move the event clock (students in idle spells send nothing)."""
    n = 0
    async with httpx.AsyncClient(base_url=run.api, headers={"Authorization": f"Bearer {admin_token}"},
                                 timeout=30) as c:
        while not stop.is_set():
            n += 1
            s = run.students[n % len(run.students)]
            event = {"event_id": f"sim-{run.cohort.seed}-clock-{epoch0:.0f}-{n}", "student_id": s.student_id,
                     "course_id": run.cohort.course_id, "type": "heartbeat",
                     "ts": iso(epoch0 + 60 * sim_now())}
            try:
                await c.post("/api/events", json={"events": [event]})
            except httpx.HTTPError:
                pass
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass


async def _detect(run: LiveRun, minute: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=run.api, timeout=30,
                                 headers={"Authorization": f"Bearer {run.professor_token}"}) as c:
        r = await c.get(f"/api/professor/courses/{run.cohort.course_id}/live-progress")
    if r.status_code != 200:  # nothing shown this minute: counted as not detected, not left out
        return [{"student_id": s.student_id, "minute": minute, "status": None} for s in run.students]
    return [{"student_id": s["student_id"], "minute": minute, "status": s["status"]} for s in r.json()["students"]]


async def _sleep_until(minute: float, sim_now, stop: asyncio.Event) -> None:
    while minute - sim_now() > 0 and not stop.is_set():
        await asyncio.sleep(0.05)
