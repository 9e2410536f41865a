"""Learning events: the wire shape, its validation, and the folded form.

``parse_batch`` turns the JSON body of ``POST /api/events`` (or a student
WebSocket ``events`` frame) into ``Event`` tuples, or into an errors list of
``{"index", "field", "error"}`` naming every problem. Validation here is about
shape only; whether the ids exist is checked against the roster by the log.
"""
from __future__ import annotations

import functools
import hashlib
import math
import time
from datetime import UTC, datetime
from itertools import repeat
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from engine import instants
from engine.ids import ID_PATTERN, MAX_EVENT_ID

MAX_BATCH = 1000
EventType = Literal["activity_started", "progress", "attempt", "hint_requested",
                    "activity_completed", "heartbeat"]
LEARNING_TYPES = frozenset({"activity_started", "progress", "attempt", "hint_requested",
                            "activity_completed"})

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN.pattern)]


def _iso_text(value: Any) -> Any:
    """``ts`` as the contract has it, ISO-8601 text: a number was read as seconds or as
    milliseconds depending on its size (253402300800 became 1978), so numbers are refused."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("ts: an ISO-8601 time as text, e.g. 2026-12-07T10:00:00Z")
    return value


# Event ids the server writes itself: an xAPI statement's event (engine/xapi.py) and a voiding
# marker (engine/voiding.py). A client claiming one first would make the statement's own event,
# or its voiding, conflict (409) forever.
RESERVED_PREFIXES = ("xapi:", "void:")


def _not_reserved(value: str) -> str:
    if value.startswith(RESERVED_PREFIXES):
        raise ValueError(f"event_id: may not start with {' or '.join(map(repr, RESERVED_PREFIXES))} "
                         "(reserved for the server's own events)")
    return value


def _a_number(name: str):
    """``progress`` / ``duration_s`` as JSON numbers: ``true`` was read as 1.0 (the activity
    completed) and ``"0.5"`` as 0.5."""
    def check(value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{name}: must be a number")
        return value
    return BeforeValidator(check)


class EventIn(BaseModel):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_EVENT_ID), AfterValidator(_not_reserved)]
    student_id: Id
    course_id: Id
    activity_id: Id | None = None
    type: EventType
    ts: Annotated[datetime | None, BeforeValidator(_iso_text)] = None
    progress: Annotated[Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None,
                        _a_number("progress")] = None
    correct: StrictBool | None = None
    duration_s: Annotated[Annotated[float, Field(ge=0.0, le=86_400.0, allow_inf_nan=False)] | None,
                          _a_number("duration_s")] = None

    @field_validator("ts")
    @classmethod
    def _a_time_we_can_keep(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            try:
                instants.epoch(value)
            except ValueError as exc:
                raise ValueError(f"ts: {exc}") from None
        return value

    @model_validator(mode="after")
    def _fields_the_type_needs(self) -> EventIn:
        if self.type != "heartbeat" and self.activity_id is None:
            raise ValueError("activity_id: required for every type but heartbeat")
        if self.type == "progress" and self.progress is None:
            raise ValueError("progress: required (0..1) for type progress")
        if self.type == "attempt" and self.correct is None:
            raise ValueError("correct: required (true/false) for type attempt")
        return self


class Event(NamedTuple):
    """An accepted event as it is logged and folded. Times are epoch seconds."""

    event_id: str
    student_id: str
    course_id: str
    activity_id: str | None
    type: str
    ts: float
    progress: float | None
    correct: bool | None
    duration_s: float | None
    ts_given: bool
    received_at: float
    fingerprint: int = 0  # digest of what the client sent: same id + other content = conflict
    seq: int = 0  # position in the log, set at commit

    @property
    def is_learning(self) -> bool:
        return self.type in LEARNING_TYPES

    def content_fingerprint(self) -> int:
        """A signed 64-bit digest of what the client sent (not server-filled fields)."""
        content = (self.event_id, self.student_id, self.course_id, self.activity_id,
                   self.type, self.ts if self.ts_given else None, self.progress,
                   self.correct, self.duration_s)
        digest = hashlib.blake2b(repr(content).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def to_wire(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "student_id": self.student_id,
                "course_id": self.course_id, "activity_id": self.activity_id,
                "type": self.type, "ts": iso(self.ts), "progress": self.progress,
                "correct": self.correct, "duration_s": self.duration_s}


_BATCH = TypeAdapter(list[EventIn])


class BatchError(ValueError):
    """An invalid batch; ``errors`` is the list returned to the client."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid event(s)")
        self.errors = errors


