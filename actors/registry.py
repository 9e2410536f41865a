"""Catalogue changes and tokens: professors, courses, rosters, alert configs.

Tokens come from ``secrets`` and are stored only as SHA-256 hashes (they are
256-bit random, so a fast hash is enough); the plain token is returned once.
"""
from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from typing import Any

from actors.topology import DomainError
from engine.catalog import Catalog
from engine.config import AlertConfig, ConfigError
from engine.course import Activity, Course
from engine.store import Store


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(role: str) -> str:
    return f"cp{role[0]}_{secrets.token_urlsafe(32)}"


class Registry:
    def __init__(self, store: Store, catalog: Catalog) -> None:
        self._store = store
        self.catalog = catalog
        self.tokens = store.load_tokens()

    def principal(self, token_hash: str) -> tuple[str, str] | None:
        return self.tokens.get(token_hash)

    def _issue(self, role: str, principal_id: str, revoke: bool) -> str:
        token = new_token(role)
        digest = hash_token(token)
        # a principal is its role and id: rotating professor "pat" must leave student "pat" signed in
        self._store.save_tokens([(digest, role, principal_id)], revoke_for=[(role, principal_id)] if revoke else [])
        if revoke:
            self.tokens = {h: p for h, p in self.tokens.items() if p != (role, principal_id)}
        self.tokens[digest] = (role, principal_id)
        return token

    def issue_token(self, role: str, principal_id: str) -> str:
        """A new token for a principal beside any it has (xAPI credentials: one secret each)."""
        return self._issue(role, principal_id, revoke=False)

    def add_professor(self, professor_id: str, name: str, email: str | None,
                      rotate: bool) -> tuple[dict[str, Any], bool]:
        """Returns the professor (with a token if new or rotated) and whether it was created."""
        existed = professor_id in self.catalog.professors
        self._store.save_professor(professor_id, name, email)
        self.catalog.professors[professor_id] = {"professor_id": professor_id, "name": name, "email": email}
        token = self._issue("professor", professor_id, revoke=existed) if (not existed or rotate) else None
        return {"professor_id": professor_id, "name": name, "email": email, "token": token}, not existed

    def add_course(self, spec: dict[str, Any]) -> tuple[Course, bool]:
        professor_id = spec["professor_id"]
        if professor_id not in self.catalog.professors:
            raise DomainError(422, "professor_id", f"unknown professor '{professor_id}'")
        existing = self.catalog.courses.get(spec["course_id"])
        if existing is not None and existing.professor_id != professor_id:
            raise DomainError(409, "course_id", f"course '{spec['course_id']}' belongs to another professor")
        activities = tuple(Activity(**a) for a in spec["activities"])
        ids = [a.activity_id for a in activities]
        if len(set(ids)) != len(ids):
            raise DomainError(422, "activities", "activity_id values must be unique within a course")
        for a in activities:
            if a.simplified_of is not None and a.simplified_of not in ids:
                raise DomainError(422, "activities.simplified_of",
                                  f"'{a.simplified_of}' is not an activity of this course")
        if existing is not None:
            dropped = set(existing.activity_ids) - set(ids)
            if dropped:
                raise DomainError(409, "activities",
                                  f"activities cannot be removed once declared: {sorted(dropped)}")
        course = Course(spec["course_id"], professor_id, spec["title"], spec.get("clock", "live"),
                        activities, spec.get("starts_at"), spec.get("ends_at"))
        self._store.save_course(course)
        self.catalog.courses[course.course_id] = course
        self.catalog.rosters.setdefault(course.course_id, {})
        return course, existing is None

    def add_students(self, course_id: str, students: list[dict[str, str]], rotate: bool) -> list[dict]:
        if course_id not in self.catalog.courses:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        repeated = sorted(sid for sid, n in Counter(s["student_id"] for s in students).items() if n > 1)
        if repeated:  # each would get a token, the first one revoked by the second if rotated
            raise DomainError(422, "students", f"named more than once: {', '.join(repeated[:10])}")
        rows = [(s["student_id"], s["name"]) for s in students]
        self._store.save_students(course_id, rows)
        out = []
        roster = self.catalog.rosters.setdefault(course_id, {})
        with_tokens = set(self.tokens.values())
        for student_id, name in rows:
            known = ("student", student_id) in with_tokens
            self.catalog.students[student_id] = name
            roster[student_id] = name
            token = self._issue("student", student_id, revoke=known) if (rotate or not known) else None
            out.append({"student_id": student_id, "name": name, "token": token})
        self.catalog.roster_changed(course_id)
        return out

    def configure(self, course_id: str, updates: dict[str, Any], by: str) -> AlertConfig:
        if course_id not in self.catalog.courses:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        try:
            config = self.catalog.config(course_id).merge(updates)
        except ConfigError as exc:
            raise DomainError(422, exc.field, exc.error) from None
        self._store.save_config(course_id, config, by)
        self.catalog.configs[course_id] = config
        return config

    def map_xapi_actors(self, mappings: list[tuple[str, str]]) -> int:
        """(actor_key, student_id) pairs: statements from those actors apply to those students."""
        unknown = sorted({sid for _, sid in mappings if sid not in self.catalog.students})
        if unknown:
            raise DomainError(422, "mappings.student_id", f"unknown students: {', '.join(unknown[:10])}")
        self._store.save_actor_map(mappings)
        self.catalog.xapi_actors.update(dict(mappings))
        return len(mappings)

    def forget_student(self, student_id: str) -> list[str]:
        """Drop an erased student from the catalogue and tokens; returns the courses they were in."""
        self.catalog.students.pop(student_id, None)
        self.catalog.xapi_actors = {k: s for k, s in self.catalog.xapi_actors.items() if s != student_id}
        courses = [cid for cid, roster in self.catalog.rosters.items() if roster.pop(student_id, None) is not None]
        self.catalog.roster_changed()
        self.tokens = {h: p for h, p in self.tokens.items() if p != ("student", student_id)}
        return courses
