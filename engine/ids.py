"""Identifiers and stable routing.

Python's ``hash()`` of a str differs between processes, so routing uses crc32.
"""
from __future__ import annotations

import functools
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


MEMO_KEYS = 1 << 17  # keys whose hash a process keeps (~13 MB), the least recently used dropped past it


@functools.lru_cache(maxsize=MEMO_KEYS)
def stable_hash(key: str) -> int:
    """A process-independent 32-bit hash of ``key`` (crc32 of its UTF-8), kept per key: a process
    routes the same students and courses over and over, and a hit (~0.08 us) costs a quarter of
    encoding and checksumming the key again (the replica hashed every event's student, the shards
    every changed student's course)."""
    return zlib.crc32(key.encode("utf-8"))


def stable_hashes(keys: list[str]) -> list[int]:
    """``stable_hash`` of each key (a batch's students)."""
    return list(map(stable_hash, keys))


def shard_for(key: str, count: int) -> int:
    """Which of ``count`` shards owns ``key``."""
    return stable_hash(key) % count
