"""One running classpulse stack: Ray, the actors, Serve; started and stopped as a unit.

``classpulse serve`` and ``classpulse demo`` use this. Shutdown (SIGINT or
SIGTERM) flushes and closes the event log, kills the HAProxy processes this
stack started, then stops Ray, within ~10 s; ``serve.shutdown()`` is skipped
on purpose (it takes ~30 s in HAProxy mode and Ray's exit stops Serve anyway).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classpulse import admin_token
from classpulse.health import wait_until_healthy
from classpulse.settings import Settings


@dataclass
class Stack:
    settings: Settings
    admin_token: str
    admin_token_file: Path | None
    run_dir: Path
    ingress: Any = None
    runtime: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "") else self.settings.host
        return f"http://{host}:{self.settings.port}"

    @classmethod
    def start(cls, settings: Settings, echo=print) -> Stack:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        token, token_file, generated = admin_token.resolve(settings.admin_token, settings.data_dir)
        run_dir = Path(tempfile.mkdtemp(prefix="cp-"))
        stack = cls(settings, token, token_file, run_dir)
        with _sigterm_interrupts():
            try:
                stack._start(echo)
            except BaseException:  # a failed start, Ctrl-C or SIGTERM meanwhile: stop what did start
                echo("Start failed or interrupted; stopping what had started")
                stack.stop(echo)
                raise
        if generated:
            echo(f"Generated an admin token: {token}  (saved in {token_file}, mode 0600)")
        return stack

    def _start(self, echo) -> None:
        from serve.launch import haproxy_pids, prepare_environment
        s = self.settings
        self.ingress = prepare_environment(s, self.run_dir)
        echo(f"Ingress: {self.ingress.reason}")
        given = os.environ.get("RAY_AUTH_TOKEN_PATH")
        if not s.address and not (given and Path(given).exists()):
            # a per-stack Ray auth token, so other drivers (tests, ops) can join with it
            token_path = self.run_dir / "ray_auth_token"
            token_path.write_text(secrets.token_hex(32))
            token_path.chmod(0o600)
            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ["RAY_AUTH_TOKEN_PATH"] = str(token_path)
            if "ray" in sys.modules:  # imported (maybe used) already: make Ray re-read its auth settings
                from ray._raylet import AuthenticationTokenLoader, Config
                Config.initialize("")
                AuthenticationTokenLoader.instance().reset_cache()
        import ray  # only now: Ray reads the variables above when it is imported
        from ray import serve

        from actors import tuning
        from actors.metrics import ObsConfig
        from actors.runtime import Runtime
        from serve.app import ApiConfig
        from serve.deployment import application

        started = time.monotonic()
        init: dict[str, Any] = {"namespace": s.namespace, "include_dashboard": False,
                                "logging_level": "warning", "log_to_driver": False}
        if s.address:
            ray.init(address=s.address, **init)
        else:
            ray.init(address="local", _temp_dir=str(self.run_dir / "ray"),
                     _system_config=tuning.RAY_SYSTEM_CONFIG, **init)
        echo(f"Ray up in {time.monotonic() - started:.1f}s")
        self.runtime = Runtime.start(s)
        echo(f"Actors up in {time.monotonic() - started:.1f}s ({s.shards} shards, {s.hubs} hubs)")
        serve.start(http_options={"host": s.host, "port": s.port})
        config = ApiConfig(s.namespace, s.shards, s.hubs, admin_token.digest(self.admin_token),
                           s.max_body_bytes, s.rate_per_s, s.rate_burst, s.auth_failures_per_min,
                           obs=ObsConfig.from_settings(s))
        serve.run(application(config, s.api_replicas, s.api_max_ongoing_requests,
                              autoscale_max=s.autoscale_max_replicas),
                  name="classpulse", route_prefix="/")
        self._wait_healthy()
        echo(f"API ready in {time.monotonic() - started:.1f}s at {self.api_url}")
        ctx = ray.get_runtime_context()
        self.info = {"api_url": self.api_url, "pid": os.getpid(), "namespace": s.namespace,
                     "shards": s.shards, "hubs": s.hubs, "ray_address": ctx.gcs_address,
                     "ray_auth_token_path": os.environ.get("RAY_AUTH_TOKEN_PATH"),
                     "ingress": self.ingress.mode, "haproxy_stats_port": self.ingress.stats_port,
                     "haproxy_metrics_port": self.ingress.metrics_port,
                     "haproxy_pids": haproxy_pids(self.ingress), "run_dir": str(self.run_dir),
                     "ray_metrics_export_port": _metrics_port(ray),
                     "data_dir": str(s.data_dir.resolve()), "admin_token_file":
                     str(self.admin_token_file) if self.admin_token_file else None}
        (s.data_dir / "run.json").write_text(json.dumps(self.info, indent=2))

    def _wait_healthy(self, timeout: float = 120.0) -> None:
        wait_until_healthy(f"{self.api_url}/api/health", timeout, what="API")

    def stop(self, echo=print) -> None:
        """HAProxy first (found by its per-stack paths, no Ray needed: a terminal's Ctrl-C may have
        reached Ray's own processes too), then flush and close the log, then stop Ray."""
        import ray

        from serve.launch import haproxy_pids
        started = time.monotonic()
        # found again now, by their per-stack config path: a pid recorded at start may belong to
        # another process by now (Serve reloads HAProxy as replicas change; pids are reused)
        pids = haproxy_pids(self.ingress) if self.ingress is not None else []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            if self.runtime is not None:
                self.runtime.stop(flush_timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - Ray already gone: the log was committed before each ack anyway
            echo(f"Could not close the event log cleanly ({exc.__class__.__name__}); it is intact")
        finally:
            if ray.is_initialized():
                ray.shutdown()
            (self.settings.data_dir / "run.json").unlink(missing_ok=True)
            shutil.rmtree(self.run_dir, ignore_errors=True)
        echo(f"Stopped in {time.monotonic() - started:.1f}s")


def _metrics_port(ray) -> int | None:
    """This node's Ray metrics agent port (Prometheus text of Ray's, Serve's and our metrics)."""
    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            return node.get("MetricsExportPort")
    return None


@contextlib.contextmanager
def _sigterm_interrupts():
    """While starting, SIGTERM raises KeyboardInterrupt like Ctrl-C, so the start's cleanup runs
    (by default SIGTERM ends the process at once: Ray's processes go with it, but the run
    directory, which holds the Ray auth token, stayed). Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    received: list[int] = []

    def handler(signum, _frame):
        received.append(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not received:
        time.sleep(0.2)
