"""When the EventLog's background analytics round runs during and after bursts (no Ray)."""
from itertools import pairwise

from actors.eventlog_analytics import (
    BUSY_EVENTS_PER_S,
    DERIVE_EVERY_S,
    DERIVE_YIELD_MAX_S,
    TICK_S,
    BurstYield,
)

BURST = int(BUSY_EVENTS_PER_S * TICK_S) + 1  # events per tick that count as busy


def test_quiet_rounds_run_when_the_tables_are_behind_at_most_every_derive_every():
    clock, count, t, rounds = BurstYield(0.0), 0, 0.0, []
    while t < 10:
        t += TICK_S
        count += 10  # a live class: a few events a tick
        busy, due = clock.tick(t, count, DERIVE_EVERY_S, behind=True)
        assert not busy
        if due:
            rounds.append(t)
    assert rounds[0] == TICK_S  # the first at once
    assert all(b - a >= DERIVE_EVERY_S for a, b in pairwise(rounds))
    assert len(rounds) >= 10 / DERIVE_EVERY_S - 1
    assert clock.tick(t + TICK_S, count, DERIVE_EVERY_S, behind=False) == (False, False)  # nothing to do


def test_a_burst_after_a_long_quiet_spell_is_not_interrupted_at_once():
    clock, count, t = BurstYield(0.0), 0, 0.0
    while t < 3600:  # an hour with the tables up to date
        t += TICK_S
        assert clock.tick(t, count, DERIVE_EVERY_S, behind=False) == (False, False)
    quiet_until, ticks = t, []
    for _ in range(int(2 * DERIVE_YIELD_MAX_S / TICK_S)):  # then a burst: every tick busy, the tables behind
        t += TICK_S
        count += BURST
        ticks.append((t, *clock.tick(t, count, DERIVE_EVERY_S, behind=True)))
    assert all(busy for _, busy, _ in ticks)
    assert not ticks[0][2]  # the first busy tick yields (it used to run a round: the last was an hour ago)
    due = [at for at, _, is_due in ticks if is_due]
    assert due and DERIVE_YIELD_MAX_S <= due[0] - quiet_until < DERIVE_YIELD_MAX_S + TICK_S + 1e-9
    assert all(b - a >= DERIVE_YIELD_MAX_S for a, b in pairwise(due))  # a round at most every 5 s in a burst
