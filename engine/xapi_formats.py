"""The value formats of xAPI 1.0.3 (Data section 4 and 2.2): IRIs, mailto, UUIDs, RFC 5646 language
tags, ISO 8601 timestamps and durations, language maps, extensions; and the error every rule raises.

Best-effort patterns, as the spec allows an LRS (2.2.s4.b6, b7); none needs a library beyond ``re``.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from engine import instants

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
MAILTO_RE = re.compile(r"^mailto:[^@\s:/]+@[^@\s/]+$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_SUB = r"[A-Za-z0-9]"
_LANGTAG = (r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language (+ extlang)
            r"(?:-[A-Za-z]{4})?"                                   # script
            r"(?:-(?:[A-Za-z]{2}|\d{3}))?"                         # region
            rf"(?:-(?:{_SUB}{{5,8}}|\d{_SUB}{{3}}))*"              # variants
            rf"(?:-[0-9A-WY-Za-wy-z](?:-{_SUB}{{2,8}})+)*"         # extensions
            rf"(?:-[xX](?:-{_SUB}{{1,8}})+)?")                     # private use
_IRREGULAR = r"en-GB-oed|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE"  # grandfathered tags outside the grammar
LANG_RE = re.compile(rf"^(?:{_LANGTAG}|[xX](?:-{_SUB}{{1,8}})+|[iI]-[A-Za-z]{{2,8}}|{_IRREGULAR})$", re.IGNORECASE)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$")
_N = r"\d+(?:[.,]\d+)?"
DURATION_RE = re.compile(rf"^P(?:{_N}W|(?=\d|T\d)(?:{_N}Y)?(?:{_N}M)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?)$")


class StatementError(ValueError):
    """An invalid statement (answered 400, as the xAPI spec says); ``path`` locates the problem."""

    def __init__(self, path: str, problem: str, rule: str) -> None:
        self.path, self.problem, self.rule = path or "statement", problem, rule
        super().__init__(f"{self.path}: {problem} (xAPI 1.0.3 Data {rule})")


def fail(path: str, problem: str, rule: str) -> None:
    raise StatementError(path, problem, rule)


def at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def props(value: Any, allowed: set[str] | tuple[str, ...], path: str, rule: str) -> dict[str, Any]:
    """An object with only allowed keys and no null values (2.2.s4.b1.b1, b7)."""
    if not isinstance(value, dict):
        fail(path, "must be a JSON object", rule)
    for key, v in value.items():
        if key not in allowed:
            fail(at(path, key), "is not a property allowed here (keys are case sensitive)", "2.2.s4.b1.b7")
        if v is None:
            fail(at(path, key), "null is not allowed outside extensions", "2.2.s4.b1.b1")
    return value


def string(value: Any, path: str, rule: str) -> str:
    if not isinstance(value, str):
        fail(path, "must be a string", rule)
    return value


def iri(value: Any, path: str, rule: str = "2.2.s4.b1.b8") -> str:
    if not isinstance(value, str) or not IRI_RE.match(value):
        fail(path, "must be an absolute IRI with a scheme (e.g. https://...)", rule)
    return value


def uuid_string(value: Any, path: str, rule: str = "4.4") -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        fail(path, "must be a UUID in standard string form", rule)
    return value.lower()


def number(value: Any, path: str, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(path, "must be a number (not a string or boolean)", rule + ", 2.2.s4.b1.b2")
    return value


def boolean(value: Any, path: str, rule: str) -> bool:
    if not isinstance(value, bool):
        fail(path, "must be true or false (not a string)", rule + ", 2.2.s4.b1.b3")
    return value


def language_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        fail(path, "must be a language map (an object of language tag -> string)", "4.2")
    for tag, text in value.items():
        if not LANG_RE.match(tag):
            fail(at(path, tag), "is not an RFC 5646 language tag", "2.2.s4.b2")
        if not isinstance(text, str):
            fail(at(path, tag), "language map values must be strings", "4.2")


MAX_EXTENSION_DEPTH = 32  # arrays/objects within one extension value


def extensions(value: Any, path: str) -> None:
    """Keys are IRIs; values are anything, null included (4.1.s3), nested at most
    MAX_EXTENSION_DEPTH deep: deeper JSON is stored fine but cannot be written out again
    (orjson's and the reply's recursion limits), so reading it back would fail."""
    if not isinstance(value, dict):
        fail(path, "extensions must be an object", "4.1.s3")
    for key, v in value.items():
        iri(key, at(path, key), "4.1.s3.b1")
        if _depth_beyond(v, MAX_EXTENSION_DEPTH):
            fail(at(path, key), f"nested more than {MAX_EXTENSION_DEPTH} arrays/objects deep (a limit of "
                                "this LRS)", "4.1.s3")


def _depth_beyond(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` containers (iterative: no recursion limit)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [c for v in level if isinstance(v, (dict, list)) for c in (v.values() if isinstance(v, dict) else v)]
        if not level:
            return False
    return any(isinstance(v, (dict, list)) for v in level)


def timestamp(value: Any, path: str) -> datetime:
    """An ISO 8601 date and time; a zone is optional (read as UTC) but -00:00 is not ISO 8601."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if m is None:
        fail(path, "must be an ISO 8601 date and time, e.g. 2026-01-07T10:00:00.000Z", "4.5.s1.b1")
    if m.group("tz") and m.group("tz").startswith("-") and set(m.group("tz")[1:]) <= {"0", ":"}:
        fail(path, "a -00:00 offset is not ISO 8601; use Z or +00:00", "4.5.s1.b1")
    try:
        parsed = datetime.fromisoformat(value.replace(",", "."))
    except ValueError:
        raise StatementError(path, "is not a real date and time", "4.5.s1.b1") from None
    try:
        instants.epoch(parsed)
    except ValueError as exc:
        raise StatementError(path, str(exc), "4.5.s1.b1") from None
    return parsed


def duration(value: Any, path: str) -> str:
    if not isinstance(value, str) or not DURATION_RE.match(value):
        fail(path, "must be an ISO 8601 duration, e.g. PT1M30S", "4.6.s1.b1")
    return value
