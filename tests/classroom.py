"""A constructed class whose right answers are known: five groups of students,
each built to end in one status, plus a reference fold of the same events."""
from __future__ import annotations

import time
from dataclasses import dataclass

from engine.course import FoldParams
from engine.events import Event, quantize
from engine.state import StudentState, to_snapshot

GROUPS = ("completed", "struggling", "idle", "active", "not_started")
ACTIVITIES = ("a1", "a2", "a3", "a4")


@dataclass
class Classroom:
    course_id: str
    professor_id: str
    students: list[str]
    expected: dict[str, str]
    events: list[Event]

    def course_spec(self) -> dict:
        return {"course_id": self.course_id, "professor_id": self.professor_id, "title": "Constructed",
                "clock": "event", "activities": [{"activity_id": a, "title": a.upper(), "expected_minutes": 10}
                                                 for a in ACTIVITIES]}

    def roster(self) -> list[dict]:
        return [{"student_id": s, "name": f"Name {s}"} for s in self.students]

    def batches(self, size: int = 1000) -> list[list[Event]]:
        return [self.events[i:i + size] for i in range(0, len(self.events), size)]

    def enroll(self, runtime) -> None:
        """The professor, the course and its roster, in a runtime's log (before any event)."""
        import ray
        log = runtime.handles.log
        ray.get(log.add_professor.remote(self.professor_id, "Prof"))
        ray.get(log.add_course.remote(self.course_spec()))
        ray.get(log.add_students.remote(self.course_id, self.roster()))


def build(n: int = 200, tag: str = "k", t0: float | None = None) -> Classroom:
    t0 = t0 if t0 is not None else time.time() - 2000
    students = [f"{tag}-s{i:04d}" for i in range(n)]
    course_id, expected, timeline = f"{tag}-course", {}, []
    serial = 0

    def add(student: str, t: float, kind: str, activity: str | None, **kw) -> None:
        nonlocal serial
        serial += 1
        e = Event(f"{tag}-e{serial}", student, course_id, activity, kind, quantize(t0 + t),
                  kw.get("progress"), kw.get("correct"), None, True, quantize(time.time()))
        timeline.append(e._replace(fingerprint=e.content_fingerprint()))

    for i, s in enumerate(students):
        group = GROUPS[i % len(GROUPS)]
        expected[s] = group
        j = i * 0.01  # spread students in time
        if group == "completed":
            for k, a in enumerate(ACTIVITIES):
                add(s, 900 + 20 * k + j, "activity_started", a)
                add(s, 905 + 20 * k + j, "attempt", a, correct=True)
                add(s, 910 + 20 * k + j, "activity_completed", a)
        elif group == "struggling":
            add(s, 100 + j, "activity_completed", "a1")
            add(s, 950 + j, "activity_started", "a2")
            for k in range(4):
                add(s, 960 + 10 * k + j, "attempt", "a2", correct=False)
        elif group == "idle":
            add(s, 100 + j, "activity_started", "a1")
            add(s, 110 + j, "attempt", "a1", correct=True)
            add(s, 120 + j, "progress", "a1", progress=0.5)
        elif group == "active":
            add(s, 950 + j, "progress", "a1", progress=0.5)
            add(s, 990 + j, "attempt", "a1", correct=True)
    timeline.sort(key=lambda e: e.ts)
    active = next(s for s in students if expected[s] == "active")
    add(active, 1000, "heartbeat", None)  # moves the event clock to t0 + 1000
    return Classroom(course_id, "prof-" + tag, students, expected, timeline)


def reference_states(events: list[Event], activities: int = 4, idle_after_s: float = 180.0) -> dict[str, dict]:
    """The same events folded in-process: what every shard must agree with."""
    params = FoldParams(activities, idle_after_s)
    states: dict[tuple[str, str], StudentState] = {}
    for e in events:
        key = (e.course_id, e.student_id)
        states.setdefault(key, StudentState(*key)).apply(e, params)
    return {f"{k[0]}/{k[1]}": comparable(to_snapshot(s)) for k, s in states.items()}


def comparable(snapshot: dict) -> dict:
    """A snapshot without the log position (the reference fold has no seq numbers)."""
    return {k: v for k, v in snapshot.items() if k != "seq"}
