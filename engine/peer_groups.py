"""Peer-help groups: students stuck on an activity with peers who mastered it.

Rules a suggestion satisfies (tested): every group has exactly one helper and
at least one stuck student, at most ``size`` members; nobody is in two groups;
and a pair that already worked together (``past_pairs``) is not put together
again when some assignment avoids it. Groups are as few as capacity needs
(``ceil(stuck / (size - 1))``, at most one per helper), stuck students are
spread evenly, and the most accurate helpers are used first.

The search is a depth-first branch and bound over stuck students (best-first
choices, so the first leaf is already a good greedy answer) with a node
budget, so a large class still gets an answer at once.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MIN_SIZE, MAX_SIZE = 2, 8
NODE_BUDGET = 50_000


@dataclass(frozen=True, slots=True)
class Helper:
    student_id: str
    accuracy: float
    attempts: int = 0


@dataclass(slots=True)
class Suggestion:
    groups: list[dict] = field(default_factory=list)  # {"helper", "stuck": [...], "repeated_pairs": n}
    unassigned: list[str] = field(default_factory=list)  # stuck students beyond the helpers' capacity
    spare_helpers: list[str] = field(default_factory=list)
    repeated_pairs: int = 0


def pair(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def pairs_of(members: Sequence[str]) -> list[frozenset[str]]:
    return [pair(a, b) for i, a in enumerate(members) for b in members[i + 1:]]


def suggest(stuck: Sequence[str], helpers: Sequence[Helper], size: int,
            past_pairs: Iterable[frozenset[str]] = (), budget: int = NODE_BUDGET) -> Suggestion:
    """Groups for ``stuck`` students (in priority order) with ``helpers`` (any order)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
    past = set(past_pairs)
    ranked = sorted({h.student_id: h for h in helpers if h.student_id not in stuck}.values(),
                    key=lambda h: (-h.accuracy, -h.attempts, h.student_id))
    stuck = list(dict.fromkeys(stuck))
    if not stuck or not ranked:
        return Suggestion(unassigned=stuck, spare_helpers=[h.student_id for h in ranked])
    per_group = size - 1
    fewest = min(len(ranked), math.ceil(len(stuck) / per_group))
    best, best_cost, groups = [], math.inf, fewest
    # the fewest groups that hold everyone; more (smaller) ones only when spare helpers avoid a pair
    # that worked together before
    for count in range(fewest, min(len(ranked), len(stuck)) + 1):
        placed = stuck[: count * per_group]
        target = math.ceil(len(placed) / count)  # even spread: no group more than one over another
        search = _Search(placed, [h.student_id for h in ranked], count, target, past, budget)
        found = search.run()
        if search.best_cost < best_cost:
            best, best_cost, groups = found, search.best_cost, count
        if best_cost == 0:
            break
    unassigned = stuck[groups * per_group:]
    out = Suggestion(unassigned=unassigned)
    used = set()
    for helper, members in best:
        used.add(helper)
        repeats = sum(p in past for p in pairs_of([helper, *members]))
        out.groups.append({"helper": helper, "stuck": list(members), "repeated_pairs": repeats})
        out.repeated_pairs += repeats
    out.spare_helpers = [h.student_id for h in ranked if h.student_id not in used]
    return out


class _Search:
    def __init__(self, stuck: list[str], helpers: list[str], groups: int, target: int,
                 past: set[frozenset[str]], budget: int) -> None:
        self.stuck, self.helpers, self.groups, self.target = stuck, helpers, groups, target
        self.past, self.budget = past, budget
        self.best: list[tuple[str, list[str]]] | None = None
        self.best_cost = math.inf
        self.nodes = 0

    def run(self) -> list[tuple[str, list[str]]]:
        self._dfs(0, [], 0)
        assert self.best is not None
        return self.best

    def _conflicts(self, student: str, helper: str, members: list[str]) -> int:
        return sum(pair(student, other) in self.past for other in (helper, *members))

    def _dfs(self, i: int, open_groups: list[tuple[str, list[str]]], cost: int) -> None:
        self.nodes += 1
        if cost >= self.best_cost or (self.nodes > self.budget and self.best is not None):
            return
        if i == len(self.stuck):
            self.best = [(h, list(m)) for h, m in open_groups]
            self.best_cost = cost
            return
        student = self.stuck[i]
        remaining = len(self.stuck) - i
        options: list[tuple[int, int, int, int | None]] = []  # (conflicts, load, rank, group index)
        for g, (helper, members) in enumerate(open_groups):
            if len(members) < self.target:
                options.append((self._conflicts(student, helper, members), len(members), g, g))
        if len(open_groups) < self.groups:
            used = {h for h, _ in open_groups}
            for rank, helper in enumerate(self.helpers):
                if helper not in used:
                    options.append((int(pair(student, helper) in self.past), 0, len(open_groups) + rank, None))
        # every group must end with a student: don't fill old groups while new ones still need one
        must_open = self.groups - len(open_groups)
        if must_open >= remaining:
            options = [o for o in options if o[3] is None]
        for conflicts, _, rank, g in sorted(options):
            if g is None:
                helper = self.helpers[rank - len(open_groups)]
                open_groups.append((helper, [student]))
                self._dfs(i + 1, open_groups, cost + conflicts)
                open_groups.pop()
            else:
                open_groups[g][1].append(student)
                self._dfs(i + 1, open_groups, cost + conflicts)
                open_groups[g][1].pop()
            if self.nodes > self.budget and self.best is not None:
                return


def check_groups(groups: Sequence[dict], roster: Iterable[str], size_limit: int = MAX_SIZE) -> list[dict]:
    """Errors (``{"index", "field", "error"}``) in groups a professor pushes: members on the
    roster, each student in one group only, between 2 and ``size_limit`` members."""
    roster = set(roster)
    seen: dict[str, int] = {}
    errors: list[dict] = []
    if not isinstance(groups, list) or not groups:
        return [{"index": None, "field": "groups", "error": "must be a non-empty list of groups"}]
    for i, group in enumerate(groups):
        members = group.get("members") if isinstance(group, dict) else None
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            errors.append({"index": i, "field": "members", "error": "must be a list of student ids"})
            continue
        if not MIN_SIZE <= len(set(members)) <= size_limit:
            errors.append({"index": i, "field": "members",
                           "error": f"a group has between {MIN_SIZE} and {size_limit} students"})
        helpers = group.get("helpers", [])
        if not isinstance(helpers, list) or not all(isinstance(h, str) for h in helpers) \
                or not set(helpers) <= set(members):
            errors.append({"index": i, "field": "helpers", "error": "helpers must be members of the group"})
        for m in members:
            if m not in roster:
                errors.append({"index": i, "field": "members", "error": f"student '{m}' is not in this course"})
            elif m in seen and seen[m] != i:
                errors.append({"index": i, "field": "members",
                               "error": f"student '{m}' is already in group {seen[m]}"})
            seen.setdefault(m, i)
    return errors
