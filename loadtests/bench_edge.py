"""Edge benchmark: the same FastAPI app and engine under Ray Serve (HAProxy ingress)
and under plain uvicorn, side by side in one run; then event -> professor-stream
latency with many students on their own WebSockets.

    python -m loadtests.bench_edge [--seconds 10] [--users 16] [--students 500]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

console = Console(width=150)
HERE = Path(__file__).parent


def run_locust(host: str, env: dict[str, str], users: int, seconds: int, out: Path,
               locustfile: str = "edge_locustfile.py") -> dict[str, float]:
    """Locust headless against ``host``; returns requests/s, failures and machine CPU per request."""
    cmd = [sys.executable, "-m", "locust", "-f", str(HERE / locustfile), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host, "--csv", str(out),
           "--only-summary", "--loglevel", "WARNING"]
    before = psutil.cpu_times()
    proc = subprocess.Popen(cmd, env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    locust = psutil.Process(proc.pid)
    locust_cpu = 0.0
    while proc.poll() is None:
        try:
            t = locust.cpu_times()
            locust_cpu = t.user + t.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    after = psutil.cpu_times()
    busy = (after.user + after.system) - (before.user + before.system)
    rows = {r["Name"]: r for r in _csv(out.with_name(out.name + "_stats.csv"))}
    agg = rows.get("Aggregated", {})
    requests = float(agg.get("Request Count", 0) or 0)
    return {"rps": float(agg.get("Requests/s", 0) or 0), "requests": requests,
            "failures": float(agg.get("Failure Count", 0) or 0),
            "p50_ms": float(agg.get("50%", 0) or 0), "p95_ms": float(agg.get("95%", 0) or 0),
            "server_cpu_ms_per_req": 1000 * max(busy - locust_cpu, 0.0) / max(requests, 1.0)}


def _csv(path: Path) -> list[dict[str, str]]:
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))


def start_plain_uvicorn(config, port: int):
    """The same app under plain uvicorn, in a Ray actor so it reaches the same actors."""
    import ray

    @ray.remote(num_cpus=0.1)
    class PlainUvicorn:
        def __init__(self, config, port):
            import threading

            import uvicorn

            from serve.app import build_app
            self.server = uvicorn.Server(uvicorn.Config(build_app(config), host="127.0.0.1", port=port,
                                                        log_level="warning", access_log=False))
            threading.Thread(target=self.server.run, daemon=True).start()

        def ready(self) -> bool:
            return True

    actor = PlainUvicorn.remote(config, port)
    ray.get(actor.ready.remote())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return actor
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("plain uvicorn did not come up")


async def stream_latency(api: str, admin: str, room: dict, students: int, seconds: int,
                         interval: float) -> dict[str, float]:
    """``students`` sockets each send one event every ``interval`` s; a professor socket
    measures send -> diff arrival by event id."""
    import websockets
    ws_base = api.replace("http://", "ws://")
    sent: dict[str, float] = {}
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    prof = await websockets.connect(f"{ws_base}/ws/professor/{room['professor_id']}/progress-updates",
                                    additional_headers={"Authorization": f"Bearer {room['professor_token']}"})
    await prof.recv()  # snapshot

    async def professor() -> None:
        while time.monotonic() < stop + 3:
            try:
                message = json.loads(await asyncio.wait_for(prof.recv(), 1.0))
            except TimeoutError:
                continue
            now = time.monotonic()
            for s in message.get("students", []):
                started = sent.pop(s.get("last_event_id"), None)
                if started is not None:
                    latencies.append(now - started)

    async def student(sid: str, token: str, offset: float) -> None:
        async with websockets.connect(f"{ws_base}/ws/student/{sid}",
                                      additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            await asyncio.sleep(offset)
            while time.monotonic() < stop:
                eid = uuid.uuid4().hex
                frame = {"type": "events", "events": [{"event_id": eid, "student_id": sid,
                                                       "course_id": room["course_id"], "activity_id": "a0",
                                                       "type": "attempt", "correct": True}]}
                sent[eid] = time.monotonic()
                await ws.send(json.dumps(frame))
                await ws.recv()  # the ack
                await asyncio.sleep(interval)

    tokens = list(room["student_tokens"].items())[:students]
    await asyncio.gather(professor(), *(student(s, t, interval * i / len(tokens))
                                       for i, (s, t) in enumerate(tokens)))
    await prof.close()
    latencies.sort()
    n = len(latencies)
    return {"events": n, "lost_updates": len(sent),
            "p50_ms": 1000 * statistics.median(latencies) if n else float("nan"),
            "p95_ms": 1000 * latencies[int(n * 0.95)] if n else float("nan"),
            "p99_ms": 1000 * latencies[int(n * 0.99)] if n else float("nan")}


def seed(api: str, admin: str, students: int) -> dict:
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": f"bp-{tag}", "name": "Bench"}).json()
        c.post("/api/admin/courses", json={"course_id": f"bc-{tag}", "professor_id": f"bp-{tag}", "title": "B",
                                           "clock": "live", "activities": [{"activity_id": "a0", "title": "A0",
                                                                            "expected_minutes": 10}]})
        roster = c.post(f"/api/admin/courses/bc-{tag}/students", json={
            "students": [{"student_id": f"bs{i}-{tag}", "name": f"S{i}"} for i in range(students)]}).json()
    return {"professor_id": f"bp-{tag}", "professor_token": prof["token"], "course_id": f"bc-{tag}",
            "student_tokens": {s["student_id"]: s["token"] for s in roster["students"]}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--students", type=int, default=500)
    ap.add_argument("--interval", type=float, default=3.0)
    ap.add_argument("--haproxy", choices=["auto", "on", "off"], default="auto",
                    help="Serve ingress for the Serve side (off: Serve's default proxy)")
    ap.add_argument("--replicas", type=int, default=1, help="Serve replicas of the API")
    ap.add_argument("--out", type=Path, default=Path("bench-results/edge"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from classpulse.settings import Settings
    from classpulse.stack import Stack
    from serve.context import ApiConfig
    from serve.launch import free_port

    data_dir = Path(tempfile.mkdtemp(prefix="cp-edge-"))
    stack = Stack.start(Settings(data_dir=data_dir, port=free_port(), haproxy=args.haproxy,
                                 api_replicas=args.replicas,
                                 admin_token="bench-admin-" + uuid.uuid4().hex), echo=lambda *_: None)
    results: dict[str, dict] = {}
    try:
        room = seed(stack.api_url, stack.admin_token, args.students)
        from classpulse import admin_token
        config = ApiConfig(stack.settings.namespace, stack.settings.shards, stack.settings.hubs,
                           admin_token.digest(stack.admin_token))
        plain_port = free_port()
        plain = start_plain_uvicorn(config, plain_port)
        targets = {f"Ray Serve ({stack.ingress.mode})": stack.api_url, "plain uvicorn": f"http://127.0.0.1:{plain_port}"}
        env = {"CP_TOKEN": stack.admin_token, "CP_COURSE": room["course_id"],
               "CP_STUDENTS": ",".join(list(room["student_tokens"])[:200]), "CP_ACTIVITY": "a0"}
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("edge runs", total=len(targets) * 3 + 1)
            for batch in (1, 10, 100):
                for name, url in targets.items():
                    key = f"{name} | batch {batch}"
                    results[key] = run_locust(url, env | {"CP_BATCH": str(batch)}, args.users, args.seconds,
                                              args.out / f"{name.split()[0].lower()}-{batch}")
                    results[key]["events_per_s"] = results[key]["rps"] * batch
                    bar.advance(task)
            latency = asyncio.run(stream_latency(stack.api_url, stack.admin_token, room, args.students,
                                                 max(args.seconds, 15), args.interval))
            bar.advance(task)
        import ray
        ray.kill(plain)
    finally:
        stack.stop(echo=lambda *_: None)

    table = Table(title=f"edge: {args.users} Locust users, {args.seconds}s each, one run")
    for col in ("target | batch", "req/s", "events/s", "p50 ms", "p95 ms", "failures", "server CPU ms/req"):
        table.add_column(col, justify="right")
    for key, r in results.items():
        table.add_row(key, f"{r['rps']:,.0f}", f"{r['events_per_s']:,.0f}", f"{r['p50_ms']:.0f}",
                      f"{r['p95_ms']:.0f}", f"{r['failures']:.0f}", f"{r['server_cpu_ms_per_req']:.2f}")
    console.print(table)
    for batch in (1, 10, 100):
        serve_cpu = next(r for k, r in results.items() if k.startswith("Ray Serve") and k.endswith(f"batch {batch}"))
        plain_cpu = results[f"plain uvicorn | batch {batch}"]
        console.print(f"batch {batch}: Serve CPU/request = {serve_cpu['server_cpu_ms_per_req'] / max(plain_cpu['server_cpu_ms_per_req'], 1e-9):.2f}x plain uvicorn (target <= 3x)")
    console.print(f"event -> professor stream, {args.students} students on their own sockets, one event every "
                  f"{args.interval:g}s: p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms, "
                  f"p99 {latency['p99_ms']:.0f} ms over {latency['events']} events "
                  f"(target p95 <= 500 ms); updates not seen: {latency['lost_updates']}")
    (args.out / "edge.json").write_text(json.dumps({"runs": results, "stream_latency": latency}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
