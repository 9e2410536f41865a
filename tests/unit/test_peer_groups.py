"""Peer-help groups satisfy the rules: a helper in every group, size bounds, no repeated pair
when one can be avoided (checked against a brute-force search on small classes)."""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.peer_groups import Helper, check_groups, pair, pairs_of, suggest


def assert_rules(result, stuck, helpers, size):
    seen = []
    for g in result.groups:
        members = [g["helper"], *g["stuck"]]
        assert 2 <= len(members) <= size
        assert g["helper"] in {h.student_id for h in helpers} and set(g["stuck"]) <= set(stuck)
        seen += members
    assert len(seen) == len(set(seen)), "a student is in two groups"
    assigned = [s for g in result.groups for s in g["stuck"]]
    assert sorted(assigned + result.unassigned) == sorted(set(stuck))
    capacity = min(len(helpers), math.ceil(len(stuck) / (size - 1))) * (size - 1)
    assert len(assigned) == min(len(set(stuck)), capacity)


def min_repeats_brute_force(stuck, helpers, size, past) -> int:
    """The fewest repeated pairs any valid grouping can have: the fewest groups that place as many
    stuck students as possible, or more groups (one helper each) while helpers and students last."""
    fewest = min(len(helpers), math.ceil(len(stuck) / (size - 1)))
    best = math.inf
    for groups in range(fewest, min(len(helpers), len(stuck)) + 1):
        placed = stuck[: groups * (size - 1)]
        target = math.ceil(len(placed) / groups)
        for chosen in itertools.permutations([h.student_id for h in helpers], groups):
            for assign in itertools.product(range(groups), repeat=len(placed)):
                loads = [assign.count(g) for g in range(groups)]
                if min(loads) == 0 or max(loads) > target:
                    continue
                cost = sum(p in past for g in range(groups)
                           for p in pairs_of([chosen[g], *[s for s, a in zip(placed, assign) if a == g]]))
                best = min(best, cost)
    return best


@pytest.mark.parametrize("stuck, helpers, size, past, groups", [
    (["s1", "s2"], [Helper("h1", 1.0)], 3, [], [("h1", ["s1", "s2"])]),
    (["s1", "s2", "s3"], [Helper("h1", 0.9), Helper("h2", 1.0)], 3, [], None),
    # s1 worked with the best helper last time: gets the other one
    (["s1"], [Helper("h1", 1.0), Helper("h2", 0.8)], 2, [pair("s1", "h1")], [("h2", ["s1"])]),
    # s1 and s2 worked together: split although one helper could take both
    (["s1", "s2"], [Helper("h1", 1.0), Helper("h2", 0.9)], 2, [pair("s1", "s2")], None),
    (["s1", "s2"], [Helper("h1", 1.0), Helper("h2", 0.9)], 3, [pair("s1", "s2")], [("h1", ["s1"]), ("h2", ["s2"])]),
])
def test_table(stuck, helpers, size, past, groups):
    result = suggest(stuck, helpers, size, past)
    assert_rules(result, stuck, helpers, size)
    assert result.repeated_pairs == 0
    if groups is not None:
        assert [(g["helper"], g["stuck"]) for g in result.groups] == groups


def test_more_stuck_than_capacity_leaves_the_rest_unassigned():
    result = suggest([f"s{i}" for i in range(7)], [Helper("h1", 1.0), Helper("h2", 0.9)], 3)
    assert_rules(result, [f"s{i}" for i in range(7)], [Helper("h1", 1.0), Helper("h2", 0.9)], 3)
    assert result.unassigned == ["s4", "s5", "s6"]
    assert sorted(len(g["stuck"]) for g in result.groups) == [2, 2]


def test_no_helpers_or_no_stuck():
    assert suggest(["s1"], [], 3).unassigned == ["s1"]
    assert suggest([], [Helper("h1", 1.0)], 3).spare_helpers == ["h1"]
    with pytest.raises(ValueError):
        suggest(["s1"], [Helper("h1", 1.0)], 1)


def test_unavoidable_repeat_is_reported_not_hidden():
    result = suggest(["s1"], [Helper("h1", 1.0)], 2, [pair("s1", "h1")])
    assert result.repeated_pairs == 1 and result.groups[0]["repeated_pairs"] == 1


def test_large_class_answers_within_budget():
    stuck = [f"s{i}" for i in range(60)]
    helpers = [Helper(f"h{i}", 1 - i / 100) for i in range(25)]
    past = {pair(f"s{i}", f"s{i + 1}") for i in range(59)} | {pair(f"s{i}", f"h{i % 25}") for i in range(60)}
    result = suggest(stuck, helpers, 4, past)
    assert_rules(result, stuck, helpers, 4)
    assert result.repeated_pairs == 0


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(2, 4), st.data())
def test_avoids_repeats_whenever_possible(n_stuck, n_helpers, size, data):
    stuck = [f"s{i}" for i in range(n_stuck)]
    helpers = [Helper(f"h{i}", 1 - i / 10) for i in range(n_helpers)]
    people = stuck + [h.student_id for h in helpers]
    all_pairs = [pair(a, b) for a, b in itertools.combinations(people, 2)]
    past = set(data.draw(st.lists(st.sampled_from(all_pairs), max_size=6)))
    result = suggest(stuck, helpers, size, past)
    assert_rules(result, stuck, helpers, size)
    assert result.repeated_pairs == min_repeats_brute_force(stuck, helpers, size, past)


def test_check_groups_names_each_problem():
    roster = ["a", "b", "c", "d"]
    assert check_groups([{"members": ["a", "b"], "helpers": ["a"]}, {"members": ["c", "d"]}], roster) == []
    errors = check_groups([{"members": ["a", "x"]}, {"members": ["a", "b", "c"], "helpers": ["d"]},
                           {"members": ["d"]}, "nope"], roster)
    assert {(e["index"], e["field"]) for e in errors} == {(0, "members"), (1, "members"), (1, "helpers"),
                                                          (2, "members"), (3, "members")}
    assert any("not in this course" in e["error"] for e in errors)
    assert any("already in group 0" in e["error"] for e in errors)
    assert check_groups([], roster)[0]["field"] == "groups"
    assert check_groups({"members": ["a", "b"]}, roster)[0]["field"] == "groups"
    assert [e["field"] for e in check_groups([{"members": ["a", "b"], "helpers": [{"x": 1}]}], roster)] == ["helpers"]
    assert [e["field"] for e in check_groups([{"members": ["a", ["b"]]}], roster)] == ["members"]
