"""Courses and their activities: the catalogue events are checked against."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ClockMode = Literal["live", "event"]


@dataclass(frozen=True, slots=True)
class Activity:
    activity_id: str
    title: str
    expected_minutes: float
    xapi_iri: str | None = None
    simplified_of: str | None = None
    due_at: float | None = None  # epoch seconds


@dataclass(frozen=True, slots=True)
class Course:
    course_id: str
    professor_id: str
    title: str
    clock: ClockMode
    activities: tuple[Activity, ...]
    starts_at: float | None = None
    ends_at: float | None = None
    _index: dict[str, Activity] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {a.activity_id: a for a in self.activities})

    def activity(self, activity_id: str) -> Activity | None:
        return self._index.get(activity_id)

    def has_activity(self, activity_id: str) -> bool:
        return activity_id in self._index

    @property
    def activity_ids(self) -> tuple[str, ...]:
        return tuple(a.activity_id for a in self.activities)

    def title_of(self, activity_id: str | None) -> str:
        activity = self._index.get(activity_id or "")
        return activity.title if activity else (activity_id or "-")


@dataclass(frozen=True, slots=True)
class FoldParams:
    """What a shard needs to know about a course to fold its events."""

    activity_count: int
    idle_after_s: float
