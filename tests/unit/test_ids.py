"""Routing hashes (engine/ids.py): crc32 of the key, from the cache or not, and a bounded cache."""
import zlib

from engine import ids


def test_stable_hash_is_crc32_first_time_from_the_cache_and_after_eviction():
    keys = [f"student-{i}" for i in range(200)] + ["é-ü", "bs00001"]
    expected = [zlib.crc32(k.encode("utf-8")) for k in keys]
    assert [ids.stable_hash(k) for k in keys] == expected
    assert ids.stable_hashes(keys + keys[::-1]) == expected + expected[::-1]  # misses, then hits
    ids.stable_hashes([f"filler-{i}" for i in range(ids.MEMO_KEYS + 100)])  # pushes the keys above out
    assert ids.stable_hash.cache_info().currsize == ids.MEMO_KEYS
    assert ids.stable_hashes(keys) == expected
    assert ids.shard_for("bs00001", 4) == zlib.crc32(b"bs00001") % 4
