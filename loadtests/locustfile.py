"""Locust load test: students posting events and holding their sockets, professors watching.

Configured by environment (``classpulse loadtest`` sets it): ``CP_ADMIN_TOKEN``, ``CP_STUDENTS``
(roster size), ``CP_EVENT_EVERY_S`` (one event per student every N s), ``CP_RESULT`` (a JSON file
written at the end: events acknowledged, latency samples). The class is created at test start.

WebSockets use websocket-client, which gevent (Locust's concurrency) makes cooperative.
The professor measures event -> update latency by matching ``last_event_id`` in the diffs with
the send times of the events, and reports it as its own Locust entry ``WS event->professor``.
"""
from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid

import gevent
import httpx
import websocket
from locust import HttpUser, between, constant_pacing, events, task
from locust.contrib.fasthttp import FastHttpUser

ADMIN = os.environ.get("CP_ADMIN_TOKEN", "")
STUDENTS = int(os.environ.get("CP_STUDENTS", "100"))
EVERY_S = float(os.environ.get("CP_EVENT_EVERY_S", "3"))
RESULT = os.environ.get("CP_RESULT", "")
TAG = uuid.uuid4().hex[:6]
COURSE = f"load-{TAG}"
ACTIVITIES = ["a1", "a2", "a3", "a4"]

RETRIES = int(os.environ.get("CP_RETRIES", "10"))
RETRYABLE = {0, 502, 503, 504}  # 0: no answer (connection refused or reset)

state = {"roster": [], "professor": None, "acked": 0, "rejected": 0, "retries": 0, "reconnects": 0,
         "sent": {}, "latencies": []}
_ids = itertools.count()
_lock = threading.Lock()


@events.test_start.add_listener
def create_class(environment, **_kw) -> None:
    host = environment.host
    with httpx.Client(base_url=host, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": f"{COURSE}-prof", "name": "Load"}).json()
        c.post("/api/admin/courses", json={"course_id": COURSE, "professor_id": f"{COURSE}-prof", "title": "Load",
                                           "clock": "live", "activities": [{"activity_id": a, "title": a,
                                                                            "expected_minutes": 10}
                                                                           for a in ACTIVITIES]})
        roster = c.post(f"/api/admin/courses/{COURSE}/students", json={
            "students": [{"student_id": f"{COURSE}-s{i}", "name": f"S{i}"} for i in range(STUDENTS)]}).json()
    state["roster"] = [(s["student_id"], s["token"]) for s in roster["students"]]
    state["professor"] = (f"{COURSE}-prof", prof["token"])


@events.test_stop.add_listener
def write_result(**_kw) -> None:
    if RESULT:
        with open(RESULT, "w") as f:
            json.dump({"course_id": COURSE, "acknowledged": state["acked"], "rejected": state["rejected"],
                       "retries": state["retries"], "reconnects": state["reconnects"],
                       "latencies_ms": state["latencies"], "unmatched": len(state["sent"])}, f)


def _retry_after(response, attempt: int) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "")), 5.0)
    except (TypeError, ValueError):
        return min(0.25 * 2 ** attempt, 5.0)


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


def _ws_url(host: str, path: str, token: str) -> str:
    return host.replace("http://", "ws://").replace("https://", "wss://") + f"{path}?token={token}"


class StudentUser(FastHttpUser):
    """Works through activities at a realistic pace, over HTTP, with its socket open."""

    weight = 100
    wait_time = constant_pacing(EVERY_S)

    def on_start(self) -> None:
        n = next(_ids)
        self.student_id, self.token = state["roster"][n % len(state["roster"])]
        self.done = 0
        self.interventions = 0
        self.ws = websocket.create_connection(_ws_url(self.host, f"/ws/student/{self.student_id}", self.token),
                                              timeout=30)
        self.reader = gevent.spawn(self._read)

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
                 "correct": self.done % 3 != 0}
        sent = time.time()
        for attempt in range(RETRIES + 1):
            # A real client retries the same batch (same event ids) on 5xx / no answer: idempotent.
            with self.client.post("/api/events", json={"events": [event]}, name="/api/events",
                                  headers={"Authorization": f"Bearer {self.token}"}, catch_response=True) as r:
                if r.status_code == 202:
                    with _lock:
                        state["acked"] += r.json()["accepted"]
                        state["sent"][event["event_id"]] = sent
                    r.success()
                    return
                if r.status_code in RETRYABLE and attempt < RETRIES:
                    r.success()  # not a failure yet: the retry decides
                    with _lock:
                        state["retries"] += 1
                    gevent.sleep(_retry_after(r, attempt))
                    continue
                with _lock:
                    state["rejected"] += 1
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return


class ProfessorUser(HttpUser):
    """Holds the progress stream, measures event -> update latency, polls analytics."""

    weight = 1
    fixed_count = 1
    wait_time = between(8, 12)

    def on_start(self) -> None:
        professor_id, self.token = state["professor"]
        self.ws = websocket.create_connection(
            _ws_url(self.host, f"/ws/professor/{professor_id}/progress-updates", self.token), timeout=60)
        self.reader = gevent.spawn(self._watch)

    def _watch(self) -> None:
        professor_id, _ = state["professor"]
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
            for s in message.get("students", []):
                with _lock:
                    sent = state["sent"].pop(s.get("last_event_id"), None)
                if sent is not None:
                    ms = (arrived - sent) * 1000
                    state["latencies"].append(ms)
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
                    r.success()
                    gevent.sleep(_retry_after(r, attempt))
                    continue
                if r.status_code != 200:
                    r.failure(f"{r.status_code}: {r.text[:200]}")
                return
