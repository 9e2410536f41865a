"""How things look: status colours and icons, pseudonyms for projection mode.

Display only: no business rule lives here (statuses come from the API).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

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
            "Wombat", "Koala", "Tapir", "Okapi", "Quokka", "Bison", "Crane", "Dingo", "Egret", "Ferret",
            "Gannet", "Hare", "Jackal", "Kestrel", "Lemur", "Magpie", "Newt", "Oryx", "Panda", "Raven",
            "Seal", "Tern", "Vole", "Walrus", "Yak", "Zebra", "Bittern", "Caracal", "Dormouse", "Eland"]


def pseudonym(student_id: str, attempt: int = 0) -> str:
    """A stable, name-free label for projecting the class view: an animal and a number drawn from
    separate bits of one hash (40 x 1000 labels). ``attempt`` > 0 draws again, for a collision."""
    seed = student_id if attempt == 0 else f"{student_id}#{attempt}"
    digest = hashlib.sha256(seed.encode()).digest()
    animal, number = int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")
    return f"{_ANIMALS[animal % len(_ANIMALS)]} {number % 1000:03d}"


def pseudonyms(student_ids: Iterable[str]) -> dict[str, str]:
    """Pseudonyms for a whole class, never two alike: ids are taken in order and one whose label is
    already taken draws again. So a student keeps their label unless a classmate with a smaller id
    draws the very same one (about 1 in 40,000 per classmate)."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for sid in sorted(set(student_ids)):
        attempt = 0
        while (label := pseudonym(sid, attempt)) in taken:
            attempt += 1
        taken.add(label)
        out[sid] = label
    return out


def class_names(students: Iterable[dict], projection: bool) -> dict[str, str]:
    """Student id -> what the screen shows: the name, or in projection mode the class pseudonym."""
    students = list(students)
    if projection:
        return pseudonyms(s["student_id"] for s in students)
    return {s["student_id"]: s.get("name") or s["student_id"] for s in students}


def name_of(student_id: str, names: dict[str, str], projection: bool) -> str:
    """One student's label from a class's ``names``; outside the roster, a pseudonym or the id."""
    if student_id in names:
        return names[student_id]
    return pseudonym(student_id) if projection else student_id


def utc_time(iso: str | None, now: datetime | None = None) -> str:
    """A time in UTC, labelled so, with its date unless it is today (in UTC)."""
    if not iso:
        return ""
    t = datetime.fromisoformat(iso).astimezone(UTC)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return t.strftime("%H:%M:%S UTC" if t.date() == today else "%Y-%m-%d %H:%M:%S UTC")


def minutes(seconds: float | None) -> str:
    seconds = seconds or 0
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"

DELAYED_AFTER_S = 2.0  # the hub-lag SLO: beyond it the professor is told the view is behind


def freshness_badge(lag_s: float | None) -> str:
    """"live" or "delayed by N s" from the API's ``lag_s`` (an older API sends none: live)."""
    if lag_s is None or lag_s < DELAYED_AFTER_S:
        return "🟢 live"
    return f"🟠 delayed by {lag_s:.0f} s"
