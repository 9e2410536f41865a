"""Training data for the at-risk model, training, and the held-out acceptance gate.

Data: simulated cohorts (``simulator``) folded through the engine's own
``StudentState`` and read with ``engine.risk_features.extract`` at snapshot
times (a quarter, half and three quarters into the session), exactly as a
course's live view would see them. Features use only events before the
snapshot. The label comes from the simulator's latent ground truth: the student
has not finished every activity when the session ends (``truth`` at the last
minute). Students already finished at a snapshot are left out (their risk is 0
by definition).

The gate trains on some cohorts and seeds and judges the model on *other*
cohorts, with other archetype mixes and other seeds (``engine.risk_model.gate``).
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from engine.clock import CourseClock
from engine.config import AlertConfig
from engine.course import Activity, Course, FoldParams
from engine.events import Event, quantize
from engine.risk_features import FEATURES, FeatureTable, extract, session_of
from engine.risk_model import RiskModel, gate, metrics
from engine.state import StudentState, StudentSummary
from simulator import cohort as cohorts
from simulator.cohort import Cohort
from simulator.offline import START_EPOCH, simulate

MODEL_NAME = "risk-lr-v1"  # the feature set and model family; retraining changes the version
SNAPSHOTS = (0.25, 0.5, 0.75)  # fractions of the session; the first is "early"
TRAIN_COHORTS = ("default", "intro-programming")
HELD_OUT_COHORTS = ("struggling-heavy", "late-and-guessing")
TRAIN_SEEDS = (101, 102, 103, 104)
HELD_OUT_SEEDS = (201, 202, 203)
TRAIN_SESSION_SCALE = (0.75, 1.0, 0.9, 1.2)  # training sessions of 45, 60, 54, 72 minutes


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    snapshot: np.ndarray  # the session fraction of each row

    @staticmethod
    def concat(parts: list[Dataset]) -> Dataset:
        return Dataset(np.vstack([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                       np.concatenate([p.snapshot for p in parts]))


def load_cohort(name: str, students: int | None = None, seed: int | None = None,
                minutes: int | None = None) -> Cohort:
    """A shipped cohort by name ("default" is the simulator's built-in class), or a TOML path."""
    given = {k: v for k, v in {"students": students, "seed": seed, "minutes": minutes}.items() if v is not None}
    if name == "default":
        return cohorts.default(**given)
    path = Path(name)
    if not path.exists():
        path = Path(str(resources.files("simulator") / "cohorts" / f"{name}.toml"))
    return cohorts.load(path, **given)


def snapshots(cohort: Cohort, fractions: tuple[float, ...] = SNAPSHOTS,
              idle_after_s: float = AlertConfig().idle_after_s) -> Iterator[tuple[float, FeatureTable, np.ndarray]]:
    """Simulate ``cohort``; yield (fraction, the class's features then, did-not-finish per student)."""
    events, truth = simulate(cohort, range(cohort.students))
    last = cohort.minutes
    unfinished = {r["student_id"]: r["activity_id"] is not None for r in truth if r["minute"] == last}
    session = session_of(course_of(cohort))
    for fraction, summaries, clock in fold(cohort, events, fractions, idle_after_s):
        table = extract(summaries, clock, idle_after_s, session)
        yield fraction, table, np.array([unfinished[sid] for sid in table.student_ids], dtype=int)


def fold(cohort: Cohort, events: list[dict[str, Any]], fractions: tuple[float, ...],
         idle_after_s: float) -> Iterator[tuple[float, list[StudentSummary], CourseClock]]:
    """Fold simulated events through ``StudentState`` in time order, as a shard would; yield every
    student's summary (and the event clock) when each fraction of the session is reached."""
    events = sorted(events, key=lambda e: (e["ts"], e["student_id"], e["event_id"]))
    params = FoldParams(len(cohort.activities), idle_after_s)
    expected = {a.activity_id: a.expected_minutes for a in cohort.activities}
    states = {f"{cohort.course_id}-s{i:05d}": StudentState(cohort.course_id, f"{cohort.course_id}-s{i:05d}")
              for i in range(cohort.students)}
    clock = CourseClock("event")
    boundaries = [START_EPOCH + 60.0 * f * cohort.minutes for f in fractions]
    summaries = lambda: [s.summary(params, expected) for s in states.values()]
    k = 0
    for seq, e in enumerate(events, 1):
        ts = quantize(datetime.fromisoformat(e["ts"]).timestamp())
        while k < len(boundaries) and ts >= boundaries[k]:
            yield fractions[k], summaries(), clock
            k += 1
        event = Event(e["event_id"], e["student_id"], e["course_id"], e.get("activity_id"), e["type"], ts,
                      e.get("progress"), e.get("correct"), None, True, ts, 0, seq)
        states[e["student_id"]].apply(event, params)
        clock.observe(ts)
    for fraction in fractions[k:]:
        yield fraction, summaries(), clock


def cohort_dataset(cohort: Cohort, fractions: tuple[float, ...] = SNAPSHOTS) -> Dataset:
    """Every unfinished student's features at each snapshot, labelled from the ground truth."""
    parts = []
    for fraction, table, y in snapshots(cohort, fractions):
        keep = ~table.completed
        parts.append(Dataset(table.X[keep], y[keep], np.full(int(keep.sum()), fraction)))
    return Dataset.concat(parts)


def course_of(cohort: Cohort, start: float = START_EPOCH) -> Course:
    """The course a cohort runs, with its session window (as the simulator declares it)."""
    return Course(cohort.course_id, "sim", cohort.title, "event",
                  tuple(Activity(a.activity_id, a.title, a.expected_minutes) for a in cohort.activities),
                  start, start + 60.0 * cohort.minutes)


def datasets(names: tuple[str, ...], seeds: tuple[int, ...], students: int | None,
             session_scale: tuple[float, ...] = (1.0,)) -> dict[tuple[str, int], Dataset]:
    """One dataset per cohort and seed; seed k runs ``session_scale[k % len]`` times the cohort's length
    (training sees sessions of several lengths, so time left means the same in any course)."""
    out = {}
    for name in names:
        base = load_cohort(name).minutes
        for k, seed in enumerate(seeds):
            minutes = round(base * session_scale[k % len(session_scale)])
            out[(name, seed)] = cohort_dataset(load_cohort(name, students, seed, minutes))
    return out


def fit(data: Dataset, shuffle_labels: bool = False, seed: int = 0) -> Any:
    """A standardise + logistic regression pipeline (``shuffle_labels``: a deliberately useless model)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    y = data.y.copy()
    if shuffle_labels:
        np.random.default_rng(seed).shuffle(y)
    pipeline = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=2000))])
    return pipeline.fit(data.X, y)


def evaluate(model: RiskModel, held_out: dict[tuple[str, int], Dataset]) -> list[dict[str, Any]]:
    """One run per held-out cohort and seed: metrics over all snapshots and at each one."""
    runs = []
    for (name, seed), data in held_out.items():
        p = model.predict(data.X)
        run: dict[str, Any] = {"cohort": name, "seed": seed, "all": metrics(data.y, p)}
        for fraction in SNAPSHOTS:  # every one, even with no rows (no AUC then): "early" is the first
            mask = data.snapshot == fraction
            run[f"at_{int(fraction * 100)}pct"] = metrics(data.y[mask], p[mask])
        run["early"] = run[f"at_{int(SNAPSHOTS[0] * 100)}pct"]
        runs.append(run)
    return runs


def train(students: int | None = 300, train_cohorts: tuple[str, ...] = TRAIN_COHORTS,
          train_seeds: tuple[int, ...] = TRAIN_SEEDS, held_out_cohorts: tuple[str, ...] = HELD_OUT_COHORTS,
          held_out_seeds: tuple[int, ...] = HELD_OUT_SEEDS, shuffle_labels: bool = False,
          progress=lambda msg: None) -> RiskModel:
    """Train on some cohorts and seeds, judge on held-out ones; the gate result is in the metadata."""
    overlap = set(train_cohorts) & set(held_out_cohorts)
    if overlap:
        raise ValueError(f"held-out cohorts must differ from training cohorts: {sorted(overlap)}")
    seeds = set(train_seeds) & set(held_out_seeds)
    if seeds:  # a held-out cohort replayed with a training seed is no fresh class
        raise ValueError(f"held-out seeds must differ from training seeds (--seeds, --held-out-seeds): "
                         f"{sorted(seeds)}")
    progress(f"simulating {len(train_cohorts) * len(train_seeds)} training cohorts")
    training = Dataset.concat(list(datasets(train_cohorts, train_seeds, students, TRAIN_SESSION_SCALE).values()))
    pipeline = fit(training, shuffle_labels, seed=random.Random(0).randrange(1 << 30))
    meta = {"name": MODEL_NAME, "version": "unsaved", "features": list(FEATURES),
            "label": "has not finished every activity at the end of the session (simulator ground truth)",
            "snapshots": list(SNAPSHOTS), "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training": {"cohorts": list(train_cohorts), "seeds": list(train_seeds), "students": students,
                         "session_scale": list(TRAIN_SESSION_SCALE),
                         "rows": len(training.y), "positives": int(training.y.sum()),
                         "shuffled_labels": shuffle_labels},
            "held_out": {"cohorts": list(held_out_cohorts), "seeds": list(held_out_seeds)}}
    model = RiskModel(pipeline, meta)
    progress(f"judging on {len(held_out_cohorts) * len(held_out_seeds)} held-out cohorts")
    result = gate(evaluate(model, datasets(held_out_cohorts, held_out_seeds, students)))
    meta["gate"] = result.to_dict()
    lr = pipeline.named_steps["lr"]
    meta["coefficients"] = {f: round(float(c), 4) for f, c in zip(FEATURES, lr.coef_[0], strict=True)}
    return model
