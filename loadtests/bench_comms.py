"""Communication benchmark: what a stored message costs against an ephemeral one, side by side,
and how fast a bulk message fans out to a class on its sockets.

1. Latency student socket -> professor chat socket, alternating a chat message (committed to
   DuckDB, then routed through the hub) and a typing indicator (straight to the hub), so both
   see the same load: p50/p95 of each and their ratio.
2. A bulk message to every student (``to: "all"``): time from the POST to the last student
   socket receiving it, and until every delivery receipt reached the professor.

    python -m loadtests.bench_comms [--students 200] [--messages 100]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import websockets
from rich.console import Console
from rich.table import Table

console = Console(width=120)


def seed(api: str, admin: str, students: int) -> dict:
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
        prof = c.post("/api/admin/professors", json={"professor_id": f"cp-{tag}", "name": "Bench"}).json()
        c.post("/api/admin/courses", json={"course_id": f"cc-{tag}", "professor_id": f"cp-{tag}", "title": "B",
                                           "clock": "event", "activities": [
                                               {"activity_id": "a1", "title": "A1", "expected_minutes": 5}]})
        roster = c.post(f"/api/admin/courses/cc-{tag}/students", json={
            "students": [{"student_id": f"cs{i}-{tag}", "name": f"S {i}"} for i in range(students)]}).json()
    return {"professor_id": f"cp-{tag}", "professor_token": prof["token"], "course_id": f"cc-{tag}",
            "students": {s["student_id"]: s["token"] for s in roster["students"]}}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else 0.0)


async def run(api: str, room: dict, messages: int) -> dict[str, float]:
    ws_base = api.replace("http://", "ws://")
    auth = {"Authorization": f"Bearer {room['professor_token']}"}
    async with websockets.connect(f"{ws_base}/ws/professor/{room['professor_id']}/chat",
                                  additional_headers=auth, max_size=None) as prof:
        assert json.loads(await prof.recv())["type"] == "ready"
        sockets = {}
        for sid, token in room["students"].items():
            sockets[sid] = await websockets.connect(f"{ws_base}/ws/student/{sid}",
                                                    additional_headers={"Authorization": f"Bearer {token}"})
        await asyncio.sleep(2.0)  # every socket's inbox poller is in place
        first = next(iter(sockets))
        chat_ms, typing_ms = [], []
        for i in range(messages):
            kind = "chat" if i % 2 == 0 else "typing"
            frame = {"type": "chat", "text": f"m{i}"} if kind == "chat" else {"type": "typing"}
            sent = time.perf_counter()
            await sockets[first].send(json.dumps(frame))
            while True:
                got = json.loads(await asyncio.wait_for(prof.recv(), 30))
                if got["type"] == kind and (kind == "typing" or got.get("text") == f"m{i}"):
                    break
            (chat_ms if kind == "chat" else typing_ms).append(1000 * (time.perf_counter() - sent))

        async def drain_until(ws, pred) -> float:
            while True:
                if pred(json.loads(await asyncio.wait_for(ws.recv(), 60))):
                    return time.perf_counter()

        receipts_wanted = len(sockets)

        async def receipts() -> float:
            seen: set[str] = set()
            while len(seen) < receipts_wanted:
                got = json.loads(await asyncio.wait_for(prof.recv(), 60))
                if got["type"] == "receipt" and got["delivered_at"]:
                    seen.add(got["intervention_id"])
            return time.perf_counter()

        waiters = [asyncio.create_task(drain_until(ws, lambda f: f["type"] == "intervention"))
                   for ws in sockets.values()]
        receipt_task = asyncio.create_task(receipts())
        start = time.perf_counter()
        async with httpx.AsyncClient(base_url=api, headers=auth, timeout=60) as c:
            r = await c.post("/api/professor/messages", json={"course_id": room["course_id"], "to": "all",
                                                              "template": "encourage_1"})
            assert r.status_code == 201, r.text
        answered = time.perf_counter()
        arrivals = await asyncio.gather(*waiters)
        receipted = await receipt_task
        for ws in sockets.values():
            await ws.close()
    return {"chat_p50": statistics.median(chat_ms), "chat_p95": pct(chat_ms, 95),
            "typing_p50": statistics.median(typing_ms), "typing_p95": pct(typing_ms, 95),
            "bulk_post_ms": 1000 * (answered - start), "bulk_last_arrival_ms": 1000 * (max(arrivals) - start),
            "bulk_receipts_ms": 1000 * (receipted - start), "students": len(sockets), "messages": messages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--messages", type=int, default=100, help="alternating chat / typing round trips")
    args = ap.parse_args(argv)

    from classpulse.settings import Settings
    from classpulse.stack import Stack
    from serve.launch import free_port

    stack = Stack.start(Settings(data_dir=Path(tempfile.mkdtemp(prefix="cp-comms-")), port=free_port(),
                                 admin_token="bench-admin-" + uuid.uuid4().hex), echo=lambda *_: None)
    try:
        room = seed(stack.api_url, stack.admin_token, args.students)
        r = asyncio.run(run(stack.api_url, room, args.messages))
    finally:
        stack.stop()
    table = Table(title=f"communication, {r['students']} student sockets ({stack.ingress.mode} ingress)")
    for col in ("measure", "p50 ms", "p95 ms"):
        table.add_column(col)
    table.add_row("chat: student -> professor (stored, then pushed)", f"{r['chat_p50']:.1f}", f"{r['chat_p95']:.1f}")
    table.add_row("typing: student -> professor (hub only)", f"{r['typing_p50']:.1f}", f"{r['typing_p95']:.1f}")
    console.print(table)
    console.print(f"chat / typing latency (p50): {r['chat_p50'] / max(r['typing_p50'], 1e-9):.2f}x "
                  "(the cost of committing before pushing)")
    console.print(f"bulk message to {r['students']} students: POST answered in {r['bulk_post_ms']:.0f} ms, "
                  f"last student socket got it after {r['bulk_last_arrival_ms']:.0f} ms, every delivery "
                  f"receipt at the professor after {r['bulk_receipts_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
