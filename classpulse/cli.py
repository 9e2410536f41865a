"""The ``classpulse`` command line (spellings fixed by docs/DESIGN: scripts and checks use them)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from classpulse.private_file import write_private
from classpulse.settings import Settings, SettingsError, from_env


def _stack_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="API port (default 8000)")
    p.add_argument("--data-dir", type=Path, help="where the DuckDB log lives (default ./classpulse-data)")
    p.add_argument("--address", help="join an existing Ray cluster (also RAY_ADDRESS)")
    p.add_argument("--shards", type=int, help="StudentShard actors (default 4)")
    p.add_argument("--hubs", type=int, help="CourseHub actors (default 2)")
    p.add_argument("--replicas", type=int, dest="api_replicas", help="Serve replicas of the API")
    p.add_argument("--autoscale-max", type=int, dest="autoscale_max_replicas",
                   help="let Serve autoscale the API up to this many replicas")
    p.add_argument("--haproxy", choices=["auto", "on", "off"], help="Serve ingress mode (default auto)")


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("host", "port", "data_dir", "address", "shards", "hubs", "api_replicas", "haproxy",
            "autoscale_max_replicas")
    return from_env().with_overrides(**{k: getattr(args, k, None) for k in keys})


def cmd_serve(args: argparse.Namespace) -> int:
    from classpulse.stack import Stack, wait_for_signal
    stack = Stack.start(_settings(args))
    print(f"classpulse API: {stack.api_url}   docs: {stack.api_url}/docs")
    if stack.admin_token_file:
        print(f"Admin token file: {stack.admin_token_file}")
    print("Ctrl-C stops everything.", flush=True)
    try:
        wait_for_signal()
    finally:
        stack.stop()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from classpulse import dashboard_process
    from classpulse.stack import local_url, refuse_busy_port, wait_for_signal
    settings = from_env().with_overrides(dashboard_port=args.port, dashboard_host=args.host)
    host, port = settings.dashboard_host, settings.dashboard_port
    refuse_busy_port(host, port, "the dashboard", "another with --port (or CLASSPULSE_DASHBOARD_PORT)")
    proc = dashboard_process.start(args.api, port, args.token_file, host=host)
    print(f"classpulse dashboard: {local_url(host, port)}  (listening on {host}; API {args.api})", flush=True)
    try:
        wait_for_signal()
    finally:
        _end(proc, 10)
    return 0


def _end(proc: subprocess.Popen, wait_s: float) -> None:
    """Terminate a child we started; kill it if it is slow to go."""
    proc.terminate()
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def demo_course_id(now: datetime | None = None) -> str:
    """Each demo run's own course (``demo-20260105-093000``): the log keeps every run, and a class
    rebuilt from an earlier run's events started with students already done or idle."""
    return f"demo-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import dataclasses
    import threading

    from classpulse import dashboard_process
    from classpulse.stack import Stack, StackError, refuse_busy_port, sigterm_interrupts, wait_for_signal
    from simulator import cohort as cohorts
    from simulator.live import run_live, setup
    settings = _settings(args).with_overrides(dashboard_port=args.dashboard_port)
    if args.students < 1 or args.speed <= 0 or args.minutes <= 0:
        raise StackError("--students, --speed and --minutes must be positive")
    # the dashboard's port is checked first: a busy one used to be found only after the whole stack
    # was up (and another demo's dashboard answered the health check for ours)
    refuse_busy_port("127.0.0.1", settings.dashboard_port, "the dashboard",
                     "another with --dashboard-port (or CLASSPULSE_DASHBOARD_PORT)")
    stack = Stack.start(settings)
    cohort = dataclasses.replace(cohorts.default(students=args.students, speed=args.speed, minutes=args.minutes),
                                 course_id=demo_course_id(), title="Demo class")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    simulation = dashboard = None
    try:
        with sigterm_interrupts():  # until the wait below: SIGTERM unwinds through the cleanup too
            prepared = setup(cohort, stack.api_url, stack.admin_token)
            run = prepared[0]
            token_file = settings.data_dir / "demo-professor.token"
            write_private(token_file, run.professor_token + "\n")
            simulation = threading.Thread(target=loop.run_until_complete, daemon=True, name="demo-cohort",
                                          args=(run_live(cohort, stack.api_url, stack.admin_token,
                                                         prepared=prepared, stop=stop),))
            simulation.start()
            dashboard = dashboard_process.start(stack.api_url, settings.dashboard_port, token_file)
        _print_demo(stack, settings, cohort, run)
        wait_for_signal()
    finally:
        try:
            if simulation is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed: the run ended
                    loop.call_soon_threadsafe(stop.set)
                simulation.join(timeout=5)
            if dashboard is not None:
                _end(dashboard, 5)
        finally:
            stack.stop()
    return 0


def _print_demo(stack, settings: Settings, cohort, run) -> None:
    print()
    print("classpulse demo is running")
    print(f"  Dashboard:       http://127.0.0.1:{settings.dashboard_port}   (signed in as the demo professor)")
    print(f"  API:             {stack.api_url}   (OpenAPI docs: {stack.api_url}/docs)")
    print(f"  Class:           {cohort.course_id}: {cohort.students} simulated students at {cohort.speed:g}x, "
          f"{cohort.minutes:g} simulated minutes; they react to your interventions")
    print(f"  Professor token: {run.professor_token}")
    if stack.admin_token_file:
        print(f"  Admin token in:  {stack.admin_token_file}")
    print(f"  Try: curl -H 'Authorization: Bearer {run.professor_token}' "
          f"{stack.api_url}/api/professor/courses/{cohort.course_id}/live-progress")
    print("Ctrl-C stops everything.", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classpulse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="start Ray, the actors and the API")
    _stack_flags(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo", help="serve + a seeded demo class with live traffic")
    _stack_flags(p)
    p.add_argument("--students", type=int, default=120, help="students in the demo class (default 120)")
    # 10x: a 240-minute class lasts ~25 minutes, and a struggling student stays so for about a
    # minute, time for a professor to notice and help (at 60x the class was over in ~3 minutes)
    p.add_argument("--speed", type=float, default=10.0, help="time acceleration of the demo class (default 10x)")
    p.add_argument("--minutes", type=int, default=240, help="simulated minutes the demo class runs (whole)")
    p.add_argument("--dashboard-port", type=int,
                   help="the dashboard's port (default 8501; also CLASSPULSE_DASHBOARD_PORT)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("dashboard", help="the professor's Streamlit dashboard (a client of the API)")
    p.add_argument("--api", default="http://127.0.0.1:8000", help="classpulse API URL")
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface, "
                                  "best behind a TLS reverse proxy; also CLASSPULSE_DASHBOARD_HOST)")
    p.add_argument("--port", type=int, help="dashboard port (default 8501; also CLASSPULSE_DASHBOARD_PORT)")
    p.add_argument("--token-file", type=Path, help="sign in with the professor token in this file")
    p.set_defaults(func=cmd_dashboard)
    from classpulse import loadtest_cmd, model_cmd, report_cmd, simulate_cmd
    simulate_cmd.add_parsers(sub)
    loadtest_cmd.add_parser(sub)
    model_cmd.add_parser(sub)
    report_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from classpulse.stack import StackError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, StackError) as exc:  # a bad setting, a data dir or port in use: say so
        parser.exit(2, f"classpulse: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
