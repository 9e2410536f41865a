"""The batch id index (engine/id_index.py) against a plain dict, through growth and removals."""
import random

import numpy as np

from engine.id_index import GONE, IdIndex, id_hashes


def test_lookups_match_a_dict_through_growth_and_removals():
    rng = random.Random(7)
    index, reference = IdIndex(16), {}
    for round_ in range(120):
        ids = [f"e{round_}-{i}-{rng.getrandbits(40):x}" for i in range(rng.randint(1, 900))]
        prints = np.array([rng.getrandbits(63) - (1 << 62) for _ in ids], np.int64)
        found, _ = index.lookup(id_hashes(ids))
        assert not found.any()
        index.add(id_hashes(ids), prints)
        reference.update(zip(ids, prints.tolist()))
        if round_ % 17 == 0:
            gone = rng.sample(ids, len(ids) // 2)
            index.remove(id_hashes(gone))
            for event_id in gone:
                del reference[event_id]
    ids = list(reference)
    found, prints = index.lookup(id_hashes(ids))
    assert found.all() and prints.tolist() == [reference[i] for i in ids]
    assert len(index) == len(reference)
    found, _ = index.lookup(id_hashes([f"never-{i}" for i in range(500)]))
    assert not found.any()


def test_a_crowded_bucket_spills_into_the_next_one():
    index = IdIndex(16)
    buckets = len(index._keys)
    same = np.array([2 + buckets * k for k in range(20)], np.uint64)  # 20 hashes, one bucket of 8 slots
    index.add(same, np.arange(20, dtype=np.int64))
    found, prints = index.lookup(same)
    assert found.all() and prints.tolist() == list(range(20))


def test_hashes_never_take_the_reserved_keys():
    h = id_hashes([f"id-{i}" for i in range(10_000)])
    assert h.dtype == np.uint64 and (h > GONE).all()
    assert len(np.unique(h)) == 10_000
    assert (id_hashes(["same"]) == id_hashes(["same"])).all()
