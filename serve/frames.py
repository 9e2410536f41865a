"""Reading one WebSocket message as a JSON frame: the checks every socket shares.

A refused frame is answered like a refused REST body: an ``error`` frame with the
``status`` REST would give (413 over the size limit, 422 otherwise) and the
frame's ``request_id`` when it had one."""
from __future__ import annotations

from typing import Any

import orjson

MAX_FRAME = 1 << 20


def error_frame(status: int, field: str, error: str, request_id: Any = None) -> dict[str, Any]:
    return {"type": "error", "request_id": request_id, "status": status,
            "errors": [{"index": None, "field": field, "error": error}]}


def parse_frame(message: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(frame, None) for a JSON object with a string ``type``; else (None, the error frame to answer)."""
    text = message.get("text")
    if text is None:
        return None, error_frame(422, "frame", "frames are JSON text, not binary")
    if len(text) > MAX_FRAME:
        return None, error_frame(413, "frame", f"frames are at most {MAX_FRAME} characters (1 MiB)")
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, error_frame(422, "frame", f"not JSON: {exc}")
    if not isinstance(frame, dict):
        return None, error_frame(422, "frame", "a frame is a JSON object with a type")
    if not isinstance(frame.get("type"), str):
        return None, error_frame(422, "type", "a frame needs a type", frame.get("request_id"))
    return frame, None
