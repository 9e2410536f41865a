"""What happened after an intervention: the outcome the effectiveness analysis uses.

Measured from the log, never guessed: how soon the student did something,
their error rate on the activity in the last attempts before against the first
attempts after, and whether they completed it afterwards. Held-out records
(``holdout = true``, not sent) get the same measures, so sent and held-out
students can be compared.
"""
from __future__ import annotations

from typing import Any

WINDOW = 5  # attempts compared before and after


def outcome(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """``events``: the student's events in the course, oldest first, each {ts, type, activity_id, correct, progress}."""
    t0 = record["created_at"]
    before = [e for e in events if e["ts"] <= t0]
    after = [e for e in events if e["ts"] > t0]
    focus = record.get("activity_id") or next(
        (e["activity_id"] for e in reversed(before) if e["activity_id"]), None)

    def attempts(rows: list[dict[str, Any]]) -> list[bool]:
        return [bool(e["correct"]) for e in rows if e["type"] == "attempt"
                and (focus is None or e["activity_id"] == focus)]

    prior, later = attempts(before)[-WINDOW:], attempts(after)[:WINDOW]
    first = next((e for e in after if e["type"] != "heartbeat"), None)
    completed = any(e["activity_id"] == focus and (e["type"] == "activity_completed"
                                                   or (e["type"] == "progress" and (e["progress"] or 0) >= 1))
                    for e in after) if focus else False
    err_before = _error_rate(prior)
    err_after = _error_rate(later)
    improved = None
    if completed:
        improved = True
    elif err_before is not None and err_after is not None:
        improved = err_after < err_before
    return {"activity_id": focus, "status_before": record.get("status_before"),
            "responded_after_s": None if first is None else round(first["ts"] - t0, 3),
            "error_rate_before": err_before, "error_rate_after": err_after,
            "attempts_after": len(attempts(after)), "completed_after": completed, "improved": improved}


def _error_rate(results: list[bool]) -> float | None:
    return None if not results else round(sum(1 for ok in results if not ok) / len(results), 3)
