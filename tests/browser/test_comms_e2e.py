"""The chat panel and the live work view in a real browser: a student's message appears in the
drill-down within seconds, the professor's reply reaches the student's socket, shared work shows."""
from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from tests.browser.test_dashboard_e2e import browser, open_page, shot, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.ray


def test_chat_and_work_view_in_the_drill_down(stack, site, browser):  # noqa: F811
    room, url = site
    sid = list(room.student_tokens)[5]
    ws_url = stack.api_url.replace("http://", "ws://") + f"/ws/student/{sid}"
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {room.student_tokens[sid]}"}) as ws:
        page = open_page(browser, url)
        page.locator(f".st-key-card-{sid}").get_by_role("button", name="Details").click()
        page.get_by_text("Live work view").wait_for(timeout=20_000)
        page.get_by_text("has not shared their work").wait_for(timeout=10_000)
        ws.send(json.dumps({"type": "chat", "text": "Can you look at my fraction?"}))
        ws.send(json.dumps({"type": "work_state", "consent": True, "activity_id": "act0", "step": 2,
                            "answer": "3/4 + 1/4 = 4/8"}))
        page.get_by_text("Can you look at my fraction?").wait_for(timeout=10_000)
        page.get_by_text("3/4 + 1/4 = 4/8").wait_for(timeout=10_000)
        page.get_by_placeholder("Write to").fill("Check the denominator")
        page.get_by_role("button", name="Send to chat").click()
        while True:
            frame = json.loads(ws.recv(timeout=20))
            if frame["type"] == "chat" and frame["from"] == "professor":
                break
        assert frame["text"] == "Check the denominator"
        page.get_by_text("✓✓ read").or_(page.get_by_text("✓ delivered")).first.wait_for(timeout=10_000)
        shot(page, "chat-and-work-view")
