"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a running
stack: cards, a struggling student turning red, a one-click hint, projection mode, tablets."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from classpulse import dashboard_process
from serve.launch import free_port
from tests.api_client import create_class, event
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.ray
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (the Makefile installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(stack, tmp_path_factory):
    room = create_class(stack, students=12, activities=4)
    students = list(room.student_tokens)
    with stack.client() as c:  # a class in motion: some started, one far ahead
        c.post("/api/events", json={"events": [event(room, s, "progress", progress=0.5) for s in students[:8]]
                                    + [event(room, students[8], "activity_completed")]})
    token_file = tmp_path_factory.mktemp("dash") / "professor.token"
    token_file.write_text(room.professor_token)
    port = free_port()
    proc = dashboard_process.start(stack.api_url, port, token_file, ARTIFACTS / "dashboard.log")
    yield room, f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url, width=1280, height=900):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("[data-testid='stMetric']", timeout=30_000)
    return page


def card(page, student_id):
    return page.locator(f".st-key-card-{student_id}")


def shot(page, name, docs=False):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"))


def test_cards_for_every_student_and_a_struggling_one_turns_red_within_5_s(stack, site, browser):
    room, url = site
    page = open_page(browser, url)
    page.wait_for_function(f"document.querySelectorAll(\"[class*='st-key-card-']\").length == {len(room.student_tokens)}",
                           timeout=15_000)
    victim = list(room.student_tokens)[3]
    with stack.client() as c:
        r = c.post("/api/events", json={"events": [event(room, victim, correct=False) for _ in range(4)]})
        assert r.status_code == 202
    started = time.monotonic()
    card(page, victim).get_by_text("Struggling").wait_for(timeout=5_000)
    assert time.monotonic() - started < 5.0
    # Streamlit's developer toolbar stays out of a professor's page (it shows on localhost by default)
    assert page.get_by_role("button", name="Deploy").count() == 0
    shot(page, "live-class", docs=True)


def test_one_click_hint_is_recorded(stack, site, browser):
    room, url = site
    victim = list(room.student_tokens)[3]
    page = open_page(browser, url)
    card(page, victim).get_by_role("button", name="Details").click()
    page.get_by_role("button", name=re.compile("Send hint")).wait_for(timeout=15_000)
    shot(page, "student-drill-down", docs=True)
    page.get_by_role("button", name=re.compile("Send hint")).click()
    deadline = time.monotonic() + 10
    while True:
        detail = httpx.get(f"{stack.api_url}/api/professor/courses/{room.course_id}/students/{victim}",
                           headers={"Authorization": f"Bearer {room.professor_token}"}, timeout=10).json()
        if detail["interventions"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert [i["kind"] for i in detail["interventions"]] == ["hint"]


def test_projection_mode_shows_no_real_names(site, browser):
    room, url = site
    page = open_page(browser, url)
    assert "Student 0" in page.inner_text("body")
    page.get_by_text("Projection-safe mode").click()
    page.wait_for_function("!/Student \\d/.test(document.body.innerText)", timeout=10_000)
    time.sleep(2.5)  # one more live refresh: names must not come back
    body = page.inner_text("body")
    assert not any(f"Student {i}" in body for i in range(len(room.student_tokens)))
    shot(page, "projection-mode", docs=True)


@pytest.mark.parametrize("width, height", [(768, 1024), (1024, 768)])
def test_tablet_viewports_have_no_horizontal_scroll(site, browser, width, height):
    _, url = site
    page = open_page(browser, url, width, height)
    time.sleep(1.5)
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    shot(page, f"tablet-{width}x{height}", docs=True)
    assert scroll <= inner, f"horizontal scroll at {width}x{height}: {scroll} > {inner}"


def test_analytics_view_draws_charts(site, browser):
    _, url = site
    page = open_page(browser, url)
    page.get_by_text("Analytics", exact=True).click()
    page.get_by_text("Where students are stuck").wait_for(timeout=15_000)
    # the charts draw after the headings (a second or more on a busy machine): wait for them
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=30_000)
    time.sleep(1)
    shot(page, "analytics", docs=True)
    assert page.locator("[data-testid='stVegaLiteChart'], .vega-embed").count() >= 1
