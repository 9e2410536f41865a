"""CourseHub CPU per refresh under a firehose, without Ray: the hub-side work of ``bench_ingest``.

    python -m loadtests.bench_hub [--events 400000] [--students 1000] [--quick]   # make bench: ~10 s

One course of 1,000 students (event clock, 8 activities, as ``bench_ingest``). The bench's events
are folded in-process into ``StudentState`` objects; every ``--per-send`` events (a shard's 50 ms
at ~100k events/s) the changed students' summaries are pickled and unpickled (what Ray does to
``apply_summaries`` arguments; the shards' pickling is shown apart) and applied; every ``--per-refresh`` events (the hub's 100 ms) the
view refreshes as ``CourseHub._refresh`` does, the opened alerts become notifier items
(``_comms_tick``) and a Serve replica pulls the diff (``updates_since``). Only the hub's share is
timed (not the fold): microseconds of CPU per student per refresh, by phase, and per event. The
``digest`` line hashes every diff and notifier item (seqs from a counting clock, so runs compare):
an optimisation of the hub must leave it unchanged.
"""
from __future__ import annotations

import argparse
import collections
import gc
import hashlib
import json
import pickle
import random
import time
from collections.abc import Callable
from pathlib import Path

from ray import cloudpickle
from rich.console import Console
from rich.table import Table

from engine.config import AlertConfig
from engine.course import Activity, Course, FoldParams
from engine.events import Event, quantize
from engine.live_view import CourseView, SeqClock
from engine.state import StudentState, StudentSummary, summaries_of, summary_rows
from loadtests.bench_ingest import ACTIVITIES, make_events

console = Console(width=140)
COURSE = "bench-course"
T0 = 1_790_000_000.0
PHASES = {"transport": "transport (unpickle)", "total": "total, hub",
          "shard_pickle": "(shards: pickling the sends)"}


class Counting:
    """A wall clock for SeqClock that only counts, so seqs (and the digest) repeat run to run."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1e-6
        return self.t


def run(events: int, students: int, per_send: int, per_refresh: int, skew: int) -> dict[str, float | str | int]:
    ids = [f"bs{i:05d}" for i in range(students)]
    # bench_ingest's mix of events, with ids and times fixed so the digest repeats run to run
    stream = [e._replace(event_id=f"b-{i:07d}", ts=quantize(T0 + i * 0.01), received_at=T0 + 4000.0)
              for i, e in enumerate(make_events(events, ids, COURSE, seed=7))]
    gc.collect()
    gc.freeze()  # the stream is the bench's, not the hub's: keep it out of the collector's walks
    course = Course(COURSE, "bench-prof", "Bench", "event",
                    tuple(Activity(a, a, 10.0) for a in ACTIVITIES))
    params, expected = FoldParams(len(ACTIVITIES), 180.0), {a: 10.0 for a in ACTIVITIES}
    view = CourseView(course, AlertConfig(), {s: s for s in ids}, SeqClock(wall=Counting()))
    view.refresh()
    states = {s: StudentState(COURSE, s) for s in ids}
    digest = hashlib.sha256()
    cursor = view.seq
    spent = {"shard_pickle": 0.0, "transport": 0.0, "apply": 0.0, "refresh": 0.0, "notify": 0.0, "diff": 0.0}
    refreshed = refreshes = sent = 0
    touched: set[str] = set()
    cpu: Callable[[], float] = time.process_time

    def timed(phase: str, fn: Callable[[], object]) -> object:
        started = cpu()
        out = fn()
        spent[phase] += cpu() - started
        return out

    def send() -> None:
        nonlocal sent
        batch = [states[s].summary(params, expected) for s in touched]
        touched.clear()
        wire: bytes = timed("shard_pickle", lambda: cloudpickle.dumps(summary_rows(batch), protocol=5))  # type: ignore[assignment]
        got: list[StudentSummary] = timed("transport", lambda: summaries_of(pickle.loads(wire)))  # type: ignore[assignment]
        timed("apply", lambda: [view.apply(s) for s in got])
        sent += len(got)

    def refresh() -> None:
        nonlocal refreshed, refreshes, cursor
        refreshed += sum(1 for _ in view.summaries) if view.dirty else 0
        refreshes += 1
        timed("refresh", view.refresh)
        items = timed("notify", lambda: [a.to_wire() | {"professor_id": course.professor_id,
                                                         "course_title": course.title,
                                                         "student_name": view.names.get(a.student_id)}
                                         for a in view.drain_opened()])
        diff = timed("diff", lambda: view.updates_since(cursor))
        if diff is not None:
            cursor = diff["seq"]
        digest.update(json.dumps([diff, items], sort_keys=True).encode())

    def fold(e: Event) -> None:
        states[e.student_id].apply(e, params)
        touched.add(e.student_id)

    # the second shard's students lag by up to ``skew`` events, changing at each refresh (two shards
    # never fold in step); on the event clock a student of the lagging shard looks idle, so alerts
    # open and resolve as in the real bench
    behind: collections.deque[Event] = collections.deque()
    rng, lag = random.Random(3), 0
    second = set(ids[1::2])
    for i, e in enumerate(stream, 1):
        e = e._replace(seq=i)
        if e.student_id in second:
            behind.append(e)
        else:
            fold(e)
        while behind and behind[0].seq <= i - lag:
            fold(behind.popleft())
        if i % per_send == 0:
            send()
        if i % per_refresh == 0:
            refresh()
            lag = rng.randint(0, skew)
    while behind:
        fold(behind.popleft())
    send()
    refresh()
    digest.update(json.dumps(view.updates_since(None), sort_keys=True).encode())  # the final snapshot too
    total = sum(spent.values()) - spent["shard_pickle"]
    return {"events": events, "refreshes": refreshes, "alerts": len(view.alerts._by_id), "students_refreshed": refreshed, "summaries": sent,
            **{f"{k}_s": v for k, v in spent.items()}, "total_s": total,
            "us_per_student_refresh": 1e6 * (spent["refresh"] + spent["notify"] + spent["diff"]) / max(refreshed, 1),
            "us_per_event": 1e6 * total / events, "digest": digest.hexdigest()[:16]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--per-send", type=int, default=5_000, help="events between two summary sends (50 ms)")
    ap.add_argument("--per-refresh", type=int, default=10_000, help="events between two refreshes (100 ms)")
    ap.add_argument("--skew", type=int, default=25_000,
                    help="most events one shard's students lag behind the other's (alert churn)")
    ap.add_argument("--quick", action="store_true", help="100,000 events")
    ap.add_argument("--out", type=Path, default=Path("bench-results/hub.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.events = 100_000
    r = run(args.events, args.students, args.per_send, args.per_refresh, args.skew)
    table = Table(title=f"CourseHub work for {r['events']:,} events, {args.students:,} students, "
                        f"{r['refreshes']} refreshes (CPU time, one process)")
    table.add_column("phase")
    table.add_column("CPU s", justify="right")
    table.add_column("us per event", justify="right")
    for phase in ("transport", "apply", "refresh", "notify", "diff", "total", "shard_pickle"):
        s = float(r[f"{phase}_s"])
        table.add_row(PHASES.get(phase, phase), f"{s:.3f}", f"{1e6 * s / args.events:.2f}")
    console.print(table)
    console.print(f"refresh + notify + diff: {r['us_per_student_refresh']:.2f} us per student per refresh "
                  f"({r['students_refreshed']:,} student refreshes, {r['alerts']:,} alerts held); digest {r['digest']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
