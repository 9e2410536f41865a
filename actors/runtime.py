"""The facade over one stack's actors: start, ingest, read, subscribe, stop.

The Serve layer, the CLI, tests and benchmarks use this instead of reaching
for actors. Methods return Ray ObjectRefs: ``await`` them in async code,
``ray.get`` them elsewhere.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import ray

from actors.eventlog import EventLog
from actors.hub import CourseHub
from actors.metrics import ObsConfig
from actors.notifier import NOTIFIER, MailSettings, Notifier
from actors.shard import StudentShard
from actors.topology import EVENT_LOG, Handles, Topology
from classpulse.settings import Settings
from engine.event_arrow import pack, to_arrow
from engine.events import Event

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, topology: Topology, owned: list | None = None) -> None:
        self.topology = topology
        self.handles = Handles(topology)
        self._owned = owned or []  # non-detached actors live as long as their creator holds them

    @classmethod
    def start(cls, settings: Settings, timeout: float = 120.0) -> Runtime:
        """Create (or find) the stack's actors in ``settings.namespace`` and wait until ready."""
        topology = Topology(settings.namespace, settings.shards, settings.hubs)
        cpus = settings.actor_cpus
        obs = ObsConfig.from_settings(settings)
        common = {"namespace": topology.namespace, "get_if_exists": True}
        log = EventLog.options(name=EVENT_LOG, num_cpus=cpus, **_head_node(), **common).remote(
            str(settings.db_path.resolve()), topology, settings.flush_interval_ms, obs, settings.log_db_threads)
        notifier = Notifier.options(name=NOTIFIER, num_cpus=cpus, **common).remote(
            topology, mail_settings(settings))
        # shards and hubs spread over the cluster's nodes (on one machine: all on it)
        spread = {"scheduling_strategy": "SPREAD"}
        shards = [StudentShard.options(name=topology.shard_name(i), num_cpus=cpus, **spread, **common).remote(
            i, topology, settings.snapshot_interval_s, obs) for i in range(topology.shards)]
        hubs = [CourseHub.options(name=topology.hub_name(i), num_cpus=cpus, **spread, **common).remote(
            i, topology, settings.refresh_interval_s, settings.risk_model, str(settings.data_dir.resolve()), obs,
            settings.push_interval_s) for i in range(topology.hubs)]
        ray.get(log.ready.remote(), timeout=timeout)
        notifier.warm.remote()  # its first alert then costs no class loading (fire and forget)
        ray.get([s.status.remote() for s in shards] + [h.status.remote() for h in hubs], timeout=timeout)
        return cls(topology, [log, *shards, *hubs, notifier])

    @classmethod
    def connect(cls, namespace: str, shards: int, hubs: int) -> Runtime:
        return cls(Topology(namespace, shards, hubs))

    # -- the facade -----------------------------------------------------------

    def ingest(self, events: list[Event], request_id: str | None = None) -> ray.ObjectRef:
        """-> {"accepted", "duplicates", "last_seq"} once committed (DomainError on bad input)."""
        return self.handles.log.append.remote(pack(to_arrow(events)), None, request_id)  # built here, off the log

    def ingest_columns(self, columns: tuple) -> ray.ObjectRef:
        """The same, for a batch already in columns (``engine.events.to_columns``)."""
        return self.handles.log.append.remote(pack(to_arrow(columns)))

    def live_progress(self, course_id: str) -> ray.ObjectRef:
        return self.handles.hub_for(course_id).live_progress.remote(course_id)

    def hubs_for(self, course_ids: list[str]) -> dict[int, list[str]]:
        """Which hub owns which of these courses."""
        by_hub: dict[int, list[str]] = {}
        for course_id in course_ids:
            by_hub.setdefault(self.topology.hub_of(course_id), []).append(course_id)
        return by_hub

    def poll(self, hub: int, cursors: dict[str, int | None], timeout: float = 15.0) -> ray.ObjectRef:
        """Long-poll one hub: -> {"head", "messages"} (see CourseHub.updates_since)."""
        return self.handles.hub(hub).updates_since.remote(cursors, timeout)

    def sync(self, timeout: float = 60.0) -> None:
        """Block until everything committed so far is folded and visible in live progress."""
        ray.get(self.handles.log.wait_delivered.remote(None, timeout), timeout=timeout)
        shards = [self.handles.shard(i) for i in range(self.topology.shards)]
        ray.get([s.flush.remote(timeout) for s in shards], timeout=timeout)
        hubs = [self.handles.hub(i) for i in range(self.topology.hubs)]
        ray.get([h.refresh_now.remote() for h in hubs], timeout=timeout)

    def telemetry(self) -> list[ray.ObjectRef]:
        """Every actor's metrics (EventLog, shards, hubs) for the API's /metrics."""
        return [self.handles.log.telemetry.remote(),
                *[self.handles.shard(i).telemetry.remote() for i in range(self.topology.shards)],
                *[self.handles.hub(i).telemetry.remote() for i in range(self.topology.hubs)]]

    def shard_states(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        for part in ray.get([self.handles.shard(i).fingerprint.remote()
                             for i in range(self.topology.shards)]):
            states.update(part)
        return states

    def verify_against_log(self, page: int = 50_000, with_ids: bool = False) -> dict[str, Any]:
        """Replay the whole log in this process and compare with every shard's state.

        What ops run after a fault drill: derived state must equal a replay of the log
        (``mismatched`` lists the students that differ; empty means the shards are right).
        ``with_ids``: also every logged event id (``event_ids``) and how many ids occur twice."""
        from engine import voiding
        from engine.state import to_snapshot
        self.sync()
        mismatched: list[str] = []
        events_total = compared = 0
        ids: list[str] = []
        for index in range(self.topology.shards):
            held = ray.get(self.handles.shard(index).fingerprint.remote())
            events, params, after = [], {}, 0
            while True:
                page_events, page_params = ray.get(self.handles.log.shard_events.remote(index, after, None, page))
                if not page_events:
                    break
                events.extend(page_events)
                params.update(page_params)
                after = page_events[-1].seq
            events_total += len(events)
            if with_ids:
                ids.extend(e.event_id for e in events)
            # the same rule the shards follow: voided xAPI statements do not count
            states = voiding.replay(events, {cid: p[0] for cid, p in params.items()})
            replayed = {f"{k[0]}/{k[1]}": to_snapshot(s) for k, s in states.items()}
            for key in held.keys() | replayed.keys():
                compared += 1
                if held.get(key) != replayed.get(key):
                    mismatched.append(key)
        result = {"events_replayed": events_total, "students_compared": compared,
                  "mismatched": sorted(mismatched)}
        if with_ids:
            result["event_ids"] = ids
            result["repeated_ids"] = len(ids) - len(set(ids))
        return result

    def stop(self, flush_timeout: float = 10.0) -> None:
        """Flush and close the log, then kill every actor of the stack."""
        deadline = time.monotonic() + flush_timeout
        try:
            ray.get(self.handles.log.close.remote(), timeout=max(1.0, deadline - time.monotonic()))
        except Exception:  # shutting down: a log that cannot close is killed below
            log.debug("event log did not close cleanly", exc_info=True)
        if self._owned:  # our own handles: no name lookups (they need the GCS)
            for handle in self._owned:
                try:
                    ray.kill(handle, no_restart=True)
                except Exception:  # already gone is what we want
                    log.debug("actor already gone", exc_info=True)
            return
        names = [EVENT_LOG] + [self.topology.shard_name(i) for i in range(self.topology.shards)] + \
                [self.topology.hub_name(i) for i in range(self.topology.hubs)] + [NOTIFIER]
        for name in names:
            try:
                ray.kill(ray.get_actor(name, namespace=self.topology.namespace), no_restart=True)
            except ValueError:
                pass


def mail_settings(s: Settings) -> MailSettings:
    """The notifier's part of the settings (checked when they were read: ``Settings``)."""
    return MailSettings(s.smtp_host, s.smtp_port, s.smtp_from, s.smtp_tls, s.smtp_username, s.smtp_password,
                        s.notify_timeout_s, s.notify_retry_base_s, s.notify_max_attempts, s.smtp_ca_file,
                        s.notify_webhook_allow)


def _head_node() -> dict[str, Any]:
    """Pin the EventLog (the DuckDB file) to the head node."""
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        node_id = ray.get_runtime_context().get_node_id()
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}
    except Exception:  # noqa: BLE001 - no node id (not connected yet): let Ray place it
        return {}
