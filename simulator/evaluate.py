"""Detection quality: what the system showed, against the simulator's ground truth.

Sampled per student and simulated minute. For each condition (struggling,
idle): precision, recall and F1 over the samples, and the median detection
delay: from the minute a true episode starts to the first minute the system
shows it (episodes never shown count as missed, not as delays).
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

CONDITIONS = ("struggling", "idle")


def evaluate(truth: Iterable[dict[str, Any]], detected: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``truth`` rows: {student_id, minute, struggling, idle}; ``detected``: {student_id, minute, status}
    (status None: the live view could not be read that minute, which counts as not detected: left
    out, a failing read inflated recall)."""
    shown = {(d["student_id"], d["minute"]): d["status"] for d in detected}
    rows = sorted((t for t in truth if (t["student_id"], t["minute"]) in shown),
                  key=lambda t: (t["student_id"], t["minute"]))
    report: dict[str, Any] = {"samples": len(rows),
                              "unread_samples": sum(1 for t in rows if shown[(t["student_id"], t["minute"])] is None)}
    for condition in CONDITIONS:
        tp = fp = fn = 0
        for t in rows:
            truly, said = t[condition], shown[(t["student_id"], t["minute"])] == condition
            tp += truly and said
            fp += said and not truly
            fn += truly and not said
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = (2 * precision * recall / (precision + recall)
              if precision is not None and recall is not None and precision + recall else None)
        delays, missed = _delays(rows, shown, condition)
        report[condition] = {"true_samples": tp + fn, "shown_samples": tp + fp, "precision": _r(precision),
                             "recall": _r(recall), "f1": _r(f1), "episodes": len(delays) + missed,
                             "episodes_missed": missed,
                             "median_delay_min": statistics.median(delays) if delays else None}
    return report


def _delays(rows: list[dict[str, Any]], shown: dict, condition: str) -> tuple[list[float], int]:
    delays, missed = [], 0
    by_student: dict[str, list[dict[str, Any]]] = {}
    for t in rows:
        by_student.setdefault(t["student_id"], []).append(t)
    for student, timeline in by_student.items():
        onset, found = None, False
        for t in timeline + [None]:
            active = t is not None and t[condition]
            if active and onset is None:
                onset, found = t["minute"], False
            if active and not found and shown[(student, t["minute"])] == condition:
                delays.append(t["minute"] - onset)
                found = True
            if not active and onset is not None:
                missed += not found
                onset = None
    return delays, missed


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def table(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in CONDITIONS:
        r = report[c]
        rows.append([c, str(r["true_samples"]), str(r["precision"]), str(r["recall"]), str(r["f1"]),
                     f"{r['episodes'] - r['episodes_missed']}/{r['episodes']}", str(r["median_delay_min"])])
    return rows
