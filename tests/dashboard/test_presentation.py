"""Pure display helpers: pseudonyms, times, and the dashboard's source habits (no Streamlit run)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dashboard.presentation import class_names, pseudonym, pseudonyms, utc_time

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_animal_and_number_are_drawn_independently():
    labels = {pseudonym(f"student-{i}") for i in range(5000)}
    assert len(labels) > 4500  # the animal followed the number before: at most 1,000 labels existed


def test_a_class_of_120_gets_120_different_pseudonyms():
    ids = [f"stu-{i:03d}" for i in range(120)]
    names = pseudonyms(ids)
    assert sorted(names) == ids and len(set(names.values())) == 120
    assert names == pseudonyms(reversed(ids))  # stable: the same class gives the same labels


def test_a_collision_is_resolved_deterministically():
    seen: dict[str, str] = {}
    for i in range(100_000):  # two ids whose first draws collide
        label = pseudonym(f"s{i}")
        if label in seen:
            first, second = seen[label], f"s{i}"
            break
        seen[label] = f"s{i}"
    names = pseudonyms([first, second])
    assert names[first] != names[second]
    assert names[min(first, second)] == pseudonym(first)  # the smaller id keeps its label
    assert names == pseudonyms([second, first])


def test_class_names_are_names_or_pseudonyms():
    students = [{"student_id": "a", "name": "Ada"}, {"student_id": "b", "name": "Bob"}]
    assert class_names(students, projection=False) == {"a": "Ada", "b": "Bob"}
    assert class_names(students, projection=True) == pseudonyms(["a", "b"])


def test_times_say_utc_and_their_date_unless_today():
    now = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    assert utc_time("2025-03-04T14:03:22+00:00", now) == "14:03:22 UTC"
    assert utc_time("2025-03-03T23:59:01+00:00", now) == "2025-03-03 23:59:01 UTC"
    assert utc_time("2025-03-04T01:30:00+02:00", now) == "2025-03-03 23:30:00 UTC"  # converted, then dated
    assert utc_time(None) == ""


def test_no_deprecated_use_container_width_in_the_dashboard():
    offenders = [f"{p.name}:{n}" for p in sorted(DASHBOARD.glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1) if "use_container_width" in line]
    assert offenders == []

