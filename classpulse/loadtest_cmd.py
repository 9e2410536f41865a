"""``classpulse loadtest``: Locust headless against a stack, with SLO gates.

Gates (exit code 1 when one fails): p95 event -> professor <= 1 s in steady state (from 5 s after
the last student's first send until the run began to stop, both as the users recorded them; the
figure from the last user spawned, warm-up included, is printed beside it), zero failed requests,
zero events never acknowledged (refused after retries, never answered, or their task ended before
the run began to stop: one in flight when Locust stops its user is counted apart), zero lost events
(events acknowledged == the course's events in the log). Locust's CSV files and HTML report are
saved in ``--out``.
"""
from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from classpulse.private_file import write_private

console = Console(width=120)
LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadtests" / "locustfile.py"
LOCUST_NICENESS = 15  # Ray's default worker niceness (RAY_worker_niceness)
EVENT_EVERY_S = 10.0  # a busy class: our simulator's students average one event every ~27 s
SETTLE_S = 5.0  # steady state starts this long after the last student's first send
SPAWN_PER_S = 100  # users Locust starts a second


def add_parser(sub) -> None:
    p = sub.add_parser("loadtest", help="Locust load test with SLO gates (starts a stack unless --host)")
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--duration", default="60s", help="whole seconds, as Locust reads it: 90, 90s, 2m, 1h30m")
    p.add_argument("--host", help="target an existing stack (needs --token-file with an admin token)")
    p.add_argument("--token-file", type=Path)
    p.add_argument("--event-every", type=float, default=EVENT_EVERY_S,
                   help="seconds between a student's events (default: a busy class; see docs/ops-guide.md)")
    p.add_argument("--processes", type=int, default=0,
                   help="Locust processes (default: one per 250 students, so the load generator is not "
                        "what is measured)")
    p.add_argument("--p95-ms", type=float, default=1000.0, help="gate: p95 event -> professor")
    p.add_argument("--out", type=Path, default=Path("loadtest-results"))
    p.add_argument("--chaos", action="store_true",
                   help="fault drill: kill a shard, a hub, the event log and the Serve replica under load "
                        "(starts its own stack)")
    p.add_argument("--restart", action="store_true",
                   help="with --chaos: also restart the whole stack under load (see docs/ops-guide.md)")
    p.set_defaults(func=cmd_loadtest)


def cmd_loadtest(args: argparse.Namespace) -> int:
    try:  # checked before any stack starts, by Locust's own parser (ours let 1.5m through, refused 1h30m)
        seconds = _seconds(args.duration)
    except ValueError:
        console.print(f"[red]--duration {args.duration!r}: give whole seconds, minutes or hours as Locust reads "
                      f"them, e.g. 90, 90s, 2m, 1h30m[/red]")
        return 2
    if args.students < 1 or seconds <= 0 or args.event_every <= 0:
        console.print("[red]--students, --duration and --event-every must be positive[/red]")
        return 2
    if args.chaos:
        if args.host:
            console.print("[red]--chaos starts its own stack (it kills its actors); drop --host[/red]")
            return 2
        from classpulse import chaos
        return chaos.run(args.students, seconds, args.event_every, args.out, args.restart)
    stack = None
    if args.host:
        if not args.token_file:
            console.print("[red]--host needs --token-file (an admin token)[/red]")
            return 2
        host, admin = args.host.rstrip("/"), args.token_file.read_text().strip()
    else:
        from classpulse.settings import from_env
        from classpulse.stack import Stack
        from serve.launch import free_port
        settings = from_env().with_overrides(data_dir=Path(tempfile.mkdtemp(prefix="cp-load-")), port=free_port())
        stack = Stack.start(settings, echo=lambda m: console.print(m))
        host, admin = stack.api_url, stack.admin_token
    try:
        return _run(args, host, admin)
    finally:
        if stack is None:  # a live stack keeps its log: take the load class's students and tokens out of it
            remove_class(host, admin, args.out / "class.json")
        else:
            (args.out / "class.json").unlink(missing_ok=True)  # tokens of a stack about to go
            stack.stop(echo=lambda m: console.print(m))
            shutil.rmtree(stack.settings.data_dir, ignore_errors=True)  # our own temporary log


