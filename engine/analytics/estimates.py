"""Effect estimates with confidence intervals (normal approximation).

``two_arm``: a randomized comparison (treated vs held out): the difference of
means, Welch's standard error ``sqrt(s1^2/n1 + s2^2/n2)``, a 95% interval of
``effect +- 1.96 * se`` and Cohen's d (difference over the pooled standard
deviation). ``one_sample``: the mean of per-intervention differences against
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


def one_sample(differences: list[float], treated_mean: float, control_mean: float, n_control: int) -> Estimate:
    """Per-intervention differences (treated change minus comparable students' mean change)."""
    n = len(differences)
    mean = statistics.fmean(differences)
    sd = statistics.stdev(differences)
    se = sd / math.sqrt(n)
    d = mean / sd if sd > 0 else None
    return Estimate(mean, mean - Z95 * se, mean + Z95 * se, se, d, n, n_control, treated_mean, control_mean)
