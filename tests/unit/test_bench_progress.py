"""The simulator and risk benchmarks run for minutes: each stage shows on a progress bar."""
from __future__ import annotations

import json
from types import SimpleNamespace

from loadtests import bench_risk, bench_simulator


class Bars:
    """Stands in for rich's Progress: keeps every task's description, completed and total."""

    def __init__(self, **_kw) -> None:
        self.tasks: dict[int, dict] = {}

    def __enter__(self):
        Bars.last = self
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def add_task(self, description: str, total=None) -> int:
        self.tasks[len(self.tasks)] = {"description": description, "completed": 0, "total": total, "seen": []}
        return len(self.tasks) - 1

    def update(self, task: int, advance: float = 0, completed: float | None = None, **fields) -> None:
        t = self.tasks[task]
        t.update(fields)
        t["completed"] = (t["completed"] if completed is None else completed) + advance
        t["seen"].append(t["description"])

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def finished(self) -> dict[str, bool]:
        """Each task by its description: did it reach its total?"""
        return {t["description"]: t["completed"] == t["total"] for t in self.tasks.values()}


def test_the_risk_bench_shows_each_class_size_on_a_progress_bar(monkeypatch, tmp_path):
    monkeypatch.setattr(bench_risk, "Progress", Bars)
    assert bench_risk.main(["--students", "20,30", "--repeat", "1", "--out", str(tmp_path / "risk.json")]) == 0
    (task,) = Bars.last.tasks.values()
    assert task["completed"] == task["total"] == 6
    assert any(d.startswith("20 students") for d in task["seen"]) and any(d.startswith("30 students")
                                                                          for d in task["seen"])
    assert len(json.loads((tmp_path / "risk.json").read_text())["results"]) == 2


def test_the_simulator_bench_shows_its_offline_and_live_runs_on_a_progress_bar(monkeypatch, tmp_path):
    import ray

    from classpulse import stack
    from simulator import live, offline

    def run(cohort, out, workers=0, progress=None):  # two parts written, Ray or not
        for done in (1, 2):
            progress(done, 2)
        return {"events_per_s": 1, "events": 1, "seconds": 1, "events_sha256": "e", "truth_sha256": "t"}

    async def run_live(cohort, api, admin_token, prepared=None, progress=None, **_):
        for minute in range(cohort.minutes + 1):
            progress(minute / cohort.minutes)
        return SimpleNamespace(acknowledged=10)

    monkeypatch.setattr(offline, "run", run)
    monkeypatch.setattr(ray, "init", lambda **_: None)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    monkeypatch.setattr(stack.Stack, "start", lambda *_a, **_kw: SimpleNamespace(
        api_url="http://x", admin_token="t", stop=lambda **_: None))
    monkeypatch.setattr(live, "setup", lambda *_a: (None, {}))
    monkeypatch.setattr(live, "run_live", run_live)
    monkeypatch.setattr(bench_simulator, "Progress", Bars)
    monkeypatch.setattr(bench_simulator.tempfile, "mkdtemp", lambda **_: str(tmp_path))
    assert bench_simulator.main(["--students", "10", "--minutes", "5", "--live", "3,4", "--live-seconds", "12",
                                 "--out", str(tmp_path / "sim.json")]) == 0
    assert Bars.last.finished() == {"offline, one process": True, "offline, Ray tasks": True,
                                    "live: starting a stack": True, "live: 3 students at 10x": True,
                                    "live: 4 students at 10x": True}
