"""Group commit and idempotency against a real DuckDB file (no Ray)."""
import asyncio
import threading

import pytest

from actors.commit import GroupCommitter
from actors.topology import DomainError
from engine import store as store_module
from engine.store import Store
from tests.factories import ev


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


def test_commits_run_on_the_loop_thread_unless_a_checkpoint_may_hold_them(store, monkeypatch):
    """Inline normally (no GIL hand-offs with a worker thread); in a worker thread while a
    checkpoint runs, or once the WAL is near DuckDB's checkpoint threshold."""
    ran_on = []
    insert = store.append

    def append(batch):
        ran_on.append(threading.get_ident())
        insert(batch)

    monkeypatch.setattr(store, "append", append)

    async def go():
        c = GroupCommitter(store, lambda _: None, flush_interval_s=0)
        loop_thread = threading.get_ident()
        await c.append([ev("attempt", correct=True, event_id="quiet")])
        store.checkpointing = True
        await c.append([ev("attempt", correct=True, event_id="during-checkpoint")])
        store.checkpointing = False
        await c.append([ev("attempt", correct=True, event_id="after-checkpoint")])
        # the WAL now holds these commits: with the margin at all but one byte of the threshold,
        # any WAL at all is "near" it
        monkeypatch.setattr(store_module, "CHECKPOINT_NEAR_BYTES", (store_module.WAL_CHECKPOINT_MB << 20) - 1)
        await c.append([ev("attempt", correct=True, event_id="wal-near")])
        return loop_thread

    loop_thread = run(go())
    on_loop = [thread == loop_thread for thread in ran_on]
    assert on_loop == [True, False, True, False]
    assert store.counts()["student_activity_log"] == 4


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
        assert privacy.erased_id("g1") in c.erased  # what a restarted log will know them by
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


@pytest.fixture
def few_hashes(monkeypatch):
    """Every id hashes to one of three values: the index can only tell ids apart by asking the log."""
    import numpy as np

    from engine import id_index

    def crowded(ids):
        real = id_index.id_hashes(ids)
        return (real % np.uint64(3)) + np.uint64(2)

    monkeypatch.setattr("actors.commit.id_hashes", crowded)
    monkeypatch.setattr("engine.store.id_hashes", crowded)


def test_ids_sharing_a_hash_are_still_told_apart(store, few_hashes):
    async def go():
        c = GroupCommitter(store, lambda _: None)
        first = await c.append([ev("attempt", correct=True, event_id=f"h{i}") for i in range(10)])
        again = await c.append([ev("attempt", correct=True, event_id=f"h{i}") for i in range(5, 15)])
        same_batch = await c.append([ev("hint_requested", event_id="r1"), ev("hint_requested", event_id="r1"),
                                     ev("hint_requested", event_id="r2")])
        with pytest.raises(DomainError) as err:
            await c.append([ev("attempt", correct=True, event_id="h20"), ev("attempt", correct=False, event_id="h3")])
        return first, again, same_batch, err.value

    first, again, same_batch, err = run(go())
    assert (first.accepted, first.duplicates) == (10, 0)
    assert (again.accepted, again.duplicates) == (5, 5)  # h10-h14 are new though their hashes are taken
    assert (same_batch.accepted, same_batch.duplicates) == (2, 1)
    assert err.status == 409 and err.errors[0]["index"] == 1
    assert store.counts()["student_activity_log"] == 17


def test_ids_sharing_a_hash_after_reopening(tmp_path, few_hashes):
    s = Store(tmp_path / "log.duckdb")

    async def go(store, ids):
        c = GroupCommitter(store, lambda _: None)
        return await c.append([ev("attempt", correct=True, event_id=i) for i in ids])

    run(go(s, ["k1", "k2", "k3", "k4"]))
    s.close()
    s2 = Store(tmp_path / "log.duckdb")
    ack = run(go(s2, ["k1", "k2", "k5", "k6"]))
    assert (ack.accepted, ack.duplicates) == (2, 2)
    s2.close()


def test_a_failed_commit_forgets_its_ids(store, monkeypatch):
    real_append = store.append
    failing = {"on": True}

    def append(batch):
        if failing["on"]:
            raise OSError("disk full")
        return real_append(batch)

    monkeypatch.setattr(store, "append", append)

    async def retry():
        c = GroupCommitter(store, lambda _: None)
        with pytest.raises(DomainError) as err:
            await c.append([ev("attempt", correct=True, event_id="f1")])
        assert err.value.status == 503
        failing["on"] = False
        return await c.append([ev("attempt", correct=True, event_id="f1")])

    ack = run(retry())
    assert (ack.accepted, ack.duplicates) == (1, 0)  # the retry is new: the failed commit left no trace
    assert store.counts()["student_activity_log"] == 1


