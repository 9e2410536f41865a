"""Run ``classpulse serve`` as a real subprocess on free ports, and stop it by its pid."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from classpulse.health import wait_until_healthy
from serve.launch import free_port


@dataclass
class StackProcess:
    proc: subprocess.Popen
    data_dir: Path
    admin_token: str
    api_url: str
    log_path: Path

    @property
    def info(self) -> dict:
        return json.loads((self.data_dir / "run.json").read_text())

    def client(self, token: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30, **kw)

    def stop(self, timeout: float = 15.0, terminal_ctrl_c: bool = False) -> float:
        """SIGTERM to the process (or, like Ctrl-C in a terminal, SIGINT to its whole process group,
        Ray's own processes included); wait; return the seconds taken (raise if not in time)."""
        started = time.monotonic()
        if self.proc.poll() is None:
            if terminal_ctrl_c:
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                raise AssertionError(f"classpulse serve did not stop within {timeout}s")
        return time.monotonic() - started


AUTH_FAILURES_PER_MIN = 1200


def start_stack(data_dir: Path, log_path: Path, admin_token: str = "test-admin-token-0123456789",
                extra: list[str] | None = None, timeout: float = 180.0, port: int | None = None) -> StackProcess:
    port = port or free_port()
    # the whole suite calls from 127.0.0.1 and many tests use wrong tokens on purpose: a larger
    # failure budget than the default 100/min keeps them from locking each other out
    env = dict(os.environ, CLASSPULSE_ADMIN_TOKEN=admin_token, PYTHONUNBUFFERED="1",
               CLASSPULSE_AUTH_FAILURES_PER_MIN=str(AUTH_FAILURES_PER_MIN))
    env.pop("RAY_ADDRESS", None)
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "classpulse", "serve", "--port", str(port), "--data-dir", str(data_dir),
             *(extra or [])], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    stack = StackProcess(proc, data_dir, admin_token, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_healthy(f"{stack.api_url}/api/health", timeout, alive=lambda: proc.poll() is None,
                           what="classpulse serve")
    except RuntimeError as exc:
        stack.stop()
        raise RuntimeError(f"{exc}; see {log_path}:\n{log_path.read_text()[-3000:]}") from None
    deadline = time.monotonic() + 30
    while not (data_dir / "run.json").exists() and time.monotonic() < deadline:  # written right after health
        time.sleep(0.1)
    return stack
