"""Multi-node drill on one machine: a `ray.cluster_utils.Cluster` of a head and worker nodes.

The EventLog is pinned to the head node (it owns the DuckDB file); shards and hubs spread over
the nodes. While batches are being ingested, one worker node is removed (its raylet and every
actor on it die); its shards and hubs restart on the surviving nodes and rebuild from snapshots
plus the log. Then: every acknowledged event is in the log exactly once, and every student's
state equals a replay of the log.

    python -m loadtests.multinode [--workers 2] [--students 300] [--batches 60] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from rich.console import Console
from rich.progress import track
from rich.table import Table

from actors.runtime import Runtime
from classpulse.settings import Settings
from engine.events import parse_batch

console = Console(width=120)


def placement(runtime: Runtime) -> dict[str, str]:
    """Actor name -> the node it runs on now."""
    where = {"event-log": runtime.handles.log}
    where |= {f"shard-{i}": runtime.handles.shard(i) for i in range(runtime.topology.shards)}
    where |= {f"hub-{i}": runtime.handles.hub(i) for i in range(runtime.topology.hubs)}
    nodes = ray.get([h.__ray_call__.remote(lambda _s: ray.get_runtime_context().get_node_id())
                     for h in where.values()], timeout=120)
    return dict(zip(where, nodes))


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(args.workers)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace=f"multinode-{uuid.uuid4().hex[:6]}", log_to_driver=False)
    try:
        return _drill(cluster, workers, args)
    finally:
        ray.shutdown()
        cluster.shutdown()


def _drill(cluster: Cluster, workers: list, args: argparse.Namespace) -> dict:
    head = ray.get_runtime_context().get_node_id()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="cp-multinode-")), namespace="multinode",
                        shards=4, hubs=2, snapshot_interval_s=2.0)
    runtime = Runtime.start(settings)
    log = runtime.handles.log
    ray.get(log.add_professor.remote("p-mn", "Prof"))
    acts = [{"activity_id": f"a{i}", "title": f"A{i}", "expected_minutes": 5} for i in range(4)]
    ray.get(log.add_course.remote({"course_id": "c-mn", "professor_id": "p-mn", "title": "Multi-node",
                                   "clock": "event", "activities": acts}))
    roster = [{"student_id": f"s{i}", "name": f"Student {i}"} for i in range(args.students)]
    ray.get(log.add_students.remote("c-mn", roster))
    before = placement(runtime)
    victim = workers[0]
    on_victim = sorted(name for name, node in before.items() if node == victim.node_id)
    rng = random.Random(7)
    acknowledged, removed_at = 0, None
    t0 = time.time() - 3600
    for b in track(range(args.batches), description="ingesting", console=console):
        if b == args.batches // 2:
            removed_at = time.monotonic()
            cluster.remove_node(victim)  # the node is gone, with every actor on it
        raw = [{"event_id": uuid.uuid4().hex, "student_id": f"s{rng.randrange(args.students)}", "course_id": "c-mn",
                "activity_id": f"a{rng.randrange(4)}", "type": "attempt", "correct": rng.random() < 0.6,
                "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + b * 10 + i / 100)) + "Z"}
               for i in range(200)]
        ack = ray.get(runtime.ingest(parse_batch(raw, time.time())), timeout=300)
        acknowledged += ack["accepted"]
    recovered_after = time.monotonic() - removed_at
    verify = runtime.verify_against_log()
    logged = ray.get(log.stats.remote())["tables"]["student_activity_log"]
    after = placement(runtime)
    live = ray.get(runtime.live_progress("c-mn"), timeout=60)
    attempts = {s["student_id"] for s in live["students"] if s["status"] != "not_started"}
    result = {"nodes": 1 + len(workers), "removed_node_actors": on_victim,
              "placement_before": _by_node(before, head, victim.node_id),
              "placement_after": _by_node(after, head, victim.node_id),
              "acknowledged": acknowledged, "logged": logged, "mismatched": verify["mismatched"],
              "events_replayed": verify["events_replayed"], "finished_after_removal_s": round(recovered_after, 1),
              "event_log_on_head": before["event-log"] == head == after["event-log"],
              "live_students": len(live["students"]), "live_started": len(attempts),
              "replayed_students": verify["students_compared"]}
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    runtime.stop()
    return result


def _by_node(where: dict[str, str], head: str, victim: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, node in where.items():
        label = "head" if node == head else ("removed worker" if node == victim else f"worker {node[:6]}")
        out.setdefault(label, []).append(name)
    return out


def _print(r: dict) -> None:
    table = Table(title=f"multi-node drill: {r['nodes']} nodes, one worker removed under load")
    table.add_column("measure")
    table.add_column("value")
    table.add_row("placement before", json.dumps(r["placement_before"]))
    table.add_row("actors on the removed node", ", ".join(r["removed_node_actors"]) or "(none)")
    table.add_row("placement after", json.dumps(r["placement_after"]))
    table.add_row("events acknowledged / in the log", f"{r['acknowledged']} / {r['logged']}")
    table.add_row("students whose state differs from a replay", str(len(r["mismatched"])))
    table.add_row("live view: students / started (replay: started)",
                  f"{r['live_students']} / {r['live_started']} ({r['replayed_students']})")
    table.add_row("ingest finished after the removal", f"{r['finished_after_removal_s']} s")
    table.add_row("EventLog on the head node throughout", str(r["event_log_on_head"]))
    console.print(table)


def passed(r: dict) -> bool:
    """What the drill checks: nothing lost, every student's state as a replay of the log has it."""
    return r["acknowledged"] == r["logged"] and not r["mismatched"]


if __name__ == "__main__":
    outcome = main()
    console.print("drill: " + ("passed" if passed(outcome) else "[red]FAILED[/red]"))
    raise SystemExit(0 if passed(outcome) else 1)
