"""Bayesian Knowledge Tracing: the latent skill state that drives correctness.

Each skill is known or not (latent). An attempt is correct with ``1 - p_slip``
when known and ``p_guess`` when not; after each attempt an unknown skill
becomes known with ``p_learn``. A hint raises the next attempts' chance of
learning (``hint_learn_boost``) and of guessing right (``hint_guess_boost``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class SkillParams:
    p_init: float = 0.5
    p_learn: float = 0.35
    p_slip: float = 0.08
    p_guess: float = 0.25

    def scaled(self, init: float = 1.0, learn: float = 1.0, guess: float = 1.0) -> SkillParams:
        clip = lambda p: min(0.99, max(0.01, p))
        return SkillParams(clip(self.p_init * init), clip(self.p_learn * learn), self.p_slip,
                           clip(self.p_guess * guess))


@dataclass
class Skill:
    params: SkillParams
    known: bool
    hint_boost: float = 0.0  # decays with each attempt

    @classmethod
    def start(cls, params: SkillParams, rng: random.Random) -> Skill:
        return cls(params, rng.random() < params.p_init)

    def attempt(self, rng: random.Random) -> bool:
        p = self.params
        p_correct = (1 - p.p_slip) if self.known else min(0.95, p.p_guess + self.hint_boost)
        correct = rng.random() < p_correct
        if not self.known and rng.random() < min(0.95, p.p_learn + self.hint_boost):
            self.known = True
        self.hint_boost *= 0.5
        return correct

    def hint(self, strength: float = 0.3) -> None:
        self.hint_boost = min(0.6, self.hint_boost + strength)
