"""Engagement archetypes: each a few declared numbers, nothing buried in a loop.

Rates are per simulated minute unless named otherwise; multipliers scale the
BKT parameters of every skill for students of that archetype. Each student
draws their own values around these (``jitter``).
"""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Archetype:
    name: str
    actions_per_min: float      # how often an engaged student acts
    start_delay_min: float      # minutes before the first action
    drift_per_min: float        # chance per minute of drifting into an idle spell
    idle_spell_min: float       # mean length of an idle spell
    init_mult: float = 1.0      # BKT p_init multiplier (prior knowledge)
    learn_mult: float = 1.0     # BKT p_learn multiplier
    guess_mult: float = 1.0     # BKT p_guess multiplier
    hint_seeking: float = 0.05  # chance an action is a hint request while the skill is unknown
    message_response: float = 0.6  # chance a message ends an idle spell
    jitter: float = 0.2         # per-student spread (+/- fraction)


ARCHETYPES = {a.name: a for a in [
    Archetype("steady", actions_per_min=1.5, start_delay_min=1, drift_per_min=0.005, idle_spell_min=4),
    Archetype("struggling", actions_per_min=1.5, start_delay_min=1, drift_per_min=0.01, idle_spell_min=5,
              init_mult=0.3, learn_mult=0.35, hint_seeking=0.15),
    Archetype("disengaging", actions_per_min=1.2, start_delay_min=2, drift_per_min=0.08, idle_spell_min=12,
              message_response=0.4),
    Archetype("fast_finisher", actions_per_min=3.0, start_delay_min=0.5, drift_per_min=0.002, idle_spell_min=2,
              init_mult=2.2, learn_mult=2.0),
    Archetype("guesser", actions_per_min=4.0, start_delay_min=1, drift_per_min=0.01, idle_spell_min=3,
              learn_mult=0.5, guess_mult=1.3, hint_seeking=0.0),
    Archetype("late_starter", actions_per_min=1.5, start_delay_min=15, drift_per_min=0.01, idle_spell_min=4),
]}
NUMERIC = [f.name for f in fields(Archetype) if f.name != "name"]
