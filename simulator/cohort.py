"""A cohort: how many students, which course, which archetype mix, how long, how fast.

Loaded from TOML (examples in ``simulator/cohorts/``) or built from flags.
Every key is checked: an unknown key, an impossible probability, zero
students, a session that is not whole minutes, or a course the API would
refuse (ids, titles, expected minutes, an activity named twice) is a
``CohortError`` naming the key.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from engine.ids import ID_RULE, MAX_ACTIVITIES, MAX_EXPECTED_MINUTES, MAX_TITLE, is_valid_id
from simulator.archetypes import ARCHETYPES
from simulator.bkt import SkillParams


class CohortError(ValueError):
    def __init__(self, key: str, error: str) -> None:
        super().__init__(f"{key}: {error}")
        self.key = key


@dataclass(frozen=True)
class SimActivity:
    activity_id: str
    title: str
    expected_minutes: float
    skill: str
    difficulty: float = 0.3     # 0 easy .. 1 very hard: lowers learning and guessing
    correct_to_complete: int = 3


@dataclass(frozen=True)
class Cohort:
    students: int = 120
    seed: int = 7
    speed: float = 60.0
    minutes: int = 60  # whole minutes: ground truth is sampled at each one, 0..minutes
    course_id: str = "sim-course"
    title: str = "Simulated cohort"
    activities: tuple[SimActivity, ...] = ()
    skills: dict[str, SkillParams] = field(default_factory=dict)
    mix: dict[str, float] = field(default_factory=lambda: {"steady": 1.0})

    def archetype_of(self, index: int) -> str:
        """Deterministic assignment by index, in proportion to the mix."""
        names = sorted(self.mix)
        total = sum(self.mix.values())
        point = ((index * 0.6180339887) % 1.0) * total  # low-discrepancy spread over the mix
        for name in names:
            point -= self.mix[name]
            if point < 0:
                return name
        return names[-1]


DEFAULT_ACTIVITIES = (
    SimActivity("intro", "Welcome and setup", 5, "basics", 0.1, 2),
    SimActivity("vars", "Variables", 8, "basics", 0.2),
    SimActivity("loops", "Loops", 10, "control", 0.3),
    SimActivity("funcs", "Functions", 12, "functions", 0.35),
    SimActivity("recursion", "Recursion (hard)", 15, "recursion", 0.85, 4),
    SimActivity("lists", "Lists", 10, "data", 0.3),
    SimActivity("dicts", "Dictionaries", 10, "data", 0.35),
    SimActivity("project", "Mini project", 20, "project", 0.5, 4),
)
DEFAULT_MIX = {"steady": 0.45, "struggling": 0.15, "disengaging": 0.1, "fast_finisher": 0.1,
               "guesser": 0.1, "late_starter": 0.1}

_TOP = {"students", "seed", "speed", "minutes", "course", "mix", "skills"}
_COURSE = {"course_id", "title", "activities"}
_ACTIVITY = {"activity_id", "title", "expected_minutes", "skill", "difficulty", "correct_to_complete"}
_SKILL = {"p_init", "p_learn", "p_slip", "p_guess"}


def default(students: int = 120, seed: int = 7, speed: float = 60.0, minutes: int = 60) -> Cohort:
    return validate(Cohort(students, seed, speed, minutes, activities=DEFAULT_ACTIVITIES, mix=dict(DEFAULT_MIX)))


def shipped() -> list[str]:
    """The names of the example cohorts that ship with the package (``simulator/cohorts/*.toml``)."""
    return sorted(f.name.removesuffix(".toml") for f in resources.files("simulator").joinpath("cohorts").iterdir()
                  if f.name.endswith(".toml"))


def locate(name: str | Path) -> Path:
    """A cohort file: ``name`` itself when it exists, else the shipped cohort of that name (so
    ``intro-programming`` works from any directory); a ``CohortError`` listing the shipped ones if neither."""
    path = Path(name)
    if path.exists():
        return path
    packaged = resources.files("simulator").joinpath("cohorts", f"{path.name.removesuffix('.toml')}.toml")
    if path.parent == Path() and packaged.is_file():  # a bare name: never a path that happens to be missing
        return Path(str(packaged))
    raise CohortError("file", f"{str(name)!r} is neither a file nor a shipped cohort "
                              f"(shipped: default, {', '.join(shipped())})")


def load(path: Path | str, **overrides: Any) -> Cohort:
    """A cohort from a TOML file or a shipped cohort's name (``locate``)."""
    try:
        data = tomllib.loads(locate(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CohortError("file", f"not valid TOML: {exc}") from None
    except OSError as exc:  # a folder, no permission, ...
        raise CohortError("file", f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return from_dict(data, **overrides)


def from_dict(data: dict[str, Any], **overrides: Any) -> Cohort:
    _known(data, _TOP, "")
    course = data.get("course", {})
    _known(course, _COURSE, "course.")
    activities = []
    for i, a in enumerate(course.get("activities", [])):
        _known(a, _ACTIVITY, f"course.activities[{i}].")
        for key in ("activity_id", "title", "expected_minutes", "skill"):
            if key not in a:
                raise CohortError(f"course.activities[{i}].{key}", "required")
        activities.append(SimActivity(**a))
    skills = {}
    for name, params in data.get("skills", {}).items():
        _known(params, _SKILL, f"skills.{name}.")
        skills[name] = SkillParams(**params)
    values = {k: data[k] for k in ("students", "seed", "speed", "minutes") if k in data}
    values.update({k: v for k, v in overrides.items() if v is not None})
    cohort = Cohort(**values, course_id=course.get("course_id", "sim-course"),
                    title=course.get("title", "Simulated cohort"),
                    activities=tuple(activities) or DEFAULT_ACTIVITIES, skills=skills,
                    mix=data.get("mix", dict(DEFAULT_MIX)))
    return validate(cohort)


def validate(c: Cohort) -> Cohort:
    if not isinstance(c.students, int) or c.students < 1:
        raise CohortError("students", "must be a whole number >= 1")
    if not 0 < c.speed <= 10_000:
        raise CohortError("speed", "must be > 0 (x real time)")
    # whole minutes: every run samples the truth at minutes 0..minutes (a 0.5 ran nothing, 2.9 ran 2)
    whole = isinstance(c.minutes, int | float) and not isinstance(c.minutes, bool) and float(c.minutes).is_integer()
    if not whole or not 1 <= c.minutes <= 7 * 24 * 60:
        raise CohortError("minutes", f"must be a whole number of minutes from 1 to {7 * 24 * 60}, got {c.minutes!r}")
    c = replace(c, minutes=int(c.minutes))  # 60.0 from a flag or a file is 60
    for name, share in c.mix.items():
        if name not in ARCHETYPES:
            raise CohortError(f"mix.{name}", f"unknown archetype; known: {', '.join(sorted(ARCHETYPES))}")
        if not isinstance(share, (int, float)) or share < 0:
            raise CohortError(f"mix.{name}", "must be a share >= 0")
    if sum(c.mix.values()) <= 0:
        raise CohortError("mix", "at least one archetype needs a share > 0")
    for name, p in c.skills.items():
        for key in _SKILL:
            value = getattr(p, key)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise CohortError(f"skills.{name}.{key}", f"must be a probability in [0, 1], got {value!r}")
    _check_course(c)
    for i, a in enumerate(c.activities):
        if not 0 <= a.difficulty <= 1:
            raise CohortError(f"course.activities[{i}].difficulty", "must be in [0, 1]")
        if a.correct_to_complete < 1:
            raise CohortError(f"course.activities[{i}].correct_to_complete", "must be >= 1")
    return c


def _check_course(c: Cohort) -> None:
    """Refuse here what the API refuses when the course is created (``serve/bodies.py``, and one id
    per activity in ``actors/registry.py``): an offline run would write data ``classpulse import``
    cannot load, and a live run would stop at its first request."""
    last_student = f"{c.course_id}-s{c.students - 1:05d}"  # the longest id a run derives from it
    if not is_valid_id(c.course_id) or not is_valid_id(last_student):
        raise CohortError("course.course_id", f"must be {ID_RULE}, and leave room for the student ids "
                                              f"(such as {last_student!r}); got {c.course_id!r}")
    if not _is_title(c.title):
        raise CohortError("course.title", f"must be 1-{MAX_TITLE} characters")
    if not 1 <= len(c.activities) <= MAX_ACTIVITIES:
        raise CohortError("course.activities", f"must hold 1-{MAX_ACTIVITIES} activities")
    seen: set[str] = set()
    for i, a in enumerate(c.activities):
        key = f"course.activities[{i}]"
        if not is_valid_id(a.activity_id):
            raise CohortError(f"{key}.activity_id", f"must be {ID_RULE}, got {a.activity_id!r}")
        if a.activity_id in seen:
            raise CohortError(f"{key}.activity_id", f"{a.activity_id!r} names an earlier activity too; "
                                                    "activity ids are unique within a course")
        seen.add(a.activity_id)
        if not _is_title(a.title):
            raise CohortError(f"{key}.title", f"must be 1-{MAX_TITLE} characters")
        minutes = a.expected_minutes
        number = isinstance(minutes, int | float) and not isinstance(minutes, bool)
        if not number or not 0 < minutes <= MAX_EXPECTED_MINUTES:
            raise CohortError(f"{key}.expected_minutes", f"must be > 0 and <= {MAX_EXPECTED_MINUTES}, got {minutes!r}")


def _is_title(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_TITLE


def _known(section: dict[str, Any], allowed: set[str], prefix: str) -> None:
    if not isinstance(section, dict):
        raise CohortError(prefix.rstrip(".") or "file", "must be a table")
    for key in section:
        if key not in allowed:
            raise CohortError(prefix + key, f"unknown key; allowed: {', '.join(sorted(allowed))}")
