"""``classpulse loadtest --chaos``: a fault drill under real Locust load.

Starts its own stack (the drill kills its actors and processes), runs the loadtest's Locust
students and professor, and while they run kills, in turn, a StudentShard, a CourseHub, the
EventLog actor and the Serve replica's process; with ``--restart`` it then restarts the whole stack
on its data directory and port (give it ``--duration 150s`` or more). Clients behave like real ones: they retry the
same batch (same event ids) on 5xx or no answer, and reconnect their sockets (the professor
resumes with ``after_seq``). Gates, exit code 1 when one fails:

- zero lost events: every event id acknowledged to a client is in the log;
- zero duplicates: no event id is stored twice (a retry of a batch committed by an attempt whose
  answer was lost is acknowledged as a duplicate; events still in flight when the run ends may be
  stored without their client having heard: counted and printed, not an error);
- zero requests failed after the client's retries;
- derived state equals a replay of the log (``Runtime.verify_against_log``).

Recovery time of each fault (until the killed part answers again, and until the API is healthy)
is printed and saved in ``chaos.json``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import ray
from rich.console import Console
from rich.table import Table

from classpulse.loadtest_cmd import run_locust

console = Console(width=120)


def run(students: int, duration_s: float, event_every: float, out: Path, restart: bool = False) -> int:
    from classpulse.settings import from_env
    from classpulse.stack import Stack
    from serve.launch import free_port
    settings = from_env().with_overrides(data_dir=Path(tempfile.mkdtemp(prefix="cp-chaos-")), port=free_port(),
                                         snapshot_interval_s=5.0)
    os.environ.setdefault("CP_RETRIES", "60")  # clients keep retrying through a whole-stack restart
    box = {"stack": Stack.start(settings, echo=lambda m: console.print(m))}
    try:
        return _drill(box, students, duration_s, event_every, out, restart)
    finally:
        box["stack"].stop(echo=lambda m: console.print(m))
        shutil.rmtree(settings.data_dir, ignore_errors=True)  # our own temporary log


def _drill(box: dict[str, Any], students: int, duration_s: float, event_every: float, out: Path,
           with_restart: bool) -> int:
    stack = box["stack"]
    handles = stack.runtime.handles

    def restart() -> None:
        """Stop everything (the log flushed and closed), start again on the same data and port."""
        from classpulse.stack import Stack
        settings = box["stack"].settings
        box["stack"].stop(echo=lambda m: console.print(m))
        box["stack"] = Stack.start(settings, echo=lambda m: console.print(m))

    faults: list[tuple[str, Callable[[], None], Callable[[], Any]]] = [
        ("StudentShard 0", *_actor_fault(handles.shard(0), "status")),
        ("CourseHub 0", *_actor_fault(handles.hub(0), "status")),
        ("EventLog", *_actor_fault(handles.log, "ready")),
        ("Serve replica (SIGKILL)", _kill_serve_replica, lambda: _healthy(stack.api_url)),
    ]
    if with_restart:
        faults.append(("whole stack restart", restart, lambda: _healthy(stack.api_url)))
    figures: dict[str, Any] = {}
    locust = threading.Thread(target=lambda: figures.update(run_locust(
        stack.api_url, stack.admin_token, students, f"{int(duration_s)}s", event_every, out) or {}))
    started = time.monotonic()
    locust.start()
    recoveries = []
    for i, (name, kill, answers) in enumerate(faults):
        at = duration_s * (0.15 + 0.45 * i / max(len(faults) - 1, 1))  # the last at 60%: load after it
        time.sleep(max(0.0, started + at - time.monotonic()))
        console.print(f"[yellow]t={time.monotonic() - started:.0f}s: killing {name}[/yellow]")
        t0 = time.monotonic()
        kill()
        back = _until(answers)
        healthy = _until(lambda: _healthy(stack.api_url))
        recoveries.append({"fault": name, "answers_after_s": round(back - t0, 2),
                           "api_healthy_after_s": round(healthy - t0, 2)})
    locust.join()
    if not figures:
        console.print(f"[red]Locust did not finish; see {out / 'locust.log'}[/red]")
        return 1
    runtime = box["stack"].runtime  # after the restart: the new stack's actors
    verify = runtime.verify_against_log(with_ids=True)
    logged_ids = set(verify.pop("event_ids"))
    result = json.loads((out / "result.json").read_text())
    acked_ids = set(result["acked_ids"])
    lost = len(acked_ids - logged_ids)
    # stored but never acknowledged to its client: in flight when the run ended (not an error)
    verify["stored_not_acknowledged"] = len(logged_ids - acked_ids)
    gates = [("lost events (acknowledged ids not in the log)", lost, lost == 0 and figures["lost"] <= 0),
             ("duplicates (ids stored more than once)", verify["repeated_ids"], verify["repeated_ids"] == 0),
             ("requests failed after retries", figures["failures"], figures["failures"] == 0),
             ("students whose state differs from a replay", len(verify["mismatched"]), not verify["mismatched"])]
    _report(figures, result, recoveries, verify, gates)
    (out / "chaos.json").write_text(json.dumps({"recoveries": recoveries, "verify": verify, "gates": [
        {"gate": g, "value": v, "ok": ok} for g, v, ok in gates], "acknowledged": figures["acknowledged"],
        "retries": result.get("retries"), "reconnects": result.get("reconnects")}, indent=2))
    return 0 if all(ok for *_, ok in gates) else 1


def _actor_fault(handle, probe: str) -> tuple[Callable[[], None], Callable[[], Any]]:
    """Kill an actor (Ray restarts it); it is back when a new process answers ``probe``."""
    before: dict[str, int] = {}

    def pid() -> int:
        return ray.get(handle.__ray_call__.remote(lambda _self: os.getpid()), timeout=5)

    def kill() -> None:
        before["pid"] = pid()
        ray.kill(handle, no_restart=False)

    def answers() -> None:
        if pid() == before["pid"]:
            raise RuntimeError("still the old process")
        ray.get(getattr(handle, probe).remote(), timeout=5)
    return kill, answers


def _kill_serve_replica() -> None:
    """SIGKILL the Api replica's process: Serve's controller must notice and start another.

    Only among this process's descendants (the stack started here), never another stack's."""
    victims = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "ServeReplica:classpulse:Api" in " ".join(p.cmdline()) + p.name():
                victims.append(p)
        except psutil.NoSuchProcess:
            continue
    if not victims:
        raise RuntimeError("no Serve replica process found")
    for p in victims[:1]:
        p.send_signal(signal.SIGKILL)


def _healthy(api_url: str) -> bool:
    r = httpx.get(api_url + "/api/health", timeout=5)
    if r.status_code != 200:
        raise RuntimeError(f"health {r.status_code}")
    return True


def _until(check: Callable[[], Any], timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            check()
            return time.monotonic()
        except Exception:  # noqa: BLE001 - anything but an answer means "not back yet"
            time.sleep(0.1)
    raise TimeoutError("did not recover within 120 s")


def _report(figures, result, recoveries, verify, gates) -> None:
    table = Table(title="fault drill: recovery")
    for col in ("fault", "killed part answers after", "API healthy after"):
        table.add_column(col)
    for r in recoveries:
        table.add_row(r["fault"], f"{r['answers_after_s']:.2f} s", f"{r['api_healthy_after_s']:.2f} s")
    console.print(table)
    gate_table = Table(title=f"fault drill: {figures['acknowledged']} events acknowledged, "
                             f"{result.get('retries', 0)} client retries, {result.get('reconnects', 0)} "
                             f"socket reconnects, {verify['events_replayed']} events replayed, "
                             f"{verify['stored_not_acknowledged']} stored while their answer was in flight")
    for col in ("gate", "value", ""):
        gate_table.add_column(col)
    for name, value, ok in gates:
        gate_table.add_row(name, str(value), "[green]pass[/green]" if ok else "[red]FAIL[/red]")
    gate_table.add_row("p95 event -> professor (reported, not gated in a drill)", f"{figures['p95_ms']:.0f} ms", "")
    console.print(gate_table)
