"""The trained at-risk model: gate, fallback, reasons, round trip, the shipped model on fresh cohorts.

Cohorts here are small (tens of students) to keep the run short; the full training is
``classpulse model train`` (docs/researcher-guide.md has its figures).
"""
import json

import numpy as np
import pytest

from classpulse import risk_store
from classpulse import risk_training as rt
from engine import risk as rules
from engine.config import AlertConfig
from engine.live_view import NO_SESSION_WINDOW, CourseView, SeqClock
from engine.risk_features import FEATURES
from engine.risk_model import BASELINE_REASON, GATE, MIN_RISK_FOR_REASONS, gate
from engine.state import StudentState
from tests.factories import T0, course, ev, params

SMALL = {"students": 60, "train_seeds": (11, 12), "held_out_seeds": (21,)}


@pytest.fixture(scope="module")
def small_model():
    return rt.train(**SMALL)


@pytest.fixture(scope="module")
def shipped():
    return risk_store.load(risk_store.shipped_folder())


def test_a_model_trained_on_shuffled_labels_fails_the_gate_and_the_rules_take_over(tmp_path):
    bad = rt.train(**SMALL, shuffle_labels=True)
    g = bad.meta["gate"]
    assert not g["passed"] and g["auc_mean"] < GATE["auc_mean_min"]
    assert any("AUC" in f for f in g["failures"])
    risk_store.save(bad, tmp_path)
    model, info = risk_store.resolve(str(tmp_path), None)
    assert model is None and not info.active and info.in_use == rules.MODEL_NAME
    assert info.name == rt.MODEL_NAME and "failed its acceptance gate" in info.fallback_reason
    view = windowed_view(model, info)
    live = view.live_progress()
    assert live["risk_model"]["active"] is False and "acceptance gate" in live["risk_model"]["fallback_reason"]
    struggling = next(s for s in live["students"] if s["student_id"] == "s1")
    assert any("recent attempts wrong" in r for r in struggling["reasons"])  # the rules' words


def test_gate_thresholds_each_block():
    def run(auc, early, ece_):
        return {"all": {"auc": auc, "brier": 0.1, "ece": ece_}, "early": {"auc": early}}
    assert gate([run(0.9, 0.85, 0.05), run(0.85, 0.8, 0.05)]).passed
    assert "worst held-out AUC" in gate([run(0.95, 0.9, 0.05), run(0.7, 0.9, 0.05)]).failures[0]
    assert "early-session" in gate([run(0.9, 0.6, 0.05)]).failures[0]
    assert "calibration" in gate([run(0.9, 0.9, 0.3)]).failures[0]
    assert not gate([{"all": {"auc": None, "brier": None, "ece": None}, "early": {"auc": None}}]).passed
    # no run had both outcomes at the early snapshot: the early AUC was not measured, so no pass
    unmeasured = gate([run(0.9, None, 0.05), run(0.85, None, 0.05)])
    assert not unmeasured.passed and unmeasured.auc_early_min is None
    assert unmeasured.failures == (
        "early-session AUC not evaluated: no held-out run had both outcomes at the early snapshot",)


def test_train_save_load_round_trip_gives_the_same_scores(small_model, tmp_path):
    data = rt.cohort_dataset(rt.load_cohort("late-and-guessing", 40, 5))
    before = small_model.predict(data.X)
    assert np.allclose(before, small_model.pipeline.predict_proba(data.X)[:, 1])  # the fast path is exact
    path = risk_store.save(small_model, tmp_path)
    meta = json.loads(path.read_text())
    assert meta["features"] == list(FEATURES) and meta["version"].startswith("1+")
    assert {"trained_at", "gate", "training", "held_out", "coefficients", "sha256"} <= set(meta)
    loaded = risk_store.load(tmp_path)
    assert np.array_equal(loaded.predict(data.X), before)
    assert loaded.version == small_model.version


def test_a_tampered_or_foreign_model_is_refused_with_the_reason(small_model, tmp_path):
    risk_store.save(small_model, tmp_path)
    (tmp_path / risk_store.MODEL_FILE).write_bytes((tmp_path / risk_store.MODEL_FILE).read_bytes() + b"x")
    model, info = risk_store.resolve(str(tmp_path), None)
    assert model is None and "sha256" in info.fallback_reason
    risk_store.save(small_model, tmp_path)
    meta = json.loads((tmp_path / risk_store.META_FILE).read_text())
    (tmp_path / risk_store.META_FILE).write_text(json.dumps(meta | {"features": ["something_else"]}))
    assert "other features" in risk_store.resolve(str(tmp_path), None)[1].fallback_reason
    assert risk_store.resolve("rules", None)[1].fallback_reason.startswith("the rules were chosen")


def test_auto_prefers_the_data_dirs_model_else_the_shipped_one(small_model, tmp_path):
    model, info = risk_store.resolve("auto", tmp_path)
    assert info.active and info.version == risk_store.load(risk_store.shipped_folder()).version
    risk_store.save(small_model, risk_store.data_dir_folder(tmp_path))
    model, info = risk_store.resolve("auto", tmp_path)
    assert info.active and info.version == small_model.version and model is not None


def test_the_shipped_model_passes_the_gate_on_fresh_held_out_cohorts(shipped):
    assert shipped.meta["gate"]["passed"] and shipped.info().active
    assert set(shipped.meta["held_out"]["cohorts"]).isdisjoint(shipped.meta["training"]["cohorts"])
    held_out = rt.datasets(rt.HELD_OUT_COHORTS, (977,), 120)  # a seed neither training nor the gate used
    runs = rt.evaluate(shipped, held_out)
    for r in runs:
        assert r["all"]["auc"] >= GATE["auc_min"], r
        assert r["all"]["ece"] <= 0.15, r


