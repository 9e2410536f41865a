"""The figures and gates of the load tests (no Locust or Ray here)."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from classpulse import loadtest_cmd
from loadtests import multinode


def test_percentiles_are_nearest_rank():
    assert loadtest_cmd._pct(list(range(1, 21)), 0.95) == 19  # not the maximum
    assert loadtest_cmd._pct(list(range(1, 101)), 0.95) == 95
    assert loadtest_cmd._pct([7.0], 0.99) == 7.0


def test_events_refused_during_the_ramp_fail_the_run_and_say_why(monkeypatch, tmp_path: Path, capsys):
    """Locust resets its failure counts once every user runs (--reset-stats): refusals during the
    ramp reached no gate. A CI run failed this gate with nothing to say why: the reasons are printed."""
    why = {"0: ConnectionResetError(104, 'Connection reset by peer')": 2, "the task ended with ValueError: bad frame": 1}
    figures = {"students": 10, "acknowledged": 97, "rejected": 3, "rejected_why": why, "cut_off": 1, "stored": 97, "lost": 0,
               "stored_not_acknowledged": 0, "steady_samples": 50,
               "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0, "run_p50_ms": 20.0, "run_p95_ms": 40.0,
               "run_p99_ms": 60.0, "requests_per_s": 5.0, "events_per_s": 5.0, "steady_s": 20.0, "failures": 0,
               "course_id": "c"}
    monkeypatch.setattr(loadtest_cmd, "run_locust", lambda *_a, **_k: dict(figures))
    args = argparse.Namespace(students=10, duration="10s", event_every=1.0, out=tmp_path, processes=0, p95_ms=1000.0)
    assert loadtest_cmd._run(args, "http://x", "admin") == 1
    printed = capsys.readouterr().out
    assert all(reason[:40] in printed for reason in why), printed
    monkeypatch.setattr(loadtest_cmd, "run_locust", lambda *_a, **_k: figures | {"rejected": 0, "rejected_why": {}})
    assert loadtest_cmd._run(args, "http://x", "admin") == 0


def test_the_multinode_drill_fails_when_an_event_is_lost_or_a_state_differs():
    ok = {"acknowledged": 10, "logged": 10, "mismatched": []}
    assert multinode.passed(ok)
    assert not multinode.passed(ok | {"logged": 9})
    assert not multinode.passed(ok | {"mismatched": ["s1"]})


def test_the_capacity_samples_never_count_an_exited_locust_as_cpu(monkeypatch):
    """Locust's processes leave the sum when they exit: their CPU seconds fall to 0, and the
    negative difference was added to the machine's (one sample of 61 cores on 2)."""
    import psutil

    from loadtests import bench_capacity
    locust = iter([1.0, 1.7, 2.4, 3.1, 0.0, 0.0])
    ticks = iter([False] * 5 + [True])
    sampler = bench_capacity.Sampler(psutil.Process())
    monkeypatch.setattr(sampler._stop, "wait", lambda _s: next(ticks))
    monkeypatch.setattr(sampler, "_locust_seconds", lambda: next(locust))
    monkeypatch.setattr(sampler, "_stack_rss", lambda: 0)
    monkeypatch.setattr(psutil, "cpu_percent", lambda _i=None: 90.0)
    sampler._loop()
    assert len(sampler.cpu) == 5 and all(0 <= c <= psutil.cpu_count() for *_, c in sampler.cpu)


def test_capacity_cpu_is_averaged_over_the_steady_window_only():
    """The sampler ran from before the class was created until after the harness's waits: idle
    seconds and the ramp were averaged in beside a steady-state latency."""
    import psutil

    from loadtests import bench_capacity
    sampler = bench_capacity.Sampler(psutil.Process())
    # class creation and Locust start-up (idle), the ramp (busy), steady state, then the harness waiting
    busy = [0.1] * 5 + [1.9] * 10 + [1.2] * 20 + [0.1] * 25
    sampler.cpu = [(100.0 + i, 101.0 + i, b) for i, b in enumerate(busy)]
    assert sampler.steady_cores(115.0, 135.0) == pytest.approx(1.2)
    assert sampler.steady_cores(115.5, 135.0) == pytest.approx(1.2)  # a sample half outside is left out
    assert math.isnan(sampler.steady_cores(140.0, 140.5))  # no sample wholly inside


