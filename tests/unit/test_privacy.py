"""Export and erasure SQL on a real DuckDB file: every table naming the student, and only them."""
from __future__ import annotations

import json

from engine import privacy
from engine.store import Store
from tests.factories import ev


def _store(tmp_path):
    store = Store(tmp_path / "log.duckdb")
    events = [ev("attempt", "s1", seq=1, correct=True, event_id="a"),
              ev("attempt", "s2", seq=2, correct=False, event_id="b"),
              ev("hint_requested", "s1", seq=3, event_id="c")]
    store.append(events)
    store.save_students("c1", [("s1", "Ada"), ("s2", "Ben")])
    store.save_tokens([("h1", "student", "s1"), ("h2", "student", "s2")])
    cur = store.cursor()
    cur.execute("INSERT INTO messages VALUES ('m1', 'c1', 'p1', 's1', 'message', '{}', now(), NULL, NULL),"
                "('m2', 'c1', 's2', 'p1', 'chat', '{}', now(), NULL, NULL)")
    cur.execute("INSERT INTO xapi_statements (statement_id, statement, applied) VALUES (?, ?, true), (?, ?, true)",
                ("x1", json.dumps({"actor": {"account": {"name": "s1"}}}),
                 "x2", json.dumps({"actor": {"account": {"name": "s2"}}})))
    # stored without a student (no course, voided before it arrived): found by the actor mapped to s1
    store.save_actor_map([("mbox:mailto:ada@uni.example", "s1"), ("mbox:mailto:ben@uni.example", "s2")])
    cur.execute("INSERT INTO xapi_statements (statement_id, statement, applied) VALUES (?, ?, false), (?, ?, false)",
                ("x3", json.dumps({"actor": {"mbox": "mailto:Ada@Uni.example"}}),
                 "x4", json.dumps({"actor": {"mbox": "mailto:ben@uni.example"}})))
    # a table added later by another feature is covered without being listed anywhere
    cur.execute("CREATE TABLE peer_notes (student_id VARCHAR, note VARCHAR)")
    cur.execute("INSERT INTO peer_notes VALUES ('s1', 'x'), ('s2', 'y')")
    return store, cur


def test_export_lists_every_row_about_the_student_and_withholds_token_hashes(tmp_path):
    _, cur = _store(tmp_path)
    out = privacy.export(cur, "s1")
    assert [e["event_id"] for e in out["student_activity_log"]] == ["a", "c"]
    assert [r["note"] for r in out["peer_notes"]] == ["x"]
    assert [m["message_id"] for m in out["messages"]] == ["m1"]
    assert [r["statement"] for r in out["xapi_statements"]] == [{"actor": {"account": {"name": "s1"}}},
                                                                {"actor": {"mbox": "mailto:Ada@Uni.example"}}]
    assert out["tokens"] == [{**out["tokens"][0], "token_hash": "(withheld)"}]
    assert out["students"][0]["name"] == "Ada"


def test_erase_removes_the_student_everywhere_and_keeps_only_hashed_event_ids(tmp_path):
    _, cur = _store(tmp_path)
    fingerprints = dict(cur.execute("SELECT event_id, fingerprint FROM student_activity_log").fetchall())
    removed, events = privacy.erase(cur, "s1")
    assert events == {"a": fingerprints["a"], "c": fingerprints["c"]}
    assert removed["student_activity_log"] == 2 and removed["peer_notes"] == 1 and removed["messages"] == 1
    assert removed["xapi_statements"] == 2 and removed["tokens"] == 1 and removed["students"] == 1
    assert all(n == 0 for n in (len(v) for v in privacy.export(cur, "s1").values()))
    assert len(privacy.export(cur, "s2")["student_activity_log"]) == 1  # the other student untouched
    assert cur.execute("SELECT list(statement_id ORDER BY statement_id) FROM xapi_statements").fetchone()[0] == ["x2", "x4"]
    kept = dict(cur.execute("SELECT event_id_hash, fingerprint FROM erased_event_ids").fetchall())
    assert kept == {privacy.erased_id("a"): fingerprints["a"], privacy.erased_id("c"): fingerprints["c"]}
    assert "a" not in kept and len(privacy.erased_id("a")) == 64


def test_seqs_are_never_reused_after_the_newest_rows_are_erased(tmp_path):
    """The erased student's rows held the highest seqs; a reopened log must not hand them out
    again, or shards checkpointed past them (and the analytics' up_to_seq) skip the new events."""
    store = Store(tmp_path / "log.duckdb")
    store.append([ev("attempt", "s1", seq=1, correct=True, event_id="a"),
                  ev("attempt", "s2", seq=2, correct=True, event_id="b"),
                  ev("attempt", "s2", seq=3, correct=False, event_id="c")])
    store.write_snapshot(1, 0, 3, [])  # a shard has folded up to 3
    store.erase_student("s2")
    store.close()
    store = Store(tmp_path / "log.duckdb")
    assert store.event_index()[2] == 3  # the next commit gets seq 4, past the checkpoint
    store.erase_student("s1")  # erasing everything left keeps the mark too
    store.close()
    store = Store(tmp_path / "log.duckdb")
    assert store.event_index()[2] == 3
    store.close()
