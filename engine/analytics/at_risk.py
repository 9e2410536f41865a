"""The at-risk section: students at or above the course's risk threshold, with their reasons.

Risk and reasons come from the live view: the trained model when it passed its
gate and the course has a session window, else the transparent rules (``engine/risk.py``).
No student has started yet (every live status ``not_started``): ``insufficient_data``, an
empty list that does not mean nobody is at risk.
"""
from __future__ import annotations

from typing import Any

from engine import risk


def shape(students: list[dict], threshold: float, model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Students at or above the threshold, each with reasons; ``model`` is live progress's ``risk_model``."""
    flagged = sorted((s for s in students if s["risk"] >= threshold), key=lambda s: -s["risk"])
    model = model or {"in_use": risk.MODEL_NAME, "active": False, "fallback_reason": "no model information"}
    note = (f"trained model {model['name']} {model['version']} (passed its held-out acceptance gate)"
            if model["active"] else f"transparent rules (fallback: {model['fallback_reason']})")
    return {"model": model["in_use"], "risk_model": model, "threshold": threshold, "note": note,
            "insufficient_data": not any(s["status"] != "not_started" for s in students),
            "students": [{"student_id": s["student_id"], "name": s["name"], "risk": s["risk"],
                          "reasons": s["reasons"]} for s in flagged]}
