"""The operator's commands without a stack: the demo's own course per run, the dashboard's bind
address, cohorts by name from any directory, a live simulation that waits for a stack starting."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from classpulse import cli, dashboard_process, simulate_cmd
from classpulse.stack import Stack
from serve.launch import free_port
from simulator import cohort as cohorts
from simulator import live
from tests.fake_api import fake_api


class FakeStack:
    def __init__(self, settings, api_url: str) -> None:
        self.settings, self.api_url, self.admin_token, self.admin_token_file = settings, api_url, "a", None

    def stop(self, echo=print) -> None:
        pass


class FakeDashboard:
    def terminate(self) -> None:
        pass

    def wait(self, _timeout=None) -> int:
        return 0


def test_every_demo_run_has_its_own_course_and_the_dashboard_and_printed_urls_follow_it(
        tmp_path: Path, monkeypatch, capsys):
    dashboards: list[tuple[str, str]] = []

    async def no_traffic(*_args, **_kw):
        return None

    def fake_dashboard(api, port, token_file, *_args, **_kw):
        dashboards.append((api, token_file.read_text().strip()))
        return FakeDashboard()

    monkeypatch.setattr(live, "run_live", no_traffic)
    monkeypatch.setattr(dashboard_process, "start", fake_dashboard)
    monkeypatch.setattr("classpulse.stack.wait_for_signal", lambda: None)
    with fake_api() as api:
        monkeypatch.setattr(Stack, "start", staticmethod(lambda settings, echo=print: FakeStack(settings, api.url)))
        outputs = []
        for run in range(2):  # the same data dir twice, as `make demo` twice does
            if run:
                time.sleep(1.05)  # runs are stamped to the second; a stack start takes longer than that
            cli.main(["demo", "--data-dir", str(tmp_path), "--students", "3", "--dashboard-port", str(free_port())])
            outputs.append(capsys.readouterr().out)
        courses = [body["course_id"] for body in api.posted("/api/admin/courses")]
        professors = api.posted("/api/admin/professors")
    assert len(courses) == 2 and courses[0] != courses[1]
    assert all(c.startswith("demo-") for c in courses)
    for course, professor, (_api, token), out in zip(courses, professors, dashboards, outputs, strict=True):
        # a professor of its own: the dashboard, signed in as them, opens on that course (their only one)
        assert professor["professor_id"] == f"{course}-prof" and token == f"tok-{course}-prof"
        assert f"/api/professor/courses/{course}/live-progress" in out and token in out


def test_a_busy_dashboard_port_is_named_with_the_flag_and_variable_that_move_it(tmp_path, monkeypatch, capsys):
    import socket
    started = []
    monkeypatch.setattr(Stack, "start", staticmethod(lambda settings, echo=print: started.append(settings)))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(SystemExit) as done:
            cli.main(["demo", "--data-dir", str(tmp_path), "--dashboard-port", str(port)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and not started  # refused before the stack started
    assert str(port) in err and "--dashboard-port" in err and "CLASSPULSE_DASHBOARD_PORT" in err
    free = free_port()
    monkeypatch.setenv("CLASSPULSE_DASHBOARD_PORT", str(port))
    args = cli.build_parser().parse_args(["demo", "--dashboard-port", str(free)])
    assert cli._settings(args).with_overrides(dashboard_port=args.dashboard_port).dashboard_port == free


def test_the_dashboard_binds_where_it_is_told_and_stays_on_loopback_by_default(monkeypatch):
    def address(cmd: list[str]) -> str:
        return cmd[cmd.index("--server.address") + 1]

    assert address(dashboard_process.command("http://api", 8501, None)) == "127.0.0.1"
    assert address(dashboard_process.command("http://api", 8501, None, host="0.0.0.0")) == "0.0.0.0"
    seen = {}

    def fake_start(api, port, token_file, *_args, host="127.0.0.1", **_kw):
        seen.update(api=api, port=port, host=host, cmd=dashboard_process.command(api, port, token_file, host))
        return FakeDashboard()

    monkeypatch.setattr(dashboard_process, "start", fake_start)
    monkeypatch.setattr("classpulse.stack.wait_for_signal", lambda: None)
    port = free_port()
    cli.main(["dashboard", "--api", "https://cp.example", "--host", "0.0.0.0", "--port", str(port)])
    assert seen["host"] == "0.0.0.0" and address(seen["cmd"]) == "0.0.0.0" and seen["port"] == port
    monkeypatch.setenv("CLASSPULSE_DASHBOARD_HOST", "0.0.0.0")
    cli.main(["dashboard", "--port", str(port)])
    assert seen["host"] == "0.0.0.0"
    monkeypatch.delenv("CLASSPULSE_DASHBOARD_HOST")
    cli.main(["dashboard", "--port", str(port)])
    assert seen["host"] == "127.0.0.1"


def test_a_shipped_cohort_is_found_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository root
    cohort = simulate_cmd._cohort(argparse.Namespace(cohort="intro-programming", students=5, seed=None,
                                                     speed=None, minutes=None))
    assert cohort.students == 5 and cohort.activities
    assert cohorts.load("intro-programming.toml") == cohorts.load("intro-programming")
    assert set(cohorts.shipped()) >= {"intro-programming", "struggling-heavy", "late-and-guessing"}
    built_in = simulate_cmd._cohort(argparse.Namespace(cohort="default", students=4, seed=None, speed=None,
                                                       minutes=None))
    assert built_in == cohorts.default(students=4)


@pytest.mark.parametrize("given", ["no-such-cohort", "missing/intro-programming.toml", "."])
def test_a_missing_or_unreadable_cohort_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys, given):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        cli.main(["simulate", "--cohort", given, "--offline", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("classpulse: error: cohort") and "Traceback" not in err
    if given != ".":
        assert "intro-programming" in err  # the shipped names are listed


def test_a_live_run_waits_for_the_api_and_its_token_file(tmp_path, monkeypatch):
    """`classpulse serve ... &` then `classpulse simulate --api ...` at once: the API answers 503 while
    it starts and admin.token appears only then; the run waits for both instead of crashing."""
    token_file = tmp_path / "admin.token"
    seen = {}

    def fake_setup(c, api, admin_token):
        seen["token"] = admin_token
        return live.LiveRun(c, api, professor_id="p", professor_token="t"), {}

    async def run_live(c, api, admin_token, prepared=None, **_):
        return prepared[0]

    monkeypatch.setattr(live, "setup", fake_setup)
    monkeypatch.setattr(live, "run_live", run_live)
    cohort = cohorts.default(students=1, minutes=1)
    with fake_api(unhealthy_for=3) as api:
        args = argparse.Namespace(token_file=token_file, api=api.url, evaluate=False, report=None, wait=10.0)
        import threading
        threading.Timer(1.0, lambda: token_file.write_text("admin-token\n")).start()
        assert simulate_cmd._live(cohort, args) == 0
        health = [r for r in api.requests if r[1] == "/api/health"]
    assert seen["token"] == "admin-token" and len(health) >= 4  # three 503s, then ok


def test_a_live_run_against_nothing_says_so_within_its_wait(tmp_path, capsys):
    args = argparse.Namespace(token_file=tmp_path / "admin.token", api=f"http://127.0.0.1:{free_port()}",
                              evaluate=False, report=None, wait=1.0)
    assert simulate_cmd._live(cohorts.default(students=1, minutes=1), args) == 2
    err = capsys.readouterr().err
    assert err.startswith("classpulse: error:") and "not healthy within 1s" in err
