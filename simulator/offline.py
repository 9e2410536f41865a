"""Offline cohorts: no server; events and ground truth to Parquet.

Each student is simulated from its own seed, so the result is the same
whatever splits the work: one process, or Ray tasks over chunks of students.
Output: ``events.parquet`` (wire-shaped events, ``classpulse import`` loads
them), ``truth.parquet`` (per student and minute), ``cohort.json`` and a
``manifest.json`` with counts and content hashes.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from simulator.cohort import Cohort
from simulator.student import SimStudent

START_EPOCH = 1_767_603_600.0  # 2026-01-05T09:00:00Z: offline runs are reproducible to the byte
EVENT_SCHEMA = {"event_id": pl.Utf8, "student_id": pl.Utf8, "course_id": pl.Utf8, "activity_id": pl.Utf8,
                "type": pl.Utf8, "ts": pl.Utf8, "progress": pl.Float64, "correct": pl.Boolean}


def simulate(cohort: Cohort, indices: range | list[int], start_epoch: float = START_EPOCH
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and per-minute truth of some students, each from its own seed."""
    events, truth = [], []
    minutes = int(cohort.minutes)
    for i in indices:
        s = SimStudent(cohort, i, start_epoch)
        for minute in range(minutes + 1):
            while s.t < minute:
                events.extend(s.act())
            beat = s.heartbeat(minute)
            if beat is not None:
                events.append(beat)
            truth.append(asdict(s.truth(minute)))
    return events, truth


def run(cohort: Cohort, out: Path, workers: int = 0, chunk: int = 500, progress=None) -> dict[str, Any]:
    """Simulate the cohort (Ray tasks when ``workers`` > 0) and write the Parquet files."""
    started = time.perf_counter()
    chunks = [range(i, min(i + chunk, cohort.students)) for i in range(0, cohort.students, chunk)]
    events: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    if workers > 0:
        import ray
        task = ray.remote(num_cpus=1)(simulate)
        cohort_ref = ray.put(cohort)
        pending = [task.remote(cohort_ref, c) for c in chunks]
        while pending:
            done, pending = ray.wait(pending)
            for part_events, part_truth in ray.get(done):
                events.extend(part_events)
                truth.extend(part_truth)
            if progress:
                progress(len(chunks) - len(pending), len(chunks))
    else:
        for n, c in enumerate(chunks, 1):
            part_events, part_truth = simulate(cohort, c)
            events.extend(part_events)
            truth.extend(part_truth)
            if progress:
                progress(n, len(chunks))
    elapsed = time.perf_counter() - started
    frame = pl.DataFrame(events, schema=EVENT_SCHEMA).sort(["ts", "student_id", "event_id"])
    truth_frame = pl.DataFrame(truth).sort(["minute", "student_id"])
    out.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out / "events.parquet")
    truth_frame.write_parquet(out / "truth.parquet")
    (out / "cohort.json").write_text(json.dumps(cohort_to_dict(cohort), indent=2))
    manifest = {"students": cohort.students, "events": frame.height, "truth_rows": truth_frame.height,
                "events_sha256": content_hash(frame), "truth_sha256": content_hash(truth_frame),
                "seconds": round(elapsed, 3), "events_per_s": round(frame.height / max(elapsed, 1e-9)),
                "workers": workers}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def content_hash(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for batch in frame.iter_slices(100_000):
        digest.update(batch.write_csv().encode())
    return digest.hexdigest()


def cohort_to_dict(cohort: Cohort) -> dict[str, Any]:
    data = asdict(cohort)
    data["activities"] = [asdict(a) for a in cohort.activities]
    data["skills"] = {k: asdict(v) for k, v in cohort.skills.items()}
    return data
