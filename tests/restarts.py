"""Restarting a Ray actor in a test and knowing the new process answers."""
from __future__ import annotations

import os
import time

import ray


def restart(actor, timeout: float = 60.0) -> None:
    """Kill an actor and wait for Ray's restart (ray.kill is asynchronous: a call sent right after it
    could still run on the old process)."""
    def pid():
        return ray.get(actor.__ray_call__.remote(lambda _self: os.getpid()), timeout=30)
    before = pid()
    ray.kill(actor, no_restart=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pid() != before:
                return
        except ray.exceptions.RayActorError:
            pass
        assert time.monotonic() < deadline, "the actor did not come back"
        time.sleep(0.2)
