"""All configuration in one place: ``CLASSPULSE_*`` environment variables,
overridden by command-line flags, passed down explicitly (nothing below reads
``os.environ``)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from engine.notify import parse_allow

ENV_PREFIX = "CLASSPULSE_"
FLAGS = ("metrics", "metrics_ray", "fault_injection", "trusted_proxy")  # on/off settings kept as 0/1
CHOICES = {"haproxy": ("auto", "on", "off"), "smtp_tls": ("none", "starttls", "ssl")}
PORTS = ("port", "dashboard_port", "smtp_port")
AT_LEAST_ONE = ("shards", "hubs", "api_replicas", "notify_max_attempts")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and its variable (the CLI prints it,
    no traceback)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} ({ENV_PREFIX}{name.upper()}): {reason}")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./classpulse-data")
    address: str | None = None  # join an existing Ray cluster (also RAY_ADDRESS)
    namespace: str = "classpulse"
    shards: int = 4
    hubs: int = 2
    admin_token: str | None = None
    flush_interval_ms: float = 2.0
    log_db_threads: int = 1  # DuckDB's worker threads in the EventLog (0: one per core); see ops-guide.md
    snapshot_interval_s: float = 30.0
    refresh_interval_s: float = 0.25  # hubs re-assess at least this often (the idle backstop)
    push_interval_s: float = 0.1  # ... and, under load, at most once per this for new summaries
    api_replicas: int = 1
    api_max_ongoing_requests: int = 10_000  # every open socket counts: 2,000 capped a replica at ~2,000 students
    haproxy: str = "auto"  # auto | on | off
    haproxy_stats_port: int = 0  # 0: pick a free one
    haproxy_metrics_port: int = 0
    dashboard_port: int = 8501
    dashboard_host: str = "127.0.0.1"  # `classpulse dashboard` only; the demo's (signed in) stays on loopback
    actor_cpus: float = 0.1
    max_body_bytes: int = 1 << 20
    rate_per_s: float = 50.0  # per token (admin exempt), per Serve replica
    rate_burst: float = 200.0
    auth_failures_per_min: float = 100.0  # failed authentications per client address
    trusted_proxy: int = 0  # 1: behind a reverse proxy that appends X-Forwarded-For (its last entry is the client)
    autoscale_max_replicas: int = 0  # > api_replicas turns on Serve autoscaling
    risk_model: str = "auto"  # auto (DATA_DIR/models, else the shipped model) | rules | a model folder
    # notifications (docs/ops-guide.md, "Notifications"): the SMTP server for email, retries
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "classpulse@localhost"
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_ca_file: str | None = None  # a CA (PEM) to trust for the relay's TLS certificate, besides the system's
    notify_timeout_s: float = 10.0  # per SMTP or webhook attempt
    notify_retry_base_s: float = 2.0  # backoff: base, 2x, 4x, ... between attempts
    notify_max_attempts: int = 5
    notify_webhook_allow: str = ""  # comma-separated addresses/networks webhooks may reach though not public
    # observability (docs/ops-guide.md, "Monitoring")
    metrics: int = 1  # 0 turns metric recording off (the bench measures the difference)
    metrics_ray: int = 1  # 0: record only for the API's /metrics, not on Ray's Prometheus endpoint
    log_level: str = "INFO"
    keep_logs: int = 5  # runs whose Ray logs stay in DATA_DIR/logs/ after stop (0: none; a cluster's stay on its nodes)
    stats_window_s: float = 60.0  # the window of the admin stats' rates and percentiles
    history_every_s: float = 10.0  # stats sampled this often; the last 15 minutes are kept
    degraded_push_p95_s: float = 1.0
    degraded_commit_p99_ms: float = 100.0
    degraded_hub_lag_s: float = 2.0
    fault_injection: int = 0  # 1: POST /api/admin/faults may inject delays (tests, drills only)
    fault_commit_delay_ms: float = 0.0  # an injected delay before each commit (needs fault_injection)

    def __post_init__(self) -> None:
        for name in PORTS:
            if not 1 <= getattr(self, name) <= 65535:
                raise SettingsError(name, f"{getattr(self, name)} is not a port (1-65535)")
        for name in ("haproxy_stats_port", "haproxy_metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(name, f"{getattr(self, name)} is not a port (0 picks a free one)")
        for name in AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise SettingsError(name, f"{getattr(self, name)} must be at least 1")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(name, f"{getattr(self, name)!r} is not one of {', '.join(allowed)}")
        for name in FLAGS:
            if getattr(self, name) not in (0, 1):
                raise SettingsError(name, f"{getattr(self, name)!r} is not 0 or 1")
        if self.log_db_threads < 0:
            raise SettingsError("log_db_threads", f"{self.log_db_threads} is negative (0: one per core)")
        if self.keep_logs < 0:
            raise SettingsError("keep_logs", f"{self.keep_logs} is negative")
        if self.autoscale_max_replicas < 0:
            raise SettingsError("autoscale_max_replicas", f"{self.autoscale_max_replicas} is negative")
        try:
            parse_allow(self.notify_webhook_allow)
        except ValueError as exc:
            raise SettingsError("notify_webhook_allow", str(exc)) from None
        if self.smtp_ca_file and not os.access(self.smtp_ca_file, os.R_OK):
            raise SettingsError("smtp_ca_file", f"{self.smtp_ca_file} is not a readable file")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "classpulse.duckdb"

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        values[f.name] = _coerce(f.name, str(f.type), raw)
    if "address" not in values and env.get("RAY_ADDRESS"):
        values["address"] = env["RAY_ADDRESS"]
    return Settings(**values)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(name: str, kind: str, raw: str) -> Any:
    """An environment variable's text as the setting's type; a clear error naming it if it is not."""
    text = raw.strip()
    if name in FLAGS:
        if text.lower() in _TRUE:
            return 1
        if text.lower() in _FALSE:
            return 0
        raise SettingsError(name, f"{raw!r} is not on or off (1/0, true/false, yes/no)")
    if name in CHOICES:
        return text.lower()
    if "Path" in kind:
        if not text:  # Path("") is the current folder
            raise SettingsError(name, "is empty: give a folder")
        return Path(text)
    if kind.startswith("int"):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(name, f"{raw!r} is not a whole number") from None
    if kind.startswith("float"):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SettingsError(name, f"{raw!r} is not a number")
        return value
    return raw
