"""Simulator benchmark: offline generation events/s in one process vs Ray tasks (same output,
hash-checked), and how many concurrent live students one process drives at a realistic pace.

    python -m loadtests.bench_simulator [--students 20000] [--live 300,600]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from simulator import cohort as cohorts
from simulator import offline

console = Console(width=140)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=20_000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--live", default="300,600", help="live student counts to try (comma list)")
    ap.add_argument("--live-seconds", type=float, default=20)
    ap.add_argument("--out", type=Path, default=Path("bench-results/simulator.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="cp-simbench-"))
    cohort = cohorts.default(students=args.students, seed=1, minutes=args.minutes)
    with Progress(console=console, transient=True) as bar:
        single = offline.run(cohort, tmp / "single", workers=0, progress=_parts(bar, "offline, one process"))
        ray.init(address="local", include_dashboard=False, logging_level="warning", log_to_driver=False)
        parallel = offline.run(cohort, tmp / "ray", workers=2, progress=_parts(bar, "offline, Ray tasks"))
        ray.shutdown()
        live = _live(args, tmp, bar)

    table = Table(title="simulator (this machine, one run)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"offline, {args.students:,} students x {args.minutes:g} min, one process",
                  f"{single['events_per_s']:,} events/s ({single['events']:,} events, {single['seconds']} s)")
    table.add_row("offline, Ray tasks (2 cores)", f"{parallel['events_per_s']:,} events/s ({parallel['seconds']} s)")
    table.add_row("same output (sha256)", str(single["events_sha256"] == parallel["events_sha256"]
                                               and single["truth_sha256"] == parallel["truth_sha256"]))
    for n, r in live.items():
        table.add_row(f"live: {n} students, own sockets, 1 process, {r['speed']:g}x",
                      f"{r['events_per_s']:.0f} events/s acked, {r['kept_pace']:.0%} of the events an unhurried run makes")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"single": single, "ray": parallel, "live": live}, indent=2))
    return 0


def _parts(bar: Progress, what: str) -> Callable[[int, int], None]:
    """A task on ``bar`` that follows ``offline.run``'s parts as they are written."""
    task = bar.add_task(what, total=None)
    return lambda done, total: bar.update(task, completed=done, total=total)


def _live(args, tmp: Path, bar: Progress) -> dict:
    from classpulse.settings import Settings
    from classpulse.stack import Stack
    from serve.launch import free_port
    from simulator.live import run_live, setup
    starting = bar.add_task("live: starting a stack", total=1)
    stack = Stack.start(Settings(data_dir=tmp / "stack", port=free_port(), admin_token="sim-bench"),
                        echo=lambda *_: None)
    bar.update(starting, completed=1)
    results = {}
    try:
        for n in [int(x) for x in args.live.split(",") if x]:
            # a realistic pace: ~1.5 actions per simulated minute per student, at 10x
            cohort = cohorts.from_dict({"students": n, "seed": n, "speed": 10,
                                        "minutes": max(1, round(args.live_seconds * 10 / 60)),  # whole
                                        "course": {"course_id": f"simbench-{n}"}})
            prepared = setup(cohort, stack.api_url, stack.admin_token)  # the roster: not the run's time
            task = bar.add_task(f"live: {n} students at {cohort.speed:g}x", total=1.0)
            started = time.monotonic()
            run = asyncio.run(run_live(cohort, stack.api_url, stack.admin_token, prepared=prepared,
                                       progress=lambda f, task=task: bar.update(task, completed=f)))
            elapsed = time.monotonic() - started
            # what the same students would have done with no lag at all (offline, same seeds)
            ideal, _ = offline.simulate(cohort, range(n))
            expected = sum(1 for e in ideal if e["type"] != "heartbeat")
            results[n] = {"speed": cohort.speed, "events": run.acknowledged, "seconds": round(elapsed, 1),
                          "events_per_s": run.acknowledged / max(elapsed, 1e-9),
                          "kept_pace": run.acknowledged / max(expected, 1)}
    finally:
        stack.stop(echo=lambda *_: None)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