def _part(tmp: Path, pid: int, **fields) -> None:
    part = {"course_id": "c", "acknowledged": 0, "rejected": 0, "rejected_why": {}, "cut_off": 0, "retries": 0, "reconnects": 0, "samples": [],
            "acked_ids": [], "acked_at": [], "sent": [], "first_sent": {}, "stopping_at": 1000.0} | fields
    part["acknowledged"] = len(part["acked_ids"])
    (tmp / f"result-{pid}.json").write_text(json.dumps(part))


def test_steady_state_starts_after_the_last_students_first_send_and_ends_when_the_run_stops(tmp_path: Path):
    """It was estimated from when Locust was launched (launch + ramp + pace + 5 s): Locust's own
    start-up ate into the settling time. Now from the users' stamps, across Locust processes."""
    _part(tmp_path, 1, stopping_at=1060.2)  # the master: no users, told to stop first
    _part(tmp_path, 2, first_sent={"s0": 1003.0, "s1": 1011.5}, stopping_at=1060.4)
    _part(tmp_path, 3, first_sent={"s2": 1014.0, "s3": 1002.0}, stopping_at=1060.3)
    merged = loadtest_cmd._merge_parts(tmp_path)
    assert loadtest_cmd.steady_window(merged) == (1014.0 + loadtest_cmd.SETTLE_S, 1060.2)


def test_the_reasons_events_went_unacknowledged_add_up_across_processes(tmp_path: Path):
    _part(tmp_path, 1)
    _part(tmp_path, 2, rejected=3, rejected_why={"503: busy": 2, "the task ended with ValueError: bad frame": 1})
    _part(tmp_path, 3, rejected=2, rejected_why={"503: busy": 2}, cut_off=1)
    merged = loadtest_cmd._merge_parts(tmp_path)
    assert (merged["rejected"], merged["cut_off"]) == (5, 1)
    assert merged["rejected_why"] == {"503: busy": 4, "the task ended with ValueError: bad frame": 1}


def test_events_per_s_are_acknowledged_event_ids_over_the_steady_window(tmp_path: Path):
    """It was Locust's requests/s on /api/events: retried 5xx (marked successes) and refused posts
    counted, and from the last user spawned rather than over the steady window."""
    # 10 students, one event each per 10 s; acknowledged before, inside and after the window [1020, 1060]
    acked_at = [1010.0 + i * 0.1 for i in range(90)] + [1020.0 + i * 0.1 for i in range(400)] + [1060.5, 1061.0]
    _part(tmp_path, 1, first_sent={f"s{i}": 1005.0 + i for i in range(10)}, stopping_at=1060.0,
          acked_ids=[f"e{i}" for i in range(len(acked_at))], acked_at=acked_at,
          samples=[[1012.0, 5000.0], [1030.0, 100.0], [1040.0, 300.0], [1065.0, 9000.0]])
    stats = {"/api/events": {"Requests/s": "17.5"},  # retries and refusals included
             "Aggregated": {"Requests/s": "18.0", "Failure Count": "0"}, "event->professor": {"95%": "5000"}}
    figures = loadtest_cmd._figures(10, loadtest_cmd._merge_parts(tmp_path), stats, stored=492)
    assert (figures["steady_from"], figures["steady_to"], figures["steady_s"]) == (1019.0, 1060.0, 41.0)
    assert figures["events_per_s"] == pytest.approx(400 / 41.0)
    assert figures["p95_ms"] == 300.0 and figures["steady_samples"] == 2
    assert figures["requests_per_s"] == 18.0 and figures["lost"] == 0
    assert math.isnan(loadtest_cmd.rate_within([1.0], 5.0, 5.0))


def test_an_event_stored_whose_answer_never_came_is_not_a_lost_event(tmp_path: Path):
    """A user stopped while its post committed: the event is stored and counted never acknowledged;
    "lost" (acknowledged - stored) went to -1 and failed its gate as if an event were lost (review)."""
    _part(tmp_path, 1, first_sent={"s0": 1000.0}, stopping_at=1060.0, acked_ids=["e0", "e1"],
          acked_at=[1010.0, 1020.0])
    stats = {"Aggregated": {"Requests/s": "1", "Failure Count": "0"}}
    merged = loadtest_cmd._merge_parts(tmp_path)
    stored_more = loadtest_cmd._figures(1, merged, stats, stored=3)
    assert (stored_more["lost"], stored_more["stored_not_acknowledged"]) == (0, 1)
    stored_less = loadtest_cmd._figures(1, merged, stats, stored=1)
    assert (stored_less["lost"], stored_less["stored_not_acknowledged"]) == (1, 0)
    assert loadtest_cmd._figures(1, merged, stats, stored=-1)["lost"] == 2  # the log could not be read


