"""One running classpulse stack: Ray, the actors, Serve; started and stopped as a unit.

``classpulse serve`` and ``classpulse demo`` use this. Shutdown (SIGINT or
SIGTERM) flushes and closes the event log, kills the HAProxy processes this
stack started, then stops Ray, within ~10 s; ``serve.shutdown()`` is skipped
on purpose (it takes ~30 s in HAProxy mode and Ray's exit stops Serve anyway).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import stat
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

API_PORT_CHOICE = "another with --port (or CLASSPULSE_PORT)"
LOCK_FILE = "classpulse.lock"  # held (flock) by the one stack serving a data dir; the OS drops it at exit


class StackError(RuntimeError):
    """A start refused before anything started (the CLI prints it, no traceback)."""


@dataclass
class Stack:
    settings: Settings
    admin_token: str
    admin_token_file: Path | None
    run_dir: Path
    ingress: Any = None
    runtime: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    lock_fd: int | None = None

    @property
    def api_url(self) -> str:
        return local_url(self.settings.host, self.settings.port)

    @classmethod
    def start(cls, settings: Settings, echo=print) -> Stack:
        if settings.address and settings.address.startswith("ray://"):
            # the data dir, its lock, admin.token and the health check are this machine's; through Ray
            # Client the EventLog would open a DuckDB file on the head node and the API listen there
            raise StackError(f"--address {settings.address}: Ray Client addresses are not supported; run "
                             f"classpulse serve on the cluster's head node with --address auto (or HEAD:6379)")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = lock_data_dir(settings.data_dir)
        try:
            if not settings.address:  # on a cluster the port is on the head node, not here
                refuse_busy_port(settings.host, settings.port, "the API", API_PORT_CHOICE)
            token, token_file, generated = admin_token.resolve(settings.admin_token, settings.data_dir)
        except BaseException:
            os.close(lock_fd)
            raise
        run_dir = Path(tempfile.mkdtemp(prefix="cp-"))
        stack = cls(settings, token, token_file, run_dir, lock_fd=lock_fd)
        with sigterm_interrupts():
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
        # one ingress, on the head node (DESIGN, "Multi-node"): Serve's default puts a proxy on every
        # node that holds a replica, each listening on the API port
        serve.start(proxy_location="HeadOnly", http_options={"host": s.host, "port": s.port})
        config = ApiConfig(s.namespace, s.shards, s.hubs, admin_token.digest(self.admin_token),
                           s.max_body_bytes, s.rate_per_s, s.rate_burst, s.auth_failures_per_min,
                           obs=ObsConfig.from_settings(s), trust_forwarded=bool(s.trusted_proxy))
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
            if self.info:  # written by this stack (a refused start leaves another's in place)
                (self.settings.data_dir / "run.json").unlink(missing_ok=True)
            kept = keep_ray_logs(self.run_dir, self.settings.data_dir / "logs", self.settings.keep_logs)
            if kept is not None:
                echo(f"Logs of this run kept in {kept}")
            shutil.rmtree(self.run_dir, ignore_errors=True)
            if self.lock_fd is not None:
                os.close(self.lock_fd)  # the data dir is free for the next stack
                self.lock_fd = None
        echo(f"Stopped in {time.monotonic() - started:.1f}s")


def keep_ray_logs(run_dir: Path, logs_dir: Path, keep: int) -> Path | None:
    """Move this run's Ray session logs (workers' .out/.err, Serve's, raylet's) out of the run dir,
    which goes at stop, to ``logs_dir/<session name>/``; only the ``keep`` newest runs stay (0: none
    kept). Session names start with their start time, so they sort by age."""
    session = run_dir / "ray" / "session_latest"
    if keep < 1 or not (session / "logs").is_dir():
        return None
    target = logs_dir / session.resolve().name
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(session / "logs", target)  # the data dir on the same file system: instant
        except OSError:  # another file system (or the target exists): copy
            shutil.copytree(session / "logs", target, symlinks=True, dirs_exist_ok=True,
                            ignore=lambda folder, names: [n for n in names if _is_socket(Path(folder) / n)])
        target.chmod(0o700)  # request lines and ids: the operator's
    except OSError:
        return None
    for old in sorted(p for p in logs_dir.iterdir() if p.is_dir() and p.name.startswith("session_"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:
        return True


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a server on ``host`` at (wildcards: loopback; IPv6 bracketed)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def lock_data_dir(data_dir: Path) -> int:
    """Take the data dir for this stack; StackError if another stack serves it. DuckDB allows one
    writer per file: a second stack used to start Ray, fail on the file, and on its way out delete
    the first stack's run.json."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _run_info(data_dir)
        where = f" (pid {holder.get('pid')}, API {holder.get('api_url')})" if holder else ""
        raise StackError(f"{data_dir} is in use by another classpulse stack{where}; stop it first "
                         f"or give another --data-dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _run_info(data_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((data_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def refuse_busy_port(host: str, port: int, what: str, choose: str = "another port") -> None:
    """StackError if something already listens on ``host:port``: Serve's own proxy binds with
    SO_REUSEPORT, so a second stack on a busy port started and shared the port with the first, and
    a health check answered by another server passed for ours."""
    bind_host = {"": "0.0.0.0"}.get(host, host)
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: connections of a stack just stopped (TIME_WAIT) do not count; a listener does
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind_host, port))
        except OSError as exc:
            raise StackError(f"port {port} on {host or '0.0.0.0'} is in use ({exc.strerror}); {what} "
                             f"needs it: stop what holds it or choose {choose}") from None


def _metrics_port(ray) -> int | None:
    """This node's Ray metrics agent port (Prometheus text of Ray's, Serve's and our metrics)."""
    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            return node.get("MetricsExportPort")
    return None


@contextlib.contextmanager
def sigterm_interrupts():
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
