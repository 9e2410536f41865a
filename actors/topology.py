"""Names and routing of the actors of one stack (a Ray namespace).

Actors find each other by name, so any of them can restart and be found
again; routing uses the stable hash from the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import ray

from engine.ids import shard_for

EVENT_LOG = "event-log"


class DomainError(Exception):
    """A request the domain refuses: ``status`` is the HTTP code, ``field`` names the problem."""

    def __init__(self, status: int, field: str, error: str,
                 errors: list[dict] | None = None) -> None:
        super().__init__(f"{field}: {error}")
        self.status = status
        self.field = field
        self.error = error
        self.errors = errors or [{"index": None, "field": field, "error": error}]

    def __reduce__(self):
        return (DomainError, (self.status, self.field, self.error, self.errors))


@dataclass(frozen=True)
class Topology:
    namespace: str
    shards: int
    hubs: int

    def shard_name(self, index: int) -> str:
        return f"student-shard-{index}-of-{self.shards}"

    def hub_name(self, index: int) -> str:
        return f"course-hub-{index}-of-{self.hubs}"

    def shard_of(self, student_id: str) -> int:
        return shard_for(student_id, self.shards)

    def hub_of(self, course_id: str) -> int:
        return shard_for(course_id, self.hubs)

    def event_log(self) -> ray.actor.ActorHandle:
        return ray.get_actor(EVENT_LOG, namespace=self.namespace)

    def shard(self, index: int) -> ray.actor.ActorHandle:
        return ray.get_actor(self.shard_name(index), namespace=self.namespace)

    def hub(self, index: int) -> ray.actor.ActorHandle:
        return ray.get_actor(self.hub_name(index), namespace=self.namespace)


class Handles:
    """Cached actor handles (a restarted named actor keeps working through its old handle)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._shards: dict[int, ray.actor.ActorHandle] = {}
        self._hubs: dict[int, ray.actor.ActorHandle] = {}
        self._log: ray.actor.ActorHandle | None = None

    @property
    def log(self) -> ray.actor.ActorHandle:
        if self._log is None:
            self._log = self.topology.event_log()
        return self._log

    def shard(self, index: int) -> ray.actor.ActorHandle:
        if index not in self._shards:
            self._shards[index] = self.topology.shard(index)
        return self._shards[index]

    def hub(self, index: int) -> ray.actor.ActorHandle:
        if index not in self._hubs:
            self._hubs[index] = self.topology.hub(index)
        return self._hubs[index]

    def hub_for(self, course_id: str) -> ray.actor.ActorHandle:
        return self.hub(self.topology.hub_of(course_id))
