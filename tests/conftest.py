"""Shared fixtures: one real ``classpulse serve`` stack per test session, and a
Ray driver attached to its cluster (tests that need actors create their own
runtime in a private namespace on that same Ray instance)."""
from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from pathlib import Path

# Ray reads its auth settings when first imported, so the token the test stack
# will use is made before anything imports Ray; the stack inherits it.
_RAY_TOKEN = Path(tempfile.mkdtemp(prefix="cp-test-")) / "ray_auth_token"
_RAY_TOKEN.write_text(secrets.token_hex(32))
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN_PATH"] = str(_RAY_TOKEN)

import pytest

from tests.stack_process import StackProcess, start_stack

ARTIFACTS = Path(os.environ.get("CLASSPULSE_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def smtp_sink():
    """A real SMTP server (aiosmtpd) on loopback; the session stack sends its email here."""
    from tests.receivers import SmtpSink
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, smtp_sink) -> StackProcess:
    ARTIFACTS.mkdir(exist_ok=True)
    data_dir = tmp_path_factory.mktemp("stack-data")
    os.environ.update(CLASSPULSE_SMTP_HOST="127.0.0.1", CLASSPULSE_SMTP_PORT=str(smtp_sink.port),
                      CLASSPULSE_NOTIFY_RETRY_BASE_S="0.3", CLASSPULSE_NOTIFY_MAX_ATTEMPTS="4",
                      CLASSPULSE_NOTIFY_TIMEOUT_S="3",
                      CLASSPULSE_NOTIFY_WEBHOOK_ALLOW="127.0.0.1")  # the receivers are on loopback
    s = start_stack(data_dir, ARTIFACTS / "stack.log")
    yield s
    took = s.stop()
    assert took < 10.0, f"shutdown took {took:.1f}s"


@pytest.fixture(scope="session")
def ray_driver(stack):
    import ray
    info = stack.info
    ray.init(address=info["ray_address"], namespace=f"tests-{uuid.uuid4().hex[:6]}",
             logging_level="warning", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def runtime_factory(ray_driver, tmp_path):
    """Start runtimes (actors only, no Serve) in private namespaces; stops them after the test."""
    from actors.runtime import Runtime
    from classpulse.settings import Settings
    started = []

    def make(data_dir: Path | None = None, namespace: str | None = None, **overrides):
        settings = Settings(data_dir=data_dir or tmp_path / "data",
                            namespace=namespace or f"rt-{uuid.uuid4().hex[:8]}", **overrides)
        runtime = Runtime.start(settings)
        started.append(runtime)
        return runtime, settings

    yield make
    for runtime in started:
        runtime.stop()
