"""What every dashboard AppTest needs: the app's path and the dashboard pointed at the session stack."""
from __future__ import annotations

from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def dashboard_env(stack, monkeypatch):
    """The dashboard reads its API URL from the environment; no token file (tests sign in per page)."""
    monkeypatch.setenv("CLASSPULSE_DASHBOARD_API", stack.api_url)
    monkeypatch.delenv("CLASSPULSE_DASHBOARD_TOKEN_FILE", raising=False)
    return stack
