"""A live run that loses the server reconnects, resends with the same event ids and
counts every event once."""
from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from simulator import cohort as cohorts
from simulator.live import run_live
from tests.conftest import ARTIFACTS
from tests.stack_process import start_stack

pytestmark = pytest.mark.ray


def test_live_run_survives_a_server_restart_without_double_counting(tmp_path):
    stack = start_stack(tmp_path, ARTIFACTS / "outage.log")
    port = stack.api_url.rsplit(":", 1)[1]
    cohort = cohorts.from_dict({"students": 30, "seed": 4, "speed": 40, "minutes": 30,
                                "course": {"course_id": "outage"}})
    outcome = {}

    def drive():
        outcome["run"] = asyncio.run(run_live(cohort, stack.api_url, stack.admin_token))

    driver = threading.Thread(target=drive)
    driver.start()
    time.sleep(14)  # mid-run: stop the whole stack, start it again on the same port and data
    stack.stop()
    stack = start_stack(tmp_path, ARTIFACTS / "outage.log", port=int(port))
    driver.join(timeout=240)
    try:
        run = outcome["run"]
        # the outage really cut sockets mid-run (a frame in flight at that moment is resent, but
        # whether one was is chance: on a slow machine every frame may have been answered)
        assert run.reconnects >= 1
        sent_ids = {e["event_id"] for e in run.sent}
        assert len(sent_ids) == len(run.sent) == run.acknowledged + run.duplicates
        assert run.unconfirmed == []  # frames cut off by the outage were asked again, even after the run
        headers = {"Authorization": f"Bearer {run.professor_token}"}
        analytics = httpx.get(f"{stack.api_url}/api/professor/courses/outage/analytics/real-time",
                              headers=headers, timeout=30).json()
        stored = sum(c["events"] for c in analytics["heatmap"]["by_weekday_hour"])
        assert stored == len(sent_ids)  # every student event the run made is stored exactly once
        live = httpx.get(f"{stack.api_url}/api/professor/courses/outage/live-progress", headers=headers,
                         timeout=30).json()
        assert len(live["students"]) == 30
    finally:
        stack.stop()
