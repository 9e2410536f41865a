"""xAPI statements (1.0.3) mapped onto learning events.

The actor is the student an admin mapped its identifier to (``mbox``,
``mbox_sha1sum``, ``openid`` or ``account``; POST /api/admin/xapi-actors),
else its ``account.name`` is the ``student_id``; the activity is the one
whose declared ``xapi_iri`` equals ``object.id``, else the last path segment
of ``object.id``; the course is the last path segment of
``context.contextActivities.parent[0].id`` when that names a course, else the
course the credential belongs to. A statement that maps to no roster student,
whose object is no Activity or whose verb has no mapping, is stored but not
applied. Validation is engine/xapi_validate.py; planning a request (voiding,
scopes, conflicts) is engine/xapi_ingest.py.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

from engine import instants
from engine.catalog import Catalog
from engine.events import Event, quantize
from engine.xapi_validate import VOIDED_VERB, StatementError, object_type, validate

__all__ = ["VERBS", "StatementError", "actor_key", "check", "completes", "course_of", "event_ids", "student_of",
           "to_event", "voided_target"]

VERBS = {"initialized": "activity_started", "launched": "activity_started", "resumed": "activity_started",
         "attempted": "activity_started", "answered": "attempt", "passed": "attempt", "failed": "attempt",
         "progressed": "progress", "completed": "activity_completed", "suspended": "heartbeat",
         "terminated": "heartbeat"}
_N = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(rf"^P(?:{_N}W|(?:{_N}Y)?(?:{_N}M)?(?:{_N}D)?(?:T(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?)$")
_SECONDS = (7 * 86400, 365 * 86400, 30 * 86400, 86400, 3600, 60, 1)  # W, Y, M, D, H, M, S (Y, M approximate)
# Verbs whose result.duration is the time of that one interaction. The others' (completed, passed,
# failed, terminated...) is a session's or attempt's total so far (cmi5 9.5.4.1): adding it would
# count the same minutes again, so their time comes from the gaps between events like any event's.
INTERACTION_VERBS = frozenset({"answered"})
COMPLETED_SUFFIX = ":completed"  # the second event of an attempt whose result.completion is true
PROGRESS_EXTENSIONS = ("https://w3id.org/xapi/cmi5/result/extensions/progress",
                       "http://id.tincanapi.com/extension/progress")


def check(statement: Any) -> dict[str, Any]:
    """The statement validated against the Data rules (xapi_validate), with an id where absent."""
    out = validate(statement)
    if "id" not in out:
        out["id"] = str(uuid.uuid4())
    return out


def to_event(statement: dict[str, Any], catalog: Catalog, default_course: str | None,
             received_at: float) -> tuple[Event | None, str]:
    """The learning event a checked statement maps to, or None and why not."""
    verb = statement["verb"]["id"].rstrip("/").rsplit("/", 1)[-1]
    kind = VERBS.get(verb)
    if kind is None:
        return None, f"verb '{verb}' is stored, not applied"
    if object_type(statement["object"]) != "Activity":
        return None, "the object is not an Activity: stored, not applied"
    student = student_of(statement["actor"], catalog)
    course_id = course_of(statement, catalog, default_course)
    if course_id not in catalog.courses:
        return None, f"no course for this statement ({course_id!r})"
    if not catalog.enrolled(course_id, student):
        who = student if student is not None else actor_key(statement["actor"])  # an unmapped mbox...
        return None, f"actor {who!r} is not on the roster of '{course_id}'"
    course = catalog.courses[course_id]
    object_id = statement["object"].get("id", "")
    activity = next((a.activity_id for a in course.activities if a.xapi_iri == object_id),
                    object_id.rstrip("/").rsplit("/", 1)[-1])
    if not course.has_activity(activity):
        return None, f"object '{object_id}' is no activity of '{course_id}'"
    result = statement.get("result") or {}
    correct = progress = None
    if kind == "attempt":
        correct = {"passed": True, "failed": False}.get(verb, result.get("success"))
        if not isinstance(correct, bool):
            return None, "'answered' without result.success is stored, not applied"
    if kind == "progress" and result.get("completion") is not True:
        progress = _progress(result)
        if progress is None:
            return None, ("'progressed' without a progress (score.scaled 0..1 or a 0..100 progress "
                          "extension) is stored, not applied")
    if kind in ("activity_started", "progress") and result.get("completion") is True:
        kind, progress = "activity_completed", None  # result.completion: the activity is done
    ts_given = "timestamp" in statement
    ts = quantize(_time(statement["timestamp"])) if ts_given else received_at
    duration = _duration(result.get("duration")) if verb in INTERACTION_VERBS else None
    event = Event(f"xapi:{statement['id']}", student, course_id, None if kind == "heartbeat" else activity,
                  kind, ts, progress, correct, duration, ts_given, received_at)
    return event._replace(fingerprint=event.content_fingerprint()), "applied"


def completes(statement: dict[str, Any], event: Event) -> Event | None:
    """The second event of an attempt (answered, passed, failed) whose ``result.completion`` is true:
    the activity is completed too. Its id is the attempt's plus ``:completed``, so a resend is a
    duplicate and voiding the statement voids both (``event_ids``)."""
    if not _completes_too(statement, event.type):
        return None
    done = event._replace(event_id=event.event_id + COMPLETED_SUFFIX, type="activity_completed", correct=None,
                          duration_s=None)
    return done._replace(fingerprint=done.content_fingerprint())


def event_ids(statement: dict[str, Any], event_id: str | None) -> list[str]:
    """The ids of every event an applied statement (applied as ``event_id``) put in the log."""
    if event_id is None:
        return []
    verb = statement["verb"]["id"].rstrip("/").rsplit("/", 1)[-1]
    return [event_id, event_id + COMPLETED_SUFFIX] if _completes_too(statement, VERBS.get(verb)) else [event_id]


def _completes_too(statement: dict[str, Any], kind: str | None) -> bool:
    """An attempt whose ``result.completion`` is true also completes its activity."""
    return kind == "attempt" and (statement.get("result") or {}).get("completion") is True


def actor_key(actor: dict[str, Any]) -> str | None:
    """An Agent's inverse functional identifier as one string (what a mapping is keyed by)."""
    if isinstance(actor.get("mbox"), str):
        return "mbox:" + actor["mbox"].strip().lower()
    if isinstance(actor.get("mbox_sha1sum"), str):
        return "mbox_sha1sum:" + actor["mbox_sha1sum"].strip().lower()
    if isinstance(actor.get("openid"), str):
        return "openid:" + actor["openid"].strip()
    account = actor.get("account")
    if isinstance(account, dict) and isinstance(account.get("homePage"), str) and isinstance(account.get("name"), str):
        return f"account:{account['homePage'].strip()}|{account['name']}"
    return None


