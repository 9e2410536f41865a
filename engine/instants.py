"""Times clients send: one accepted range for every instant the API takes in.

Python's ``datetime`` parses ``0001-01-01T00:00:00+14:00`` and ``9999-12-31T23:59:59-14:00``,
but cannot convert or format them (year 0, year 10000 in UTC). A time like that which passed
validation failed later, wherever it was formatted: a live view's refresh, an alert, an export.
So every route that takes a time (event ``ts``, xAPI ``timestamp``, a snooze's ``until``, the
analytics' ``since``/``until``, course and due dates) checks it here first and answers 422
naming the field. A naive time is UTC, as everywhere in the API.
"""
from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RANGE = "between 1970-01-01 and 3000-01-01 (UTC)"


def epoch(value: datetime) -> float:
    """Epoch seconds of a client's time; ValueError naming the accepted range when outside it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be {RANGE}")
    return value.timestamp()


def parse(raw: str) -> float:
    """Epoch seconds of an ISO-8601 string (``Z`` and a decimal comma accepted); ValueError saying
    what is wrong."""
    try:
        value = datetime.fromisoformat(raw.replace(",", "."))
    except ValueError:
        raise ValueError(f"must be an ISO-8601 time such as 2026-01-05T09:00:00Z, got {raw[:40]!r}") from None
    return epoch(value)
