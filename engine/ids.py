"""Identifiers and stable routing.

Python's ``hash()`` of a str differs between processes, so routing uses crc32.
"""
from __future__ import annotations

import re
import zlib

ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ID_RULE = "1-64 characters from [A-Za-z0-9._-]"
MAX_EVENT_ID = 128
# what a course may hold (the API's bodies and the simulator's cohort checks share them)
MAX_TITLE = 200
MAX_EXPECTED_MINUTES = 10_000
MAX_ACTIVITIES = 500


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.match(value) is not None


def stable_hash(key: str) -> int:
    """A process-independent 32-bit hash of ``key``."""
    return zlib.crc32(key.encode("utf-8"))


def shard_for(key: str, count: int) -> int:
    """Which of ``count`` shards owns ``key``."""
    return stable_hash(key) % count
