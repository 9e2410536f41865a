"""When the EventLog's background analytics round runs during and after bursts (no Ray)."""
from actors.eventlog_analytics import BUSY_EVENTS_PER_S, DERIVE_YIELD_MAX_S, BurstYield

EVERY = 2.0
BURST = int(BUSY_EVENTS_PER_S * EVERY) + 1  # events per tick that count as busy


def test_a_round_runs_whenever_the_tables_are_behind_and_ingest_is_quiet():
    clock = BurstYield(0.0)
    assert clock.tick(2.0, 10, EVERY, behind=True) == (False, True)
    assert clock.tick(4.0, 10, EVERY, behind=False) == (False, False)


def test_a_burst_after_a_long_quiet_spell_is_not_interrupted_at_once():
    clock, count, t = BurstYield(0.0), 0, 0.0
    while t < 3600:  # an hour with the tables up to date
        t += EVERY
        assert clock.tick(t, count, EVERY, behind=False) == (False, False)
    quiet_until, ticks = t, []
    for _ in range(5):  # then a burst: every tick busy, the tables behind
        t += EVERY
        count += BURST
        ticks.append((t, *clock.tick(t, count, EVERY, behind=True)))
    assert all(busy for _, busy, _ in ticks)
    assert not ticks[0][2]  # the first busy tick yields (it used to run a round: the last was an hour ago)
    due = [at for at, _, is_due in ticks if is_due]
    assert due and DERIVE_YIELD_MAX_S <= due[0] - quiet_until < DERIVE_YIELD_MAX_S + EVERY  # waits, not forever
