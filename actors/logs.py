"""Structured JSON logs with a request id, and nothing secret in them.

Every process (actors, API replicas, the CLI) calls ``configure(level)``: one
JSON line per record on stderr (Ray keeps each worker's stderr in the
session's ``logs/`` folder), with ``request_id`` from a context variable set
at the HTTP edge and passed along on actor calls of the ingest path. A filter
scrubs bearer tokens, ``?token=`` query values and classpulse tokens from every
message and argument, as a last line of defence: code logs ids, never names
or tokens.
"""
from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET = re.compile(
    r"(?i)(bearer\s+)[^\s\"',;]+"  # Authorization: Bearer <token>
    r"|((?:[?&]|\b)token=)[^&\s\"',;]+"  # ?token=<token>
    r"|(basic\s+)[A-Za-z0-9+/=]{8,}"  # Authorization: Basic <credentials>
    r"|\bcp[apsx]_[A-Za-z0-9_-]{20,}")  # tokens classpulse issues (cpa_/cpp_/cps_, xAPI secrets cpx_)
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HANDLER_NAME = "classpulse-json"


def scrub(text: str) -> str:
    """``text`` with every token-looking value replaced by ``***``."""
    def repl(m: re.Match) -> str:
        prefix = m.group(1) or m.group(2) or m.group(3)
        return f"{prefix}***" if prefix else "***"
    return _SECRET.sub(repl, text)


def new_request_id(given: str | None = None) -> str:
    """The client's X-Request-ID when it is a sane id, else a fresh one."""
    if given and _ID.match(given):
        return given
    return uuid.uuid4().hex[:16]


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to the formatter to report
            return True
        record.msg, record.args = scrub(message), None
        return True


def configure(level: str = "INFO", stream=None) -> None:
    """Install the JSON handler on the root logger once per process (idempotent)."""
    root = logging.getLogger()
    for h in root.handlers:
        if h.get_name() == HANDLER_NAME:
            break
    else:
        handler = logging.StreamHandler(stream or sys.__stderr__ or sys.stderr)  # not a redirect
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}", style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"}))
        handler.addFilter(_Context())
        root.addHandler(handler)
    level_no = logging.getLevelName(str(level).upper())
    logging.getLogger("classpulse").setLevel(level_no if isinstance(level_no, int) else logging.INFO)
    for name in ("actors", "serve", "engine"):
        logging.getLogger(name).setLevel(level_no if isinstance(level_no, int) else logging.INFO)
