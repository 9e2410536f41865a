"""Offline cohorts: no server; events and ground truth to Parquet.

Each student is simulated from its own seed, so the result is the same
whatever splits the work: one process, or Ray tasks over chunks of students.
Output: ``events/part-*.parquet`` (wire-shaped events, ``classpulse import``
loads them), ``truth/part-*.parquet`` (per student and minute), ``cohort.json``
and a ``manifest.json`` with counts and content hashes. On a Ray cluster the
output folder must be shared storage (every task writes its own part).
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
    for i in indices:
        s = SimStudent(cohort, i, start_epoch)
        for minute in range(cohort.minutes + 1):
            while s.t < minute:
                events.extend(s.act())
            beat = s.heartbeat(minute)
            if beat is not None:
                events.append(beat)
            truth.append(s.truth(minute).row())
    return events, truth


PART_STUDENTS = 1000  # students per Parquet part: fixed, so the output never depends on the workers


def run(cohort: Cohort, out: Path, workers: int = 0, progress=None) -> dict[str, Any]:
    """Simulate the cohort part by part (Ray tasks when ``workers`` > 0) into
    ``out/events/part-NNNNN.parquet`` and ``out/truth/part-NNNNN.parquet``.

    Parts hold fixed ranges of students and each is sorted, so the files (and the
    manifest's hashes) are the same whatever ran them; memory stays bounded by a part.
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("events", "truth"):
        (out / sub).mkdir(exist_ok=True)
        for old in (out / sub).glob("part-*.parquet"):
            old.unlink()
    parts = [(k, range(i, min(i + PART_STUDENTS, cohort.students)))
             for k, i in enumerate(range(0, cohort.students, PART_STUDENTS))]
    results: dict[int, dict[str, Any]] = {}
    if workers > 0:
        import ray
        task = ray.remote(num_cpus=1)(write_part)
        cohort_ref = ray.put(cohort)
        pending = [task.remote(cohort_ref, k, students, str(out)) for k, students in parts]
        while pending:
            done, pending = ray.wait(pending)
            for r in ray.get(done):
                results[r["part"]] = r
            if progress:
                progress(len(results), len(parts))
    else:
        for k, students in parts:
            results[k] = write_part(cohort, k, students, str(out))
            if progress:
                progress(len(results), len(parts))
    elapsed = time.perf_counter() - started
    ordered = [results[k] for k in sorted(results)]
    events = sum(r["events"] for r in ordered)
    (out / "cohort.json").write_text(json.dumps(cohort_to_dict(cohort), indent=2))
    manifest = {"students": cohort.students, "parts": len(ordered), "events": events,
                "truth_rows": sum(r["truth_rows"] for r in ordered),
                "events_sha256": _combine(r["events_sha256"] for r in ordered),
                "truth_sha256": _combine(r["truth_sha256"] for r in ordered),
                "seconds": round(elapsed, 3), "events_per_s": round(events / max(elapsed, 1e-9)),
                "workers": workers}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def write_part(cohort: Cohort, part: int, students: range, out: str) -> dict[str, Any]:
    events, truth = simulate(cohort, students)
    frame = pl.DataFrame(events, schema=EVENT_SCHEMA).sort(["ts", "student_id", "event_id"])
    truth_frame = pl.DataFrame(truth).sort(["minute", "student_id"])
    frame.write_parquet(Path(out) / "events" / f"part-{part:05d}.parquet")
    truth_frame.write_parquet(Path(out) / "truth" / f"part-{part:05d}.parquet")
    return {"part": part, "events": frame.height, "truth_rows": truth_frame.height,
            "events_sha256": content_hash(frame), "truth_sha256": content_hash(truth_frame)}


def read_events(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(Path(folder) / "events" / "*.parquet")


def read_truth(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(Path(folder) / "truth" / "*.parquet")


def _combine(hashes) -> str:
    digest = hashlib.sha256()
    for h in hashes:
        digest.update(h.encode())
    return digest.hexdigest()


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