def run_locust(host: str, admin: str, students: int, duration: str, event_every: float, out: Path,
               on_started=None, processes: int = 0) -> dict | None:
    """One headless Locust run; returns its figures (None if Locust did not finish).

    The class (a professor, a course, ``students`` students) is created here first, so that any
    number of Locust processes share one roster. ``on_started(pid)`` is called once Locust runs
    (the capacity bench samples CPU beside it). ``processes``: 0 = one per 250 students.
    The figures name their steady window (``steady_from``, ``steady_to``: epoch s) so that what
    is measured beside the run can be taken over the same seconds."""
    out.mkdir(parents=True, exist_ok=True)
    parts = out / "parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    result_file = out / "result.json"
    result_file.unlink(missing_ok=True)
    class_file = out / "class.json"
    load_class = create_class(host, admin, students)
    write_private(class_file, json.dumps(load_class))  # tokens
    processes = processes or max(1, -(-students // 250))
    env = dict(os.environ, CP_CLASS=str(class_file), CP_EVENT_EVERY_S=str(event_every), CP_RESULT_DIR=str(parts))
    seconds = _seconds(duration)
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(students + 1),
           "-r", str(min(students, SPAWN_PER_S)), "-t", f"{seconds}s", "--host", host,
           "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--only-summary",
           # a user still retrying when the run ends finishes its event (committed by an attempt
           # whose answer was lost, it then counts as acknowledged, as it is stored)
           "--stop-timeout", "15", "--loglevel", "WARNING",
           "--reset-stats"]  # Locust's figures from when every user runs (not the ramp)
    if processes > 1:
        cmd += ["--processes", str(processes)]
    with open(out / "locust.log", "w") as log_file:
        # Ray runs its workers at niceness 15; a load generator at 0 on the same cores would
        # outrank the system it measures, so Locust gets the same niceness.
        proc = subprocess.Popen(["nice", "-n", str(LOCUST_NICENESS), *cmd], env=env, stdout=log_file,
                                stderr=subprocess.STDOUT)  # nice execs Locust: the pid is Locust's
        if on_started is not None:
            on_started(proc.pid)
        proc.wait()
    # with --processes the workers write their results as they quit, which can be just after the
    # master has exited: wait for one file per process (the master writes one too)
    expected = processes + 1 if processes > 1 else 1
    deadline = time.monotonic() + 15
    while len(list(parts.glob("result-*.json"))) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    result = _merge_parts(parts)
    if result is None:
        return None
    result_file.write_text(json.dumps(result))
    with open(out / "locust_stats.csv") as f:
        stats = {r["Name"]: r for r in csv.DictReader(f)}
    stored = _stored(host, admin, result["course_id"], result["acknowledged"])
    return _figures(students, result, stats, stored)


def steady_window(result: dict) -> tuple[float, float]:
    """The steady state, from the users' own stamps: ``SETTLE_S`` after the last student's first
    send until the run began to stop (then users only finish the event in hand and every student
    disconnects at once: the harness, not a class). Empty (start after end) if nobody sent.

    It was estimated from when Locust was launched (launch + ramp + one pacing interval + 5 s), so
    Locust's own start-up, and its workers', ate into the 5 s meant for settling."""
    end = result["stopping_at"]
    return max(result["first_sent"].values(), default=end) + SETTLE_S, end


def _figures(students: int, result: dict, stats: dict[str, dict], stored: int) -> dict:
    """A run's figures from the merged result files, Locust's stats rows (by name) and the count in the log."""
    start, end = steady_window(result)
    latency = stats.get("event->professor", {})
    agg = stats.get("Aggregated", {})
    steady = sorted(ms for at, ms in result["samples"] if start <= at <= end)
    return {"students": students, "acknowledged": result["acknowledged"], "rejected": result["rejected"],
            "rejected_why": result["rejected_why"], "cut_off": result["cut_off"],
            "stored": stored,
            # by count (the API has no list of a course's ids; `classpulse chaos` compares ids): an event
            # committed whose answer never came (its user stopped first) is stored, not acknowledged, and
            # is counted apart instead of making "lost" negative and failing its gate
            "lost": max(result["acknowledged"] - stored, 0) if stored >= 0 else result["acknowledged"],
            "stored_not_acknowledged": max(stored - result["acknowledged"], 0),
            "steady_from": start, "steady_to": end, "steady_s": max(end - start, 0.0),
            "steady_samples": len(steady), "p50_ms": _pct(steady, 0.50), "p95_ms": _pct(steady, 0.95),
            "p99_ms": _pct(steady, 0.99), "run_p50_ms": _num(latency.get("50%")),
            "run_p95_ms": _num(latency.get("95%")), "run_p99_ms": _num(latency.get("99%")),
            # Locust's count: every endpoint and every attempt (a retried 5xx is marked a success)
            "requests_per_s": _num(agg.get("Requests/s")) or 0.0,
            # event ids acknowledged (202) inside the steady window, each once, over its length
            "events_per_s": rate_within(result["acked_at"], start, end),
            "failures": int(_num(agg.get("Failure Count")) or 0), "course_id": result["course_id"]}


def rate_within(stamps: list[float], start: float, end: float) -> float:
    """Stamps in [start, end] per second of it; NaN for an empty window."""
    if end <= start:
        return float("nan")
    return sum(start <= t <= end for t in stamps) / (end - start)


def create_class(host: str, admin: str, students: int) -> dict:
    """A fresh course with ``students`` enrolled students: ids and tokens for the Locust users."""
    course = f"load-{uuid.uuid4().hex[:6]}"
    activities = ["a1", "a2", "a3", "a4"]
    with httpx.Client(base_url=host, headers={"Authorization": f"Bearer {admin}"}, timeout=120) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": f"{course}-prof", "name": "Load"})
        prof.raise_for_status()
        c.post("/api/admin/courses", json={
            "course_id": course, "professor_id": f"{course}-prof", "title": "Load", "clock": "live",
            "activities": [{"activity_id": a, "title": a, "expected_minutes": 10} for a in activities],
        }).raise_for_status()
        roster = c.post(f"/api/admin/courses/{course}/students", json={
            "students": [{"student_id": f"{course}-s{i}", "name": f"S{i}"} for i in range(students)]})
        roster.raise_for_status()
    return {"course_id": course, "activities": activities, "professor": [f"{course}-prof", prof.json()["token"]],
            "students": [[s["student_id"], s["token"]] for s in roster.json()["students"]]}


def remove_class(host: str, admin: str, class_file: Path, echo=console.print) -> None:
    """After a load test on a live stack: erase the load students (events, tokens, every row with
    their id, as ``DELETE /api/admin/students/{id}`` does), rotate the load professor's token to one
    nobody holds, and delete ``class.json`` (it held every token). What stays: the course and professor
    rows, and the erased events' ids as hashes (docs/ops-guide.md, "Load test")."""
    try:
        load_class = json.loads(class_file.read_text())
    except (OSError, ValueError):
        return  # the run stopped before the class was created
    course, erased, failed, started = load_class["course_id"], 0, [], time.monotonic()
    echo(f"Erasing the {len(load_class['students'])} load students of {course} from the log")
    try:
        with httpx.Client(base_url=host, headers={"Authorization": f"Bearer {admin}"}, timeout=120) as c:
            for student_id, _token in load_class["students"]:
                r = _erase(c, student_id)
                if r.status_code in (200, 404):  # 404: erased already (a repeated clean-up)
                    erased += 1
                else:
                    failed.append(f"{student_id}: {r.status_code} {r.text[:200]}")
            professor_id = load_class["professor"][0]
            c.post("/api/admin/professors", json={"professor_id": professor_id, "name": "Load (retired)",
                                                  "rotate_token": True}).raise_for_status()
    except httpx.HTTPError as exc:
        echo(f"[red]Could not finish erasing the load class ({exc}); {class_file} is kept to retry[/red]")
        return
    if failed:
        echo(f"[red]{len(failed)} load students were not erased ({'; '.join(failed[:3])}); {class_file} is kept[/red]")
        return
    class_file.unlink(missing_ok=True)
    echo(f"Erased {erased} load students in {time.monotonic() - started:.0f}s; course {course} remains, empty")


def _erase(client: httpx.Client, student_id: str, attempts: int = 4) -> httpx.Response:
    """``DELETE`` one load student, again after a 429, a 5xx or a dropped connection (the stack still
    busy with the run's tail; an erasure repeated answers 404, counted as erased)."""
    path = f"/api/admin/students/{student_id}"
    for _ in range(attempts - 1):
        try:
            r = client.delete(path)
        except httpx.TransportError:
            time.sleep(1.0)
            continue
        if r.status_code != 429 and r.status_code < 500:
            return r
        time.sleep(min(float(r.headers.get("Retry-After") or 1), 5.0))
    return client.delete(path)  # the last attempt: its answer, or its error, stands


def _merge_parts(parts: Path) -> dict | None:
    """Add up the result files of the Locust processes (None if none wrote one)."""
    files = sorted(parts.glob("result-*.json"))
    if not files:
        return None
    merged: dict = {"acknowledged": 0, "rejected": 0, "rejected_why": {}, "cut_off": 0, "retries": 0, "reconnects": 0,
                    "samples": [], "acked_ids": [], "acked_at": [], "sent": [], "first_sent": {}}
    stops = []
    for f in files:
        part = json.loads(f.read_text())
        merged["course_id"] = part["course_id"]
        for key in ("acknowledged", "rejected", "cut_off", "retries", "reconnects"):
            merged[key] += part[key]
        for key in ("samples", "acked_ids", "acked_at", "sent"):
            merged[key] += part[key]
        merged["first_sent"].update(part["first_sent"])  # each student in one process
        for why, n in part["rejected_why"].items():
            merged["rejected_why"][why] = merged["rejected_why"].get(why, 0) + n
        stops.append(part["stopping_at"])
    merged["stopping_at"] = min(stops)  # the master's, told first; its workers follow
    return merged


def _pct(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted samples (nearest rank: the ceil(q*n)-th); NaN when there are none."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _seconds(duration: str) -> int:
    """'60s', '2m', '90', '1h30m' -> whole seconds; ValueError for what Locust's ``-t`` refuses."""
    return _locust_timespan()(duration.strip())


@functools.cache
def _locust_timespan():
    """Locust's own ``-t`` parser (``locust/util/timespan.py``, plain ``re``), loaded by file: importing
    the ``locust`` package monkey-patches this whole process with gevent."""
    spec = importlib.util.find_spec("locust")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Locust is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "util" / "timespan.py"
    module_spec = importlib.util.spec_from_file_location("_classpulse_locust_timespan", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.parse_timespan


def _num(raw) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return float("nan")


def _run(args: argparse.Namespace, host: str, admin: str) -> int:
    console.print(f"Locust: {args.students} students + 1 professor for {args.duration} against {host}")
    figures = run_locust(host, admin, args.students, args.duration, args.event_every, args.out,
                         processes=args.processes)
    if figures is None:
        console.print(f"[red]Locust did not finish; see {args.out / 'locust.log'}[/red]")
        return 1
    p95 = figures["p95_ms"]
    gates = [("p95 event -> professor (steady state)", f"{p95:.0f} ms", p95 <= args.p95_ms),
             ("failed requests (after the ramp: Locust resets its counts)", str(figures["failures"]),
              figures["failures"] == 0),
             # counted by the locustfile for the whole run, ramp included
             ("events never acknowledged (whole run)", str(figures["rejected"]), figures["rejected"] == 0),
             ("lost events (acknowledged - in the log)", str(figures["lost"]), figures["lost"] == 0)]
    table = Table(title="loadtest")
    for col in ("measure", "value", "gate"):
        table.add_column(col)
    table.add_row("requests/s (Locust: every endpoint and retry, from the last user spawned)",
                  f"{figures['requests_per_s']:.0f}", "")
    table.add_row("events acknowledged (whole run)", str(figures["acknowledged"]), "")
    table.add_row("events in flight when Locust stopped their user (the run's end)", str(figures["cut_off"]), "")
    table.add_row("events stored but never acknowledged (their user stopped first)",
                  str(figures["stored_not_acknowledged"]), "")
    table.add_row("events/s acknowledged (steady state)",
                  f"{figures['events_per_s']:.1f} over {figures['steady_s']:.0f} s", "")
    table.add_row("p50 / p99 event -> professor (steady state)",
                  f"{figures['p50_ms']:.0f} / {figures['p99_ms']:.0f} ms ({figures['steady_samples']} samples)", "")
    table.add_row("p50 / p95 / p99 from the last user spawned (Locust, warm-up included)",
                  f"{figures['run_p50_ms']:.0f} / {figures['run_p95_ms']:.0f} / {figures['run_p99_ms']:.0f} ms", "")
    for name, value, ok in gates:
        table.add_row(name, value, "[green]pass[/green]" if ok else "[red]FAIL[/red]")
    for why, n in sorted(figures["rejected_why"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"  never acknowledged because: {why}", str(n), "")
    console.print(table)
    console.print(f"Locust CSV and HTML report in {args.out}")
    return 0 if all(ok for *_, ok in gates) else 1


def _stored(host: str, admin: str, course_id: str, expected: int, settle_s: float = 10.0) -> int:
    """The course's events in the log (learning events, as the heatmap counts them)."""
    deadline = time.monotonic() + settle_s
    stored = -1
    with httpx.Client(base_url=host, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        while time.monotonic() < deadline:
            r = client.get(f"/api/professor/courses/{course_id}/analytics/real-time")
            stored = sum(c["events"] for c in r.json()["heatmap"]["by_weekday_hour"]) if r.status_code == 200 else -1
            if stored >= expected:
                break
            time.sleep(0.5)
    return stored
