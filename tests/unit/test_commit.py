"""Group commit and idempotency against a real DuckDB file (no Ray)."""
import asyncio

import pytest

from actors.commit import GroupCommitter
from actors.topology import DomainError
from engine.store import Store
from tests.factories import ev


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "log.duckdb")
    yield s
    s.close()


def run(coro):
    return asyncio.run(coro)


def test_concurrent_batches_commit_together_in_order(store):
    committed = []

    async def go():
        c = GroupCommitter(store, lambda batch: committed.extend(batch.events()), flush_interval_s=0.01)
        batches = [[ev("attempt", correct=True, event_id=f"b{b}-{i}") for i in range(50)] for b in range(8)]
        acks = await asyncio.gather(*(c.append(b) for b in batches))
        return c, acks

    c, acks = run(go())
    assert sum(a.accepted for a in acks) == 400 and c.commits < 8
    assert [e.seq for e in committed] == list(range(1, 401))
    assert store.counts()["student_activity_log"] == 400


def test_duplicates_are_acknowledged_not_stored_and_conflicts_refused(store):
    async def go():
        c = GroupCommitter(store, lambda _: None)
        first = await c.append([ev("attempt", correct=True, event_id="x1"), ev("hint_requested", event_id="x2")])
        again = await c.append([ev("attempt", correct=True, event_id="x1"), ev("hint_requested", event_id="x3")])
        with pytest.raises(DomainError) as err:
            await c.append([ev("attempt", correct=False, event_id="x1"), ev("hint_requested", event_id="x4")])
        return first, again, err.value

    first, again, err = run(go())
    assert (first.accepted, again.accepted, again.duplicates) == (2, 1, 1)
    assert err.status == 409 and err.errors[0]["index"] == 0
    assert store.counts()["student_activity_log"] == 3  # x4 was refused with its batch


def test_index_survives_reopening(tmp_path):
    s = Store(tmp_path / "log.duckdb")

    async def go(store):
        c = GroupCommitter(store, lambda _: None)
        return await c.append([ev("attempt", correct=True, event_id="keep")])

    run(go(s))
    s.close()
    s2 = Store(tmp_path / "log.duckdb")
    ack = run(go(s2))
    assert (ack.accepted, ack.duplicates) == (0, 1)
    s2.close()


def test_erased_events_stay_duplicates_by_hash_in_memory_and_after_reopening(tmp_path):
    from engine import privacy
    s = Store(tmp_path / "log.duckdb")
    gone = [ev("attempt", "s9", correct=True, event_id="g1"), ev("hint_requested", "s9", event_id="g2")]

    async def erase_then_retry(store):
        c = GroupCommitter(store, lambda _: None)
        await c.append(gone)
        _, events = privacy.erase(store.cursor(), "s9")
        c.forget(events)
        assert "g1" not in c.index
        return await c.append(gone)

    ack = run(erase_then_retry(s))
    assert (ack.accepted, ack.duplicates) == (0, 2) and s.counts()["student_activity_log"] == 0
    s.close()
    s2 = Store(tmp_path / "log.duckdb")

    async def retry(store):
        c = GroupCommitter(store, lambda _: None)
        again = await c.append(gone)
        with pytest.raises(DomainError) as err:
            await c.append([ev("attempt", "s9", correct=False, event_id="g1")])
        return again, err.value

    again, err = run(retry(s2))
    assert (again.accepted, again.duplicates) == (0, 2) and err.status == 409
    assert s2.counts()["student_activity_log"] == 0
    s2.close()
