"""Brute-force oracle for porous grid rules: every valid image of a tiny instance.

Enumerates every 0/1 assignment of the free cells (those neither forced void by the border
rule nor fixed by the mask), derives the grain labels from each image
(`labels_from_image`) and keeps the images `check_grid` accepts. Necessary conditions
(void count, no enclosed void, one seed per 4-connected solid component, each grain's
DAG, compactness and area) are applied to whole batches first, restated from the rules
(the DAG parents are the verifier's `parent_steps`); `check_grid` has the last word on
every survivor, so a prefilter can only cost completeness, which the tests check against
an independent enumeration.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from pgen.compiler.grid.rules import GridRules
from pgen.runtime.verify_grid import check_grid, labels_from_image, parent_steps

MAX_FREE = 22          # 4 M images: beyond that brute force is no longer an oracle for tests
BATCH = 1 << 15
# 4-connectivity inside each image of a stack, never across images
FOUR_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
FOUR_IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)


def valid_images(rules: GridRules, prefilter: bool = True) -> set[bytes]:
    """Every valid image, as `image.astype(np.uint8).tobytes()` (row-major, 1 = solid).

    `prefilter=False` sends every image to check_grid (slow; tests compare the two)."""
    fixed = fixed_cells(rules)
    free = np.argwhere(fixed < 0)
    if len(free) > MAX_FREE:
        raise ValueError(f"{len(free)} free cells: too many to enumerate (at most {MAX_FREE})")
    base = np.where(fixed < 0, 0, fixed).astype(np.uint8)
    found = set()
    for start in range(0, 1 << len(free), BATCH):
        codes = np.arange(start, min(start + BATCH, 1 << len(free)))
        images = np.repeat(base[None], len(codes), axis=0)
        images[:, free[:, 0], free[:, 1]] = (codes[:, None] >> np.arange(len(free))) & 1
        if prefilter:
            images = images[_plausible(images, rules)]
        for image in images:
            labels = labels_from_image(image, rules)
            if labels is not None and not check_grid(image, labels, rules):
                found.add(image.tobytes())
    return found


def fixed_cells(rules: GridRules) -> np.ndarray:
    """-1 free, 0 fixed void, 1 fixed solid. The mask wins over the border rule: a cell the
    mask fixes solid on a void border stays solid, and check_grid rejects every image."""
    fixed = np.full(rules.shape, -1, dtype=np.int8)
    fixed[rules.forced_void()] = 0
    if rules.mask is not None:
        mask = np.asarray(rules.mask)
        fixed[mask >= 0] = mask[mask >= 0]
    return fixed


def _plausible(images: np.ndarray, rules: GridRules) -> np.ndarray:
    """Images that pass necessary conditions checkable on a whole batch at once: each one
    restates a rule of `GridRules` (check_grid still checks every survivor)."""
    keep = np.ones(len(images), dtype=bool)
    if rules.void_cells is not None:
        n_void = images[0].size - images.reshape(len(images), -1).sum(axis=1)
        keep &= (rules.void_cells[0] <= n_void) & (n_void <= rules.void_cells[1])
    if rules.holes in ("none", "dag"):     # the dag rule implies no enclosed void
        keep &= ~_has_enclosed_void(images, rules.boundary())
    # grain r is the solid component holding seed r: as many components as grains, seeds apart
    if not rules.grains:  # no grain rules: the solid is free
        return keep
    components, _ = ndimage.label(images == 1, structure=FOUR_IN_PLANE)
    keep &= _count_per_image(components) == len(rules.grains)
    seeds = [components[:, g.seed[0], g.seed[1]] for g in rules.grains]
    for a, grain in enumerate(rules.grains):
        keep &= seeds[a] > 0
        keep &= np.all([seeds[a] != seeds[b] for b in range(a)], axis=0)
        mine = (components == seeds[a][:, None, None]) & (seeds[a] > 0)[:, None, None]
        keep &= _grain_plausible(mine, grain)
    return keep


def _grain_plausible(mine: np.ndarray, grain) -> np.ndarray:
    """Per image: the grain's DAG, compactness and area rules, on a stack of grain masks."""
    n_cells = mine.reshape(len(mine), -1).sum(axis=1)
    ok = np.ones(len(mine), dtype=bool)
    if grain.area is not None:
        ok &= (grain.area[0] <= n_cells) & (n_cells <= grain.area[1])
    has_parent = np.zeros_like(mine)
    for (di, dj), is_parent in parent_steps(mine.shape[1:], grain).items():
        has_parent |= is_parent & _shift_stack(mine, di, dj)
    has_parent[:, grain.seed[0], grain.seed[1]] = True
    ok &= ~np.any(mine & ~has_parent, axis=(1, 2))
    if grain.s is not None:
        ii, jj = np.indices(mine.shape[1:])
        ring = np.round(np.hypot(ii - grain.seed[0], jj - grain.seed[1])).astype(int)
        full = [np.all(mine[:, ring == v], axis=1) for v in range(ring.max() + 1)]
        for v in range(grain.s, ring.max() + 1):
            ok &= ~(np.any(mine[:, ring == v], axis=1) & ~full[v - grain.s])
    return ok


def _has_enclosed_void(images: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    components, _ = ndimage.label(images == 0, structure=FOUR_IN_PLANE)
    reaching = np.unique(components[:, boundary])
    enclosed = np.isin(components, reaching, invert=True) & (components > 0)
    return np.any(enclosed, axis=(1, 2))


def _count_per_image(components: np.ndarray) -> np.ndarray:
    """How many labels each image of a labelled stack holds."""
    at = np.nonzero(components)
    _, first = np.unique(components[at], return_index=True)
    return np.bincount(at[0][first], minlength=len(components))


def _shift_stack(a: np.ndarray, di: int, dj: int) -> np.ndarray:
    """out[:, i, j] = a[:, i + di, j + dj], False outside the grid."""
    out = np.zeros_like(a)
    n, m = a.shape[1:]
    out[:, max(0, -di):n - max(0, di), max(0, -dj):m - max(0, dj)] = \
        a[:, max(0, di):n - max(0, -di), max(0, dj):m - max(0, -dj)]
    return out
