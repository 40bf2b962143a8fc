"""The independent verifier of porous grid rules: every rule a decoded image breaks.

The rules' meaning is the docstring of `compiler.grid.rules` (the only module of
`compiler.grid` this one imports); nothing here is shared with the lowering. Each rule is
evaluated directly on the image with NumPy and `scipy.ndimage`; DAG parents are computed
here from the seed (and, for `random`, from `order`).

Messages name the rule and one offending place; "grain r" is 0-based as in `GridRules`
(label r + 1 in label images); cells are (row, col).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..compiler.grid.rules import DAG_KINDS, HOLES, GrainRule, GridRules

FOUR = ndimage.generate_binary_structure(2, 1)   # 4-connectivity
STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))       # the 4-neighbours


def check_grid(image, labels, rules: GridRules) -> list[str]:
    """Every rule the image (1 = solid) and its grain labels (0 void, r + 1 grain r) break.

    Empty list: valid. Arrays of the wrong shape or with values outside 0/1 (image) or
    0..w (labels) are reported and stop the check, since nothing else can be read from them."""
    _check_rules(rules)
    image, labels = np.asarray(image), np.asarray(labels)
    problems = _check_arrays(image, labels, rules)
    if problems:
        return problems
    solid = image == 1
    if rules.grains:  # no `grains` statement: the solid is free, the labels all 0
        problems += _check_agreement(solid, labels)
    elif np.any(labels != 0):
        problems.append("labels name grains, but the image has no grain rules")
    problems += _check_border(solid, rules)
    problems += _check_mask(solid, rules)
    problems += _check_void_cells(solid, rules)
    problems += _check_holes(solid, rules)
    problems += _check_touching(labels, rules.gap)
    for r, grain in enumerate(rules.grains):
        problems += _check_grain(r, labels == r + 1, grain)
    return problems


def labels_from_image(image, rules: GridRules):
    """The grain labels a binary image implies: grain r is the 4-connected solid component
    holding seed r. None when a seed is void, two seeds share a component, or a component
    holds no seed."""
    components, count = ndimage.label(np.asarray(image) == 1, structure=FOUR)
    labels = np.zeros(components.shape, dtype=np.int32)
    if not rules.grains:  # no grain rules: any solid, no labels
        return labels
    taken = set()
    for r, grain in enumerate(rules.grains):
        component = int(components[tuple(grain.seed)])
        if component == 0 or component in taken:
            return None
        taken.add(component)
        labels[components == component] = r + 1
    if len(taken) != count:
        return None
    return labels


def enclosed_void(image, rules: GridRules) -> list[np.ndarray]:
    """The 4-connected void components that hold no cell of the boundary set, as Boolean masks."""
    components, count = ndimage.label(np.asarray(image) != 1, structure=FOUR)
    boundary = rules.boundary()
    masks = [components == k for k in range(1, count + 1)]
    return [m for m in masks if not np.any(m & boundary)]


# ---- whole-image rules ----------------------------------------------------------------

def _check_rules(rules: GridRules) -> None:
    """Malformed rules are a bug upstream (the draw), not a property of the image."""
    shape = tuple(rules.shape)
    if rules.holes not in HOLES:
        raise ValueError(f"unknown holes rule {rules.holes!r}")
    if rules.mask is not None and np.shape(rules.mask) != shape:
        raise ValueError(f"mask shape {np.shape(rules.mask)}, grid {shape}")
    for r, grain in enumerate(rules.grains):
        if not (0 <= grain.seed[0] < shape[0] and 0 <= grain.seed[1] < shape[1]):
            raise ValueError(f"grain {r}: seed {tuple(grain.seed)} outside the {shape} grid")
        if grain.dag not in DAG_KINDS:
            raise ValueError(f"grain {r}: unknown DAG {grain.dag!r}")
        if grain.dag == "random" and np.shape(grain.order) != shape:
            raise ValueError(f"grain {r}: a random DAG needs an order of shape {shape}")


def _check_arrays(image, labels, rules) -> list[str]:
    shape, w = tuple(rules.shape), len(rules.grains)
    problems = []
    for name, a in (("image", image), ("labels", labels)):
        if a.shape != shape:
            problems.append(f"{name} has shape {a.shape}, expected {shape}")
    if problems:
        return problems
    bad = (image != 0) & (image != 1)
    if np.any(bad):
        problems.append(f"image holds {image[_first(bad)]} at {_first(bad)}; only 0 (void) and 1 (solid)")
    bad = (labels < 0) | (labels > w) | (labels != np.round(labels))
    if np.any(bad):
        problems.append(f"label {labels[_first(bad)]} at {_first(bad)} is outside 0..{w} ({w} grains)")
    return problems


def _check_agreement(solid, labels) -> list[str]:
    bad = solid != (labels > 0)
    if not np.any(bad):
        return []
    cell = _first(bad)
    what = "solid" if solid[cell] else "void"
    return [f"labels and image disagree at {cell}: image {what}, label {labels[cell]}{_more(bad)}"]


def _check_border(solid, rules) -> list[str]:
    bad = solid & rules.forced_void()
    if not np.any(bad):
        return []
    return [f"cell {_first(bad)} is solid but the border must be void (border {rules.border}){_more(bad)}"]


def _check_mask(solid, rules) -> list[str]:
    if rules.mask is None:
        return []
    mask = np.asarray(rules.mask)
    problems = []
    for fixed, value, name, other in ((1, True, "solid", "void"), (0, False, "void", "solid")):
        bad = (mask == fixed) & (solid != value)
        if np.any(bad):
            problems.append(f"mask fixes {_first(bad)} {name} but it is {other}{_more(bad)}")
    return problems


def _check_void_cells(solid, rules) -> list[str]:
    if rules.void_cells is None:
        return []
    lo, hi = rules.void_cells
    n = int(np.sum(~solid))
    if lo <= n <= hi:
        return []
    return [f"porosity: {n} void cells, allowed {lo}..{hi}"]


def _check_holes(solid, rules) -> list[str]:
    if rules.holes == "none":
        return [f"void component of {int(m.sum())} cells at {_first(m)} is enclosed (no holes)"
                for m in enclosed_void(solid, rules)]
    if rules.holes == "dag":
        boundary = rules.boundary()
        # Manhattan distance to the nearest cell of the boundary set (exact on a grid)
        dist = ndimage.distance_transform_cdt(~boundary, metric="taxicab")
        void = ~solid
        has_step = np.zeros_like(void)
        for di, dj in STEPS:
            has_step |= _shift(void, di, dj, False) & (_shift(dist, di, dj, -1) == dist - 1)
        bad = void & ~boundary & ~has_step
        if np.any(bad):
            return [f"void cell {_first(bad)} has no void 4-neighbour one step closer to the boundary "
                    f"(holes dag){_more(bad)}"]
    return []


def _check_touching(labels, gap) -> list[str]:
    """Different grains sharing a side; with gap k, also within Chebyshev distance k."""
    problems, reported = [], set()
    offsets = [(1, 0), (0, 1)]                                   # a shared side
    offsets += sorted(((di, dj) for di in range(0, gap + 1) for dj in range(-gap, gap + 1)
                       if (di, dj) > (0, 0) and (di, dj) not in offsets),
                      key=lambda d: max(abs(d[0]), abs(d[1])))  # nearest first
    for di, dj in offsets:
        other = _shift(labels, di, dj, 0)
        clash = (labels > 0) & (other > 0) & (labels != other)
        for i, j in np.argwhere(clash):
            cells = {int(labels[i, j]) - 1: (int(i), int(j)),
                     int(other[i, j]) - 1: (int(i + di), int(j + dj))}
            pair = tuple(sorted(cells))
            if pair in reported:
                continue
            reported.add(pair)
            where = f"at {cells[pair[0]]} and {cells[pair[1]]}"
            if abs(di) + abs(dj) == 1:
                problems.append(f"grains {pair[0]} and {pair[1]} share a side {where}")
            else:
                d = max(abs(di), abs(dj))
                problems.append(f"grains {pair[0]} and {pair[1]} within Chebyshev distance {d} "
                                f"(gap {gap}) {where}")
    return problems


# ---- one grain ------------------------------------------------------------------------

def _check_grain(r: int, mine: np.ndarray, grain: GrainRule) -> list[str]:
    seed = (int(grain.seed[0]), int(grain.seed[1]))
    problems = []
    if not mine[seed]:
        problems.append(f"grain {r}: its seed {seed} is not in it")
    _, parts = ndimage.label(mine, structure=FOUR)
    if parts > 1:
        problems.append(f"grain {r}: {parts} 4-connected components, a grain is one")
    orphans = mine & ~_has_parent(mine, grain)
    orphans[seed] = False
    if np.any(orphans):
        problems.append(f"grain {r}: cell {_first(orphans)} has no parent in its DAG ({grain.dag})"
                        f"{_more(orphans)}")
    if grain.s is not None:
        problems += _check_compact(r, mine, seed, grain.s)
    if grain.area is not None:
        lo, hi = grain.area
        n = int(mine.sum())
        if not lo <= n <= hi:
            problems.append(f"grain {r}: area {n} cells, allowed {lo}..{hi}")
    return problems


def _has_parent(mine: np.ndarray, grain: GrainRule) -> np.ndarray:
    """Cells with at least one DAG parent in `mine`."""
    has = np.zeros_like(mine)
    for (di, dj), is_parent in parent_steps(mine.shape, grain).items():
        has |= is_parent & _shift(mine, di, dj, False)
    return has


def parent_steps(shape, grain: GrainRule) -> dict:
    """For each step (di, dj): a Boolean array, True where the 4-neighbour (i + di, j + dj)
    is a DAG parent of (i, j) (never outside the grid)."""
    si, sj = grain.seed
    ii, jj = np.indices(shape)
    if grain.dag == "manhattan":
        dist = np.abs(ii - si) + np.abs(jj - sj)
        return {(di, dj): _shift(dist, di, dj, -9) == dist - 1 for di, dj in STEPS}
    if grain.dag == "rows":    # along the row to the seed's column, then along that column
        return {(0, 1): jj < sj, (0, -1): jj > sj,
                (1, 0): (jj == sj) & (ii < si), (-1, 0): (jj == sj) & (ii > si)}
    if grain.dag == "columns":
        return {(1, 0): ii < si, (-1, 0): ii > si,
                (0, 1): (ii == si) & (jj < sj), (0, -1): (ii == si) & (jj > sj)}
    order = np.asarray(grain.order, dtype=np.int64)     # random: neighbours of smaller rank
    never = int(order.max()) + 1
    return {(di, dj): _shift(order, di, dj, never) < order for di, dj in STEPS}


def _check_compact(r, mine, seed, s) -> list[str]:
    ii, jj = np.indices(mine.shape)
    ring = np.round(np.hypot(ii - seed[0], jj - seed[1])).astype(int)   # halves to even
    for v in np.unique(ring[mine]):
        if v < s:
            continue
        missing = (ring == v - s) & ~mine    # a ring with no grid cell requires nothing
        if np.any(missing):
            cell = _first(mine & (ring == v))
            return [f"grain {r}: cell {cell} of ring {v} is in the grain but ring {v - s} is not full "
                    f"(compactness s = {s}): {_first(missing)} is not"]
    return []


# ---- helpers --------------------------------------------------------------------------

def _shift(a: np.ndarray, di: int, dj: int, fill) -> np.ndarray:
    """out[i, j] = a[i + di, j + dj], `fill` outside the grid (|di|, |dj| <= the grid)."""
    n, m = a.shape
    padded = np.full((n + 2 * abs(di), m + 2 * abs(dj)), fill, dtype=a.dtype)
    padded[abs(di):abs(di) + n, abs(dj):abs(dj) + m] = a
    return padded[abs(di) + di:abs(di) + di + n, abs(dj) + dj:abs(dj) + dj + m]


def _first(mask: np.ndarray) -> tuple:
    i, j = np.argwhere(mask)[0]
    return (int(i), int(j))


def _more(mask: np.ndarray) -> str:
    n = int(np.sum(mask))
    return f" (and {n - 1} more)" if n > 1 else ""
