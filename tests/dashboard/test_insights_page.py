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
