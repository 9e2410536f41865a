"""Any analysis as a table: Polars frames written as Parquet or CSV.

Each section flattens to one row per thing it counts (a heatmap cell, an
activity, a student, an effect); lists (stuck students, reasons) become
``;``-separated text so CSV and Parquet hold the same columns.
"""
from __future__ import annotations

import io
from typing import Any

import polars as pl

FORMATS = {"parquet": ("application/vnd.apache.parquet", "parquet"), "csv": ("text/csv; charset=utf-8", "csv")}


def _heatmap(a: dict[str, Any]) -> list[dict]:
    return a["heatmap"]["by_weekday_hour"]


def _session(a: dict[str, Any]) -> list[dict]:
    return a["heatmap"]["by_minute"]


def _bottlenecks(a: dict[str, Any]) -> list[dict]:
    return [{k: v for k, v in b.items() if k != "ranks"} | {f"rank_{k}": v for k, v in b["ranks"].items()}
            | {"stuck_students": ";".join(b["stuck_students"])} for b in a["bottlenecks"]]


def _at_risk(a: dict[str, Any]) -> list[dict]:
    return [s | {"reasons": ";".join(s["reasons"])} for s in a["at_risk"]["students"]]


def _patterns(a: dict[str, Any]) -> list[dict]:
    p = a["patterns"]
    rows = [{"dimension": "hour", "group": f"{h['hour']:02d}"} | _measures(h) for h in p["by_hour"]]
    for dim, key in (("session_length", "by_session_length"), ("spacing", "spacing"), ("hint_level", "by_hint_use")):
        rows += [{"dimension": dim, "group": g["group"]} | _measures(g) for g in p[key]]
    rows += [{"dimension": "attempt", "group": k} | _measures(v) for k, v in p["hint_use"].items()]
    return rows


def _measures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("attempts", "success_rate", "pace_per_hour", "active_minutes",
                                    "insufficient_data")}


def _comparative(a: dict[str, Any]) -> list[dict]:
    return a["comparative"].get("students", [])


def _trajectory(a: dict[str, Any]) -> list[dict]:
    return a["comparative"].get("trajectory", [])


def _interventions(a: dict[str, Any]) -> list[dict]:
    rows = []
    for kind in a["interventions"]["effectiveness"]["kinds"]:
        for metric, e in kind["effects"].items():
            rows.append({"kind": kind["kind"], "method": kind["method"], "metric": metric,
                         "treated": kind["treated"], "held_out": kind["held_out"]}
                        | {k: e.get(k) for k in ("effect", "ci_low", "ci_high", "se", "effect_size_d",
                                                 "n_treated", "n_control", "treated_mean", "control_mean")}
                        | {"insufficient_data": bool(e.get("insufficient_data", False))})
    return rows


def _records(a: dict[str, Any]) -> list[dict]:
    return [{k: r[k] for k in ("intervention_id", "kind", "holdout", "at", "student_id", "state_before")}
            | {f"change_{k}": v for k, v in r["change"].items()} for r in a["interventions"]["effectiveness"]["records"]]


SECTIONS = {"heatmap": _heatmap, "session": _session, "bottlenecks": _bottlenecks, "at_risk": _at_risk,
            "patterns": _patterns, "comparative": _comparative, "trajectory": _trajectory,
            "interventions": _interventions, "intervention_records": _records}


def frame(section: str, analysis: dict[str, Any]) -> pl.DataFrame:
    rows = SECTIONS[section](analysis)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"insufficient_data": [True]})


def encode(df: pl.DataFrame, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "parquet":
        df.write_parquet(buf)
    else:
        df.write_csv(buf)
    return buf.getvalue()
