"""The trained at-risk model: scoring a class, explaining each score, and its acceptance gate.

``RiskModel`` wraps a fitted scikit-learn pipeline (standardise, then logistic
regression) and its metadata. ``score(table)`` gives every student the
probability of *not finishing the session* and the features that pushed it up
most, in words: for a linear model a feature's contribution to the log-odds is
its coefficient times its standardised value, so the reasons are exact, not an
approximation. ``gate(...)`` decides whether a model may be shown at all;
a model that fails it is never used (risk falls back to ``engine.risk``'s
transparent rules, and the API says so through ``ModelInfo``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from engine import risk as rules
from engine.risk_features import FEATURES, RISKY_DIRECTION, FeatureTable

MAX_REASONS = 3
MIN_CONTRIBUTION = 0.15  # log-odds: smaller pushes are not worth a professor's attention
MIN_RISK_FOR_REASONS = 0.1  # below this there is nothing to explain
BASELINE_REASON = "no single warning sign stands out (the usual risk at this point of the session)"

# The acceptance gate, fixed before any model is trained (docs/researcher-guide.md).
GATE = {"auc_mean_min": 0.80, "auc_min": 0.75, "auc_early_min": 0.70, "ece_max": 0.10}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    auc_mean: float | None
    auc_min: float | None
    auc_spread: float | None
    auc_early_mean: float | None
    auc_early_min: float | None
    brier: float | None
    ece: float | None
    failures: tuple[str, ...]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(GATE))
    runs: tuple[dict[str, Any], ...] = ()  # one per held-out cohort and seed

    def to_dict(self, runs: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["failures"] = list(self.failures)
        out["runs"] = list(self.runs) if runs else len(self.runs)
        return out


@dataclass(frozen=True)
class ModelInfo:
    """What the API and dashboard say about the risk in use (``risk_model`` in live progress).

    ``name``/``version``/``gate`` describe the trained model that was found (None when none was);
    ``active`` is true when it computes risk; otherwise ``in_use`` is the rules and
    ``fallback_reason`` says why.
    """

    name: str | None
    version: str | None
    active: bool
    in_use: str
    gate: dict[str, Any] | None
    fallback_reason: str | None
    trained_at: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    def falling_back(self, reason: str) -> ModelInfo:
        """The same model, not used here, for ``reason``."""
        return replace(self, active=False, in_use=rules.MODEL_NAME, fallback_reason=reason)


def rules_only(reason: str) -> ModelInfo:
    """No trained model could be loaded: the rules compute risk."""
    return ModelInfo(None, None, False, rules.MODEL_NAME, None, reason)


class RiskModel:
    def __init__(self, pipeline: Any, meta: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.meta = meta
        scaler, lr = pipeline.named_steps["scale"], pipeline.named_steps["lr"]
        self._mean = np.asarray(scaler.mean_, dtype=float)
        self._scale = np.asarray(scaler.scale_, dtype=float)
        self._coef = np.asarray(lr.coef_[0], dtype=float)
        self._intercept = float(lr.intercept_[0])
        # a feature may be a reason only if the model weighs it the way a professor would read it
        self._explains = np.array([RISKY_DIRECTION[f] != 0 and np.sign(c) == RISKY_DIRECTION[f]
                                   for f, c in zip(FEATURES, self._coef, strict=True)])

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def gate_passed(self) -> bool:
        return bool(self.meta.get("gate", {}).get("passed"))

    def info(self) -> ModelInfo:
        gate = self.meta.get("gate")
        summary = {k: v for k, v in gate.items() if k != "runs"} if gate else None
        info = ModelInfo(self.name, self.version, True, self.name, summary, None, self.meta.get("trained_at"))
        if self.gate_passed:
            return info
        failures = gate["failures"] if gate else ["it was never evaluated"]
        return info.falling_back("the trained model failed its acceptance gate: " + "; ".join(failures))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Each feature's push on the log-odds: coefficient x standardised value."""
        return self._coef * (X - self._mean) / self._scale

    def predict(self, X: np.ndarray) -> np.ndarray:
        """P(does not finish) per row; equal to ``pipeline.predict_proba(X)[:, 1]``, without its overhead."""
        return self._probability(self.contributions(X)) if len(X) else np.zeros(0)

    def _probability(self, contributions: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(contributions.sum(axis=1) + self._intercept)))

    def score(self, table: FeatureTable) -> dict[str, tuple[float, tuple[str, ...]]]:
        """{student_id: (risk, reasons)}: completed students get (0, ()); everyone else the
        model's probability and, from a risk of 0.1, one to three reasons."""
        if len(table.X) == 0:
            return {}
        contrib = self.contributions(table.X)
        risks = np.round(self._probability(contrib), 2)
        risks[table.completed] = 0.0
        pushes = np.where(self._explains, contrib, -np.inf)
        order = np.argsort(-pushes, axis=1)[:, :MAX_REASONS]
        out = {sid: (float(r), ()) for sid, r in zip(table.student_ids, risks.tolist(), strict=True)}
        for i in np.flatnonzero(risks >= MIN_RISK_FOR_REASONS):
            out[table.student_ids[i]] = (out[table.student_ids[i]][0], self._reasons(table, i, pushes[i], order[i]))
        return out

    def _reasons(self, table: FeatureTable, i: int, pushes: np.ndarray, order: np.ndarray) -> tuple[str, ...]:
        """The features that pushed this student's risk up most (at least one: the largest push, or
        the baseline when nothing pushed up)."""
        up = [int(j) for j in order if pushes[j] > 0]
        picked = [j for j in up if pushes[j] >= MIN_CONTRIBUTION] or up[:1]
        return tuple(table.describe(i, FEATURES[j]) for j in picked) or (BASELINE_REASON,)


