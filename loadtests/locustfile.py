"""Locust load test: students posting events and holding their sockets, professors watching.

Configured by environment (``classpulse loadtest`` sets it): ``CP_CLASS`` (a JSON file with the
course, the professor's and the students' tokens: the harness creates the class before Locust
starts, so any number of Locust processes share it), ``CP_EVENT_EVERY_S`` (one event per student
every N s), ``CP_RESULT_DIR`` (each Locust process writes ``result-<pid>.json`` there at the end:
events acknowledged and when, each student's first send, when the run began to stop, retries,
latency samples with their arrival times; the harness adds them up and measures the steady state
from these stamps: from 5 s after the last student's first send until the run began to stop).

Students start at a random phase of their pacing, as a real class does (not all on one beat).
WebSockets use websocket-client, which gevent (Locust's concurrency) makes cooperative.
The professor measures event -> update latency as the arrival time of a diff minus the
``last_event_ts`` it carries for a student: each event is stamped with its send time (``ts``, ms
precision) and a retry resends the same stamp, so the figure includes retries and works across
Locust processes on one machine (one clock). It is reported as its own Locust entry
``WS event->professor``.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import random
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import gevent
import websocket
from locust import HttpUser, between, events, task
from locust.contrib.fasthttp import FastHttpUser

from engine.events import iso

EVERY_S = float(os.environ.get("CP_EVENT_EVERY_S", "3"))
RESULT_DIR = os.environ.get("CP_RESULT_DIR", "")
CLASS_FILE = os.environ.get("CP_CLASS", "")
CLASS = json.loads(Path(CLASS_FILE).read_text()) if CLASS_FILE else {
    "course_id": "", "activities": ["a1"], "professor": ["", ""], "students": [["", ""]]}
COURSE = CLASS["course_id"]
ACTIVITIES = CLASS["activities"]

RETRIES = int(os.environ.get("CP_RETRIES", "10"))
RETRYABLE = {0, 502, 503, 504}  # 0: no answer (connection refused or reset)

state = {"rejected": 0, "rejected_why": {},  # why -> how many events (refused, or their task ended)
         "cut_off": 0,  # events in flight when Locust stopped their user at the run's end
         "retries": 0, "reconnects": 0, "samples": [],  # [arrived, ms]
         "acked_ids": [], "acked_at": [],  # acked_at[i]: when acked_ids[i] was acknowledged (epoch s)
         "sent": [],  # when each event was first posted (epoch s)
         "first_sent": {},  # student -> when its first event was posted (epoch s)
         "stopping_at": None}  # when this process began to stop its users (the run's end)
_lock = threading.Lock()


def _claim_student() -> tuple[str, str]:
    """The next roster entry, unique across Locust processes (a counter file under a lock)."""
    counter = Path(RESULT_DIR or "/tmp") / "claimed"
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or 0)
        f.seek(0)
        f.truncate()
        f.write(str(n + 1))
    student_id, token = CLASS["students"][n % len(CLASS["students"])]
    return student_id, token


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@events.test_stopping.add_listener
def note_stopping(**_kw) -> None:
    """Before users are stopped (the master at the run time, a worker when told): after this,
    users only finish the event in hand, then every student disconnects at once."""
    state["stopping_at"] = time.time()


@events.test_stop.add_listener
def write_result(**_kw) -> None:
    if RESULT_DIR:  # written whole, then renamed: the harness never reads half a file
        part = Path(RESULT_DIR) / f"result-{os.getpid()}.json"
        with open(part.with_suffix(".tmp"), "w") as f:
            json.dump({"course_id": COURSE, "acknowledged": len(state["acked_ids"]), "rejected": state["rejected"],
                       "rejected_why": state["rejected_why"], "cut_off": state["cut_off"],
                       "retries": state["retries"], "reconnects": state["reconnects"],
                       "samples": state["samples"], "acked_ids": state["acked_ids"], "acked_at": state["acked_at"],
                       "sent": state["sent"], "first_sent": state["first_sent"],
                       "stopping_at": state["stopping_at"]}, f)
        part.with_suffix(".tmp").rename(part)


def _retry_after(response, attempt: int) -> float:
    """The server's ``Retry-After`` (at most 5 s), else exponential backoff. A request that got no
    answer (status 0) has no headers at all: FastHttpSession's ``ErrorResponse.headers`` is None."""
    try:
        return min(float((response.headers or {}).get("Retry-After", "")), 5.0)
    except (TypeError, ValueError):
        return min(0.25 * 2 ** attempt, 5.0)


