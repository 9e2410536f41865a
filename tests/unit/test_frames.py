"""Socket frames refused before they reach a handler answer like REST: a status, the field, and the
frame's request_id when it had one (they had no status, so a client could not tell 413 from 422)."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from serve.auth import Principal
from serve.frames import MAX_FRAME, parse_frame
from serve.routes.comms import _professor_frame
from serve.routes.live import _answer_frame


@pytest.mark.parametrize("message, status, field, request_id", [
    ({"bytes": b"\x00"}, 422, "frame", None),
    ({"text": "x" * (MAX_FRAME + 1)}, 413, "frame", None),
    ({"text": "{not json"}, 422, "frame", None),
    ({"text": "[1, 2]"}, 422, "frame", None),
    ({"text": '{"request_id": "r7"}'}, 422, "type", "r7"),
    ({"text": '{"type": 5, "request_id": "r8"}'}, 422, "type", "r8"),
])
def test_a_refused_frame_gets_a_status_and_its_request_id(message, status, field, request_id):
    frame, error = parse_frame(message)
    assert frame is None
    assert error["type"] == "error" and error["status"] == status and error["request_id"] == request_id
    assert error["errors"][0]["field"] == field


def test_an_unknown_frame_type_is_a_422_echoing_the_request_id_on_both_sockets():
    message = {"text": orjson.dumps({"type": "dance", "request_id": "r9"}).decode()}
    student = asyncio.run(_answer_frame(None, Principal("student", "s1"), message, None))
    professor = asyncio.run(_professor_frame(None, message))
    for reply in (student, professor):
        assert (reply["type"], reply["status"], reply["request_id"]) == ("error", 422, "r9")
        assert reply["errors"][0]["field"] == "type"
