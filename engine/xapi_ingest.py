"""Planning one xAPI request: which statements to store, which events to apply, what to void.

Pure: given the checked statements, what the store already holds about their
ids (and the statements they void), the catalogue and the caller's scope, it
returns a ``Plan`` or raises ``IngestError`` (400 / 403 / 409) before anything
is written, so a rejected request stores nothing.

Rules beyond the Data section's per-statement ones (engine/xapi_validate.py):
- an id twice in one request is refused (400); an id already stored with other
  content is a conflict (409); stored with the same content, it is acknowledged
  and nothing is applied again;
- a voiding statement may not target a voiding statement (Data 2.3.2: "Any
  Statement that voids another cannot itself be voided"), refused with 400;
  its target need not exist yet (2.3.2.s2.b5): a statement arriving after its
  voider is stored as voided and never applied;
- voiding an applied statement commits a marker event (engine/voiding.py), so
  the shards refold that student without it;
- a scoped credential (course / institution) may only write to and void in its
  courses (403); students may not void.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine import instants, voiding
from engine.catalog import MAX_FUTURE_S, Catalog
from engine.events import Event
from engine.xapi import completes, course_of, event_ids, student_of, to_event, voided_target


class IngestError(ValueError):
    def __init__(self, status: int, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.status, self.path, self.problem = status, path, problem


@dataclass(frozen=True)
class Caller:
    """Who sends: ``courses`` None means every course (admin); ``default_course`` is the course a
    statement without a known parent course goes to."""

    credential: str
    courses: frozenset[str] | None = None
    default_course: str | None = None
    may_void: bool = True

    def may_use(self, course_id: str | None) -> bool:
        return self.courses is None or course_id in self.courses


@dataclass
class Stored:
    """What the store holds about one statement (a row of xapi_statements)."""

    statement: dict[str, Any]
    course_id: str | None = None
    student_id: str | None = None
    event_id: str | None = None  # the applied event's id, when applied
    voids: str | None = None
    voided_by: str | None = None
    credential: str | None = None


@dataclass
class Plan:
    ids: list[str]
    rows: dict[str, Stored] = field(default_factory=dict)  # new statements to store
    notes: dict[str, str] = field(default_factory=dict)
    voided: dict[str, str] = field(default_factory=dict)  # stored target id -> voiding statement id
    events: list[Event] = field(default_factory=list)  # applied events and markers, in order


def same_statement(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for what an LRS may fill in or reformat (Data 2.3.1): authority, stored, version,
    a timestamp one of them lacks, the same instant written another way, a verb's display, an
    activity's definition, the order of a Group's members, a default objectType, the case of UUIDs and
    e-mail domains."""
    def core(s: dict[str, Any], other: dict[str, Any]) -> str:
        drop = {"authority", "stored", "version"} | ({"timestamp"} if "timestamp" not in other else set())
        return _canonical({k: v for k, v in s.items() if k not in drop})
    return core(a, b) == core(b, a)


def _canonical(statement: dict[str, Any]) -> str:
    return json.dumps(_comparable(statement, ""), sort_keys=True, separators=(",", ":"))


# An objectType that is the default where it stands says nothing (Data 2.4.2.1, 2.4.4, 2.4.6.2)
_DEFAULT_TYPE = {"actor": "Agent", "instructor": "Agent", "member": "Agent", "object": "Activity",
                 "parent": "Activity", "grouping": "Activity", "category": "Activity", "other": "Activity"}


def _comparable(node: Any, key: str) -> Any:
    """``node`` with what Data 2.3.1 says a comparison ignores taken out or put in one form."""
    if isinstance(node, list):
        items = [_comparable(v, key) for v in node]
        if key == "member":  # a Group's members are no ordered list
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    if not isinstance(node, dict):
        return node
    uuids = {"registration"} | ({"id"} if key == "" or node.get("objectType") == "StatementRef" else set())
    out = {}
    for k, v in node.items():
        if k == "definition" or (k == "display" and key == "verb"):
            continue  # an Activity's definition and a Verb's display are not part of the statement
        if k == "objectType" and v == _DEFAULT_TYPE.get(key):
            continue
        if k == "extensions":
            out[k] = v  # the sender's own JSON: compared as sent
        elif k == "timestamp" and isinstance(v, str):
            out[k] = instants.parse(v)  # the same instant, whatever its form (Z, +00:00, .000)
        elif k == "mbox" and isinstance(v, str):
            local, _, domain = v.rpartition("@")
            out[k] = f"{local}@{domain.lower()}" if local else v
        elif k in uuids and isinstance(v, str):
            out[k] = v.lower()
        else:
            out[k] = _comparable(v, k)
    return out


