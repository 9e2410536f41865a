"""The at-risk section: students at or above the course's risk threshold, with their reasons.

Risk and reasons come from the live view (``engine/risk.py``); the predictive
model work replaces what feeds them, not this shape.
"""
from __future__ import annotations

from typing import Any

from engine import risk


def shape(students: list[dict], threshold: float) -> dict[str, Any]:
    flagged = sorted((s for s in students if s["risk"] >= threshold), key=lambda s: -s["risk"])
    return {"model": risk.MODEL_NAME, "threshold": threshold,
            "note": "transparent rules until a trained model passes its acceptance gate",
            "students": [{"student_id": s["student_id"], "name": s["name"], "risk": s["risk"],
                          "reasons": s["reasons"]} for s in flagged]}