# -- evaluation --------------------------------------------------------------

def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """AUC, Brier score and expected calibration error (10 equal-width bins)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    return {"auc": _r(auc), "brier": _r(float(brier_score_loss(y, p))) if len(y) else None,
            "ece": _r(ece(y, p)), "n": len(y), "positives": int(y.sum())}


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float | None:
    if len(y) == 0:
        return None
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += float(mask.sum() * abs(y[mask].mean() - p[mask].mean()))
    return total / len(y)


def gate(runs: Iterable[dict[str, Any]]) -> GateResult:
    """Judge held-out runs (each {"cohort", "seed", "all": metrics, "early": metrics, ...})."""
    runs = tuple(runs)
    aucs = [r["all"]["auc"] for r in runs if r["all"]["auc"] is not None]
    early = [r["early"]["auc"] for r in runs if r["early"]["auc"] is not None]
    briers = [r["all"]["brier"] for r in runs if r["all"]["brier"] is not None]
    eces = [r["all"]["ece"] for r in runs if r["all"]["ece"] is not None]
    mean = lambda v: _r(float(np.mean(v))) if v else None
    result = {"auc_mean": mean(aucs), "auc_min": _r(min(aucs)) if aucs else None,
              "auc_spread": _r(max(aucs) - min(aucs)) if aucs else None,
              "auc_early_mean": mean(early), "auc_early_min": _r(min(early)) if early else None,
              "brier": mean(briers), "ece": mean(eces)}
    failures = []
    if not aucs:
        failures.append("no held-out run had both outcomes")
    else:
        if result["auc_mean"] < GATE["auc_mean_min"]:
            failures.append(f"mean held-out AUC {result['auc_mean']:.3f} < {GATE['auc_mean_min']}")
        if result["auc_min"] < GATE["auc_min"]:
            failures.append(f"worst held-out AUC {result['auc_min']:.3f} < {GATE['auc_min']}")
        if not early:  # the quality bar asks for it: a model whose early AUC nobody measured has not passed
            failures.append("early-session AUC not evaluated: no held-out run had both outcomes at the early "
                            "snapshot")
        elif result["auc_early_min"] < GATE["auc_early_min"]:
            failures.append(f"worst early-session AUC {result['auc_early_min']:.3f} < {GATE['auc_early_min']}")
        if result["ece"] is not None and result["ece"] > GATE["ece_max"]:
            failures.append(f"calibration error {result['ece']:.3f} > {GATE['ece_max']}")
    return GateResult(not failures, **result, failures=tuple(failures), runs=runs)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
