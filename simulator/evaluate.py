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
    every = sorted(truth, key=lambda t: (t["student_id"], t["minute"]))
    rows = [t for t in every if (t["student_id"], t["minute"]) in shown]
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
        delays, missed = _delays(every, shown, condition)
        report[condition] = {"true_samples": tp + fn, "shown_samples": tp + fp, "precision": _r(precision),
                             "recall": _r(recall), "f1": _r(f1), "episodes": len(delays) + missed,
                             "episodes_missed": missed,
                             "median_delay_min": statistics.median(delays) if delays else None}
    return report


def _delays(truth: list[dict[str, Any]], shown: dict, condition: str) -> tuple[list[float], int]:
    """Episodes from the whole truth (a minute left out of the evaluation neither ends an episode nor
    joins two), judged on the minutes that were evaluated: the delay to the first one showing it, or
    missed; an episode with no evaluated minute is not judged at all."""
    delays, missed = [], 0
    by_student: dict[str, list[dict[str, Any]]] = {}
    for t in truth:
        by_student.setdefault(t["student_id"], []).append(t)
    for student, timeline in by_student.items():
        onset = last = None
        found = judged = False
        for t in timeline + [None]:
            active = t is not None and t[condition] and (onset is None or t["minute"] == last + 1)
            if onset is not None and not active:  # the episode ended (or the truth has a gap)
                missed += judged and not found
                onset = None
                active = t is not None and t[condition]  # a new one may start at this very minute
            if active:
                if onset is None:
                    onset, found, judged = t["minute"], False, False
                last = t["minute"]
                key = (student, t["minute"])
                if key in shown and not found:
                    judged = True
                    if shown[key] == condition:
                        delays.append(t["minute"] - onset)
                        found = True
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
