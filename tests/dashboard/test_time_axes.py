"""Every time axis says UTC and is drawn in UTC (as the hour axes are): a temporal axis and its
tooltip were drawn in the browser's time zone, unlabelled."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard import insight_charts as charts
from dashboard.student import timeline

T0 = 1_788_000_000  # seconds, on a whole minute


def encodings(spec: dict) -> Iterator[dict]:
    """Each encoding in a (layered) chart spec."""
    if "encoding" in spec:
        yield spec["encoding"]
    for layer in spec.get("layer", []):
        yield from encodings(layer)


def session():
    return charts.session([{"minute": T0 + 300 * i, "events": 4, "students": 2} for i in range(3)])


def trajectory():
    return charts.trajectory([{"t": T0 + 300 * i, "median": 0.1 * i, "p25": 0.0, "p75": 0.2 * i, "student": 0.3}
                              for i in range(3)])


def student_timeline():
    return timeline([{"ts": "2026-08-30T09:21:00+02:00", "type": "attempt", "activity_id": "act0", "correct": True,
                      "progress": None}], {"act0": "Fractions"})


@pytest.mark.parametrize("chart", [session, trajectory, student_timeline])
def test_time_axes_are_utc_and_say_so(chart):
    spec = chart().to_dict()
    xs = [e["x"] for e in encodings(spec)]
    assert xs and all(x["type"] == "temporal" and x["scale"] == {"type": "utc"} for x in xs)
    assert all(x["title"] == "time (UTC)" for x in xs)
    tips = [t for e in encodings(spec) for t in e.get("tooltip", [])]
    assert tips and not [t for t in tips if t.get("type") == "temporal"]  # a temporal tooltip is browser-local
    assert {"field": "time_utc", "type": "nominal", "title": "time (UTC)"} in tips


def test_tooltips_give_the_time_in_utc():
    frame = student_timeline().data
    assert list(frame["time_utc"]) == ["2026-08-30 07:21:00 UTC"]  # 09:21 at +02:00
