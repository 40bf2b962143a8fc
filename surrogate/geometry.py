"""Porous unit cells: the geometry rules of the porous-media library and a random generator.

A cell is a 2-D array, 1 = solid (grain), 0 = void. The rules (DESIGN.md, seed 000 Sec. 4.2):

- exactly `w` grains: the 4-connected components of the solid;
- grains never share a side (diagonal contact is allowed, so grains are told apart by
  the generator's labels, and the component count is checked with 4-connectivity);
- void on the whole border (all four sides);
- no enclosed void: the void is one 4-connected component (it touches the border);
- grain connectivity through the `manhattan` DAG rooted at the grain's seed: every grain
  cell other than the seed has a 4-neighbour one Manhattan step closer to the seed that
  is in the same grain;
- compactness with parameter s over rings around the seed:
  ring(i, j) = round(euclidean distance to the seed) (numpy's round: halves to even),
  rings clipped by the grid; a cell of ring v >= s is in the grain only if every grid
  cell of ring v - s is.

`check_cell` evaluates these rules directly from an image and the grains' labels; it
shares no code with `draw_cell`, which builds cells that satisfy them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def rings(shape, seed) -> np.ndarray:
    """Ring index of every cell around `seed`: round(euclidean distance)."""
    ii, jj = np.indices(shape)
    return np.round(np.hypot(ii - seed[0], jj - seed[1])).astype(int)


def manhattan(shape, seed) -> np.ndarray:
    ii, jj = np.indices(shape)
    return np.abs(ii - seed[0]) + np.abs(jj - seed[1])


@dataclass(frozen=True)
class Grain:
    seed: tuple
    s: int


def check_cell(labels: np.ndarray, grains: list[Grain], w: int | None = None) -> list[str]:
    """Every rule the cell breaks, as readable strings (empty: the cell is valid).

    `labels[i, j]` is 0 for void and r + 1 for a cell of grain r."""
    labels = np.asarray(labels)
    problems = []
    solid = labels > 0
    w = len(grains) if w is None else w
    _, n_comp = ndimage.label(solid, structure=FOUR)
    if n_comp != w:
        problems.append(f"{n_comp} grains (4-connected solid components), expected {w}")
    border = np.ones_like(solid)
    border[1:-1, 1:-1] = False
    if np.any(solid & border):
        problems.append("solid on the border")
    _, n_void = ndimage.label(~solid, structure=FOUR)
    if n_void != 1:
        problems.append(f"the void has {n_void} components (an enclosed hole)")
    # different grains sharing a side
    for a, b in ((labels[1:, :], labels[:-1, :]), (labels[:, 1:], labels[:, :-1])):
        if np.any((a > 0) & (b > 0) & (a != b)):
            problems.append("two grains share a side")
            break
    for r, g in enumerate(grains):
        mine = labels == r + 1
        if not mine[g.seed]:
            problems.append(f"grain {r}: its seed {g.seed} is not in it")
            continue
        dist = manhattan(labels.shape, g.seed)
        padded = np.pad(mine, 1)
        pdist = np.pad(dist, 1, constant_values=10**9)
        has_parent = np.zeros_like(mine)
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = padded[1 + di:1 + di + mine.shape[0], 1 + dj:1 + dj + mine.shape[1]]
            nd = pdist[1 + di:1 + di + mine.shape[0], 1 + dj:1 + dj + mine.shape[1]]
            has_parent |= nb & (nd == dist - 1)
        orphans = mine & ~has_parent & (dist > 0)
        if np.any(orphans):
            problems.append(f"grain {r}: cell {tuple(int(v) for v in np.argwhere(orphans)[0])} "
                            "has no manhattan-DAG parent in the grain")
        ring = rings(labels.shape, g.seed)
        full = {v: bool(np.all(mine[ring == v])) for v in np.unique(ring)}
        for v in np.unique(ring[mine]):
            if v >= g.s and not full.get(v - g.s, True):
                problems.append(f"grain {r}: a cell of ring {v} is in the grain but ring {v - g.s} "
                                f"is not full (compactness s = {g.s})")
                break
    return problems


def draw_cell(rng: np.random.Generator, w: int, size: int = 16, s_choices=(1, 2, 3),
              max_tries: int = 1000) -> tuple[np.ndarray, list[Grain]]:
    """A random cell with `w` grains satisfying every rule of `check_cell`.

    Each grain: a full core (rings 0..v0-1 around its seed, off the border, not touching
    earlier grains), then cells of rings v0..v0+s-1 added one at a time in random order,
    each with a DAG parent already in the grain, up to a random share of the shell."""
    shape = (size, size)
    for _ in range(max_tries):
        labels = np.zeros(shape, dtype=np.int8)
        grains = []
        ok = True
        for r in range(w):
            seed = _draw_seed(rng, size, [g.seed for g in grains])
            if seed is None:
                ok = False
                break
            s = int(rng.choice(s_choices))
            grain = _grow(rng, labels, seed, s)
            if grain is None:
                ok = False
                break
            labels[grain] = r + 1
            grains.append(Grain(seed, s))
        if ok and not check_cell(labels, grains):
            return labels, grains
    raise RuntimeError(f"no valid cell with {w} grains on a {size}x{size} grid after {max_tries} tries")


def _draw_seed(rng, size, taken):
    for _ in range(100):
        seed = (int(rng.integers(1, size - 1)), int(rng.integers(1, size - 1)))
        if all(abs(seed[0] - t[0]) + abs(seed[1] - t[1]) >= 3 for t in taken):
            return seed
    return None


def _grow(rng, labels, seed, s):
    shape = labels.shape
    ring = rings(shape, seed)
    dist = manhattan(shape, seed)
    interior = np.zeros(shape, dtype=bool)
    interior[1:-1, 1:-1] = True
    # cells this grain may not take: other grains and their 4-neighbours, and the border
    blocked = ndimage.binary_dilation(labels > 0, structure=FOUR) | ~interior
    radii = [v for v in range(1, max(shape)) if not np.any(blocked[ring < v])]
    if not radii:
        return None
    v0 = int(rng.choice(radii))
    grain = ring < v0
    shell = (ring >= v0) & (ring < v0 + s) & ~blocked
    budget = int(rng.integers(0, int(shell.sum()) + 1))
    for _ in range(budget):
        padded = np.pad(grain, 1)
        near = np.zeros(shape, dtype=bool)
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = padded[1 + di:1 + di + shape[0], 1 + dj:1 + dj + shape[1]]
            nd = np.pad(dist, 1, constant_values=-5)[1 + di:1 + di + shape[0], 1 + dj:1 + dj + shape[1]]
            near |= nb & (nd == dist - 1)
        cand = np.argwhere(shell & near & ~grain)
        if len(cand) == 0:
            break
        i, j = cand[rng.integers(len(cand))]
        grain[i, j] = True
    return grain