def test_a_retry_of_an_event_still_committing_is_answered_after_its_commit(store):
    async def go():
        c = GroupCommitter(store, lambda _: None, flush_interval_s=0.05)
        batch = [ev("attempt", correct=True, event_id=f"w{i}") for i in range(3)]
        original = asyncio.ensure_future(c.append(batch))
        await asyncio.sleep(0)
        retry = await c.append(batch)
        return original.done(), retry, await original

    done_when_retry_answered, retry, original = run(go())
    assert done_when_retry_answered and (retry.accepted, retry.duplicates) == (0, 3)
    assert original.accepted == 3


def test_a_conflict_with_an_event_still_committing_is_refused(store):
    async def go():
        c = GroupCommitter(store, lambda _: None)
        c.delay_s = 0.2  # the first batch sits in its commit (out of the queue, not yet in the log)
        first = asyncio.ensure_future(c.append([ev("attempt", correct=True, event_id="m1")]))
        await asyncio.sleep(0.05)
        with pytest.raises(DomainError) as err:
            await c.append([ev("attempt", correct=False, event_id="m1")])
        return err.value, await first

    err, first = run(go())
    assert err.status == 409 and first.accepted == 1
    assert store.counts()["student_activity_log"] == 1


def test_a_batch_retrying_events_whose_commit_fails_is_refused_whole(store, monkeypatch):
    """B = [x (a retry of A, still committing), y (new)]: when A's commit fails, B is refused
    with it and y is not committed either (all or nothing); sent again, both go in."""
    real_append = store.append
    failures = {"left": 1}  # A's commit fails, later ones work

    def append(batch):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        return real_append(batch)

    monkeypatch.setattr(store, "append", append)
    x = ev("attempt", correct=True, event_id="x")
    y = ev("attempt", correct=False, event_id="y")

    async def go():
        c = GroupCommitter(store, lambda _: None)
        c.delay_s = 0.1  # A sits in its commit while B comes
        a = asyncio.ensure_future(c.append([x]))
        await asyncio.sleep(0.02)
        b = asyncio.ensure_future(c.append([x, y]))
        results = await asyncio.gather(a, b, return_exceptions=True)
        logged = store.counts()["student_activity_log"]
        c.delay_s = 0.0
        return results, logged, await c.append([x, y])

    (a, b), logged, again = run(go())
    assert isinstance(a, DomainError) and isinstance(b, DomainError) and b.status == 503
    assert logged == 0  # nothing of B went in when A failed
    assert (again.accepted, again.duplicates) == (2, 0)


def test_a_batch_waiting_on_an_abandoned_request_is_told_to_send_again(store):
    """A's caller goes away (its task is cancelled) while B waits on A's commit for a repeated
    event: B gets a 503 to retry, not A's cancellation."""
    x = ev("attempt", correct=True, event_id="ab-x")
    y = ev("attempt", correct=False, event_id="ab-y")

    async def go():
        c = GroupCommitter(store, lambda _: None)
        c.delay_s = 0.1
        a = asyncio.ensure_future(c.append([x]))
        await asyncio.sleep(0.02)
        b = asyncio.ensure_future(c.append([x, y]))
        await asyncio.sleep(0.02)
        a.cancel()
        outcome = (await asyncio.gather(b, return_exceptions=True))[0]
        await c.settle()
        c.delay_s = 0.0
        return outcome, await c.append([x, y])

    outcome, again = run(go())
    assert isinstance(outcome, DomainError) and outcome.status == 503
    assert (again.accepted, again.duplicates) == (1, 1)  # A's batch itself still committed


def test_settling_what_is_queued_waits_for_those_batches_only_and_says_when_they_overrun(store):
    """An erasure waits for the batches queued before its cut-off. A steady stream after it must not
    keep it waiting, and a commit still running after the timeout is a 503 to ask again, not a
    silent go-ahead (the student's late batch would commit after the delete and bring them back)."""
    async def go():
        c = GroupCommitter(store, lambda _: None)
        c.delay_s = 0.3
        early = asyncio.ensure_future(c.append([ev("attempt", correct=True, event_id="q-1")]))
        await asyncio.sleep(0.01)
        with pytest.raises(DomainError) as err:
            await c.settle_queued(timeout=0.05)
        await c.settle_queued(timeout=5.0)
        assert early.done()
        c.delay_s = 0.1
        first = asyncio.ensure_future(c.append([ev("attempt", correct=True, event_id="q-a")]))
        await asyncio.sleep(0.01)
        settling = asyncio.ensure_future(c.settle_queued(timeout=5.0))
        stream = []
        while not settling.done():  # a steady stream after the cut-off
            stream.append(asyncio.ensure_future(c.append([ev("attempt", correct=True,
                                                             event_id=f"q-s{len(stream)}")])))
            await asyncio.sleep(0.01)
        outcome = first.done(), [f.done() for f in stream]
        await asyncio.gather(*stream)
        return err.value, outcome

    err, (first_done, stream_done) = run(go())
    assert err.status == 503 and "ask again" in err.error
    assert first_done and not all(stream_done)  # done once the batch before the cut-off was