def student_of(actor: dict[str, Any], catalog: Catalog) -> str | None:
    """The mapped student for this actor, else its ``account.name`` (which must be a roster id to apply)."""
    key = actor_key(actor)
    if key is not None and key in catalog.xapi_actors:
        return catalog.xapi_actors[key]
    account = actor.get("account")
    return account.get("name") if isinstance(account, dict) else None


def course_of(statement: dict[str, Any], catalog: Catalog, default_course: str | None) -> str | None:
    """The course a statement names (parent activity's last segment) if it is one, else the default."""
    named = _parent_segment(statement)
    if named in catalog.courses:
        return named
    return default_course if default_course is not None else named


def voided_target(statement: dict[str, Any]) -> str | None:
    """The id of the statement this one voids, or None when it is no voiding statement."""
    if statement["verb"]["id"] != VOIDED_VERB:
        return None
    return str(statement["object"]["id"]).lower()


def _parent_segment(statement: dict[str, Any]) -> str | None:
    parents = ((statement.get("context") or {}).get("contextActivities") or {}).get("parent")
    if isinstance(parents, dict):
        parents = [parents]
    if parents and isinstance(parents[0], dict) and isinstance(parents[0].get("id"), str):
        return parents[0]["id"].rstrip("/").rsplit("/", 1)[-1]
    return None


def _progress(result: dict[str, Any]) -> float | None:
    """score.scaled is 0..1; the cmi5 and Tin Can progress extensions are percentages (0..100)."""
    values = [((result.get("score") or {}).get("scaled"), 1)]
    values += [((result.get("extensions") or {}).get(k), 100) for k in PROGRESS_EXTENSIONS]
    for v, scale in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v / scale <= 1:
            return float(v / scale)
    return None


def _duration(raw: Any) -> float | None:
    if not isinstance(raw, str):
        return None
    m = _DURATION.match(raw)
    if not m:
        return None
    total = sum(float(x.replace(",", ".")) * unit for x, unit in zip(m.groups(), _SECONDS) if x)
    return min(total, 86_400.0)


def _time(raw: str) -> float:
    return instants.parse(str(raw))  # checked by ``validate`` already (engine/xapi_formats.py)
