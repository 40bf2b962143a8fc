"""The grain DAGs and rings of compiler.grid.rules, as whole arrays for the lowering.

`parent_mask(rule, shape)` gives, for every cell, which of its four neighbours are its
parents in the grain's DAG (directions UP, DOWN, LEFT, RIGHT). The verifier
(runtime.verify_grid) computes the same relation with its own code from the rules' data.
"""
from __future__ import annotations

import numpy as np

# neighbour offsets in the order of the mask's last axis
DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def shifted(a: np.ndarray, di: int, dj: int, fill) -> np.ndarray:
    """out[i, j] = a[i + di, j + dj], `fill` outside the grid."""
    out = np.full_like(a, fill)
    T0, T1 = a.shape
    src = a[max(di, 0):T0 + min(di, 0), max(dj, 0):T1 + min(dj, 0)]
    out[max(-di, 0):T0 + min(-di, 0), max(-dj, 0):T1 + min(-dj, 0)] = src
    return out


def manhattan_distance(shape, seed) -> np.ndarray:
    ii, jj = np.indices(shape)
    return np.abs(ii - seed[0]) + np.abs(jj - seed[1])


def rings(shape, seed) -> np.ndarray:
    """ring(i, j) = numpy.round(euclidean distance to the seed): halves to even."""
    ii, jj = np.indices(shape)
    return np.round(np.hypot(ii - seed[0], jj - seed[1])).astype(np.int64)


def _by_rank(rank: np.ndarray) -> np.ndarray:
    """Parents = the 4-neighbours of strictly smaller rank."""
    big = np.iinfo(np.int64).max
    r = rank.astype(np.int64)
    return np.stack([shifted(r, di, dj, big) < r for di, dj in DIRECTIONS], axis=-1)


def parent_mask(rule, shape) -> np.ndarray:
    """(T, T, 4) Booleans: mask[i, j, d] says the neighbour in DIRECTIONS[d] is a parent."""
    si, sj = rule.seed
    if rule.dag == "manhattan":  # 4-neighbours differ by exactly one step: smaller = one closer
        return _by_rank(manhattan_distance(shape, rule.seed))
    if rule.dag == "random":
        return _by_rank(rule.order)
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
    T0, T1 = shape
    rank = np.full(shape, -1, dtype=np.int64)
    frontier = [tuple(seed)]
    queued = np.zeros(shape, dtype=bool)
    queued[tuple(seed)] = True
    k = 0
    while frontier:
        pick = int(rng.integers(len(frontier)))
        frontier[pick], frontier[-1] = frontier[-1], frontier[pick]
        i, j = frontier.pop()
        rank[i, j] = k
        k += 1
        for di, dj in DIRECTIONS:
            a, b = i + di, j + dj
            if 0 <= a < T0 and 0 <= b < T1 and not queued[a, b]:
                queued[a, b] = True
                frontier.append((a, b))
    return rank


def void_parent_mask(boundary: np.ndarray) -> np.ndarray:
    """The border-rooted void DAG: parents of a cell are its 4-neighbours one step closer (in
    4-steps over the grid) to the boundary set."""
    dist = np.full(boundary.shape, -1, dtype=np.int64)
    dist[boundary] = 0
    front = boundary.copy()
    d = 0
    while front.any():
        d += 1
        grow = np.zeros_like(front)
        for di, dj in DIRECTIONS:
            grow |= shifted(front, di, dj, False)
        grow &= dist < 0
        dist[grow] = d
        front = grow
    return _by_rank(dist)
