"""What /openapi.json says about the bodies and query strings routes read themselves.

Routes read bodies with ``read_json`` (one size cap, one error shape) and most
query strings from ``request.query_params`` (unknown ones refused, values
checked in ``engine/``), so FastAPI sees neither. Undocumented, they were
invisible to clients and to the fuzz test (schemathesis generates only what the
schema names): 15 of 19 JSON-body routes and every hand-read query parameter
went unfuzzed. The schemas here are deliberately loose (types and names, not
every rule: the routes keep those and answer 422 naming the field), so the
fuzzer sends both well-formed and odd values. Models the routes validate with
are named at the route instead (``bodies.documented``).
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from engine import holdout, interventions, messaging, notify
from engine.config import AlertConfig

_TEXT = {"type": "string"}
_ID = {"type": "string", "maxLength": 64}
_IDS = {"type": "array", "items": _ID}
_NUMBER = {"type": "number"}
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": holdout.MAX_SHARE}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


INTERVENTION = {
    "course_id": _ID,
    "kind": {"type": "string", "enum": list(interventions.KINDS)},
    "message": _TEXT, "activity_id": _ID, "resource_url": _TEXT,
    "extension_minutes": _NUMBER, "alternative_activity_id": _ID,
}

# (method, path) -> (schema name, JSON schema of the body)
BODIES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("post", "/api/professor/interventions/{student_id}"):
        ("InterventionIn", _object(INTERVENTION, ("course_id", "kind"))),
    ("post", "/api/professor/courses/{course_id}/interventions"):
        ("InterventionManyIn", _object(INTERVENTION | {
            "student_ids": _IDS,
            "status": {"type": "string", "enum": list(messaging.STATUSES)},
            "holdout": _SHARE}, ("kind",))),
    ("put", "/api/professor/courses/{course_id}/alerts/configure"):
        ("AlertConfigIn", _object({f.name: _NUMBER for f in fields(AlertConfig)})),
    ("post", "/api/professor/alerts/{alert_id}/snooze"):
        ("SnoozeIn", _object({"minutes": _NUMBER, "until": {"type": "string", "format": "date-time"}})),
    ("post", "/api/professor/messages"):
        ("MessagesIn", _object({
            "course_id": _ID, "text": _TEXT, "template": _TEXT, "activity_id": _ID, "holdout": _SHARE,
            "to": {"anyOf": [_IDS, {"type": "string", "enum": ["all"]},
                             _object({"status": _TEXT, "activity_id": _ID})]}}, ("course_id", "to"))),
    ("post", "/api/professor/courses/{course_id}/chats/{student_id}"):
        ("ChatIn", _object({"text": _TEXT}, ("text",))),
    ("post", "/api/student/chat"):
        ("StudentChatIn", _object({"course_id": _ID, "student_id": _ID, "text": _TEXT}, ("course_id", "text"))),
    ("post", "/api/student/read"):
        ("ReadIn", _object({"ids": {"type": "array", "items": _TEXT}, "id": _TEXT})),
    ("put", "/api/student/work-view/consent"):
        ("ConsentIn", _object({"course_id": _ID, "consent": {"type": "boolean"}}, ("course_id", "consent"))),
    ("post", "/api/student/office-hours"):
        ("OfficeHoursJoinIn", _object({"course_id": _ID, "topic": _TEXT}, ("course_id",))),
    ("post", "/api/student/office-hours/defer"):
        ("OfficeHoursDeferIn", _object({"course_id": _ID}, ("course_id",))),
    ("post", "/api/professor/courses/{course_id}/peer-groups"):
        ("PeerGroupsIn", _object({"activity_id": _ID, "groups": {"type": "array", "items": _object({
            "members": _IDS, "helpers": _IDS})}}, ("groups",))),
    ("put", "/api/professor/notifications/preferences"):
        ("NotificationPreferencesIn", _object({
            "channels": {"type": "array", "items": {"type": "string", "enum": list(notify.CHANNELS)}},
            "email": _TEXT, "webhook_url": _TEXT, "min_priority": {"type": "integer"},
            "quiet_minutes": _NUMBER, "escalation_email": _TEXT})),
}

_SINCE_UNTIL = {"since": "ISO-8601 time", "until": "ISO-8601 time"}
_ANALYTICS = _SINCE_UNTIL | {
    "bucket": "minutes (5, 15m, 1h)", "window_minutes": "minutes (10, 1h)",
    "session_minutes": "minutes (120, 2h)", "student_id": "one student of the roster"}

# (method, path) -> {query parameter: description}; all optional strings, checked by the route.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/api/professor/courses/{course_id}/analytics/real-time"): _ANALYTICS,
    ("get", "/api/professor/courses/{course_id}/analytics/export"): _ANALYTICS | {
        "section": "which analysis (engine/analytics/export.py)", "format": "csv (default) or parquet"},
    ("get", "/api/professor/courses/{course_id}/interventions"): {
        "limit": "at most this many, newest first", "student_id": "one student's only"},
    ("get", "/api/professor/courses/{course_id}/chats/{student_id}"): {
        "limit": "at most this many messages", "mark_read": "true: mark the student's messages read"},
    ("get", "/api/professor/{professor_id}/progress-updates/stream"): {
        "after_seq": "resume after this seq (or the Last-Event-ID header)", "token": "the bearer token, for EventSource"},
    ("get", "/api/student/chat"): {
        "course_id": "the course of the conversation", "student_id": "the caller's own id (optional)",
        "limit": "at most this many messages"},
}


def add_route_docs(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the bodies and query parameters above to the operations they belong to."""
    paths = openapi.get("paths", {})
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for (method, path), (name, schema) in BODIES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None or "requestBody" in operation:
            continue
        schemas[name] = schema
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}
    for (method, path), params in QUERIES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        operation.setdefault("parameters", []).extend(
            {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
            for name, text in params.items() if name not in declared)
    return openapi
