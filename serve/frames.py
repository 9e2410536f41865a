"""Reading one WebSocket message as a JSON frame: the checks every socket shares."""
from __future__ import annotations

from typing import Any

import orjson

MAX_FRAME = 1 << 20


def parse_frame(message: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(frame, None) for a JSON object with a string ``type``; else (None, the error frame to answer)."""
    text = message.get("text")
    if text is None or len(text) > MAX_FRAME:
        return None, {"type": "error", "errors": [{"index": None, "field": "frame",
                                                   "error": "frames are JSON text of at most 1 MiB"}]}
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, {"type": "error", "errors": [{"index": None, "field": "frame", "error": f"not JSON: {exc}"}]}
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None, {"type": "error", "errors": [{"index": None, "field": "type",
                                                   "error": "a frame needs a type"}]}
    return frame, None
