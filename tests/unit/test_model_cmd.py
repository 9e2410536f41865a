"""`classpulse model train` / `model show`: a model that fails the gate is not saved unless forced,
and then a server would not use it; `show` says what a server would use and why."""
import json

from classpulse import cli, model_cmd, risk_store

TINY = ["--students", "40", "--seeds", "1", "--held-out-seeds", "2"]


def show(capsys, *args) -> dict:
    capsys.readouterr()
    assert cli.main(["model", "show", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_failing_model_is_not_saved_unless_forced_and_then_not_used(tmp_path, capsys):
    out = tmp_path / "bad"
    assert cli.main(["model", "train", *TINY, "--shuffle-labels", "--out", str(out)]) == 1
    assert "gate failed" in capsys.readouterr().out and not out.exists()
    assert cli.main(["model", "train", *TINY, "--shuffle-labels", "--out", str(out), "--force"]) == 1
    assert (out / risk_store.META_FILE).exists() and (out / risk_store.MODEL_FILE).exists()
    info = show(capsys, "--path", str(out))
    assert info["active"] is False and info["in_use"] == "rules-v1"
    assert "failed its acceptance gate" in info["fallback_reason"]


def test_show_on_a_fresh_data_dir_reports_the_shipped_model(tmp_path, capsys):
    info = show(capsys, "--data-dir", str(tmp_path))
    assert info["active"] is True and info["name"] == "risk-lr-v1" and info["gate"]["passed"]


def test_show_reports_what_the_servers_configured_model_is(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLASSPULSE_RISK_MODEL", "rules")
    info = show(capsys, "--data-dir", str(tmp_path))
    assert info["active"] is False and "CLASSPULSE_RISK_MODEL=rules" in info["fallback_reason"]


def test_the_gate_table_prints_runs_without_some_snapshot(capsys):
    """A held-out run whose cohort had no rows at a snapshot has no metrics for it: shown as -."""
    metrics = {"auc": 0.9, "brier": 0.1, "ece": 0.05, "n": 10, "positives": 3}
    model_cmd._print_gate({"runs": [{"cohort": "mixed", "seed": 7, "all": metrics, "at_25pct": metrics}],
                           "passed": True})
    assert "mixed" in capsys.readouterr().out
