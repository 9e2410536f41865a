"""Capacity benchmark: step concurrent students up until an SLO breaks.

Each step is a real Locust run (`classpulse loadtest`'s locustfile: every student holds its own
WebSocket and posts an event every ``--event-every`` seconds; one professor holds the progress
stream) against one stack started here. Per step, over its steady window (from 5 s after the last
student's first send until the run began to stop, as the users stamped them): its length, events
acknowledged per second (distinct event ids answered 202), event -> professor latency p50/p95/p99
(the SLO) and machine CPU (of all cores, Locust's own share subtracted: the 1 s samples wholly
inside the window). Beside them: p95 including the warm-up (everyone joining within seconds), and
over the whole run lost events, failed requests and the stack's peak memory (RSS of the
Ray/Serve/HAProxy processes it started).

Each step runs for its ramp (students join at 100 a second), one pacing interval and a settling
margin, *plus* ``--seconds``: so every step gets about that long a steady window, however many
students it has. (A fixed run length left a 1,500-student step ~7 s of window, in the tail of its
warm-up backlog: it measured the join, not the steady class.)

    python -m loadtests.bench_capacity [--steps 100,250,500,1000] [--seconds 30] [--quick]
"""
from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from classpulse.loadtest_cmd import EVENT_EVERY_S, SETTLE_S, SPAWN_PER_S, run_locust

console = Console(width=150)
SLO_P95_MS = 1000.0
LOCUST_START_S = 3  # Locust and its worker processes starting, before the first user spawns


def step_seconds(students: int, steady_s: int, event_every: float) -> int:
    """A step's whole run: Locust starting, the ramp, one pacing interval (a student's first event
    comes within one), ``SETTLE_S``, then ``steady_s`` of steady window."""
    return math.ceil(LOCUST_START_S + students / SPAWN_PER_S + event_every + SETTLE_S) + steady_s


@dataclass
class Sampler:
    """Machine CPU and the stack's RSS, sampled beside a Locust run (Locust's own CPU left out).

    Each CPU sample is the cores busy over one interval, kept with its bounds (epoch s), so that
    it can be averaged over the run's steady window alone (``steady_cores``)."""

    stack_root: psutil.Process
    locust_pid: int | None = None
    cpu: list[tuple[float, float, float]] = field(default_factory=list)  # (from, to, cores busy)
    rss: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        psutil.cpu_percent(None)
        locust_t, since = 0.0, time.time()
        while not self._stop.wait(1.0):
            total = psutil.cpu_percent(None) * psutil.cpu_count() / 100  # cores busy
            now = time.time()
            locust_now = self._locust_seconds()
            # Locust's processes that exited drop out of the sum: never a negative share (which added
            # their whole past CPU to the machine's: one sample of 61 cores on this 2-core machine)
            busy = min(max(total - max(locust_now - locust_t, 0.0), 0.0), psutil.cpu_count())
            self.cpu.append((since, now, busy))
            locust_t, since = locust_now, now
            self.rss.append(self._stack_rss())

    def steady_cores(self, start: float, end: float) -> float:
        """Mean cores busy over the samples wholly inside [start, end]; NaN if none is.

        Not the whole step's mean: that took in class creation, Locust's start-up, the ramp and the
        harness's waits after the run, beside latency measured in steady state only."""
        inside = [busy for since, to, busy in self.cpu if start <= since and to <= end]
        return sum(inside) / len(inside) if inside else math.nan

    def _locust(self) -> list[psutil.Process]:
        """Locust's processes: the master and, with --processes, its workers."""
        if self.locust_pid is None:
            return []
        try:
            master = psutil.Process(self.locust_pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _locust_seconds(self) -> float:
        total = 0.0
        for p in self._locust():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def _stack_rss(self) -> int:
        total = 0
        locust = {p.pid for p in self._locust()}
        for p in [self.stack_root, *self.stack_root.children(recursive=True)]:
            if p.pid in locust:
                continue
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="100,250,500,1000,1500")
    ap.add_argument("--seconds", type=int, default=30,
                    help="steady seconds wanted per step (each step runs this plus its ramp and settling)")
    ap.add_argument("--event-every", type=float, default=EVENT_EVERY_S)
    ap.add_argument("--quick", action="store_true", help="two small steps, 30 s each")
    ap.add_argument("--out", type=Path, default=Path("bench-results/capacity"))
    args = ap.parse_args()
    steps = [50, 100] if args.quick else [int(s) for s in args.steps.split(",")]
    seconds = 30 if args.quick else args.seconds

    from classpulse.settings import from_env
    from classpulse.stack import Stack
    from serve.launch import free_port
    settings = from_env().with_overrides(data_dir=Path(tempfile.mkdtemp(prefix="cp-capacity-")), port=free_port())
    stack = Stack.start(settings, echo=lambda m: console.print(m))
    rows = []
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("capacity steps", total=len(steps))
            for students in steps:
                sampler = Sampler(psutil.Process())
                sampler.start()

                def started(pid: int, s: Sampler = sampler) -> None:
                    s.locust_pid = pid
                run_s = step_seconds(students, seconds, args.event_every)
                figures = run_locust(stack.api_url, stack.admin_token, students, f"{run_s}s",
                                     args.event_every, args.out / f"{students}", on_started=started)
                sampler.stop()
                progress.advance(task)
                if figures is None:
                    console.print(f"[red]Locust did not finish at {students} students[/red]")
                    break
                figures["cpu_cores"] = sampler.steady_cores(figures["steady_from"], figures["steady_to"])
                figures["rss_gb"] = max(sampler.rss, default=0) / 2**30
                figures["slo_ok"] = (figures["p95_ms"] <= SLO_P95_MS and figures["failures"] == 0
                                     and figures["lost"] == 0)
                rows.append(figures)
                if not figures["slo_ok"]:
                    break
                time.sleep(2)
    finally:
        stack.stop(echo=lambda m: console.print(m))
    _print(rows, seconds, args.event_every)


def _print(rows: list[dict], seconds: int, every: float) -> None:
    table = Table(title=f"capacity: {seconds} s of steady window wanted per step (plus its ramp), one event "
                        f"per student every {every:g} s, "
                        f"{psutil.cpu_count()} cores")
    for col in ("students", "steady s", "events/s acked (steady)", "p50 ms (steady)", "p95 ms (steady)",
                "p99 ms (steady)", "p95 incl. warm-up", "lost", "failed requests", "CPU cores busy (steady)",
                "peak stack RSS GB", "SLO"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["students"]), f"{r['steady_s']:.0f}", f"{r['events_per_s']:.1f}", f"{r['p50_ms']:.0f}",
                      f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}", f"{r['run_p95_ms']:.0f}", str(r["lost"]),
                      str(r["failures"]), f"{r['cpu_cores']:.2f}", f"{r['rss_gb']:.2f}",
                      "[green]ok[/green]" if r["slo_ok"] else "[red]broken[/red]")
    console.print(table)
    console.print("steady: from 5 s after the last student's first send until the run began to stop; "
                  "events/s acked: distinct event ids answered 202 in it, per second of it; CPU: machine-wide, "
                  "Locust's share subtracted, 1 s samples wholly inside it")
    held = [r["students"] for r in rows if r["slo_ok"]]
    console.print(f"largest step within the SLOs (p95 event -> professor <= {SLO_P95_MS:.0f} ms, "
                  f"no failed request, no lost event): {max(held) if held else 'none'} students")


if __name__ == "__main__":
    main()
