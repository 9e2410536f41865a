"""Who is held out of an intervention: a checked share, drawn at random."""
from __future__ import annotations

import random

import pytest

from engine import holdout


def test_share_uses_the_request_then_the_course_setting_and_refuses_nonsense():
    assert holdout.share(None, 0.1) == 0.1 and holdout.share(0.2, 0.1) == 0.2 and holdout.share(0, 0.3) == 0.0
    for bad in (0.9, -0.1, "10%", True):
        with pytest.raises(holdout.HoldoutError):
            holdout.share(bad, 0.0)


def test_draw_holds_out_exactly_the_share_of_several_and_varies_with_the_coin():
    ids = [f"s{i}" for i in range(20)]
    first = holdout.draw(ids, 0.1, random.Random(1))
    assert len(first) == 2 and first <= set(ids)
    assert len(holdout.draw(ids, 0.25, random.Random(1))) == 5
    assert {frozenset(holdout.draw(ids, 0.1, random.Random(seed))) for seed in range(10)} != {frozenset(first)}
    assert holdout.draw(ids, 0.0) == set() and holdout.draw([], 0.5) == set()


def test_a_single_student_is_held_out_with_the_share_as_probability():
    rng = random.Random(7)
    held = sum(bool(holdout.draw(["s"], 0.3, rng)) for _ in range(2000))
    assert 500 <= held <= 700


def test_the_count_is_the_share_on_average_and_never_above_the_maximum():
    rng = random.Random(3)
    counts = [holdout.how_many(3, 0.1, rng) for _ in range(4000)]
    assert set(counts) == {0, 1} and 0.25 <= sum(counts) / 4000 <= 0.35  # 0.3 of a student on average
    assert {holdout.how_many(3, 0.5, rng) for _ in range(200)} == {1}  # not 2 of 3 (round half to even)
    assert {holdout.how_many(7, 0.5, rng) for _ in range(200)} == {3}
    assert {len(holdout.draw(["a", "b", "c"], 0.5, rng)) for _ in range(200)} == {1}


def test_a_send_is_randomized_whenever_the_coin_could_hold_someone_out():
    records = [{"student_id": s} for s in ("a", "b", "c")]
    holdout.stamp(records, {"b"}, 0.1)  # the count is drawn too: 0.3 of a student is one 30% of the time
    assert [r["holdout"] for r in records] == [False, True, False] and all(r["randomized"] for r in records)
    assert len({r["send_id"] for r in records}) == 1
    holdout.stamp(records, set(), 0.0)
    assert not any(r["randomized"] or r["holdout"] for r in records)


def test_a_send_keeps_the_share_drawn_so_single_student_sends_can_be_pooled_by_it():
    records = [{"student_id": "a"}]
    holdout.stamp(records, set(), 0.2)
    assert records[0]["holdout_share"] == 0.2 and records[0]["holdout"] is False