def parse_batch(raw: Any, received_at: float | None = None) -> list[Event]:
    """Validate a list of wire events; raise BatchError listing every problem."""
    if not isinstance(raw, list):
        raise BatchError([{"index": None, "field": "events", "error": "must be a list of events"}])
    if not 1 <= len(raw) <= MAX_BATCH:
        raise BatchError([{"index": None, "field": "events",
                           "error": f"must hold 1 to {MAX_BATCH} events, got {len(raw)}"}])
    try:
        parsed = _BATCH.validate_python(raw)
    except ValidationError as exc:
        raise BatchError(_errors(exc)) from None
    now = time.time() if received_at is None else received_at
    return [from_model(e, now) for e in parsed]


def quantize(epoch: float) -> float:
    """Event times are kept to the microsecond, as the log stores them, so a
    replayed fold is bit-for-bit the live one."""
    return round(epoch, 6)


def from_model(e: EventIn, received_at: float) -> Event:
    ts_given = e.ts is not None
    received_at = quantize(received_at)
    ts = quantize(instants.epoch(e.ts)) if ts_given else received_at
    event = Event(e.event_id, e.student_id, e.course_id, e.activity_id, e.type, ts,
                  e.progress, e.correct, e.duration_s, ts_given, received_at)
    return event._replace(fingerprint=event.content_fingerprint())


Columns = tuple[list, ...]


def to_columns(events: list[Event]) -> Columns:
    """Events as one list per field: ~10x cheaper to pickle between actors than tuples."""
    if not events:
        return tuple([] for _ in Event._fields)
    return tuple(map(list, zip(*events)))


def from_columns(columns: Columns) -> list[Event]:
    # tuple.__new__ straight from C: Event._make is a Python call per event (~2x slower)
    return list(map(tuple.__new__, repeat(Event), zip(*columns)))


FIELD = {name: i for i, name in enumerate(Event._fields)}


class EventBatch:
    """Events as columns, kept columnar through the log: no per-event objects on the hot path."""

    __slots__ = ("cols",)

    def __init__(self, cols: Columns) -> None:
        self.cols = tuple(list(c) if not isinstance(c, list) else c for c in cols)

    @classmethod
    def of(cls, events: list[Event] | EventBatch | Columns) -> EventBatch:
        if isinstance(events, EventBatch):
            return events
        if events and isinstance(events, list) and isinstance(events[0], Event):
            return cls(to_columns(events))
        return cls(events if events else to_columns([]))

    def __len__(self) -> int:
        return len(self.cols[0])

    def column(self, name: str) -> list:
        return self.cols[FIELD[name]]

    def events(self) -> list[Event]:
        return from_columns(self.cols)

    def take(self, rows: list[int]) -> EventBatch:
        return EventBatch(tuple([c[i] for i in rows] for c in self.cols))

    def with_seq(self, first: int) -> EventBatch:
        cols = list(self.cols)
        cols[FIELD["seq"]] = list(range(first, first + len(self)))
        return EventBatch(tuple(cols))

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        if len(batches) == 1:
            return batches[0]
        return EventBatch(tuple([v for b in batches for v in b.cols[i]] for i in range(len(Event._fields))))


def iso(epoch: float | None) -> str | None:
    """``2026-11-26T07:03:35.123Z``: exactly ``datetime.fromtimestamp(epoch, UTC).isoformat(timespec=
    "milliseconds")`` with ``Z``, split as datetime splits it (microseconds rounded half-even) so the
    seconds part comes from a cache: hubs format every changed student's times on every refresh."""
    if epoch is None:
        return None
    frac, whole = math.modf(epoch)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        whole, us = whole + 1.0, us - 1_000_000
    elif us < 0:
        whole, us = whole - 1.0, us + 1_000_000
    return _iso_second(int(whole)) + _MILLIS[us // 1000]


_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        index = loc[0] if loc and isinstance(loc[0], int) else None
        field = ".".join(str(p) for p in loc[1:]) or None
        message = err["msg"]
        if err["type"] == "value_error":  # our own "field: reason" messages
            message = message.removeprefix("Value error, ")
            field, _, message = message.partition(": ")
        elif err["type"] == "string_pattern_mismatch":
            message = "must be 1-64 characters from [A-Za-z0-9._-]"
        out.append({"index": index, "field": field or "event", "error": message})
    return out
