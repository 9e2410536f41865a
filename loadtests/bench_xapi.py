"""xAPI ingest benchmark: statements/s through ``POST /api/xapi/statements`` next to the same
answers sent to ``POST /api/events``, in batches of 1, 50 and 500, side by side in one run
against one stack (Locust FastHttpUsers, admin credential on both paths so neither is rate limited).

    python -m loadtests.bench_xapi [--seconds 10] [--users 8] [--quick]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from loadtests.bench_edge import run_locust, seed

console = Console(width=150)
BATCHES = (1, 50, 500)
KINDS = {"events": "/api/events", "xapi": "/api/xapi/statements"}


def seeded(api: str, admin: str, students: int, attempts: int = 5) -> dict:
    """The bench class; retried, since a just-started stack on a busy machine may answer 503 at first."""
    for attempt in range(attempts):
        try:
            return seed(api, admin, students)
        except (KeyError, httpx.HTTPError):
            if attempt == attempts - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10, help="seconds per (path, batch) run")
    ap.add_argument("--users", type=int, default=8, help="concurrent Locust users")
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="a short run: 3 s each, 4 users, 50 students")
    ap.add_argument("--haproxy", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--out", type=Path, default=Path("bench-results/xapi"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.users, args.students = 3, 4, 50
    args.out.mkdir(parents=True, exist_ok=True)

    from classpulse.settings import Settings
    from classpulse.stack import Stack
    from serve.launch import free_port

    stack = Stack.start(Settings(data_dir=Path(tempfile.mkdtemp(prefix="cp-xapi-")), port=free_port(),
                                 haproxy=args.haproxy, admin_token="bench-admin-" + uuid.uuid4().hex),
                        echo=lambda *_: None)
    results: dict[tuple[str, int], dict[str, float]] = {}
    try:
        room = seeded(stack.api_url, stack.admin_token, args.students)
        env = {"CP_TOKEN": stack.admin_token, "CP_COURSE": room["course_id"], "CP_ACTIVITY": "a0",
               "CP_STUDENTS": ",".join(room["student_tokens"])}
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("xapi runs", total=len(BATCHES) * len(KINDS))
            for batch in BATCHES:
                for kind in KINDS:  # interleaved, so drift on a shared machine hits both paths alike
                    r = run_locust(stack.api_url, env | {"CP_KIND": kind, "CP_BATCH": str(batch)}, args.users,
                                   args.seconds, args.out / f"{kind}-{batch}", locustfile="xapi_locustfile.py")
                    r["items_per_s"] = r["rps"] * batch
                    results[(kind, batch)] = r
                    bar.advance(task)
        with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.admin_token}"}) as c:
            tables = c.get("/api/admin/stats").json()["tables"]
    finally:
        stack.stop(echo=lambda *_: None)

    table = Table(title=f"xAPI vs events: {args.users} Locust users, {args.seconds}s per run, one stack, one run")
    for col in ("batch", "events/s", "p50 ms", "p95 ms", "statements/s", "p50 ms", "p95 ms",
                "xAPI / events", "failures (ev / xapi)"):
        table.add_column(col, justify="right")
    for batch in BATCHES:
        ev, xa = results[("events", batch)], results[("xapi", batch)]
        table.add_row(str(batch), f"{ev['items_per_s']:,.0f}", f"{ev['p50_ms']:.0f}", f"{ev['p95_ms']:.0f}",
                      f"{xa['items_per_s']:,.0f}", f"{xa['p50_ms']:.0f}", f"{xa['p95_ms']:.0f}",
                      f"{xa['items_per_s'] / max(ev['items_per_s'], 1e-9):.2f}x",
                      f"{ev['failures']:.0f} / {xa['failures']:.0f}")
    console.print(table)
    console.print(f"rows stored: {tables['student_activity_log']:,} events in the log, "
                  f"{tables['xapi_statements']:,} xAPI statements")
    (args.out / "xapi.json").write_text(json.dumps({f"{k}|{b}": r for (k, b), r in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
