"""Routing hashes (engine/ids.py): crc32 of the key, whatever the memo holds."""
import zlib

from engine import ids


def test_stable_hash_is_crc32_first_time_and_from_the_memo(monkeypatch):
    monkeypatch.setattr(ids, "MEMO_KEYS", 50)  # the memo starts again many times below
    keys = [f"student-{i}" for i in range(200)] + ["é-ü", "bs00001"]
    expected = [zlib.crc32(k.encode("utf-8")) for k in keys]
    assert [ids.stable_hash(k) for k in keys] == expected
    assert ids.stable_hashes(keys + keys[::-1]) == expected + expected[::-1]  # hits, misses, restarts
    assert len(ids._MEMO) <= 50
    assert ids.shard_for("bs00001", 4) == zlib.crc32(b"bs00001") % 4
