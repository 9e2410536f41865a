"""The locustfile's retries when nothing answers (status 0), run in a subprocess: importing Locust
monkey-patches the whole process with gevent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, socket
    import gevent
    from locust.env import Environment
    import loadtests.locustfile as lf

    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))  # bound and never listening: every connection is refused
    lf.StudentUser.host = lf.ProfessorUser.host = f"http://127.0.0.1:{unused.getsockname()[1]}"
    env = Environment()
    reported = []
    env.events.request.add_listener(lambda **kw: reported.append(kw["exception"] is None))
    out = {}

    def run(name, call):
        reported.clear()
        try:
            call()
            raised = None
        except BaseException as exc:
            raised = type(exc).__name__
        out[name] = {"raised": raised, "successes": reported.count(True), "failures": reported.count(False),
                     "rejected": lf.state["rejected"], "retries": lf.state["retries"]}

    student = lf.StudentUser(env)
    student.student_id, student.token, student.done = "s1", "t", 0
    run("student", student.work)
    professor = lf.ProfessorUser(env)
    professor.token = "t"
    run("professor", professor.analytics)

    def killed(_seconds):
        raise gevent.GreenletExit
    sleep, lf.gevent.sleep = lf.gevent.sleep, killed  # the run stops the user during its retry wait
    run("killed", student.work)
    lf.gevent.sleep = sleep
    print(json.dumps(out))
""")


def test_an_event_nobody_answered_is_retried_then_counted_as_rejected():
    env = dict(os.environ, PYTHONPATH=str(ROOT), CP_RETRIES="1", CP_CLASS="", CP_RESULT_DIR="")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # refused twice: the first reported as a success only once its wait was over, the second a failure
    assert out["student"] == {"raised": None, "successes": 1, "failures": 1, "rejected": 1, "retries": 1}
    assert out["professor"] == {"raised": None, "successes": 1, "failures": 1, "rejected": 1, "retries": 1}
    # ended during the wait, never acknowledged: nothing reported as a success, and counted for the gates
    assert out["killed"] == {"raised": "GreenletExit", "successes": 0, "failures": 0, "rejected": 2, "retries": 2}
