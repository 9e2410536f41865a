"""The demo class for ``make demo``: a seeded course and a live stream of events.

Until the cohort simulator (BKT student models, ground truth) lands, the demo
drives the public API with simple probabilistic students: each has a skill
and a pace, one activity is deliberately hard, some students drift idle. The
course runs on the event clock at ``speed`` x, so minutes of class pass in
seconds and idle detection behaves as in a live class.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

ACTIVITIES = [("intro", "Welcome and setup", 5), ("vars", "Variables", 8), ("loops", "Loops", 10),
              ("funcs", "Functions", 12), ("recursion", "Recursion (hard)", 15),
              ("lists", "Lists", 10), ("dicts", "Dictionaries", 10), ("project", "Mini project", 20)]
HARD = "recursion"


@dataclass
class DemoClass:
    course_id: str
    professor_id: str
    professor_token: str
    admin_token: str
    student_ids: list[str]


def seed_demo_class(api: str, admin_token: str, students: int = 120,
                    course_id: str = "demo-course", professor_id: str = "demo-prof") -> DemoClass:
    h = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=api, headers=h, timeout=30) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": professor_id, "name": "Dr. Demo",
                                                      "rotate_token": True}).raise_for_status().json()
        c.post("/api/admin/courses", json={
            "course_id": course_id, "professor_id": professor_id, "title": "Intro to Programming (demo)",
            "clock": "event", "activities": [{"activity_id": a, "title": t, "expected_minutes": m}
                                             for a, t, m in ACTIVITIES]}).raise_for_status()
        ids = [f"demo-s{i:03d}" for i in range(students)]
        names = [f"{random.Random(i).choice(_FIRST)} {random.Random(i + 999).choice(_LAST)}" for i in range(students)]
        c.post(f"/api/admin/courses/{course_id}/students",
               json={"students": [{"student_id": s, "name": n} for s, n in zip(ids, names)]}).raise_for_status()
    return DemoClass(course_id, professor_id, prof["token"], admin_token, ids)


@dataclass
class _Student:
    student_id: str
    skill: float
    pace: float  # chance of acting in a tick
    drifts: bool
    activity: int = 0
    correct_needed: int = 3
    started: bool = False
    away_until: float = 0.0


@dataclass
class DemoTraffic:
    thread: threading.Thread
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def start_demo_traffic(api: str, demo: DemoClass, speed: float = 60.0, tick_s: float = 0.5,
                       seed: int = 7) -> DemoTraffic:
    stopping = threading.Event()
    thread = threading.Thread(target=_run, args=(api, demo, speed, tick_s, seed, stopping),
                              name="demo-traffic", daemon=True)
    traffic = DemoTraffic(thread, stopping)
    thread.start()
    return traffic


def _run(api: str, demo: DemoClass, speed: float, tick_s: float, seed: int, stopping: threading.Event) -> None:
    rng = random.Random(seed)
    students = [_Student(s, rng.uniform(0.45, 0.95), rng.uniform(0.2, 0.7), rng.random() < 0.15)
                for s in demo.student_ids]
    sim_now = time.time()
    h = {"Authorization": f"Bearer {demo.admin_token}"}
    with httpx.Client(base_url=api, headers=h, timeout=30) as c:
        while not stopping.wait(tick_s):
            sim_now += tick_s * speed
            events = []
            for st in students:
                events.extend(_act(st, sim_now, demo.course_id, rng))
            events.append(_event(students[0].student_id, demo.course_id, None, "heartbeat", sim_now))
            for i in range(0, len(events), 1000):
                try:
                    c.post("/api/events", json={"events": events[i:i + 1000]})
                except httpx.HTTPError:
                    pass


def _act(st: _Student, now: float, course_id: str, rng: random.Random) -> list[dict]:
    if st.activity >= len(ACTIVITIES) or now < st.away_until or rng.random() > st.pace:
        return []
    if st.drifts and rng.random() < 0.02:
        st.away_until = now + rng.uniform(240, 900)
        return []
    activity_id = ACTIVITIES[st.activity][0]
    if not st.started:
        st.started = True
        return [_event(st.student_id, course_id, activity_id, "activity_started", now)]
    p = st.skill * (0.45 if activity_id == HARD else 1.0)
    if activity_id == HARD and rng.random() < 0.15:
        return [_event(st.student_id, course_id, activity_id, "hint_requested", now)]
    correct = rng.random() < p
    out = [_event(st.student_id, course_id, activity_id, "attempt", now, correct=correct)]
    if correct:
        st.correct_needed -= 1
        if st.correct_needed <= 0:
            out.append(_event(st.student_id, course_id, activity_id, "activity_completed", now))
            st.activity, st.correct_needed, st.started = st.activity + 1, 3, False
        else:
            out.append(_event(st.student_id, course_id, activity_id, "progress", now,
                              progress=round(1 - st.correct_needed / 3, 2)))
    return out


def _event(student_id: str, course_id: str, activity_id: str | None, kind: str, ts: float, **extra) -> dict:
    from datetime import datetime, timezone
    e = {"event_id": str(uuid.uuid4()), "student_id": student_id, "course_id": course_id,
         "type": kind, "ts": datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()}
    if activity_id is not None:
        e["activity_id"] = activity_id
    return e | extra


_FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
          "Radia", "Tim", "Katherine", "Dennis", "Hedy", "Linus", "Sophie", "Guido", "Anita", "Niklaus"]
_LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Hamilton",
         "Thompson", "Perlman", "Berners-Lee", "Johnson", "Ritchie", "Lamarr", "Torvalds", "Wilson",
         "van Rossum", "Borg", "Wirth"]
