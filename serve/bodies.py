"""Request bodies: size-limited reading and the admin request models.

Bodies are read with a cap (``max_body_bytes``, 1 MiB by default); a larger
body is drained, then answered with 413 naming the limit. JSON that does not
parse (or nests deeper than the parser allows) is a 422 naming ``body``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from engine import instants
from engine.events import EventIn
from engine.ids import ID_PATTERN, MAX_ACTIVITIES, MAX_EXPECTED_MINUTES, MAX_TITLE
from serve.openapi_doc import add_route_docs


class ApiError(Exception):
    def __init__(self, status: int, field: str, error: str, errors: list | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.field, self.error = status, field, error
        self.errors = errors or [{"index": None, "field": field, "error": error}]
        self.headers = headers


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    chunks: list[bytes] = []
    size = 0
    too_big = declared is not None and declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_big = True
        if not too_big:
            chunks.append(chunk)
    if too_big:
        raise ApiError(413, "body", f"request body larger than the {limit} byte limit")
    raw = b"".join(chunks)
    if not raw:
        raise ApiError(422, "body", "a JSON body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "body", f"not valid JSON: {exc}") from None


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN.pattern)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfessorIn(Strict):
    professor_id: Id
    name: Text
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    rotate_token: bool = False


def _keepable(value: datetime) -> datetime:
    instants.epoch(value)  # ValueError naming the accepted range
    return value


Instant = Annotated[datetime, AfterValidator(_keepable)]


class ActivityIn(Strict):
    activity_id: Id
    title: Text
    expected_minutes: Annotated[float, Field(gt=0, le=MAX_EXPECTED_MINUTES)]
    xapi_iri: Annotated[str, StringConstraints(max_length=2000)] | None = None
    simplified_of: Id | None = None
    due_at: Instant | None = None


class CourseIn(Strict):
    course_id: Id
    professor_id: Id
    title: Text
    clock: Literal["live", "event"] = "live"
    activities: Annotated[list[ActivityIn], Field(min_length=1, max_length=MAX_ACTIVITIES)]
    starts_at: Instant | None = None
    ends_at: Instant | None = None


class StudentIn(Strict):
    student_id: Id
    name: Text


class RosterIn(Strict):
    students: Annotated[list[StudentIn], Field(min_length=1, max_length=10_000)]
    rotate_tokens: bool = False


class EventsIn(Strict):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


_DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` naming ``model`` as a route's JSON body.

    Routes read bodies themselves (size cap, one error shape), so FastAPI cannot
    see them; this puts them in /openapi.json for clients and for schemathesis."""
    _DOCUMENTED[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def add_body_schemas(openapi: dict[str, Any]) -> dict[str, Any]:
    """The models named by ``documented``, and the bodies and query parameters routes read by hand
    (``serve/openapi_doc.py``)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _DOCUMENTED.items():
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(js.pop("$defs", {}))
        schemas[name] = js
    return add_route_docs(openapi)


def validate(model: type[BaseModel], data: Any) -> Any:
    from pydantic import ValidationError
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"index": None, "field": ".".join(str(p) for p in e["loc"]) or "body",
                   "error": e["msg"]} for e in exc.errors(include_url=False, include_input=False)]
        raise ApiError(422, errors[0]["field"], errors[0]["error"], errors) from None
