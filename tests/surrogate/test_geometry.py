"""The porous geometry rules and the random cell generator.

`check_cell` is compared with a cell-by-cell loop written from DESIGN.md's wording on
random (valid and mutated) cells; the generator's cells must pass both."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pgen.surrogate.geometry import Grain, check_cell, draw_cell


def _components(mask):
    """4-connected components by flood fill (no scipy)."""
    seen, n = set(), 0
    for start in zip(*np.nonzero(mask)):
        if start in seen:
            continue
        n += 1
        stack = [start]
        seen.add(start)
        while stack:
            i, j = stack.pop()
            for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                if 0 <= a < mask.shape[0] and 0 <= b < mask.shape[1] and mask[a, b] and (a, b) not in seen:
                    seen.add((a, b))
                    stack.append((a, b))
    return n


def _valid_slow(labels, grains):
    h, w = labels.shape
    solid = labels > 0
    if _components(solid) != len(grains) or _components(~solid) != 1:
        return False
    for i in range(h):
        for j in range(w):
            if solid[i, j] and (i in (0, h - 1) or j in (0, w - 1)):
                return False
            for a, b in ((i + 1, j), (i, j + 1)):
                if a < h and b < w and labels[i, j] and labels[a, b] and labels[i, j] != labels[a, b]:
                    return False
    for r, g in enumerate(grains):
        si, sj = g.seed
        if labels[si, sj] != r + 1:
            return False
        ring = {(i, j): int(np.round(math.hypot(i - si, j - sj))) for i in range(h) for j in range(w)}
        for (i, j), v in ring.items():
            if labels[i, j] != r + 1 or (i, j) == (si, sj):
                continue
            d = abs(i - si) + abs(j - sj)
            parents = [(a, b) for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))
                       if 0 <= a < h and 0 <= b < w and abs(a - si) + abs(b - sj) == d - 1]
            if not any(labels[p] == r + 1 for p in parents):
                return False
            if v >= g.s and not all(labels[p] == r + 1 for p, u in ring.items() if u == v - g.s):
                return False
    return True


def test_generated_cells_obey_every_rule():
    rng = np.random.default_rng(0)
    for w in (1, 2, 3):
        for _ in range(40):
            labels, grains = draw_cell(rng, w, size=12)
            assert check_cell(labels, grains) == []
            assert _valid_slow(labels, grains)


def test_check_cell_agrees_with_the_definition_on_mutated_cells():
    rng = np.random.default_rng(1)
    verdicts = []
    for _ in range(300):
        labels, grains = draw_cell(rng, int(rng.integers(1, 4)), size=10)
        for _ in range(int(rng.integers(0, 3))):  # flip a few pixels to a random label
            i, j = rng.integers(0, 10, 2)
            labels[i, j] = rng.integers(0, len(grains) + 1)
        fast = check_cell(labels, grains) == []
        assert fast == _valid_slow(labels, grains), (labels, grains)
        verdicts.append(fast)
    assert 0 < sum(verdicts) < len(verdicts)  # both kinds were exercised


def _cell(rows):
    return np.array([[int(c) if c != "." else 0 for c in r] for r in rows], dtype=np.int8)


@pytest.mark.parametrize("rows,grains,needle", [
    (["......", ".11...", ".11...", "......", "...22.", "......"], [Grain((1, 1), 1), Grain((4, 3), 1)], None),
    (["......", ".112..", ".112..", "......", "......", "......"], [Grain((1, 1), 3), Grain((1, 3), 3)],
     "share a side"),
    (["1.....", "......", "......", "......", "......", "......"], [Grain((0, 0), 1)], "border"),
    (["......", ".111..", ".1.1..", ".111..", "......", "......"], [Grain((1, 1), 3)], "enclosed"),
    (["......", ".1....", "......", "......", "......", "......"], [Grain((1, 1), 1), Grain((3, 3), 1)],
     "1 grains"),
    # (3, 1) is in the grain but its only DAG parent (2, 1) is not: joined via (3, 2)
    (["......", ".111..", "...1..", ".111..", "......", "......"], [Grain((1, 1), 9)], "DAG parent"),
    # s = 1: the ring-2 cell (2, 4) needs all of ring 1 around (2, 2), diagonals included
    (["......", "......", "..111.", "......", "......", "......"], [Grain((2, 2), 1)], "compactness"),
    (["......", "......", "..111.", "......", "......", "......"], [Grain((2, 2), 2)], None),
])
def test_each_rule_is_named(rows, grains, needle):
    problems = check_cell(_cell(rows), grains)
    if needle is None:
        assert problems == []
    else:
        assert any(needle in p for p in problems), problems
