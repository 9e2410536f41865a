"""Waiting for a service we started to answer its health check."""
from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_until_healthy(url: str, timeout: float, alive: Callable[[], bool] = lambda: True,
                       what: str = "service") -> None:
    """Poll ``url`` until it answers 200; raise if ``alive()`` turns false or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the {what} exited before it was healthy")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the {what} at {url} was not healthy within {timeout:.0f}s")
