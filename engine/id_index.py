"""Every logged event id's fingerprint, checked a whole batch at a time.

The log answers "seen before?" for every event it is sent. A Python dict of id strings did it one
id at a time (~3 us per event in the log, the one serial stage, at 100k events/s) and held ~150
bytes per id. This table keys a 64-bit hash of the id to the event's content fingerprint in numpy
arrays (buckets of 8 slots, ``IdIndex``), so a batch of 1,000 ids is a handful of array operations
and an id costs ~27 bytes.

The hash is Python's own ``hash(str)`` (SipHash, keyed at random per process): ~0.08 us an id in a
1,000-id batch, as fast as polars' vectorised hash, which it replaced because a live class sends
batches of one or two events, and polars spent ~0.5 ms of CPU on each such call from a busy process
(against ~0.04 ms). Being keyed per process is fine: hashes are only compared within one process,
and the table is rebuilt from the logged ids at every start. A client cannot aim ids at one hash
without the key (unless PYTHONHASHSEED is fixed for the log: then crafted ids could share a hash,
and each such batch would cost a query to the log, never a wrong answer).

A hash is not the id: two ids can share one. So a hit is trusted only when the fingerprint matches
too (a duplicate: both 64-bit digests equal, ~2^-128 for different events); a hit with a different
fingerprint is a conflict *candidate* that the caller checks against the log itself
(``GroupCommitter._verify``).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

EMPTY, GONE = 0, 1  # reserved keys: a free slot, a removed entry (probing goes on past it)
MAX_LOAD = 0.6
WIDTH = 8


def id_hashes(ids: pa.Array | pa.ChunkedArray | list[str]) -> np.ndarray:
    """64-bit hashes of event ids (never EMPTY or GONE)."""
    values = ids if isinstance(ids, list) else ids.to_pylist()
    h = np.fromiter(map(hash, values), np.int64, len(values)).view(np.uint64)
    return np.where(h <= GONE, h + 2, h)


class IdIndex:
    """hash -> fingerprint in buckets of 8 slots (one cache line of keys): a lookup is one gather
    of each hash's bucket; a full bucket spills into the next one (rare below MAX_LOAD)."""

    __slots__ = ("_fill", "_gone", "_keys", "_size", "_vals")

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._alloc(max(16, capacity))
        self._size = 0
        self._gone = 0  # removed entries still in the table (they fill it like live ones)

    def _alloc(self, capacity: int) -> None:
        buckets = 1 << max(1, int(np.ceil(np.log2(capacity / MAX_LOAD / WIDTH))))
        self._keys = np.zeros((buckets, WIDTH), np.uint64)
        self._vals = np.zeros((buckets, WIDTH), np.int64)
        self._fill = np.zeros(buckets, np.int64)  # slots used in each bucket (always a prefix)

    def __len__(self) -> int:
        return self._size

    def _find(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bucket, slot) of each hash, slot -1 where absent."""
        mask = np.uint64(len(self._keys) - 1)
        bucket = (h & mask).astype(np.int64)
        slot = np.full(len(h), -1, np.int64)
        todo = np.arange(len(h))
        while todo.size:
            at = bucket[todo]
            match = self._keys[at] == h[todo, None]
            hit = match.any(axis=1)
            slot[todo[hit]] = match[hit].argmax(axis=1)
            todo = todo[~hit & (self._fill[at] == WIDTH)]  # a full bucket: look in the next one
            bucket[todo] = (bucket[todo] + 1) & int(mask)
        return bucket, slot

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, fingerprint) for each hash; fingerprint is 0 where not found."""
        bucket, slot = self._find(h)
        found = slot >= 0
        fps = np.zeros(len(h), np.int64)
        fps[found] = self._vals[bucket[found], slot[found]]
        return found, fps

    def add(self, h: np.ndarray, fps: np.ndarray) -> None:
        """Insert hashes that are distinct and not in the table."""
        if not len(h):
            return
        if self._size + self._gone + len(h) > MAX_LOAD * self._keys.size:
            self._grow(self._size + len(h))
        self._place(h, fps)
        self._size += len(h)

    def remove(self, h: np.ndarray) -> None:
        """Forget hashes (a commit that failed); their slots stay used until the table grows."""
        bucket, slot = self._find(h)
        hit = slot >= 0
        self._keys[bucket[hit], slot[hit]] = GONE
        self._size -= int(hit.sum())
        self._gone += int(hit.sum())

    def _place(self, h: np.ndarray, fps: np.ndarray) -> None:
        """Write each hash into the first free slot of its bucket. Hashes sharing a bucket take
        consecutive slots (their rank among the batch's hashes for that bucket, found by one sort);
        those past a full bucket spill into the next one, in another round (rare below MAX_LOAD)."""
        mask = len(self._keys) - 1
        bucket = (h & np.uint64(mask)).astype(np.int64)
        todo = np.arange(len(h))
        while todo.size:
            order = todo[np.argsort(bucket[todo], kind="stable")]
            at = bucket[order]
            starts = np.ones(len(at), bool)
            starts[1:] = at[1:] != at[:-1]
            position = np.arange(len(at))
            rank = position - np.maximum.accumulate(np.where(starts, position, 0))
            slot = self._fill[at] + rank
            fits = slot < WIDTH
            rows = order[fits]
            self._keys[at[fits], slot[fits]] = h[rows]
            self._vals[at[fits], slot[fits]] = fps[rows]
            ends = np.ones(len(at), bool)  # each bucket's last hash: the bucket's new fill
            ends[:-1] = starts[1:]
            self._fill[at[ends]] = np.minimum(slot[ends] + 1, WIDTH)
            todo = order[~fits]
            bucket[todo] = (bucket[todo] + 1) & mask

    def _grow(self, need: int) -> None:
        live = self._keys > GONE
        h, fps = self._keys[live], self._vals[live]
        self._alloc(max(need, self._keys.size * MAX_LOAD))
        self._gone = 0
        self._place(h, fps)
