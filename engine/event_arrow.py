"""Events as an Arrow table: the wire form from the API replica to the log and on to the shards.

The replica builds the table (parallel, off the log's core); the log inserts it into DuckDB as is,
splits it per shard with ``take`` and hands the slices on. Tables cross Ray as Arrow IPC bytes
(``pack``/``unpack``): no per-event Python objects to pickle, and ~20x cheaper than Ray's own
per-array pickling of a ``pa.Table``. Times stay epoch seconds (float64) on the wire, so a
shard gets back exactly the floats the replica had; the log converts them to timestamps in
DuckDB's layout at insert.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.events import FIELD, Columns, Event, EventBatch, from_columns, to_columns
from engine.ids import stable_hashes

WIRE = pa.schema([
    ("event_id", pa.string()), ("student_id", pa.string()), ("course_id", pa.string()),
    ("activity_id", pa.string()), ("type", pa.string()), ("ts", pa.float64()),
    ("progress", pa.float64()), ("correct", pa.bool_()), ("duration_s", pa.float64()),
    ("ts_given", pa.bool_()), ("received_at", pa.float64()), ("fingerprint", pa.int64()),
    ("seq", pa.int64()), ("shard_key", pa.uint32()),
])
assert WIRE.names[:len(Event._fields)] == list(Event._fields)
_NUMERIC_NOT_NULL = {"ts", "received_at", "fingerprint", "seq"}
_SHARED = {"student_id", "course_id", "activity_id", "type"}  # few values per batch: shared objects


def to_arrow(events: list[Event] | Columns | EventBatch) -> pa.Table:
    """The wire table of a batch (``shard_key`` = ``stable_hash(student_id)``, as the log stores it)."""
    if isinstance(events, EventBatch):
        cols = events.cols
    elif events and isinstance(events, list) and isinstance(events[0], Event):
        cols = to_columns(events)
    else:
        cols = events if events else to_columns([])
    arrays = [pa.array(c, t) for c, t in zip(cols, WIRE.types)]
    arrays.append(pa.array(stable_hashes(cols[FIELD["student_id"]]), pa.uint32()))
    return pa.Table.from_arrays(arrays, schema=WIRE)


def pack(table: pa.Table) -> bytes:
    """A table as Arrow IPC stream bytes (what crosses Ray)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def unpack(data: bytes | pa.Table) -> pa.Table:
    """The table ``pack`` wrote (zero-copy over ``data``); a table passes through."""
    if isinstance(data, pa.Table):
        return data
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    if not table.schema.equals(WIRE):
        raise ValueError(f"not an event batch: {table.schema}")
    return table


def table_columns(table: pa.Table) -> Columns:
    """The Python columns of a wire table, in ``Event`` field order."""
    out = []
    for name in Event._fields:
        col = table.column(name)
        if name in _SHARED:
            out.append(_shared_strings(col))
        elif name in _NUMERIC_NOT_NULL and col.null_count == 0:
            out.append(col.to_numpy().tolist())  # faster than to_pylist for plain numbers
        else:
            out.append(col.to_pylist())
    return tuple(out)


class _Interned(dict):
    """value -> its interned string (looked up on first sight)."""

    def __missing__(self, value: str | None) -> str | None:
        shared = self[value] = None if value is None else sys.intern(value)
        return shared


SHARED_VALUES_MAX = 1_000_000
_SHARED_VALUES = _Interned()


def _shared_strings(col: pa.ChunkedArray) -> list[str | None]:
    """A few-valued string column as Python strings, one shared object per value.

    ``to_pylist`` makes a new str per row, so every dict lookup in the fold (students by
    (course, student), activities by id, the event type against its literal) hashed and compared
    characters; with one shared object per value those are identity hits (the fold of converted
    events took 2.8 us per event against 2.0 for the same events as the replica built them).
    Each row's new string is swapped for the process's copy of that value (``_SHARED_VALUES``, the
    interned string, so the type is the very object of the fold's literals): a dict lookup per row.
    The four columns took ~0.65 us an event against ~1.05 for dictionary-encoding each column and
    taking from the encoded values, side by side on this machine (session 13). The values are
    course, student and activity ids and event types the log checked against its catalogue, so
    the dict grows with the rosters, not with the traffic; past ``SHARED_VALUES_MAX`` it starts
    over, and an erased student's id leaves it (``forget_shared``)."""
    if len(_SHARED_VALUES) > SHARED_VALUES_MAX:
        _SHARED_VALUES.clear()
    return list(map(_SHARED_VALUES.__getitem__, col.to_pylist()))


def forget_shared(value: str) -> None:
    """Drop a value's shared copy (an erased student's id: the shard holds nothing of them after)."""
    _SHARED_VALUES.pop(value, None)


class ArrowBatch:
    """``EventBatch``'s interface over a wire table (columns come out as Python lists on demand)."""

    __slots__ = ("_cols", "table")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._cols: dict[str, list] = {}

    @classmethod
    def of(cls, events: Any) -> ArrowBatch:
        if isinstance(events, ArrowBatch):
            return events
        if isinstance(events, pa.Table):
            return cls(events)
        return cls(to_arrow(events))

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list:
        col = self._cols.get(name)
        if col is None:
            col = self._cols[name] = self.table.column(name).to_pylist()
        return col

    @property
    def cols(self) -> Columns:
        return table_columns(self.table)

    def events(self) -> list[Event]:
        return from_columns(self.cols)

    def take(self, rows: Iterable[int] | np.ndarray) -> ArrowBatch:
        return ArrowBatch(self.table.take(np.asarray(rows, dtype=np.int64)))

    def with_seq(self, first: int) -> ArrowBatch:
        seq = pa.array(np.arange(first, first + len(self), dtype=np.int64))
        return ArrowBatch(self.table.set_column(FIELD["seq"], "seq", seq))

    def last_seq(self) -> int:
        return int(self.table.column("seq")[-1].as_py())

    def split(self, count: int) -> list[ArrowBatch | None]:
        """Rows per shard (``shard_key % count``, commit order kept); None for a shard with none."""
        if count == 1:
            return [self]
        keys = pc.remainder(self.table.column("shard_key"), count).to_numpy()
        out: list[ArrowBatch | None] = []
        for shard in range(count):
            rows = np.flatnonzero(keys == shard)
            out.append(None if not len(rows) else self if len(rows) == len(self) else self.take(rows))
        return out

    @staticmethod
    def concat(batches: list[ArrowBatch | EventBatch]) -> ArrowBatch:
        tables = [ArrowBatch.of(b).table for b in batches]
        if len(tables) == 1:
            return ArrowBatch(tables[0])
        if not tables:
            return ArrowBatch(to_arrow([]))
        return ArrowBatch(pa.concat_tables(tables))


def log_table(batch: ArrowBatch, columns: tuple[str, ...]) -> pa.Table:
    """The table as ``student_activity_log`` stores it: times in microseconds, ``columns`` order."""
    table = batch.table
    out = {}
    for name in columns:
        col = table.column(name)
        if name in ("ts", "received_at"):  # round(t * 1e6), half to even, as Python's round()
            col = pc.round(pc.multiply(col, 1_000_000.0)).cast(pa.int64()).cast(pa.timestamp("us"))
        out[name] = col
    return pa.table(out)
