"""Analytics and Settings with AppTest against a fake API: names, projection, export, saving."""
from __future__ import annotations

from dashboard.presentation import pseudonyms
from tests.dashboard.fakes import FakeApi, analytics, refused, run_app, student, text_of, unavailable

CLASS = [student("stu-1", "Ada Lovelace", "struggling"), student("stu-2", "Bob Byte", "idle"),
         student("stu-3", "Cy Young", "struggling", risk=0.9)]
AT_RISK = [{"student_id": "stu-3", "name": "Cy Young", "risk": 0.9, "reasons": ["3 of 3 attempts wrong"]}]


def api() -> FakeApi:
    return FakeApi(students={"c-a": CLASS}, analytics_=analytics(["stu-1", "stu-2", "stu-3"], AT_RISK))


def stuck_line(at) -> str:
    return next(m.value for m in at.markdown if "stuck now" in m.value)


def test_stuck_now_names_every_student_from_the_roster(monkeypatch):
    at = run_app(monkeypatch, api(), page="Analytics")
    assert not at.exception
    assert stuck_line(at) == "- **Fractions**: 3 stuck now (Ada Lovelace, Bob Byte, Cy Young)"  # not stu-1


def test_stuck_now_and_at_risk_show_class_pseudonyms_in_projection_mode(monkeypatch):
    at = run_app(monkeypatch, api(), page="Analytics", projection=True)
    assert not at.exception
    p = pseudonyms(s["student_id"] for s in CLASS)
    assert stuck_line(at) == f"- **Fractions**: 3 stuck now ({p['stu-1']}, {p['stu-2']}, {p['stu-3']})"
    shown = text_of(at)
    assert f"**{p['stu-3']}** (risk 0.90)" in shown
    assert not any(x in shown for x in ("Ada", "Bob", "Cy Young", "stu-", "attempts wrong"))


def test_export_is_off_in_projection_mode(monkeypatch):
    at = run_app(monkeypatch, api(), page="Analytics", projection=True)
    assert not [b for b in at.button if b.label == "Prepare file"]
    assert "Export is off in projection-safe mode" in text_of(at)


def test_the_prepared_file_downloads_without_a_rerun(monkeypatch):
    fake = api()
    at = run_app(monkeypatch, fake, page="Analytics")
    next(b for b in at.button if b.label == "Prepare file").click().run()
    assert not at.exception and fake.sent("export") == ["bottlenecks"]
    [download] = at.get("download_button")
    assert download.label == "Download c-a-bottlenecks.csv"
    assert download.proto.ignore_rerun  # a rerun would drop the button (it lives under "Prepare file")


def test_saving_thresholds_while_the_api_is_down_says_not_saved(monkeypatch):
    fake = api()
    fake.fail["configure"] = unavailable()
    at = run_app(monkeypatch, fake, page="Settings")
    at.number_input[0].set_value(240)
    next(b for b in at.button if b.label == "Save thresholds").click().run()
    assert not at.exception
    assert any(e.value == "Not saved: the API is not answering; try again." for e in at.error)
    assert len(fake.sent("configure")) == 1


def test_threshold_edits_stay_with_their_course(monkeypatch):
    fake = api()  # both courses have the same thresholds
    fake.fail["configure"] = refused("idle_after_s: too long for this course")
    at = run_app(monkeypatch, fake, page="Settings")
    at.number_input[0].set_value(240.0)
    next(b for b in at.button if b.label == "Save thresholds").click().run()
    assert at.number_input[0].value == 240.0 and at.error  # refused, the edit still in the form
    at.selectbox(key="course").set_value("c-b").run()
    assert not at.exception
    assert at.number_input[0].value == 180.0  # Biology's own value, not Algebra's refused edit


def test_stuck_students_are_named_even_when_no_bottleneck_has_enough_data(monkeypatch):
    fake = api()
    fake.analytics_["bottlenecks"][0]["insufficient_data"] = True  # early in a session: too few attempts
    at = run_app(monkeypatch, fake, page="Analytics")
    assert not at.exception and "Not enough data yet." in text_of(at)
    assert stuck_line(at) == "- **Fractions**: 3 stuck now (Ada Lovelace, Bob Byte, Cy Young)"


def estimate(effect: float, low: float, high: float) -> dict:
    return {"effect": effect, "ci_low": low, "ci_high": high, "se": 0.05, "effect_size_d": 0.4, "n_treated": 7,
            "n_control": 7, "treated_mean": effect, "control_mean": 0.0, "ci_excludes_zero": low > 0 or high < 0}


THIN = {"insufficient_data": True, "n_treated": 2, "n_control": 0}
NOT_RANDOMIZED = "not randomized: send with a holdout share (e.g. 0.1) for an unbiased estimate"


def test_help_sent_without_a_holdout_is_shown_apart_as_not_randomized_with_its_note(monkeypatch):
    fake = api()
    fake.analytics_["interventions"]["effectiveness"] = {"insufficient_data": False, "min_per_arm": 5, "kinds": [
        {"kind": "hint", "treated": 7, "held_out": 7, "method": "randomized_holdout", "insufficient_data": False,
         "effects": {"progress_rate": estimate(0.2, 0.1, 0.3), "error_rate": THIN, "active_minutes": THIN},
         "ad_hoc": {"method": "matched_comparison", "treated": 6, "note": NOT_RANDOMIZED, "insufficient_data": False,
                    "effects": {"progress_rate": estimate(0.05, -0.1, 0.2), "error_rate": THIN,
                                "active_minutes": THIN}}},
        {"kind": "message", "treated": 3, "held_out": 0, "method": "matched_comparison", "insufficient_data": True,
         "note": "no events in any before or after window: nothing to compare",
         "effects": {"progress_rate": THIN, "error_rate": THIN, "active_minutes": THIN}}]}
    at = run_app(monkeypatch, fake, page="Analytics")
    assert not at.exception
    shown = text_of(at)
    assert "**hint** — 7 sent, 7 held out; randomized holdout" in shown
    assert "**hint**, sent without a holdout — 6 sent; comparable students (not randomized)" in shown
    assert NOT_RANDOMIZED in shown and "no events in any before or after window: nothing to compare" in shown
    lines = [m.value.strip() for m in at.markdown if "progress (completion points / hour)" in m.value]
    assert lines == ["- progress (completion points / hour): +0.2 (95% CI +0.1 to +0.3; clear effect)",
                     "- progress (completion points / hour): +0.05 (95% CI -0.1 to +0.2; could be no effect)"]