def test_durations_are_read_as_locust_reads_them(tmp_path: Path, capsys):
    """Ours let 1.5m and 90.5 through (Locust refused them once the stack was up) and refused 1h30m."""
    assert [loadtest_cmd._seconds(d) for d in ("90", "90s", "2m", "1h30m")] == [90, 90, 120, 5400]
    for bad in ("1.5m", "90.5", "abc", ""):
        args = argparse.Namespace(duration=bad, students=10, event_every=1.0, chaos=False, host="http://x",
                                  token_file=None, out=tmp_path)
        assert loadtest_cmd.cmd_loadtest(args) == 2, bad
        assert "1h30m" in capsys.readouterr().out


def test_a_load_test_on_a_live_stack_erases_its_students_and_forgets_their_tokens(tmp_path: Path):
    import json

    from tests.fake_api import fake_api
    class_file = tmp_path / "class.json"
    class_file.write_text(json.dumps({"course_id": "load-abc", "activities": ["a1"],
                                      "professor": ["load-abc-prof", "ptok"],
                                      "students": [["load-abc-s0", "t0"], ["load-abc-s1", "t1"]]}))
    with fake_api() as api:
        loadtest_cmd.remove_class(api.url, "admin", class_file, echo=lambda _m: None)
        deleted = [path for method, path, _ in api.requests if method == "DELETE"]
        rotated = api.posted("/api/admin/professors")
    assert deleted == ["/api/admin/students/load-abc-s0", "/api/admin/students/load-abc-s1"]
    assert rotated == [{"professor_id": "load-abc-prof", "name": "Load (retired)", "rotate_token": True}]
    assert not class_file.exists()


def test_erasing_the_load_class_asks_again_when_the_stack_is_busy_and_keeps_the_file_if_it_stays_busy(
        tmp_path: Path):
    """A run here kept class.json (and so every token) without saying why; a 429, a 5xx or a dropped
    connection on one DELETE was final."""
    import json

    from tests.fake_api import fake_api
    class_file = tmp_path / "class.json"
    roster = {"course_id": "load-abc", "activities": ["a1"], "professor": ["load-abc-prof", "ptok"],
              "students": [["load-abc-s0", "t0"], ["load-abc-s1", "t1"]]}
    class_file.write_text(json.dumps(roster))
    with fake_api(busy_deletes=2) as api:
        loadtest_cmd.remove_class(api.url, "admin", class_file, echo=lambda _m: None)
        deleted = [path for method, path, _ in api.requests if method == "DELETE"]
    assert deleted == ["/api/admin/students/load-abc-s0"] * 3 + ["/api/admin/students/load-abc-s1"]
    assert not class_file.exists()
    class_file.write_text(json.dumps(roster))
    said = []
    with fake_api(busy_deletes=100) as api:
        loadtest_cmd.remove_class(api.url, "admin", class_file, echo=said.append)
    assert class_file.exists() and "load-abc-s0: 503" in said[-1] and "is kept" in said[-1]


def test_every_capacity_step_gets_the_steady_window_it_asks_for():
    """A step's run is its start-up, ramp, first pacing interval and settling, then the steady
    seconds: a bigger class runs longer instead of measuring less of its steady state."""
    from classpulse.loadtest_cmd import SETTLE_S, SPAWN_PER_S
    from loadtests import bench_capacity
    for students in (100, 1500, 4000):
        run = bench_capacity.step_seconds(students, 30, 10.0)
        last_first_send = bench_capacity.LOCUST_START_S + students / SPAWN_PER_S + 10.0
        assert run - (last_first_send + SETTLE_S) >= 30
        assert run - (last_first_send + SETTLE_S) < 31
    assert bench_capacity.step_seconds(1500, 30, 10.0) - bench_capacity.step_seconds(100, 30, 10.0) == 14
