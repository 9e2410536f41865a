"""Commit benchmark: CPU and wall time per ``Store.append`` (the log's insert, no Ray) by commit
size, with the log's DuckDB on one worker thread and on DuckDB's default (one per core), the two
alternated in one run. ``make bench`` runs it; the EventLog uses ``CLASSPULSE_LOG_DB_THREADS``
(default 1: docs/architecture.md, "DuckDB's threads").

    python -m loadtests.bench_commit [--rounds 2] [--sizes 1,10,100,1000,4000] [--threads 1 0]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from engine.event_arrow import ArrowBatch, to_arrow
from engine.store import Store
from loadtests.bench_ingest import make_events

console = Console(width=150)
EVENTS_PER_SIZE = 60_000  # events committed per measurement, in at most ``--commits`` commits


def commits(size: int, count: int, seed: int) -> list[ArrowBatch]:
    """``count`` wire batches of ``size`` events each (fewer for big sizes: EVENTS_PER_SIZE events
    in all), seqs assigned, as the group committer hands them on."""
    students = [f"bs{i:05d}" for i in range(1000)]
    n = min(EVENTS_PER_SIZE, count * size)
    events = make_events(n, students, "bench-course", seed=seed)
    return [ArrowBatch(to_arrow(events[i:i + size])).with_seq(i + 1) for i in range(0, n, size)]


def one(path: Path, threads: int, batches: list[ArrowBatch]) -> tuple[float, float]:
    """(CPU ms, wall ms) per commit of ``batches`` into a fresh file."""
    store = Store(path, threads)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in batches:
            store.append(batch)
        return (1000 * (time.process_time() - cpu) / len(batches),
                1000 * (time.perf_counter() - wall) / len(batches))
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sizes", default="1,10,100,1000,4000", help="events per commit (comma list)")
    ap.add_argument("--commits", type=int, default=2000, help="commits per measurement (at most)")
    ap.add_argument("--threads", type=int, nargs=2, default=[1, 0],
                    help="the two DuckDB thread counts compared (0: DuckDB's default, one per core)")
    ap.add_argument("--out", type=Path, default=Path("bench-results/commit.json"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    names = {t: f"{t} thread{'s' if t != 1 else ''}" if t else f"default ({os.cpu_count()})" for t in args.threads}
    results: dict[int, dict[int, list[tuple[float, float]]]] = {s: {t: [] for t in args.threads} for s in sizes}
    work = Path(tempfile.mkdtemp(prefix="cp-commit-"))
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("commits", total=len(sizes) * args.rounds * 2)
            for size in sizes:
                batches = commits(size, args.commits, seed=size)
                for r in range(args.rounds):
                    for threads in (args.threads if r % 2 == 0 else args.threads[::-1]):
                        results[size][threads].append(one(work / f"{size}-{r}-{threads}.duckdb", threads, batches))
                        bar.advance(task)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    a, b = args.threads
    table = Table(title=f"Store.append per commit: CPU (wall) ms, {args.rounds} alternated rounds, median; "
                        f"DuckDB {names[a]} vs {names[b]}")
    table.add_column("events per commit", justify="right")
    table.add_column(names[a], justify="right")
    table.add_column(names[b], justify="right")
    table.add_column(f"CPU, {names[a]} / {names[b]}", justify="right")
    table.add_column(f"CPU us per event, {names[a]} / {names[b]}", justify="right")
    out = {}
    for size in sizes:
        med = {t: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
               for t, v in results[size].items()}
        table.add_row(f"{size:,}", f"{med[a][0]:.2f} ({med[a][1]:.2f})", f"{med[b][0]:.2f} ({med[b][1]:.2f})",
                      f"{med[a][0] / med[b][0]:.2f}",
                      f"{1000 * med[a][0] / size:.2f} / {1000 * med[b][0] / size:.2f}")
        out[size] = {names[t]: {"cpu_ms": m[0], "wall_ms": m[1], "rounds": results[size][t]} for t, m in med.items()}
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    console.print(f"results in {args.out} (a quiet machine only: other work shows up as CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