def _why(response) -> str:
    """A refused request's reason for Locust: the status and body, or the error when nothing answered."""
    return f"{response.status_code}: {(response.text or str(getattr(response, 'error', '')))[:200]}"


def _reconnect(connect):
    """Reconnect with backoff until the server answers again."""
    delay = 0.25
    while True:
        gevent.sleep(delay)
        try:
            ws = connect()
        except (OSError, websocket.WebSocketException):
            delay = min(delay * 2, 5.0)
            continue
        with _lock:
            state["reconnects"] += 1
        return ws


def _connect(connect):
    """A user's first socket: refused or timed out (a heavy ramp, a restart), it is retried like a
    dropped one; an exception in ``on_start`` ended the user for the rest of the run, unseen."""
    try:
        return connect()
    except (OSError, websocket.WebSocketException):
        return _reconnect(connect)


def _ws_url(host: str, path: str, token: str) -> str:
    return host.replace("http://", "ws://").replace("https://", "wss://") + f"{path}?token={token}"


class StudentUser(FastHttpUser):
    """Works through activities at a realistic pace, over HTTP, with its socket open."""

    weight = 100

    def wait_time(self) -> float:
        """One event every EVERY_S from this student's own phase. Not Locust's ``constant_pacing``:
        it counts from when the user was created and takes ``on_start`` for task time, so after
        the first event every student was back on one beat (all spawned within a second) and the
        whole class posted at once each period. A student behind its beat (a slow answer, a stalled
        process) skips the beats it missed instead of sending them back to back."""
        now = time.monotonic()
        self.next_at += EVERY_S * max(1, math.ceil((now - self.next_at) / EVERY_S))
        return self.next_at - now

    def on_start(self) -> None:
        self.student_id, self.token = _claim_student()
        self.done = 0
        self.interventions = 0
        self.ws = _connect(lambda: websocket.create_connection(
            _ws_url(self.host, f"/ws/student/{self.student_id}", self.token), timeout=30))
        self.reader = gevent.spawn(self._read)
        # a random phase: a class is not on one beat. The phase is the time meant, not the time woken:
        # users whose sleeps ended in one stall of this process kept one beat (a run: ~30 of 100)
        self.next_at = time.monotonic() + random.uniform(0, EVERY_S)
        gevent.sleep(max(0.0, self.next_at - time.monotonic()))  # the first event then; wait_time paces

    def _read(self) -> None:
        """Read frames; when the socket drops (a fault drill, a restart), reconnect like a browser."""
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except (OSError, ValueError, websocket.WebSocketException):
                self.ws = _reconnect(lambda: websocket.create_connection(
                    _ws_url(self.host, f"/ws/student/{self.student_id}", self.token), timeout=30))
                continue
            if frame.get("type") == "intervention":  # react: pick up the pace on the activity
                self.interventions += 1

    def on_stop(self) -> None:
        self.reader.kill()
        self.ws.close()

    @task
    def work(self) -> None:
        self.done += 1
        event = {"event_id": uuid.uuid4().hex, "student_id": self.student_id, "course_id": COURSE,
                 "type": "attempt", "activity_id": ACTIVITIES[(self.done // 5) % len(ACTIVITIES)],
                 "correct": self.done % 3 != 0, "ts": iso(sent := time.time())}
        with _lock:
            state["sent"].append(sent)
            state["first_sent"].setdefault(self.student_id, sent)
        why, cut_off = None, False
        try:
            why = self._post(event)
        except BaseException as exc:
            why = f"the task ended with {type(exc).__name__}: {exc}"[:200]
            # Locust killed the user mid-post once the run began to stop (despite --stop-timeout): no
            # answer was due to a client that left; stored or not, the harness counts it apart
            cut_off = isinstance(exc, gevent.GreenletExit) and state["stopping_at"] is not None
            raise
        finally:
            if why is not None:
                with _lock:
                    if cut_off:
                        state["cut_off"] += 1
                    else:  # refused, or the task ended some other way: the gates see it, and why
                        state["rejected"] += 1
                        state["rejected_why"][why] = state["rejected_why"].get(why, 0) + 1

    def _post(self, event: dict) -> str | None:
        """Post ``event`` until it is acknowledged (None) or refused for good (why)."""
        for attempt in range(RETRIES + 1):
            # A real client retries the same batch (same event ids) on 5xx / no answer: idempotent.
            with self.client.post("/api/events", json={"events": [event]}, name="/api/events",
                                  headers={"Authorization": f"Bearer {self.token}"}, catch_response=True) as r:
                if r.status_code == 202:
                    with _lock:
                        # acknowledged whether "accepted" or "duplicate": ids are fresh, so a duplicate
                        # means an earlier attempt was committed and its answer lost (a restart)
                        state["acked_ids"].append(event["event_id"])
                        state["acked_at"].append(time.time())
                    r.success()
                    return None
                if r.status_code in RETRYABLE and attempt < RETRIES:
                    with _lock:
                        state["retries"] += 1
                    gevent.sleep(_retry_after(r, attempt))
                    r.success()  # not a failure yet, once the wait is over: the retry decides
                    continue
                r.failure(why := _why(r))
                return why[:200]
        return "retries exhausted"  # the last attempt returns above; kept for a CP_RETRIES below 0


class ProfessorUser(HttpUser):
    """Holds the progress stream, measures event -> update latency, polls analytics."""

    weight = 1
    fixed_count = 1
    wait_time = between(8, 12)

    def on_start(self) -> None:
        professor_id, self.token = CLASS["professor"]
        self.seen: dict[str, str] = {}  # student -> the last event id measured
        self.ws = _connect(lambda: websocket.create_connection(
            _ws_url(self.host, f"/ws/professor/{professor_id}/progress-updates", self.token), timeout=60))
        self.reader = gevent.spawn(self._watch)

    def _watch(self) -> None:
        professor_id, _ = CLASS["professor"]
        seq = None
        while True:
            try:
                message = json.loads(self.ws.recv())
            except (OSError, ValueError, websocket.WebSocketException):
                # resume where we were: the server sends what we missed (or a fresh snapshot)
                url = _ws_url(self.host, f"/ws/professor/{professor_id}/progress-updates", self.token)
                url += f"&after_seq={seq}" if seq is not None else ""
                self.ws = _reconnect(lambda u=url: websocket.create_connection(u, timeout=60))
                continue
            seq = message.get("seq", seq)
            arrived = time.time()
            measure = message.get("type") == "diff"  # a snapshot (first, or after a reconnect) only notes
            for s in message.get("students", []):
                event_id, stamp = s.get("last_event_id"), s.get("last_event_ts")
                if not event_id or not stamp or self.seen.get(s["student_id"]) == event_id:
                    continue
                self.seen[s["student_id"]] = event_id
                if not measure:
                    continue
                ms = (arrived - _epoch(stamp)) * 1000
                state["samples"].append([arrived, ms])
                events.request.fire(request_type="WS", name="event->professor", response_time=ms,
                                    response_length=0, exception=None, context={})

    def on_stop(self) -> None:
        self.reader.kill()
        self.ws.close()

    @task
    def analytics(self) -> None:
        for attempt in range(RETRIES + 1):  # like the dashboard: a poll that finds the server down polls again
            with self.client.get(f"/api/professor/courses/{COURSE}/analytics/real-time", name="analytics",
                                 headers={"Authorization": f"Bearer {self.token}"}, catch_response=True) as r:
                if r.status_code in RETRYABLE and attempt < RETRIES:
                    gevent.sleep(_retry_after(r, attempt))
                    r.success()  # once the wait is over: the next poll decides
                    continue
                if r.status_code != 200:
                    r.failure(_why(r))
                return
