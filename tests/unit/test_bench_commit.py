"""The commit bench (loadtests/bench_commit.py) runs both thread counts and records its figures."""
import json
import os

from loadtests import bench_commit


def test_commit_bench_compares_both_thread_counts(tmp_path, capsys):
    out = tmp_path / "commit.json"
    assert bench_commit.main(["--rounds", "2", "--sizes", "1,100", "--commits", "20", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures) == {"1", "100"}
    for size in figures.values():
        assert sorted(size) == ["1 thread", f"default ({os.cpu_count()})"]
        for measured in size.values():
            assert measured["cpu_ms"] > 0 and measured["wall_ms"] > 0 and len(measured["rounds"]) == 2
    printed = capsys.readouterr().out
    assert "Store.append per commit" in printed and "1 thread" in printed
