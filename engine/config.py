"""Per-course alert configuration (the ``alert_configurations`` table).

Every threshold that decides a status or an alert lives here, with its bounds,
so ``PUT .../alerts/configure`` can merge and validate field by field.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


class ConfigError(ValueError):
    """A threshold that is unknown or out of range; ``field`` names it."""

    def __init__(self, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.field = field
        self.error = error


@dataclass(frozen=True, slots=True)
class AlertConfig:
    idle_after_s: float = 180.0
    struggling_window: int = 5
    struggling_min_attempts: int = 3
    struggling_error_rate: float = 0.6
    hint_burst: int = 3
    behind_by: float = 0.25
    risk_threshold: float = 0.7
    # communication (docs/professor-guide.md): escalation and office hours
    escalate_after_ignored: int = 3  # unread interventions while struggling; 0 turns the rule off
    escalate_after_minutes: float = 10.0  # still struggling this long after help; 0 turns it off
    office_hours_max_help_minutes: float = 15.0
    intervention_holdout: float = 0.0  # share of eligible students held out of interventions (engine/holdout.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, updates: dict[str, Any]) -> AlertConfig:
        """A new config with ``updates`` applied; raises ConfigError naming the field."""
        if not isinstance(updates, dict):
            raise ConfigError("body", "must be a JSON object of thresholds")
        changes: dict[str, Any] = {}
        for name, value in updates.items():
            if name not in _BOUNDS:
                raise ConfigError(name, f"unknown threshold; known: {', '.join(sorted(_BOUNDS))}")
            changes[name] = _check(name, value)
        merged = replace(self, **changes)
        if merged.struggling_min_attempts > merged.struggling_window:
            raise ConfigError(
                "struggling_min_attempts",
                f"must be <= struggling_window ({merged.struggling_window})",
            )
        return merged

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertConfig:
        return cls().merge({k: v for k, v in (data or {}).items() if k in _BOUNDS})


# name -> (type, low, high): integers for counts, floats for rates and seconds
_BOUNDS: dict[str, tuple[type, float, float]] = {
    "idle_after_s": (float, 10, 86_400),
    "struggling_window": (int, 1, 20),
    "struggling_min_attempts": (int, 1, 20),
    "struggling_error_rate": (float, 0.0, 1.0),
    "hint_burst": (int, 1, 50),
    "behind_by": (float, 0.0, 1.0),
    "risk_threshold": (float, 0.0, 1.0),
    "escalate_after_ignored": (int, 0, 50),
    "escalate_after_minutes": (float, 0, 1440),
    "office_hours_max_help_minutes": (float, 0.05, 240),
    "intervention_holdout": (float, 0.0, 0.5),
}


def _check(name: str, value: Any) -> float | int:
    kind, low, high = _BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number, got {type(value).__name__}")
    if kind is int and not float(value).is_integer():
        raise ConfigError(name, "must be a whole number")
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:g} and {high:g}, got {value}")
    return kind(value)
