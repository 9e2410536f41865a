"""`classpulse simulate --report` on a live run: the professor token is in it from the start (to open
the dashboard on the run), and only its owner can read the file."""
from __future__ import annotations

import argparse
import json
import stat

from classpulse import simulate_cmd
from simulator import cohort as cohorts
from simulator import live


def test_the_live_report_holds_the_professor_token_from_the_start_and_is_private(tmp_path, monkeypatch, capsys):
    report, token_file = tmp_path / "live.json", tmp_path / "admin.token"
    token_file.write_text("admin-token\n")
    report.write_text("{}")
    report.chmod(0o644)  # a report left by an earlier run, readable by others
    cohort = cohorts.default(students=3, seed=1, minutes=1)
    seen = {}

    def setup(c, api, admin_token):
        assert admin_token == "admin-token"
        return live.LiveRun(c, api, professor_id="sim-course-prof", professor_token="prof-secret"), {}

    async def run_live(c, api, admin_token, evaluate=False, progress=None, prepared=None, **_):
        seen["during"] = json.loads(report.read_text())
        seen["mode_during"] = stat.S_IMODE(report.stat().st_mode)
        run = prepared[0]
        run.acknowledged, run.behind_max_min = 42, 2.5
        return run

    monkeypatch.setattr(live, "setup", setup)
    monkeypatch.setattr(live, "run_live", run_live)
    monkeypatch.setattr(simulate_cmd, "wait_until_healthy", lambda *_a, **_kw: None)
    args = argparse.Namespace(token_file=token_file, api="http://127.0.0.1:1", evaluate=False, report=report,
                              wait=5.0)
    assert simulate_cmd._live(cohort, args) == 0
    assert seen["during"]["professor_token"] == "prof-secret" and seen["during"]["state"] == "running"
    assert seen["mode_during"] == 0o600
    final = json.loads(report.read_text())
    assert final["professor_token"] == "prof-secret" and final["professor_id"] == "sim-course-prof"
    assert final["events_acknowledged"] == 42 and final["state"] == "finished"
    assert final["loop_behind_max_min"] == 2.5  # how far behind the run fell, said too
    assert "simulation fell 2.5 simulated minutes behind" in capsys.readouterr().out
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