def plan(statements: list[dict[str, Any]], known: dict[str, Stored], voiders: dict[str, str],
         catalog: Catalog, caller: Caller, now: float) -> Plan:
    """``known``: stored rows for the request's ids and the ids it voids; ``voiders``: stored voiding
    statement id by target id, for the request's ids."""
    ids = [st["id"] for st in statements]
    first: dict[str, int] = {}
    for i, sid in enumerate(ids):
        if sid in first:
            raise IngestError(400, f"[{i}].id", f"statement id '{sid}' appears twice in this request")
        first[sid] = i
        if sid in known and not same_statement(known[sid].statement, statements[i]):
            raise IngestError(409, f"[{i}].id", f"statement id '{sid}' was already used for a different statement")
    _check_voiding(statements, known, caller)
    out = Plan(ids)
    voided_here = dict(voiders)
    for st in statements:
        if (target := voided_target(st)) is not None:
            voided_here.setdefault(target, st["id"])
    for i, st in enumerate(statements):
        sid = st["id"]
        if sid in known:
            out.notes[sid] = "already stored"
            continue
        target = voided_target(st)
        if target is not None:
            out.rows[sid] = _void(sid, st, target, known, out, caller, now)
        elif sid in voided_here:
            out.rows[sid] = Stored(st, voided_by=voided_here[sid], credential=caller.credential)
            out.notes[sid] = f"voided by {voided_here[sid]} before it arrived: stored, not applied"
        else:
            out.rows[sid] = _apply(i, st, catalog, caller, now, out)
    return out


def _check_voiding(statements: list[dict[str, Any]], known: dict[str, Stored], caller: Caller) -> None:
    batch = {st["id"]: st for st in statements}
    for i, st in enumerate(statements):
        target = voided_target(st)
        if target is None:
            continue
        if not caller.may_void:
            raise IngestError(403, f"[{i}].verb", "this credential may not void statements")
        if target in batch:
            target_voids = voided_target(batch[target])
        else:
            target_voids = known[target].voids if target in known else None
        if target_voids is not None:
            raise IngestError(400, f"[{i}].object.id", f"statement '{target}' voids another statement and "
                              "cannot itself be voided (xAPI 1.0.3 Data 2.3.2)")
        row = known.get(target)
        if row is not None and not caller.may_use(row.course_id) and row.credential != caller.credential:
            raise IngestError(403, f"[{i}].object.id", f"statement '{target}' belongs to a course this "
                              "credential may not write to")


def _void(sid: str, st: dict[str, Any], target: str, known: dict[str, Stored], out: Plan, caller: Caller,
          now: float) -> Stored:
    row = out.rows.get(target) or known.get(target)
    if row is None:
        out.notes[sid] = f"voids '{target}' (not stored yet: it will be stored as voided)"
        return Stored(st, voids=target, credential=caller.credential)
    if row.voided_by is None:
        if target in known:
            out.voided[target] = sid
        row.voided_by = sid
        out.events.extend(voiding.marker(eid, row.student_id, row.course_id, now)
                          for eid in event_ids(row.statement, row.event_id))
    out.notes[sid] = f"voids '{target}'" + (": its effect is removed" if row.event_id else "")
    return Stored(st, row.course_id, row.student_id, voids=target, credential=caller.credential)


def _arrived_now_if_ahead(event: Event, note: str, catalog: Catalog, now: float) -> tuple[Event, str]:
    """A live course refuses events stamped more than MAX_FUTURE_S ahead; a statement's is a
    browser clock running ahead, and refusing it would lose the work for good (a resend is "already
    stored"), so it is applied at the time it arrived, as if sent without a timestamp."""
    ahead = event.ts - now
    if not event.ts_given or ahead <= MAX_FUTURE_S or catalog.courses[event.course_id].clock != "live":
        return event, note
    event = event._replace(ts=now, ts_given=False)
    return (event._replace(fingerprint=event.content_fingerprint()),
            f"{note} at the time received (its timestamp was {ahead:.0f} s in the future)")


def _apply(i: int, st: dict[str, Any], catalog: Catalog, caller: Caller, now: float, out: Plan) -> Stored:
    course_id = course_of(st, catalog, caller.default_course)
    if course_id in catalog.courses and not caller.may_use(course_id):
        raise IngestError(403, f"[{i}].context.contextActivities.parent",
                          f"course '{course_id}' is not one this credential may write to")
    event, note = to_event(st, catalog, caller.default_course, now)
    if event is not None:
        event, note = _arrived_now_if_ahead(event, note, catalog, now)
    events = [e for e in (event, completes(st, event)) if e is not None] if event is not None else []
    problems = catalog.check(events, now) if events else []
    if problems:
        event, note = None, problems[0]["error"]
    out.notes[st["id"]] = note
    student = student_of(st["actor"], catalog)
    if event is None:
        return Stored(st, course_id if course_id in catalog.courses else None,
                      student if catalog.enrolled(course_id, student) else None, credential=caller.credential)
    out.events.extend(events)
    return Stored(st, event.course_id, event.student_id, event.event_id, credential=caller.credential)
