"""Randomized holdout for interventions: leave a random share of eligible students out.

A professor who sends help with ``holdout: 0.1`` (or whose course sets
``intervention_holdout``) has that share of the eligible students drawn at
random; they are recorded in ``intervention_records`` with ``holdout = true``
and the help is not delivered to them. Effectiveness compares the helped with
them (``engine/analytics/effectiveness.py``): a coin, not the professor,
decided who got help, so the comparison is unbiased. Only the helped of a send
whose coin could hold someone out count as randomized (``stamp``); help sent
with no holdout is the professor's choice and is measured the non-randomized way.
"""
from __future__ import annotations

import math
import random
import uuid
from typing import Any

MAX_SHARE = 0.5
_coin = random.SystemRandom()


class HoldoutError(ValueError):
    def __init__(self, error: str) -> None:
        super().__init__(f"holdout: {error}")
        self.field, self.error = "holdout", error


def share(value: Any, default: float) -> float:
    """The share to hold out: the request's ``holdout`` if given, else the course's setting."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SHARE:
        raise HoldoutError(f"must be a share between 0 and {MAX_SHARE} (e.g. 0.1 for 10%), got {value!r}")
    return float(value)


def how_many(n: int, fraction: float, rng: random.Random | None = None) -> int:
    """How many of ``n`` students to hold out: ``floor(fraction * n + U)``, U uniform in [0, 1), so
    on average exactly ``fraction * n`` (a single student with probability ``fraction``; 0.1 of 3
    holds one out 30% of the time, where rounding held nobody out ever), and never more than
    ``MAX_SHARE`` of several (rounding half to even held 2 of 3 out at 0.5)."""
    if fraction <= 0 or n <= 0:
        return 0
    k = math.floor(round(fraction * n, 9) + (rng or _coin).random())
    return k if n == 1 else min(k, math.floor(n * MAX_SHARE))


def draw(student_ids: list[str], fraction: float, rng: random.Random | None = None) -> set[str]:
    """Who is held out: ``how_many`` of the students, chosen at random."""
    rng = rng or _coin
    ids = sorted(set(student_ids))
    return set(rng.sample(ids, how_many(len(ids), fraction, rng)))


def stamp(records: list[dict[str, Any]], held: set[str], share: float) -> None:
    """Mark the records of one send: held out or not, whether a coin chose (``randomized``: any share
    above 0, as ``draw`` draws the count too, so any send may hold someone out), the send they
    belong to (``send_id``) and the share drawn with (``holdout_share``); kept in the record's
    payload. The effect is estimated within each send; single-student sends are pooled by their
    share, which is why it is kept (engine/analytics/effectiveness.py)."""
    send_id = f"send_{uuid.uuid4().hex}"
    for record in records:
        record.update(holdout=record["student_id"] in held, randomized=share > 0, send_id=send_id,
                      holdout_share=share)
