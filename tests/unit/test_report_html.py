"""`classpulse report` HTML: text from the course (activity titles) cannot end the page's script."""
from __future__ import annotations

import re

from classpulse import report
from engine import analytics
from engine.analytics.params import AnalyticsParams
from engine.course import Activity, Course
from tests.unit.analytics_log import Log, live

EVIL = "</script><script>alert(1)</script><!--"


def test_an_activity_title_holding_a_script_end_stays_inside_the_script():
    log = Log(activities=1)
    log.course = Course("c1", "p1", "Course", "event", (Activity("a0", EVIL, 5),))
    for s in ("s1", "s2", "s3"):
        log.add(s, "activity_started", "2026-01-07T10:00:00Z")
        log.add(s, "attempt", "2026-01-07T10:01:00Z", correct=False)
    raw = analytics.query(log.cursor(), log.course, 180.0, AnalyticsParams())
    page = report.render(analytics.combine(raw, log.course, live([{"student_id": s} for s in ("s1", "s2", "s3")]),
                                           0.7))
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    assert len(scripts) == 1 and "vegaEmbed('#chart-bottlenecks'" in scripts[0]
    assert page.count("</script>") == page.count("<script")
    assert "<!--" not in scripts[0] and "\\u003c/script\\u003e" in scripts[0]
