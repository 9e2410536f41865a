"""Start the Streamlit dashboard as a subprocess (nothing imports the dashboard package)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from classpulse.health import wait_until_healthy


def app_path() -> Path:
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise RuntimeError("the dashboard package is not installed")
    return Path(spec.origin).parent / "app.py"


def command(api: str, port: int, token_file: Path | None, host: str = "127.0.0.1") -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.headless", "true",
           "--server.port", str(port), "--server.address", host, "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           # a professor's page has no "Deploy" button or developer menu (Streamlit shows them on localhost)
           "--client.toolbarMode", "minimal", "--", "--api", api]
    if token_file is not None:
        cmd += ["--token-file", str(token_file)]
    return cmd


def start(api: str, port: int, token_file: Path | None, log_path: Path | None = None,
          timeout: float = 60.0, host: str = "127.0.0.1") -> subprocess.Popen:
    from classpulse.stack import local_url
    cmd = command(api, port, token_file, host)
    if log_path:
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(f"{local_url(host, port)}/_stcore/health", timeout,
                           alive=lambda: proc.poll() is None, what="dashboard")
    except BaseException:  # not healthy in time, or Ctrl-C meanwhile: its own session would outlive us
        proc.kill()
        raise
    return proc
