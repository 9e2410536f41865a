"""``classpulse simulate`` and ``classpulse import``: cohorts for researchers."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from classpulse.health import wait_until_healthy
from classpulse.private_file import write_private

console = Console()


def add_parsers(sub) -> None:
    p = sub.add_parser("simulate", help="run a simulated cohort (offline to Parquet, or live against the API)")
    p.add_argument("--students", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--cohort", help="a cohort TOML file, or the name of a shipped one (default, intro-programming, "
                                    "late-and-guessing, struggling-heavy)")
    p.add_argument("--speed", type=float, help="time acceleration (60 = an hour in a minute)")
    p.add_argument("--minutes", type=int, help="simulated session length (whole minutes)")
    p.add_argument("--offline", action="store_true", help="no server: write Parquet to --out")
    p.add_argument("--out", type=Path, help="output folder (offline)")
    p.add_argument("--workers", type=int, default=-1,
                   help="offline: Ray tasks (0 = one process; default: Ray for 5,000+ students)")
    p.add_argument("--api", help="live: the classpulse API URL")
    p.add_argument("--token-file", type=Path, help="live: a file holding an admin token")
    p.add_argument("--wait", type=float, default=120.0,
                   help="live: seconds to wait for the API to be healthy and the token file to exist "
                        "(a `classpulse serve` just started; default 120)")
    p.add_argument("--evaluate", action="store_true", help="live: compare detections with ground truth")
    p.add_argument("--report", type=Path,
                   help="live: where to write the run's JSON (and evaluation); written at the start too, "
                        "with the professor token to open the dashboard on the run (mode 0600)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("import", help="bulk-load a cohort's Parquet through the API")
    p.add_argument("folder", type=Path)
    p.add_argument("--api", required=True)
    p.add_argument("--token-file", type=Path, required=True)
    p.set_defaults(func=cmd_import)


def _cohort(args):
    from simulator import cohort as cohorts
    overrides = {"students": args.students, "seed": args.seed, "speed": args.speed, "minutes": args.minutes}
    try:
        if args.cohort and args.cohort != "default":  # "default": the built-in class, as `model train` reads it
            return cohorts.load(args.cohort, **overrides)
        return cohorts.default(**{k: v for k, v in overrides.items() if v is not None})
    except cohorts.CohortError as exc:  # a missing or unreadable file included: no traceback
        print(f"classpulse: error: cohort {exc}", file=sys.stderr)
        sys.exit(2)


def cmd_simulate(args: argparse.Namespace) -> int:
    cohort = _cohort(args)
    if args.offline:
        if not args.out:
            console.print("[red]--offline needs --out DIR[/red]")
            return 2
        return _offline(cohort, args)
    if not (args.api and args.token_file):
        console.print("[red]give --offline --out DIR, or --api URL --token-file F[/red]")
        return 2
    return _live(cohort, args)


def _offline(cohort, args) -> int:
    from simulator import offline
    workers = args.workers if args.workers >= 0 else (2 if cohort.students >= 5000 else 0)
    if workers:
        import ray
        ray.init(address="local", include_dashboard=False, logging_level="warning", log_to_driver=False)
    with Progress(console=console) as bar:
        task = bar.add_task(f"simulating {cohort.students:,} students", total=None)
        manifest = offline.run(cohort, args.out, workers=workers,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print_json(json.dumps(manifest))
    return 0


def _live(cohort, args) -> int:
    from simulator import evaluate
    from simulator.live import run_live, setup
    try:
        token = wait_for_api(args.api, args.token_file, args.wait)
    except (RuntimeError, OSError) as exc:
        print(f"classpulse: error: {exc}", file=sys.stderr)
        return 2
    prepared = setup(cohort, args.api, token)
    professor = {"course_id": cohort.course_id, "professor_id": prepared[0].professor_id,
                 "professor_token": prepared[0].professor_token}
    if args.report:  # now, so the dashboard can be opened while the run goes on
        write_private(args.report, json.dumps(professor | {"state": "running"}, indent=2))
        console.print(f"professor token for the dashboard: {args.report} (professor_token)")
    with Progress(console=console) as bar:
        task = bar.add_task(f"{cohort.students} students live at {cohort.speed:g}x", total=1.0)
        run = asyncio.run(run_live(cohort, args.api, token, evaluate=args.evaluate, prepared=prepared,
                                   progress=lambda f: bar.update(task, completed=f)))
    summary = {"course_id": cohort.course_id, "professor_id": run.professor_id,
               "events_acknowledged": run.acknowledged, "duplicates": run.duplicates,
               "frames_resent": run.resent_frames, "events_unconfirmed": len(run.unconfirmed),
               "interventions_received": run.interventions_received,
               "loop_behind_max_min": round(run.behind_max_min, 2)}
    if run.behind_max_min > 1:
        console.print(f"[yellow]warning: the simulation fell {run.behind_max_min:.1f} simulated minutes behind "
                      f"(a slow API or a busy machine); a lower --speed keeps up[/yellow]")
    if args.evaluate:
        summary["minutes_not_evaluated"] = run.minutes_not_evaluated
        summary["evaluation"] = evaluate.evaluate(run.truth, run.detected)
        table = Table(title="detections vs ground truth (per student-minute)")
        for col in ("condition", "true samples", "precision", "recall", "F1", "episodes found", "median delay (min)"):
            table.add_column(col)
        for row in evaluate.table(summary["evaluation"]):
            table.add_row(*row)
        console.print(table)
    console.print_json(json.dumps({k: v for k, v in summary.items() if k != "evaluation"}))
    if args.report:
        write_private(args.report, json.dumps(professor | summary | {"state": "finished",
                                                                      "truth_rows": len(run.truth)}, indent=2))
    return 0


def wait_for_api(api: str, token_file: Path, timeout: float) -> str:
    """The admin token, once the API at ``api`` is healthy and ``token_file`` exists: a stack started
    just before (``classpulse serve ... &``) writes the file and answers 503 until its actors are up."""
    deadline = time.monotonic() + timeout
    wait_until_healthy(f"{api.rstrip('/')}/api/health", timeout, what="API")
    while not token_file.exists():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the token file {token_file} did not appear within {timeout:.0f}s "
                               f"(is it the data dir's admin.token of the stack at {api}?)")
        time.sleep(0.3)
    token = token_file.read_text().strip()
    if not token:
        raise RuntimeError(f"the token file {token_file} is empty")
    return token


def cmd_import(args: argparse.Namespace) -> int:
    import httpx
    cohort = json.loads((args.folder / "cohort.json").read_text())
    from simulator.offline import START_EPOCH, read_events
    from simulator.student import iso
    events = read_events(args.folder).sort(["ts", "student_id", "event_id"])
    token = args.token_file.read_text().strip()
    course_id = cohort["course_id"]
    students = sorted(events["student_id"].unique().to_list())
    with httpx.Client(base_url=args.api, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": f"{course_id}-prof", "name": "Imported",
                                                     "rotate_token": True}).raise_for_status().json()
        c.post("/api/admin/courses", json={"course_id": course_id, "professor_id": f"{course_id}-prof",
                                           "title": cohort["title"], "clock": "event",
                                           "activities": [{"activity_id": a["activity_id"], "title": a["title"],
                                                           "expected_minutes": a["expected_minutes"]}
                                                          for a in cohort["activities"]],
                                           "starts_at": iso(START_EPOCH),  # the offline session's window
                                           "ends_at": iso(START_EPOCH + 60 * cohort["minutes"])}
               ).raise_for_status()
        for i in range(0, len(students), 1000):
            c.post(f"/api/admin/courses/{course_id}/students", json={
                "students": [{"student_id": s, "name": s} for s in students[i:i + 1000]]}).raise_for_status()
        accepted = duplicates = 0
        with Progress(console=console) as bar:
            task = bar.add_task(f"importing {events.height:,} events", total=events.height)
            for batch in events.iter_slices(1000):
                rows = [{k: v for k, v in r.items() if v is not None} for r in batch.to_dicts()]
                ack = c.post("/api/events", json={"events": rows}).raise_for_status().json()
                accepted, duplicates = accepted + ack["accepted"], duplicates + ack["duplicates"]
                bar.advance(task, batch.height)
    console.print_json(json.dumps({"course_id": course_id, "accepted": accepted, "duplicates": duplicates,
                                   "professor_token": prof["token"]}))
    return 0
