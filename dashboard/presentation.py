"""How things look: status colours and icons, pseudonyms for projection mode.

Display only: no business rule lives here (statuses come from the API).
"""
from __future__ import annotations

import hashlib

STATUS = {  # colour, icon, label: readable without colour
    "struggling": ("#d62728", "🆘", "Struggling"),
    "idle": ("#ff9f1c", "💤", "Idle"),
    "active": ("#2ca02c", "✅", "Active"),
    "not_started": ("#7f7f7f", "⏳", "Not started"),
    "completed": ("#1f77b4", "🏁", "Completed"),
}
STATUS_ORDER = ["struggling", "idle", "active", "not_started", "completed"]
PRIORITY = {1: "🔴 High", 2: "🟠 Medium", 3: "🟡 Low"}
_ANIMALS = ["Otter", "Falcon", "Lynx", "Heron", "Badger", "Marten", "Ibis", "Gecko", "Puffin", "Orca",
            "Wombat", "Koala", "Tapir", "Okapi", "Quokka", "Bison", "Crane", "Dingo", "Egret", "Ferret"]


def pseudonym(student_id: str) -> str:
    """A stable, name-free label for projecting the class view."""
    digest = int(hashlib.sha256(student_id.encode()).hexdigest()[:8], 16)
    return f"{_ANIMALS[digest % len(_ANIMALS)]} {digest % 1000:03d}"


def display_name(student: dict, projection: bool) -> str:
    return pseudonym(student["student_id"]) if projection else student["name"]


def minutes(seconds: float | None) -> str:
    seconds = seconds or 0
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"

DELAYED_AFTER_S = 2.0  # the hub-lag SLO: beyond it the professor is told the view is behind


def freshness_badge(lag_s: float | None) -> str:
    """"live" or "delayed by N s" from the API's ``lag_s`` (an older API sends none: live)."""
    if lag_s is None or lag_s < DELAYED_AFTER_S:
        return "🟢 live"
    return f"🟠 delayed by {lag_s:.0f} s"
