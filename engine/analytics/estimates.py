"""Effect estimates with confidence intervals (normal approximation).

``two_arm``: a randomized comparison (treated vs held out): the difference of
means, Welch's standard error ``sqrt(s1^2/n1 + s2^2/n2)``, a 95% interval of
``effect +- 1.96 * se`` and Cohen's d (difference over the pooled standard
deviation). ``stratified``: the same per stratum (one send of a holdout coin,
whose share may differ from another send's), combined with size weights
``w_s = n1_s + n2_s``: effect ``sum w_s d_s / W``, se
``sqrt(sum w_s^2 (s1_s^2/n1_s + s2_s^2/n2_s)) / W`` (an arm of one value in a
stratum takes the arm's variance pooled over the strata). ``one_sample``: the mean of per-intervention differences against
matched comparison students, ``se = sd / sqrt(n)``, d = mean / sd. Both are
exact, deterministic formulas a researcher can recompute by hand.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class Estimate:
    effect: float
    ci_low: float
    ci_high: float
    se: float
    effect_size_d: float | None
    n_treated: int
    n_control: int
    treated_mean: float
    control_mean: float

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        out = {k: (round(v, digits) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        return out | {"ci_excludes_zero": self.excludes_zero}


def two_arm(treated: list[float], control: list[float]) -> Estimate:
    """Needs at least two values in each arm."""
    n1, n2 = len(treated), len(control)
    m1, m2 = statistics.fmean(treated), statistics.fmean(control)
    v1, v2 = statistics.variance(treated), statistics.variance(control)
    se = math.sqrt(v1 / n1 + v2 / n2)
    pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    effect = m1 - m2
    d = effect / pooled if pooled > 0 else None
    return Estimate(effect, effect - Z95 * se, effect + Z95 * se, se, d, n1, n2, m1, m2)


def stratified(strata: list[tuple[list[float], list[float]]]) -> Estimate:
    """A stratified difference in means: ``strata`` are (treated, control) value lists, each with at least
    one value a side and at least two values a side over all strata. Pooling strata whose treated shares
    differ would compare unlike students (a send where most were held out weighs on the control mean
    more than on the treated one); within a stratum the coin alone chose."""
    weights = [len(t) + len(c) for t, c in strata]
    total = sum(weights)
    means = [(statistics.fmean(t), statistics.fmean(c)) for t, c in strata]
    pooled = [_pooled([arm[i] for arm in strata]) for i in (0, 1)]
    var = 0.0
    for w, (t, c) in zip(weights, strata):
        v1 = statistics.variance(t) if len(t) > 1 else pooled[0]
        v2 = statistics.variance(c) if len(c) > 1 else pooled[1]
        var += w * w * (v1 / len(t) + v2 / len(c))
    se = math.sqrt(var) / total
    m1 = sum(w * m[0] for w, m in zip(weights, means)) / total
    m2 = sum(w * m[1] for w, m in zip(weights, means)) / total
    effect = m1 - m2
    sd = math.sqrt(_pooled([t for t, _ in strata] + [c for _, c in strata]))
    d = effect / sd if sd > 0 else None
    return Estimate(effect, effect - Z95 * se, effect + Z95 * se, se, d,
                    sum(len(t) for t, _ in strata), sum(len(c) for _, c in strata), m1, m2)


def _pooled(groups: list[list[float]]) -> float:
    """The variance within groups, pooled (each group about its own mean). Groups of one value each
    have no variance within: then the variance of all the values together (which also holds the
    spread between groups, so it errs wide), never 0, which would claim certainty."""
    dof = sum(len(g) - 1 for g in groups)
    if dof <= 0:
        values = [x for g in groups for x in g]
        return statistics.variance(values) if len(values) > 1 else 0.0
    return sum((len(g) - 1) * statistics.variance(g) for g in groups if len(g) > 1) / dof


def one_sample(differences: list[float], treated_mean: float, control_mean: float, n_control: int) -> Estimate:
    """Per-intervention differences (treated change minus comparable students' mean change)."""
    n = len(differences)
    mean = statistics.fmean(differences)
    sd = statistics.stdev(differences)
    se = sd / math.sqrt(n)
    d = mean / sd if sd > 0 else None
    return Estimate(mean, mean - Z95 * se, mean + Z95 * se, se, d, n, n_control, treated_mean, control_mean)
