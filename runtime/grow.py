"""A quick search for one draw of a porous spec: grow random grains under the draw's rules
and test every stage of the growth on the spec's surrogate intervals with onnxruntime at
once; the stages inside are checked by the independent grid verifier, and the first that
passes is the answer (verified again before it counts, like anything else). A miss costs a
second or so and the exact solver goes on. It applies when every `require` is a network of
the image (or its transpose) in an interval, or a true-value check.

Growth (seeded, so a run stays reproducible): the grains start at their seeds and, one
random grain at a time, take a random cell that is free, has a parent in the grain (its
DAG), whose ring `v - s` is full (compactness), keeps the gap to the other grains and
keeps the grain within its area bound, until no grain can grow. Every stage of that
sequence keeps the DAG and compactness rules (a cell is only added once its parent and
inner ring are in), so one growth path offers images of every solid area from the seeds
up: the surrogates seen here fall steeply with the solid area (correlation about -0.95 on
16x16 draws of the D2 BNN), so a path crosses most intervals it can reach. Measured on 10
draws of `d2_40_50.pgen`: testing whole paths found an image in 5 draws within 1 s, where
1000 grown images of a drawn size each found one in 2 (the other 5 have none: proved
infeasible or out of reach).
"""
from __future__ import annotations

import time
from typing import Iterator, Optional

import numpy as np

from ..compiler.grid.dag import directions, parent_mask, rings, shifted
from ..compiler.grid.rules import PhaseRules
from . import phase_grow
from ..dsl import ast as A
from .terms import surrogate_terms
from .verify_grid import check_grid

DEFAULT_PATHS = 64


def applies(checked, lazy: list) -> bool:
    """Whether every require is `net(I)` / `net(transpose(I))` in an interval (or lazy)."""
    terms = {id(t[1]) for t in surrogate_terms(checked)}
    for req in checked.requires:
        if req in lazy:
            continue
        c = req.constraint
        if req.iters or not isinstance(c, A.InInterval) or id(c.expr) not in terms:
            return False
    if len(checked.grids) != 1 or set(checked.vars) != set(checked.grids):
        return False
    (fam,) = checked.grids.values()
    return fam.phases is None or not checked.requires


def grow_path(rules, rng: np.random.Generator) -> Optional[np.ndarray]:
    """One random growth under `rules`: a (K, T, T) int8 stack of label images, stage 0 the
    seeds alone and each later stage one cell more; None when the seeds themselves clash
    with the draw (a seed on a forced-void or masked-void cell)."""
    shape = rules.shape
    labels = np.zeros(shape, dtype=np.int8)
    blocked = rules.forced_void().copy()
    if rules.mask is not None:
        blocked |= rules.mask == 0
    for r, g in enumerate(rules.grains):
        if labels[g.seed] != 0 or blocked[g.seed]:
            return None
        labels[g.seed] = r + 1
    grains = rules.grains
    parents = [parent_mask(g, shape) for g in grains]
    ring = [rings(shape, g.seed) for g in grains]
    max_area = [g.area[1] if g.area is not None else int(np.prod(shape)) for g in grains]
    reach = max(1, rules.gap)
    ball = (tuple(v - reach for v in k) for k in np.ndindex(*([2 * reach + 1] * len(shape))))
    offsets = [d for d in ball if (rules.gap > 0 or sum(map(abs, d)) == 1) and any(d)]
    stages = [labels.copy()]
    growing = [r for r in range(len(grains)) if max_area[r] > 1]
    while growing:
        r = growing[int(rng.integers(len(growing)))]
        mine = labels == r + 1
        others = (labels > 0) & ~mine
        near = np.zeros(shape, dtype=bool)   # within the gap (Chebyshev) or sharing a side
        for step in offsets:
            near |= shifted(others, step, False)
        has_parent = np.zeros(shape, dtype=bool)
        for d, step in enumerate(directions(len(shape))):
            has_parent |= parents[r][..., d] & shifted(mine, step, False)
        ok = has_parent & ~blocked & ~near & (labels == 0)
        if grains[r].s is not None:  # a cell of ring v needs ring v - s full
            s, rg = grains[r].s, ring[r]
            full = np.array([bool(np.all(mine[rg == v])) for v in range(int(rg.max()) + 1)])
            ok &= (rg < s) | full[np.maximum(rg - s, 0)]
        cells = np.argwhere(ok)
        if not len(cells):
            growing.remove(r)
            continue
        labels[tuple(cells[int(rng.integers(len(cells)))])] = r + 1
        stages.append(labels.copy())
        if mine.sum() + 1 >= max_area[r]:
            growing.remove(r)
    return np.stack(stages)


def candidates(checked, rules_by_image: dict, excluded: set, rng: np.random.Generator,
               paths: int = DEFAULT_PATHS, deadline: Optional[float] = None) -> Iterator[tuple]:
    """Grown images, as (image, labels), that keep every grid rule, are not in `excluded`
    (image bytes; each one yielded is added) and whose surrogate terms all lie in their
    intervals by onnxruntime; from at most `paths` growth paths (none started after
    `deadline`, a time.perf_counter() value), stages in a random order within a path."""
    (name, rules), = rules_by_image.items()
    if isinstance(rules, PhaseRules):  # an n-phase image (no surrogate terms: see `applies`)
        yield from phase_grow.candidates(rules, excluded, rng, deadline=deadline)
        return
    terms = surrogate_terms(checked)
    for _ in range(paths):
        if deadline is not None and time.perf_counter() > deadline:
            return
        stack = grow_path(rules, rng)
        if stack is None:
            return
        solid = (stack > 0).astype(np.uint8)
        inside = _inside(checked, terms, solid)
        if inside is None:
            return
        for k in rng.permutation(np.flatnonzero(inside)):
            image, labels = solid[k], stack[k]
            key = image.tobytes()
            if key in excluded or check_grid(image, labels, rules):
                continue
            excluded.add(key)
            yield image, labels


def search(checked, rules_by_image: dict, excluded: set, rng: np.random.Generator, paths: int = DEFAULT_PATHS):
    """The first of `candidates`, or None."""
    return next(candidates(checked, rules_by_image, set(excluded), rng, paths), None)


def _inside(checked, terms, solid: np.ndarray) -> Optional[np.ndarray]:
    """Per stage: every surrogate term in its interval (None: an interval not numeric)."""
    from ..compiler.nn.session import run_batch

    ok = np.ones(len(solid), dtype=bool)
    for _text, expr, _image, axis, interval, _scale in terms:
        net = checked.nets[expr.func]
        X = (solid if axis == "x" else solid.transpose(0, 2, 1)).reshape(len(solid), -1).astype(np.float32)
        y = run_batch(net.path, X).astype(np.float64)
        if not (isinstance(interval.lo, A.Num) and isinstance(interval.hi, A.Num)):
            return None
        lo, hi = float(interval.lo.value), float(interval.hi.value)
        ok &= np.all((y >= lo) if interval.lo_closed else (y > lo), axis=1)
        ok &= np.all((y <= hi) if interval.hi_closed else (y < hi), axis=1)
    return ok
