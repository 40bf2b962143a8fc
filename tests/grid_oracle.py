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

from pgen.compiler.grid.rules import GridRules, PhaseRules
from pgen.runtime.verify_grid import check_grid, check_phases, labels_from_image, parent_steps

MAX_FREE = 22          # 4 M images: beyond that brute force is no longer an oracle for tests
MAX_PHASE_IMAGES = 3 ** 10
BATCH = 1 << 15


def in_plane(ndim: int) -> np.ndarray:
    """Face connectivity inside each image (2-D or 3-D) of a stack, never across images."""
    structure = np.zeros((3,) * (ndim + 1), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(ndim, 1)
    return structure


def valid_phase_images(rules: PhaseRules) -> set[bytes]:
    """Every n-phase image `check_phases` accepts, by enumerating all n^cells assignments."""
    shape, k = tuple(rules.shape), len(rules.names)
    cells = int(np.prod(shape))
    if k ** cells > MAX_PHASE_IMAGES:
        raise ValueError(f"{k}^{cells} images: too many to enumerate")
    found = set()
    for code in range(k ** cells):
        digits = (code // k ** np.arange(cells)) % k
        image = digits.astype(np.uint8).reshape(shape)
        if not check_phases(image, rules):
            found.add(image.tobytes())
    return found


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
        images[(slice(None),) + tuple(free.T)] = (codes[:, None] >> np.arange(len(free))) & 1
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
    ndim = images.ndim - 1
    components, _ = ndimage.label(images == 1, structure=in_plane(ndim))
    keep &= _count_per_image(components) == len(rules.grains)
    seeds = [components[(slice(None),) + tuple(g.seed)] for g in rules.grains]
    per_image = (slice(None),) + (None,) * ndim
    for a, grain in enumerate(rules.grains):
        keep &= seeds[a] > 0
        keep &= np.all([seeds[a] != seeds[b] for b in range(a)], axis=0)
        mine = (components == seeds[a][per_image]) & (seeds[a] > 0)[per_image]
        keep &= _grain_plausible(mine, grain)
    return keep


def _grain_plausible(mine: np.ndarray, grain) -> np.ndarray:
    """Per image: the grain's DAG, compactness and area rules, on a stack of grain masks."""
    n_cells = mine.reshape(len(mine), -1).sum(axis=1)
    ok = np.ones(len(mine), dtype=bool)
    if grain.area is not None:
        ok &= (grain.area[0] <= n_cells) & (n_cells <= grain.area[1])
    has_parent = np.zeros_like(mine)
    for step, is_parent in parent_steps(mine.shape[1:], grain).items():
        has_parent |= is_parent & _shift_stack(mine, step)
    has_parent[(slice(None),) + tuple(grain.seed)] = True
    ok &= ~np.any(mine & ~has_parent, axis=tuple(range(1, mine.ndim)))
    if grain.s is not None:
        idx = np.indices(mine.shape[1:])
        ring = np.round(np.sqrt(sum((idx[a] - grain.seed[a]) ** 2.0 for a in range(len(idx))))).astype(int)
        full = [np.all(mine[:, ring == v], axis=1) for v in range(ring.max() + 1)]
        for v in range(grain.s, ring.max() + 1):
            ok &= ~(np.any(mine[:, ring == v], axis=1) & ~full[v - grain.s])
    return ok


def _has_enclosed_void(images: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    components, _ = ndimage.label(images == 0, structure=in_plane(images.ndim - 1))
    reaching = np.unique(components[:, boundary])
    enclosed = np.isin(components, reaching, invert=True) & (components > 0)
    return np.any(enclosed, axis=tuple(range(1, images.ndim)))


def _count_per_image(components: np.ndarray) -> np.ndarray:
    """How many labels each image of a labelled stack holds."""
    at = np.nonzero(components)
    _, first = np.unique(components[at], return_index=True)
    return np.bincount(at[0][first], minlength=len(components))


def _shift_stack(a: np.ndarray, step: tuple) -> np.ndarray:
    """out[:, p] = a[:, p + step], False outside the grid."""
    out = np.zeros_like(a)
    dst = tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(step, a.shape[1:]))
    src = tuple(slice(max(0, d), n - max(0, -d)) for d, n in zip(step, a.shape[1:]))
    out[(slice(None),) + dst] = a[(slice(None),) + src]
    return out
