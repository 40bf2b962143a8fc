"""A quick search for one draw of a porous spec: grow random grains under the draw's rules,
keep the images the independent grid verifier accepts, and test a batch of them on the
spec's surrogate intervals with onnxruntime at once. A hit is an image like any other
(verified again before it counts); a miss costs a fraction of a second and the exact
solver goes on. It applies when every `require` is a network of the image (or its
transpose) in an interval, or a true-value check.

Growth (seeded, so a run stays reproducible): each grain starts at its seed and takes, one
at a time, a random cell that is free, has a parent in the grain (its DAG), whose ring
`v - s` is full (compactness), and keeps the gap to other grains, up to a drawn size.
"""
from __future__ import annotations

import numpy as np

from ..compiler.grid.dag import DIRECTIONS, parent_mask, rings, shifted
from ..dsl import ast as A
from .terms import surrogate_terms
from .verify_grid import check_grid

BATCH = 64
DEFAULT_TRIES = 256


def applies(checked, lazy: list) -> bool:
    """Whether every require is `net(I)` / `net(transpose(I))` in an interval (or lazy)."""
    terms = {id(t[1]) for t in surrogate_terms(checked)}
    for req in checked.requires:
        if req in lazy:
            continue
        c = req.constraint
        if req.iters or not isinstance(c, A.InInterval) or id(c.expr) not in terms:
            return False
    return len(checked.grids) == 1 and set(checked.vars) == set(checked.grids)


def grow(rules, rng: np.random.Generator):
    """One random image and its labels under `rules` (not yet checked), or None."""
    shape = rules.shape
    labels = np.zeros(shape, dtype=np.int8)
    blocked = rules.forced_void().copy()
    if rules.mask is not None:
        blocked |= rules.mask == 0
    reach = max(1, rules.gap)
    for r, g in enumerate(rules.grains):
        if labels[g.seed] != 0 or blocked[g.seed]:
            return None
        labels[g.seed] = r + 1
    n_free = int(np.sum(~blocked))
    for r, g in enumerate(rules.grains):
        mine = labels == r + 1
        parents = parent_mask(g, shape)
        ring = rings(shape, g.seed)
        lo, hi = g.area if g.area is not None else (1, max(2, n_free // (2 * len(rules.grains))))
        size = int(rng.integers(lo, hi + 1))
        while mine.sum() < size:
            others = (labels > 0) & ~mine
            near = np.zeros(shape, dtype=bool)  # within the gap (Chebyshev) or sharing a side
            for di in range(-reach, reach + 1):
                for dj in range(-reach, reach + 1):
                    if rules.gap > 0 or abs(di) + abs(dj) == 1:
                        near |= shifted(others, di, dj, False)
            has_parent = np.zeros(shape, dtype=bool)
            for d, (di, dj) in enumerate(DIRECTIONS):
                has_parent |= parents[..., d] & shifted(mine, di, dj, False)
            ok = has_parent & ~mine & ~blocked & ~near & (labels == 0)
            if g.s is not None:  # a cell of ring v needs ring v - s full
                full = np.array([bool(np.all(mine[ring == v])) for v in range(int(ring.max()) + 1)])
                ok &= (ring < g.s) | full[np.maximum(ring - g.s, 0)]
            cells = np.argwhere(ok)
            if not len(cells):
                break
            i, j = cells[int(rng.integers(len(cells)))]
            mine[i, j] = True
            labels[i, j] = r + 1
    if rules.mask is not None and np.any((rules.mask == 1) & (labels == 0)):
        return None
    return (labels > 0).astype(np.uint8), labels


def search(checked, rules_by_image: dict, excluded: set, rng: np.random.Generator, tries: int = DEFAULT_TRIES):
    """Up to `tries` grown images; the first valid one (every grid rule, not excluded) whose
    surrogate terms all lie in their intervals, as (image, labels), or None."""
    (name, rules), = rules_by_image.items()
    terms = surrogate_terms(checked)
    pool = []
    for _ in range(tries):
        out = grow(rules, rng)
        if out is None:
            continue
        image, labels = out
        if image.tobytes() in excluded or check_grid(image, labels, rules):
            continue
        pool.append((image, labels))
        if len(pool) == BATCH or _ == tries - 1:
            hit = _first_inside(checked, terms, pool)
            if hit is not None:
                return hit
            pool = []
    return _first_inside(checked, terms, pool) if pool else None


def _first_inside(checked, terms, pool):
    from ..compiler.nn.session import run_batch

    ok = np.ones(len(pool), dtype=bool)
    for _text, expr, _image, axis, interval, _scale in terms:
        net = checked.nets[expr.func]
        X = np.stack([(img if axis == "x" else img.T).reshape(-1) for img, _ in pool]).astype(np.float32)
        y = run_batch(net.path, X).astype(np.float64)
        lo, hi = float(interval.lo.value) if isinstance(interval.lo, A.Num) else None, \
            float(interval.hi.value) if isinstance(interval.hi, A.Num) else None
        if lo is None or hi is None:
            return None
        ok &= np.all((y >= lo) if interval.lo_closed else (y > lo), axis=1)
        ok &= np.all((y <= hi) if interval.hi_closed else (y < hi), axis=1)
    k = np.flatnonzero(ok)
    return pool[int(k[0])] if len(k) else None
