"""What a caller may ask of the analytics: time range, bucket size, effect window, one student.

Query strings are checked here (pure, no HTTP): every problem is collected as
``{"index": None, "field", "error"}`` so the route answers one 422 naming them
all. Whether ``student_id`` is on the roster is checked where the roster is.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine import instants
from engine.ids import ID_PATTERN

MAX_BUCKETS = 240          # trajectory / session buckets; wider ranges widen the bucket
BUCKET_MINUTES = (1, 1440)
WINDOW_MINUTES = (1, 1440)
SESSION_MINUTES = (5, 7 * 24 * 60)
MAX_DIGITS = 6  # more digits than any bound has: out of range without reading the number
KNOWN = ("since", "until", "bucket", "window_minutes", "session_minutes", "student_id")


class ParamError(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class AnalyticsParams:
    """``since``/``until`` are epoch seconds (None: the whole log); minutes are whole numbers."""

    since: float | None = None
    until: float | None = None
    bucket_minutes: int = 5
    window_minutes: int = 10
    session_minutes: int = 120
    student_id: str | None = None

    def sql(self) -> dict[str, Any]:
        """The filter values every query binds (``$since``/``$until`` as timestamps)."""
        return {"since": _ts(self.since if self.since is not None else 0.0),
                "until": _ts(self.until if self.until is not None else 32503680000.0)}

    def to_dict(self) -> dict[str, Any]:
        return {"since": _iso(self.since), "until": _iso(self.until), "bucket": self.bucket_minutes,
                "window_minutes": self.window_minutes, "session_minutes": self.session_minutes,
                "student_id": self.student_id}


def parse(query: dict[str, str]) -> AnalyticsParams:
    """Validate a query string (a plain dict); raises ParamError listing every bad field."""
    errors: list[dict[str, Any]] = []

    def fail(field: str, error: str) -> None:
        errors.append({"index": None, "field": field, "error": error})

    since = _time(query.get("since"), "since", fail)
    until = _time(query.get("until"), "until", fail)
    if since is not None and until is not None and since >= until:
        fail("until", "must be after since")
    bucket = _minutes(query.get("bucket"), "bucket", BUCKET_MINUTES, 5, fail)
    window = _minutes(query.get("window_minutes"), "window_minutes", WINDOW_MINUTES, 10, fail)
    session = _minutes(query.get("session_minutes"), "session_minutes", SESSION_MINUTES, 120, fail)
    student = query.get("student_id")
    if student is not None and not ID_PATTERN.fullmatch(student):
        fail("student_id", "must be a student id ([A-Za-z0-9._-], at most 64 characters)")
    if errors:
        raise ParamError(errors)
    return AnalyticsParams(since, until, bucket, window, session, student or None)


def _time(raw: str | None, field: str, fail) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        fail(field, f"must be an ISO-8601 time such as 2026-01-05T09:00:00Z, got {raw[:40]!r}")
        return None
    try:
        return instants.epoch(value)
    except ValueError as exc:
        fail(field, str(exc))
        return None


def _minutes(raw: str | None, field: str, bounds: tuple[int, int], default: int, fail) -> int:
    if raw is None or raw == "":
        return default
    text = raw.strip().lower()
    scale = 60 if text.endswith("h") else 1
    text = text.rstrip("hm")
    if not (text.isascii() and text.isdigit()):  # '²'.isdigit() is True, int('²') fails
        fail(field, f"must be a whole number of minutes (e.g. 5, 15m, 1h), got {raw[:40]!r}")
        return default
    if len(text.lstrip("0")) > MAX_DIGITS:  # int() of over 4,300 digits raises; any this long is out of range
        fail(field, f"must be between {bounds[0]} and {bounds[1]} minutes, got {raw[:40]!r}")
        return default
    value = int(text) * scale
    if not bounds[0] <= value <= bounds[1]:
        fail(field, f"must be between {bounds[0]} and {bounds[1]} minutes, got {value}")
        return default
    return value


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")
