"""The Arrow wire form: what goes in comes out (to the shards and through DuckDB), split per shard
as the topology routes students."""
from __future__ import annotations

import os
import random
import sys

import pyarrow as pa
import pytest

from engine import event_arrow
from engine.event_arrow import (
    WIRE,
    ArrowBatch,
    forget_shared,
    log_table,
    pack,
    table_columns,
    to_arrow,
    unpack,
)
from engine.events import Event, EventBatch, from_columns, quantize, to_columns
from engine.ids import shard_for
from engine.store import LOG_COLUMNS, Store


def events(n: int, seed: int = 3) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(["attempt", "progress", "heartbeat", "hint_requested"])
        e = Event(f"e-{seed}-{i}", f"s{rng.randrange(37)}", rng.choice(["c1", "c2"]),
                  None if kind == "heartbeat" else f"a{rng.randrange(5)}", kind,
                  quantize(1_764_000_000 + rng.uniform(0, 86_400)),
                  rng.random() if kind == "progress" else None,
                  rng.random() < 0.5 if kind == "attempt" else None,
                  rng.choice([None, 12.5]), rng.random() < 0.5, quantize(1_764_000_000 + i))
        out.append(e._replace(fingerprint=e.content_fingerprint()))
    return out


def test_round_trip_keeps_every_field_exactly() -> None:
    batch = events(500)
    table = to_arrow(batch)
    assert table.schema.equals(WIRE)
    assert from_columns(table_columns(table)) == batch
    assert to_arrow(to_columns(batch)).equals(table)
    assert to_arrow(EventBatch.of(batch)).equals(table)


def test_few_valued_columns_come_back_as_one_interned_object_per_value() -> None:
    batch = events(400)
    table = pa.concat_tables([to_arrow(batch[:150]), to_arrow(batch[150:])])  # two chunks, as after a concat
    rows = from_columns(table_columns(table))
    assert rows == batch  # the same values, None where there was none
    assert {e.activity_id for e in rows} >= {None, "a0"}
    for field in ("student_id", "course_id", "activity_id", "type"):
        objects = {}
        for e in rows:
            value = getattr(e, field)
            assert objects.setdefault(value, value) is value  # each value is one object
    assert next(e.type for e in rows if e.type == "attempt") is sys.intern("attempt")  # the literals' object
    assert len({id(e.event_id) for e in rows}) == len(rows)  # ids are unique: left as they are


def test_shared_values_let_go_of_an_erased_student_and_stay_bounded(monkeypatch) -> None:
    batch = events(50)
    student = batch[0].student_id
    table_columns(to_arrow(batch))
    assert student in event_arrow._SHARED_VALUES
    forget_shared(student)
    assert student not in event_arrow._SHARED_VALUES
    assert batch[1].course_id in event_arrow._SHARED_VALUES  # the others stay
    monkeypatch.setattr(event_arrow, "SHARED_VALUES_MAX", len(event_arrow._SHARED_VALUES))
    event_arrow._SHARED_VALUES["not in this batch"]  # one more than the cap
    rows = from_columns(table_columns(to_arrow(batch)))  # over the cap: starts over
    assert rows == batch
    assert "not in this batch" not in event_arrow._SHARED_VALUES


def test_empty_batch() -> None:
    table = to_arrow([])
    assert table.num_rows == 0 and table.schema.equals(WIRE)
    assert len(ArrowBatch.concat([])) == 0


def test_take_concat_and_seq_keep_order() -> None:
    a, b = ArrowBatch.of(events(40, 1)), ArrowBatch.of(events(30, 2))
    both = ArrowBatch.concat([a, EventBatch.of(events(30, 2))]).with_seq(101)
    assert len(both) == 70 and both.last_seq() == 170
    assert both.column("seq") == list(range(101, 171))
    assert both.column("event_id") == a.column("event_id") + b.column("event_id")
    assert both.take([5, 0]).column("event_id") == [a.column("event_id")[5], a.column("event_id")[0]]


@pytest.mark.parametrize("shards", [1, 2, 3, 4])
def test_split_routes_like_the_topology_and_keeps_commit_order(shards: int) -> None:
    batch = ArrowBatch.of(events(300)).with_seq(1)
    parts = batch.split(shards)
    assert len(parts) == shards
    seen = []
    for index, part in enumerate(parts):
        if part is None:
            continue
        assert all(shard_for(s, shards) == index for s in part.column("student_id"))
        assert part.column("seq") == sorted(part.column("seq"))
        seen += part.column("seq")
    assert sorted(seen) == list(range(1, 301))


def test_log_table_times_match_python_rounding() -> None:
    batch = ArrowBatch.of(events(200)).with_seq(1)
    table = log_table(batch, LOG_COLUMNS)
    assert table.column_names == list(LOG_COLUMNS)
    assert table.schema.field("ts").type == pa.timestamp("us")
    expected = [round(t * 1_000_000) for t in batch.column("ts")]
    assert table.column("ts").cast(pa.int64()).to_pylist() == expected


@pytest.mark.parametrize("threads", [0, 1])
def test_store_round_trip_through_duckdb(tmp_path, threads) -> None:
    batch = events(400)
    store = Store(tmp_path / "log.duckdb", threads)  # 0: DuckDB's default, a thread per core
    assert store.threads == (threads or os.cpu_count())
    store.append(ArrowBatch.of(batch).with_seq(1))
    logged = [e for i in range(2) for e in store.events_for_shard(2, i, 0, 10_000)]
    assert sorted(logged, key=lambda e: e.seq) == [e._replace(seq=i + 1) for i, e in enumerate(batch)]
    store.close()


def test_pack_unpack_round_trip_and_refuse_other_tables() -> None:
    table = to_arrow(events(50))
    assert unpack(pack(table)).equals(table)
    assert unpack(table) is table
    with pytest.raises(ValueError, match="not an event batch"):
        unpack(pack(pa.table({"x": [1]})))
    with pytest.raises((ValueError, OSError)):
        unpack(b"not arrow")
