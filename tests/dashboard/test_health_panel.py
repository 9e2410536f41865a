"""The freshness badge and the ops page (AppTest against the session stack's real API)."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.presentation import freshness_badge
from tests.api_client import create_class, event
from tests.dashboard.conftest import APP
from tests.dashboard.test_apptest import app, text_of

pytestmark = pytest.mark.ray


@pytest.fixture
def room(stack, dashboard_env):
    room = create_class(stack, students=2)
    s0 = next(iter(room.student_tokens))
    with stack.client() as c:
        assert c.post("/api/events", json={"events": [event(room, s0)]}).status_code == 202
    time.sleep(0.6)
    return room


def test_badge_says_live_or_how_far_behind():
    assert freshness_badge(None) == "🟢 live" and freshness_badge(0.4) == "🟢 live"
    assert freshness_badge(5.2) == "🟠 delayed by 5 s"


def test_professor_sees_the_live_badge(room):
    at = app(room)
    assert not at.exception
    assert "🟢 live" in text_of(at)


def test_ops_page_shows_the_figures_and_their_history(stack, room, monkeypatch):
    deadline = time.monotonic() + 30  # the EventLog samples its figures every 10 s
    while time.monotonic() < deadline:
        with stack.client() as c:
            if c.get("/api/admin/stats/history").json()["samples"]:
                break
        time.sleep(1)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = stack.admin_token
    at.session_state["page"] = "System health"
    at.run()
    assert not at.exception
    labels = {m.label for m in at.metric}
    assert {"Ingest", "Commit p99", "Event→push p95", "Hub lag p95", "Subscribers"} <= labels
    assert at.success or at.error  # healthy, or degraded with its reasons
    assert "Last 15 minutes" in text_of(at) and "No samples yet." not in text_of(at)
    assert len(at.get("vega_lite_chart")) == 6


def test_ops_page_tells_a_professor_it_needs_the_admin_token(room):
    at = app(room, page="System health")
    assert not at.exception
    assert any("admin token" in w.value for w in at.warning)
