"""The grain DAGs and rings of compiler.grid.rules, as whole arrays for the lowering.

`parent_mask(rule, shape)` gives, for every cell, which of its face neighbours are its
parents in the grain's DAG (in the order of `directions(ndim)`: UP, DOWN, LEFT, RIGHT in
2-D; then the third axis's -1, +1 in 3-D). The verifier (runtime.verify_grid) computes the
same relation with its own code from the rules' data.
"""
from __future__ import annotations

import numpy as np



def directions(ndim: int) -> tuple:
    """The face-neighbour steps of an `ndim`-D grid, in the order of the mask's last axis
    (4 in 2-D, 6 in 3-D)."""
    out = []
    for axis in range(ndim):
        for sign in (-1, 1):
            step = [0] * ndim
            step[axis] = sign
            out.append(tuple(step))
    return tuple(out)


# the 2-D steps (UP, DOWN, LEFT, RIGHT)
DIRECTIONS = directions(2)


def shifted(a: np.ndarray, step: tuple, fill) -> np.ndarray:
    """out[p] = a[p + step], `fill` outside the grid (any number of axes)."""
    out = np.full_like(a, fill)
    src = tuple(slice(max(d, 0), n + min(d, 0)) for d, n in zip(step, a.shape))
    dst = tuple(slice(max(-d, 0), n + min(-d, 0)) for d, n in zip(step, a.shape))
    out[dst] = a[src]
    return out


def manhattan_distance(shape, seed) -> np.ndarray:
    idx = np.indices(shape)
    return sum(np.abs(idx[a] - seed[a]) for a in range(len(shape)))


def rings(shape, seed) -> np.ndarray:
    """ring(p) = numpy.round(euclidean distance to the seed): halves to even."""
    idx = np.indices(shape).astype(np.float64)
    d2 = sum((idx[a] - seed[a]) ** 2 for a in range(len(shape)))
    return np.round(np.sqrt(d2)).astype(np.int64)


def _by_rank(rank: np.ndarray) -> np.ndarray:
    """Parents = the face neighbours of strictly smaller rank."""
    big = np.iinfo(np.int64).max
    r = rank.astype(np.int64)
    return np.stack([shifted(r, d, big) < r for d in directions(r.ndim)], axis=-1)


def parent_mask(rule, shape) -> np.ndarray:
    """(*shape, 2 * ndim) Booleans: mask[p, d] says the neighbour in directions(ndim)[d] is a
    parent. `rows` and `columns` are 2-D DAGs (the checker refuses them on other grids)."""
    if rule.dag == "manhattan":  # neighbours differ by exactly one step: smaller = one closer
        return _by_rank(manhattan_distance(shape, rule.seed))
    if rule.dag == "random":
        return _by_rank(rule.order)
    si, sj = rule.seed
    ii, jj = np.indices(shape)
    mask = np.zeros(shape + (4,), dtype=bool)
    if rule.dag == "rows":  # along the row towards the seed's column; on it, along the column
        along, across, s_along, s_across = jj, ii, sj, si
        toward_low, toward_high = 2, 3  # LEFT when j > sj ... see below
        col_low, col_high = 0, 1
    elif rule.dag == "columns":
        along, across, s_along, s_across = ii, jj, si, sj
        toward_low, toward_high = 0, 1
        col_low, col_high = 2, 3
    else:
        raise ValueError(f"unknown DAG kind {rule.dag!r}")
    # off the seed's line: the neighbour one step towards it along the line direction
    mask[..., toward_low] = along > s_along    # parent at along - 1
    mask[..., toward_high] = along < s_along   # parent at along + 1
    on_line = along == s_along
    mask[..., col_low] = on_line & (across > s_across)
    mask[..., col_high] = on_line & (across < s_across)
    return mask


def random_order(shape, seed, rng: np.random.Generator) -> np.ndarray:
    """A seeded random growth order over the whole grid (Prim-like: the next cell is drawn
    uniformly from the frontier), as a rank per cell, 0 at the seed."""
    rank = np.full(shape, -1, dtype=np.int64)
    frontier = [tuple(seed)]
    queued = np.zeros(shape, dtype=bool)
    queued[tuple(seed)] = True
    steps = directions(len(shape))
    k = 0
    while frontier:
        pick = int(rng.integers(len(frontier)))
        frontier[pick], frontier[-1] = frontier[-1], frontier[pick]
        p = frontier.pop()
        rank[p] = k
        k += 1
        for d in steps:
            q = tuple(a + b for a, b in zip(p, d))
            if all(0 <= c < n for c, n in zip(q, shape)) and not queued[q]:
                queued[q] = True
                frontier.append(q)
    return rank


def void_parent_mask(boundary: np.ndarray) -> np.ndarray:
    """The border-rooted void DAG: parents of a cell are its face neighbours one step closer
    (in face steps over the grid) to the boundary set."""
    dist = np.full(boundary.shape, -1, dtype=np.int64)
    dist[boundary] = 0
    front = boundary.copy()
    d = 0
    while front.any():
        d += 1
        grow = np.zeros_like(front)
        for step in directions(boundary.ndim):
            grow |= shifted(front, step, False)
        grow &= dist < 0
        dist[grow] = d
        front = grow
    return _by_rank(dist)
