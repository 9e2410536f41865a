"""Simulated events into a DuckDB event log with the real schema, without a server.

Benchmarks and the effect-recovery tests query the analytics directly over a
log: this loads wire-shaped events (as ``simulator/offline.py`` writes them)
into ``student_activity_log`` in one statement, in time order, with the columns
the EventLog would have filled (``seq`` by time, ``received_at`` = ``ts``).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from simulator.offline import EVENT_SCHEMA


def open_log(path: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    db = duckdb.connect(str(path))
    db.execute(resources.files("engine").joinpath("schema.sql").read_text())
    return db


def load_events(db: duckdb.DuckDBPyConnection, events: pl.DataFrame | list[dict[str, Any]] | str) -> int:
    """Append events (a frame, a list of dicts, or a Parquet glob); returns the rows added."""
    if isinstance(events, list):
        events = pl.DataFrame(events, schema=EVENT_SCHEMA)
    source = f"read_parquet('{events}')" if isinstance(events, str) else "incoming"
    if not isinstance(events, str):
        db.register("incoming", events.to_arrow())
    offset = db.execute("SELECT coalesce(max(seq), 0) FROM student_activity_log").fetchone()[0]
    before = db.execute("SELECT count(*) FROM student_activity_log").fetchone()[0]
    db.execute(f"""
        INSERT INTO student_activity_log
        SELECT {offset} + row_number() OVER (ORDER BY ts::TIMESTAMP, student_id, event_id), event_id, 0,
               student_id, course_id, activity_id, type, ts::TIMESTAMP, ts::TIMESTAMP, progress, correct,
               NULL, true, 0
        FROM {source}""")
    if not isinstance(events, str):
        db.unregister("incoming")
    return db.execute("SELECT count(*) FROM student_activity_log").fetchone()[0] - before


def load_interventions(db: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> None:
    """``{"intervention_id", "course_id", "student_id", "kind", "ts", "holdout", "randomized"?}`` rows
    (``randomized``: a coin decided who was held out; see engine.holdout.stamp)."""
    db.executemany("INSERT INTO intervention_records (intervention_id, course_id, student_id, professor_id, kind, "
                   "payload, created_at, holdout) VALUES (?, ?, ?, 'simulation', ?, ?, ?::TIMESTAMP, ?)",
                   [(r["intervention_id"], r["course_id"], r["student_id"], r["kind"],
                     json.dumps({"randomized": r["randomized"]} if "randomized" in r else {}), r["ts"], r["holdout"])
                    for r in records])