def test_every_student_at_risk_has_reasons_in_words(shipped):
    flagged = 0
    for _, table, _ in rt.snapshots(rt.load_cohort("struggling-heavy", 80, 31)):
        for i, (risk, reasons) in enumerate(shipped.score(table).values()):
            if table.completed[i]:
                assert (risk, reasons) == (0.0, ())
                continue
            assert (1 <= len(reasons) <= 3) if risk >= MIN_RISK_FOR_REASONS else reasons == ()
            if risk >= AlertConfig().risk_threshold:
                flagged += 1
                assert BASELINE_REASON not in reasons
                assert all(r and not r.startswith("active within") for r in reasons), reasons
    assert flagged >= 5  # the struggling-heavy mix has many students who will not finish


# -- the live view uses the model --------------------------------------------

def windowed_view(model, info, window=True):
    c = course()
    if window:
        from dataclasses import replace
        c = replace(c, starts_at=T0, ends_at=T0 + 3600)
    view = CourseView(c, AlertConfig(), {"s1": "Ann", "s2": "Bob", "s3": "Cy"}, SeqClock(),
                      risk_model=model, risk_info=info)
    for student, events in {"s1": [ev("attempt", correct=False, t=k) for k in range(5)],
                            "s2": [ev("attempt", correct=True, t=0), ev("activity_completed", t=30)],
                            "s3": []}.items():
        state = StudentState("c1", student)
        for e in events:
            state.apply(e._replace(student_id=student), params())
        view.apply(state.summary(params(), {f"a{i}": 10.0 for i in range(1, 5)}))
    view.refresh()
    return view


def test_the_live_view_scores_with_the_model_when_the_course_has_a_session_window(shipped):
    view = windowed_view(shipped, shipped.info())
    live = view.live_progress()
    assert live["risk_model"]["active"] and live["risk_model"]["name"] == rt.MODEL_NAME
    assert live["risk_model"]["in_use"] == rt.MODEL_NAME and live["risk_model"]["gate"]["passed"]
    by_id = {s["student_id"]: s for s in live["students"]}
    assert by_id["s1"]["reasons"] and 0 < by_id["s1"]["risk"] < 1
    assert by_id["s1"]["risk"] > by_id["s2"]["risk"]  # all wrong and no progress vs. one activity done


def test_without_a_session_window_the_view_falls_back_to_the_rules_and_says_why(shipped):
    view = windowed_view(shipped, shipped.info(), window=False)
    info = view.live_progress()["risk_model"]
    assert info["active"] is False and info["fallback_reason"] == NO_SESSION_WINDOW
    assert info["in_use"] == rules.MODEL_NAME and info["name"] == rt.MODEL_NAME



def test_a_high_model_risk_opens_an_at_risk_alert_that_lists_the_reasons(shipped):
    view = windowed_view(shipped, shipped.info())
    view.clock.observe(T0 + 50 * 60)  # 50 minutes into the hour; s1 has done nothing but fail, then stopped
    view.dirty = True
    view.refresh()
    live = view.live_progress()
    s1 = next(s for s in live["students"] if s["student_id"] == "s1")
    assert s1["risk"] >= AlertConfig().risk_threshold
    alert = next(a for a in live["alerts"] if a["kind"] == "at_risk" and a["student_id"] == "s1")
    assert alert["message"].startswith(f"risk {s1['risk']:.2f}: ")
    assert s1["status"] == "idle" and all(r in alert["message"] for r in s1["reasons"])
    assert "remaining work needs" in alert["message"]


def test_no_label_leakage_a_snapshot_sees_only_earlier_events():
    """Features at half time are the same whether or not the later events exist."""
    from simulator.offline import START_EPOCH, simulate
    from simulator.student import iso
    cohort = rt.load_cohort("late-and-guessing", 30, 8)
    events, _ = simulate(cohort, range(cohort.students))
    cutoff = iso(START_EPOCH + 60 * 0.5 * cohort.minutes)
    before = [e for e in events if e["ts"] < cutoff]
    assert len(before) < len(events)
    tables = []
    for evs in (events, before):
        _, summaries, clock = next(rt.fold(cohort, evs, (0.5,), 180.0))
        tables.append(rt.extract(summaries, clock, 180.0, rt.session_of(rt.course_of(cohort))).X)
    assert np.array_equal(tables[0], tables[1])


def test_seed_zero_is_a_seed():
    assert rt.load_cohort("default", 10, 0).seed == 0
    assert rt.load_cohort("late-and-guessing", 10, 0).seed == 0
    assert rt.load_cohort("default", 10).seed == rt.load_cohort("default").seed  # not given: the cohort's own


def test_held_out_seeds_that_overlap_the_training_seeds_are_refused():
    with pytest.raises(ValueError, match=r"held-out seeds must differ from training seeds.*\[12\]"):
        rt.train(students=10, train_seeds=(11, 12), held_out_seeds=(12, 13))


def test_early_is_the_first_snapshot_even_when_a_cohort_has_no_rows_there():
    """Held-out rows only at 50% and 75% of the session: the early AUC is unmeasured, not the 50% one."""
    class Scores:
        def predict(self, features):
            return features[:, 0]
    data = rt.Dataset(np.array([[0.1], [0.9], [0.2], [0.8]]), np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.75, 0.75]))
    run = rt.evaluate(Scores(), {("mixed", 7): data})[0]
    assert run["at_50pct"]["auc"] == 1.0 and run["at_25pct"]["n"] == 0
    assert run["early"]["auc"] is None
