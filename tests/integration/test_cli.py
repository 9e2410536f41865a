"""``classpulse serve`` as a process: restart on the same data keeps everything;
SIGTERM stops it within 10 s and leaves none of its processes behind."""
from __future__ import annotations

import time

import psutil
import pytest

from tests.api_client import create_class, event, get
from tests.conftest import ARTIFACTS
from tests.receivers import wait_for
from tests.stack_process import start_stack

pytestmark = pytest.mark.ray


def live(stack, room):
    r = get(stack, f"/api/professor/courses/{room.course_id}/live-progress", room.professor_token)
    assert r.status_code == 200, r.text
    return r.json()


def test_restart_on_the_same_data_dir_keeps_live_progress_and_tokens(tmp_path, stack):
    # runs beside the session stack: two stacks on one machine must not collide
    first = start_stack(tmp_path, ARTIFACTS / "restart.log")
    try:
        room = create_class(first, students=6)
        students = list(room.student_tokens)
        batch = [event(room, s, "attempt", correct=i % 2 == 0, ts=f"2026-01-01T10:00:{i:02d}Z")
                 for i, s in enumerate(students * 3)]
        with first.client() as c:
            assert c.post("/api/events", json={"events": batch}).json()["accepted"] == len(batch)
        def settled():  # live progress once every student's events reached it (a loaded machine takes time)
            progress = live(first, room)
            return progress if all(s["last_event_id"] for s in progress["students"]) else None
        before = wait_for(settled, timeout=30.0)
        pids = [first.proc.pid, *first.info["haproxy_pids"]]
        run_dir = first.info["run_dir"]
    finally:
        took = first.stop(terminal_ctrl_c=True)  # Ctrl-C reaches Ray's processes too
    assert took < 10.0
    time.sleep(0.5)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                 if any(run_dir in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, f"processes of the stopped stack still running: {leftovers}"
    # the run dir is gone, but its Ray logs (the API replica's included) stay for the post-mortem
    kept = list((tmp_path / "logs").glob("session_*"))
    assert len(kept) == 1 and list(kept[0].glob("worker-*.err")), kept

    second = start_stack(tmp_path, ARTIFACTS / "restart.log")
    try:
        after = live(second, room)  # the professor token from before still works
        assert after["students"] == before["students"]
        def kinds(progress):  # alerts are re-derived from the rebuilt state
            return sorted((a["student_id"], a["kind"]) for a in progress["alerts"])
        assert kinds(after) == kinds(before) and kinds(before)
        with second.client() as c:
            assert c.post("/api/events", json={"events": batch}).json() == {"accepted": 0, "duplicates": len(batch)}
    finally:
        second.stop()


def test_sigterm_while_starting_leaves_nothing_behind(tmp_path):
    """SIGTERM while ``classpulse serve`` starts (HAProxy up, the app not yet): the process ends and
    none of its processes (HAProxy, a child of a Serve worker, included) outlives it."""
    import os
    import signal
    import subprocess
    import sys

    from serve.launch import free_port

    env = dict(os.environ, CLASSPULSE_ADMIN_TOKEN="test-admin-token-0123456789", PYTHONUNBUFFERED="1")
    env.pop("RAY_ADDRESS", None)
    with open(ARTIFACTS / "sigterm-start.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "classpulse", "serve", "--port", str(free_port()),
                                 "--data-dir", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    run_dir = None
    deadline = time.monotonic() + 90
    while run_dir is None and time.monotonic() < deadline and proc.poll() is None:  # until HAProxy runs
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                args = child.cmdline()
            except psutil.Error:
                continue
            if args and "haproxy" in args[0]:
                run_dir = next((a.split("/haproxy/")[0] for a in args if "/haproxy/" in a), None)
        time.sleep(0.2)
    if run_dir is None:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.skip("no HAProxy ingress here (Serve's default proxy): nothing outlives the driver")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0  # interrupted, after cleaning up
    time.sleep(0.5)
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                 if any(run_dir in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, f"processes of the interrupted start still running: {leftovers}"
