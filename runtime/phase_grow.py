"""A quick search for n-phase images (PhaseRules): smooth random fields, exact counts by
ranking, open phases repaired by growth. Every image it offers is checked by the
independent verifier (runtime.verify_grid.check_phases) before it is yielded; a miss costs
well under a second and the exact solver goes on.

Why: the exact model of a 32^3 three-phase volume (131,072 Booleans with exact counts)
gives CP-SAT no image in 300 s with the randomised branching that porous sampling uses
(measured), while a field-and-repair construction meets the same rules in a fraction of a
second, and looks like a material (blobs, not salt and pepper).

Construction, phases in order (those with a cell bound first, a phase without one last,
taking what is left):
1. a smooth field per phase: Gaussian-filtered white noise (sigma = side / 10, periodic);
2. the phase takes the `count` free cells of lowest field value, never a cell next to a
   phase it must stay `apart` from; `count` is drawn inside the phase's bounds;
3. an `open` phase: its components that do not reach the boundary are given back, and as
   many cells are taken from the frontier of the components that do (lowest field first),
   so the count stays exact and every component reaches the boundary.
"""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from scipy import ndimage

from ..compiler.grid.rules import PhaseRules
from .verify_grid import check_phases

DEFAULT_TRIES = 8


def candidates(rules: PhaseRules, excluded: set, rng: np.random.Generator, tries: int = DEFAULT_TRIES,
               deadline: Optional[float] = None) -> Iterator[tuple]:
    """Images (phase index per cell, uint8) that keep every rule and are not in `excluded`
    (each one yielded is added), from at most `tries` constructions."""
    import time

    for _ in range(tries):
        if deadline is not None and time.perf_counter() > deadline:
            return
        image = construct(rules, rng)
        if image is None:
            continue
        key = image.tobytes()
        if key in excluded or check_phases(image, rules):
            continue
        excluded.add(key)
        yield image, image.astype(np.int16)


def construct(rules: PhaseRules, rng: np.random.Generator) -> Optional[np.ndarray]:
    """One construction (see the module's docstring), or None when a phase runs out of cells."""
    shape = tuple(rules.shape)
    n = int(np.prod(shape))
    sigma = max(1.0, shape[0] / 10)
    faces = ndimage.generate_binary_structure(len(shape), 1)
    boundary = rules.boundary()
    image = np.full(shape, -1, dtype=np.int16)
    counts = _counts(rules, n, rng)
    if counts is None:
        return None
    order = sorted(range(len(rules.names)), key=lambda k: rules.cells[k] is None)
    for k in order:
        field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
        free = image < 0
        for a, b in rules.apart:
            other = b if a == k else a if b == k else None
            if other is not None and np.any(image == other):
                free &= ~ndimage.binary_dilation(image == other, structure=faces)
        want = counts[k]
        if want > int(free.sum()):
            return None
        take = _lowest(field, free, want)
        if k in rules.open:
            take = _open(take, free, field, boundary, faces)
            if take is None:
                return None
        image[take] = k
    if np.any(image < 0):
        return None
    return image.astype(np.uint8)


def _counts(rules: PhaseRules, n: int, rng) -> Optional[list]:
    """Cells per phase inside every bound, summing to n (bounded phases drawn, the rest to
    the phases without a bound), or None."""
    counts = [None] * len(rules.names)
    for k, bounds in enumerate(rules.cells):
        if bounds is not None:
            counts[k] = int(rng.integers(bounds[0], bounds[1] + 1))
    rest = n - sum(c for c in counts if c is not None)
    free = [k for k, c in enumerate(counts) if c is None]
    if not free:
        return counts if rest == 0 else None
    if rest < 0:
        return None
    shares = rng.multinomial(rest, [1 / len(free)] * len(free))
    for k, c in zip(free, shares):
        counts[k] = int(c)
    return counts


def _lowest(field: np.ndarray, allowed: np.ndarray, count: int) -> np.ndarray:
    """The `count` allowed cells of lowest field value."""
    take = np.zeros(field.shape, dtype=bool)
    if count <= 0:
        return take
    values = np.where(allowed, field, np.inf).ravel()
    take.flat[np.argpartition(values, count - 1)[:count]] = True
    return take


def _open(take: np.ndarray, allowed: np.ndarray, field: np.ndarray, boundary: np.ndarray, faces) -> Optional[np.ndarray]:
    """`take` with its enclosed components given back and as many cells added from the
    frontier of the open part (lowest field first, one layer at a time), or None."""
    want = int(take.sum())
    labels, count = ndimage.label(take, structure=faces)
    reach = np.unique(labels[boundary & take])
    take = np.isin(labels, reach[reach > 0])
    while int(take.sum()) < want:
        frontier = ndimage.binary_dilation(take, structure=faces) & ~take & allowed
        if not take.any():
            frontier = boundary & allowed   # nothing open yet: start on the boundary
        if not frontier.any():
            return None
        missing = want - int(take.sum())
        take |= _lowest(field, frontier, min(missing, int(frontier.sum())))
    return take
