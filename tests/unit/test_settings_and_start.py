"""Settings from the environment, and what a start refuses before anything starts (no Ray here)."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from classpulse import cli
from classpulse.settings import Settings, SettingsError, from_env
from classpulse.stack import Stack, StackError, local_url, lock_data_dir, refuse_busy_port
from serve.launch import free_port


@pytest.mark.parametrize(("env", "named"), [
    ({"CLASSPULSE_PORT": "abc"}, "CLASSPULSE_PORT"),
    ({"CLASSPULSE_PORT": "70000"}, "CLASSPULSE_PORT"),
    ({"CLASSPULSE_SHARDS": "0"}, "CLASSPULSE_SHARDS"),
    ({"CLASSPULSE_HUBS": "-1"}, "CLASSPULSE_HUBS"),
    ({"CLASSPULSE_HAPROXY": "yes"}, "CLASSPULSE_HAPROXY"),
    ({"CLASSPULSE_SMTP_TLS": "tls"}, "CLASSPULSE_SMTP_TLS"),
    ({"CLASSPULSE_METRICS": "maybe"}, "CLASSPULSE_METRICS"),
    ({"CLASSPULSE_FLUSH_INTERVAL_MS": "nan"}, "CLASSPULSE_FLUSH_INTERVAL_MS"),
    ({"CLASSPULSE_DATA_DIR": ""}, "CLASSPULSE_DATA_DIR"),
    ({"CLASSPULSE_LOG_DB_THREADS": "-1"}, "CLASSPULSE_LOG_DB_THREADS"),
    ({"CLASSPULSE_NOTIFY_WEBHOOK_ALLOW": "10.0.0.0/8,intranet"}, "CLASSPULSE_NOTIFY_WEBHOOK_ALLOW"),
    ({"CLASSPULSE_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "CLASSPULSE_SMTP_CA_FILE"),
])
def test_a_bad_variable_is_refused_by_name(env, named):
    with pytest.raises(SettingsError, match=named):
        from_env(env)


def test_switches_read_the_usual_spellings():
    assert from_env({"CLASSPULSE_METRICS": "false", "CLASSPULSE_FAULT_INJECTION": "yes"}).metrics == 0
    assert from_env({"CLASSPULSE_FAULT_INJECTION": "On"}).fault_injection == 1
    assert from_env({"CLASSPULSE_HAPROXY": "OFF", "CLASSPULSE_PORT": " 8001 "}).haproxy == "off"
    with pytest.raises(SettingsError, match="shards"):
        Settings().with_overrides(shards=0)  # a flag goes through the same checks


def test_the_cli_says_what_is_wrong_without_a_traceback(capsys, monkeypatch):
    monkeypatch.setenv("CLASSPULSE_PORT", "abc")
    with pytest.raises(SystemExit) as done:
        cli.main(["serve"])
    assert done.value.code == 2
    assert "CLASSPULSE_PORT" in capsys.readouterr().err


@pytest.mark.parametrize(("host", "url"), [("0.0.0.0", "http://127.0.0.1:8000"), ("::", "http://[::1]:8000"),
                                           ("::1", "http://[::1]:8000"), ("10.0.0.5", "http://10.0.0.5:8000")])
def test_the_url_a_stack_is_reached_at(host, url):
    assert local_url(host, 8000) == url


def test_one_stack_per_data_dir_and_a_refused_one_leaves_the_others_run_file(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"pid": 4242, "api_url": "http://127.0.0.1:8000"}))
    held = lock_data_dir(tmp_path)
    try:
        with pytest.raises(StackError, match="pid 4242"):
            lock_data_dir(tmp_path)
        Stack(Settings(data_dir=tmp_path), "t", None, tmp_path / "run").stop(echo=lambda _m: None)
        assert (tmp_path / "run.json").exists()  # a stack that never started deletes nothing of another's
    finally:
        os.close(held)
    os.close(lock_data_dir(tmp_path))  # free again once the holder lets go


def test_a_busy_port_is_refused_before_anything_starts():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError, match=str(port)):
            refuse_busy_port("127.0.0.1", port, "the API")
        with pytest.raises(StackError):
            refuse_busy_port("0.0.0.0", port, "the API")
    refuse_busy_port("127.0.0.1", port, "the API")  # closed: free


class FakeStack:
    def __init__(self, settings: Settings) -> None:
        self.settings, self.api_url, self.admin_token, self.admin_token_file = settings, "http://x", "a", None
        self.stopped = False

    def stop(self, echo=print) -> None:
        self.stopped = True


def test_a_demo_that_fails_after_the_stack_started_stops_it(tmp_path: Path, monkeypatch):
    started: list[FakeStack] = []

    def fake_start(settings, echo=print):
        started.append(FakeStack(settings))
        return started[-1]

    def failing_setup(*_args, **_kw):
        raise RuntimeError("roster refused")

    monkeypatch.setattr(Stack, "start", staticmethod(fake_start))
    monkeypatch.setattr("simulator.live.setup", failing_setup)
    monkeypatch.setenv("CLASSPULSE_DASHBOARD_PORT", str(free_port()))
    with pytest.raises(RuntimeError, match="roster refused"):
        cli.main(["demo", "--data-dir", str(tmp_path), "--port", str(free_port())])
    assert started and started[0].stopped


def test_x_forwarded_for_is_read_only_behind_our_own_proxy_and_then_its_last_entry():
    from types import SimpleNamespace

    from serve.context import client_of
    spoofed = SimpleNamespace(headers={"x-forwarded-for": "6.6.6.6, 10.1.2.3"},
                              client=SimpleNamespace(host="127.0.0.1"))
    assert client_of(spoofed) == "127.0.0.1"  # anyone can write the header: not trusted by default
    assert client_of(spoofed, trust_forwarded=True) == "10.1.2.3"  # what our proxy appended
    assert from_env({"CLASSPULSE_TRUSTED_PROXY": "true"}).trusted_proxy == 1


def test_joining_a_cluster_reports_its_ingress_as_the_cluster_has_it(tmp_path, monkeypatch):
    """HAProxy variables set in this driver never reach a cluster's Serve processes (they read the
    environment `ray start` had): the start said "HAProxy ingress" and run.json "haproxy" anyway."""
    from serve.launch import prepare_environment
    monkeypatch.setattr(os, "environ", {})
    ingress = prepare_environment(Settings(address="10.0.0.1:6379", haproxy="auto"), tmp_path)
    assert ingress.mode == "cluster" and "as the Ray cluster was started" in ingress.reason
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in os.environ and ingress.run_dir is None


def test_a_ray_client_address_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(StackError, match="head node"):
        Stack.start(Settings(address="ray://head:10001", data_dir=tmp_path / "data"))
    assert not (tmp_path / "data").exists()


def test_the_ray_logs_of_the_last_runs_outlive_the_run_dir(tmp_path):
    from classpulse.stack import keep_ray_logs
    logs = tmp_path / "data" / "logs"
    for i in range(3):
        run = tmp_path / f"run{i}"
        session = run / "ray" / f"session_2026-12-0{i + 1}_09-00-00_000000_1"
        (session / "logs").mkdir(parents=True)
        (session / "logs" / "worker-abc.err").write_text(f"run {i}")
        (run / "ray" / "session_latest").symlink_to(session)
        settings = Settings(data_dir=tmp_path / "data", keep_logs=2)
        Stack(settings, "t", None, run).stop(echo=lambda _m: None)
        assert not run.exists()  # the run dir still goes
    kept = sorted(p.name for p in logs.iterdir())
    assert kept == ["session_2026-12-02_09-00-00_000000_1", "session_2026-12-03_09-00-00_000000_1"]
    assert (logs / kept[-1] / "worker-abc.err").read_text() == "run 2"
    assert keep_ray_logs(tmp_path / "nothing", logs, 2) is None
    with pytest.raises(SettingsError, match="CLASSPULSE_KEEP_LOGS"):
        from_env({"CLASSPULSE_KEEP_LOGS": "-1"})


def test_haproxy_on_without_a_binary_is_a_one_line_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    """It raised a bare RuntimeError, which the CLI let through as a traceback (ops guide: "fails")."""
    monkeypatch.setattr("serve.launch.haproxy_binary", lambda: None)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the start sets RAY_SERVE_* variables
    with pytest.raises(SystemExit) as done:
        cli.main(["serve", "--haproxy", "on", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())])
    assert done.value.code == 2
    assert "classpulse: error: --haproxy on, but no haproxy binary was found" in capsys.readouterr().err
