"""The independent verifier of porous grid rules: every rule a decoded image breaks.

The rules' meaning is the docstring of `compiler.grid.rules` (the only module of
`compiler.grid` this one imports); nothing here is shared with the lowering. Each rule is
evaluated directly on the image with NumPy and `scipy.ndimage`; DAG parents are computed
here from the seed (and, for `random`, from `order`). Images are 2-D or 3-D volumes
(connectivity through faces: 4 or 6 neighbours); n-phase images (PhaseRules) are checked
by `check_phases`.

Messages name the rule and one offending place; "grain r" is 0-based as in `GridRules`
(label r + 1 in label images); cells are (row, col) or (row, col, layer).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..compiler.grid.rules import DAG_KINDS, HOLES, GrainRule, GridRules, PhaseRules


def faces(ndim: int) -> np.ndarray:
    """Face connectivity (4 in 2-D, 6 in 3-D) for scipy.ndimage.label."""
    return ndimage.generate_binary_structure(ndim, 1)


def steps(ndim: int) -> list:
    """The face-neighbour steps."""
    return [tuple(sign if a == axis else 0 for a in range(ndim)) for axis in range(ndim) for sign in (-1, 1)]


FOUR = faces(2)      # 4-connectivity (2-D)
STEPS = steps(2)     # the 4-neighbours


def check_grid(image, labels, rules) -> list[str]:
    """Every rule the image (1 = solid) and its grain labels (0 void, r + 1 grain r) break;
    for PhaseRules, every phase rule the phase image breaks (`labels` must equal it).

    Empty list: valid. Arrays of the wrong shape or with values outside 0/1 (image) or
    0..w (labels) are reported and stop the check, since nothing else can be read from them."""
    if isinstance(rules, PhaseRules):
        if not np.array_equal(np.asarray(labels), np.asarray(image)):
            return ["the labels of a phase image must be the image itself"]
        return check_phases(image, rules)
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


def labels_from_image(image, rules):
    """The grain labels a binary image implies: grain r is the face-connected solid component
    holding seed r. None when a seed is void, two seeds share a component, or a component
    holds no seed. A phase image's labels are the image itself."""
    if isinstance(rules, PhaseRules):
        return np.asarray(image).astype(np.int16)
    image = np.asarray(image)
    components, count = ndimage.label(image == 1, structure=faces(image.ndim))
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
    """The face-connected void components that hold no cell of the boundary set, as Boolean masks."""
    return _enclosed(np.asarray(image) != 1, rules.boundary())


def _enclosed(part: np.ndarray, boundary: np.ndarray) -> list[np.ndarray]:
    components, count = ndimage.label(part, structure=faces(part.ndim))
    masks = [components == k for k in range(1, count + 1)]
    return [m for m in masks if not np.any(m & boundary)]


def enclosed_parts(image, rules) -> list:
    """What check and cut must exclude: enclosed void components (GridRules with `no holes`)
    or (phase, component) pairs of enclosed components of `open` phases (PhaseRules)."""
    image = np.asarray(image)
    if isinstance(rules, PhaseRules):
        return [(k, m) for k in rules.open for m in _enclosed(image == k, rules.boundary())]
    return enclosed_void(image, rules) if rules.holes == "none" else []


# ---- n-phase images -------------------------------------------------------------------

def check_phases(image, rules: PhaseRules) -> list[str]:
    """Every phase rule the image (phase index per cell) breaks: values, cell counts per
    phase, pairs that share a face but must not, pairs that must and do not, enclosed
    components of open phases."""
    image = np.asarray(image)
    shape, names = tuple(rules.shape), rules.names
    if image.shape != shape:
        return [f"image has shape {image.shape}, expected {shape}"]
    bad = (image < 0) | (image >= len(names)) | (image != np.round(image))
    if np.any(bad):
        return [f"image holds {image[_first(bad)]} at {_first(bad)}; phases are 0..{len(names) - 1}"]
    problems = []
    for k, bounds in enumerate(rules.cells):
        count = int(np.sum(image == k))
        if bounds is not None and not bounds[0] <= count <= bounds[1]:
            want = f"exactly {bounds[0]}" if bounds[0] == bounds[1] else f"{bounds[0]}..{bounds[1]}"
            problems.append(f"phase {names[k]}: {count} cells, {want} asked")
    contacts = _contacts(image, len(names))
    for a, b in rules.apart:
        if (a, b) in contacts:
            p, q = contacts[(a, b)]
            problems.append(f"phases {names[a]} and {names[b]} share a face at {p} and {q} (apart)")
    for a, b in rules.touch:
        if (a, b) not in contacts:
            problems.append(f"phases {names[a]} and {names[b]} never share a face (touch)")
    for k in rules.open:
        for m in _enclosed(image == k, rules.boundary()):
            problems.append(f"phase {names[k]}: a component of {int(m.sum())} cells at {_first(m)} does not "
                            "reach the border (open)")
    return problems


def _contacts(image: np.ndarray, n: int) -> dict:
    """{(a, b) with a < b: (cell, neighbour)} for every pair of phases that share a face."""
    found = {}
    for step in steps(image.ndim):
        if sum(step) < 0:
            continue
        other = _shift(image, step, -1)
        for a in range(n):
            for b in range(n):
                if a == b or (min(a, b), max(a, b)) in found:
                    continue
                hit = (image == a) & (other == b)
                if np.any(hit):
                    p = _first(hit)
                    found[(min(a, b), max(a, b))] = (p, tuple(int(v + d) for v, d in zip(p, step)))
    return found


# ---- whole-image rules ----------------------------------------------------------------

def _check_rules(rules: GridRules) -> None:
    """Malformed rules are a bug upstream (the draw), not a property of the image."""
    shape = tuple(rules.shape)
    if rules.holes not in HOLES:
        raise ValueError(f"unknown holes rule {rules.holes!r}")
    if rules.mask is not None and np.shape(rules.mask) != shape:
        raise ValueError(f"mask shape {np.shape(rules.mask)}, grid {shape}")
    for r, grain in enumerate(rules.grains):
        if len(grain.seed) != len(shape) or not all(0 <= v < n for v, n in zip(grain.seed, shape)):
            raise ValueError(f"grain {r}: seed {tuple(grain.seed)} outside the {shape} grid")
        if grain.dag not in DAG_KINDS:
            raise ValueError(f"grain {r}: unknown DAG {grain.dag!r}")
        if grain.dag in ("rows", "columns") and len(shape) != 2:
            raise ValueError(f"grain {r}: DAG {grain.dag!r} is defined on 2-D grids only")
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
        for step in steps(void.ndim):
            has_step |= _shift(void, step, False) & (_shift(dist, step, -1) == dist - 1)
        bad = void & ~boundary & ~has_step
        if np.any(bad):
            return [f"void cell {_first(bad)} has no void 4-neighbour one step closer to the boundary "
                    f"(holes dag){_more(bad)}"]
    return []


def _check_touching(labels, gap) -> list[str]:
    """Different grains sharing a face; with gap k, also within Chebyshev distance k."""
    problems, reported = [], set()
    ndim = labels.ndim
    zero = (0,) * ndim
    offsets = [d for d in steps(ndim) if d > zero]               # a shared face
    ball = [tuple(v - gap for v in k) for k in np.ndindex(*([2 * gap + 1] * ndim))]
    offsets += sorted((d for d in ball if d > zero and d not in offsets),
                      key=lambda d: max(abs(v) for v in d))      # nearest first
    for step in offsets:
        other = _shift(labels, step, 0)
        clash = (labels > 0) & (other > 0) & (labels != other)
        for p in np.argwhere(clash):
            p = tuple(int(v) for v in p)
            q = tuple(v + d for v, d in zip(p, step))
            cells = {int(labels[p]) - 1: p, int(other[p]) - 1: q}
            pair = tuple(sorted(cells))
            if pair in reported:
                continue
            reported.add(pair)
            where = f"at {cells[pair[0]]} and {cells[pair[1]]}"
            if sum(abs(v) for v in step) == 1:
                problems.append(f"grains {pair[0]} and {pair[1]} share a {'side' if ndim == 2 else 'face'} {where}")
            else:
                d = max(abs(v) for v in step)
                problems.append(f"grains {pair[0]} and {pair[1]} within Chebyshev distance {d} "
                                f"(gap {gap}) {where}")
    return problems


# ---- one grain ------------------------------------------------------------------------

def _check_grain(r: int, mine: np.ndarray, grain: GrainRule) -> list[str]:
    seed = tuple(int(v) for v in grain.seed)
    problems = []
    if not mine[seed]:
        problems.append(f"grain {r}: its seed {seed} is not in it")
    _, parts = ndimage.label(mine, structure=faces(mine.ndim))
    if parts > 1:
        problems.append(f"grain {r}: {parts} {'4' if mine.ndim == 2 else '6'}-connected components, a grain is one")
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
    for step, is_parent in parent_steps(mine.shape, grain).items():
        has |= is_parent & _shift(mine, step, False)
    return has


def parent_steps(shape, grain: GrainRule) -> dict:
    """For each step: a Boolean array, True where the face neighbour p + step is a DAG parent
    of p (never outside the grid)."""
    idx = np.indices(shape)
    if grain.dag == "manhattan":
        dist = sum(np.abs(idx[a] - grain.seed[a]) for a in range(len(shape)))
        return {step: _shift(dist, step, -9) == dist - 1 for step in steps(len(shape))}
    if grain.dag == "random":     # neighbours of smaller rank
        order = np.asarray(grain.order, dtype=np.int64)
        never = int(order.max()) + 1
        return {step: _shift(order, step, never) < order for step in steps(len(shape))}
    si, sj = grain.seed
    ii, jj = idx
    if grain.dag == "rows":    # along the row to the seed's column, then along that column
        return {(0, 1): jj < sj, (0, -1): jj > sj,
                (1, 0): (jj == sj) & (ii < si), (-1, 0): (jj == sj) & (ii > si)}
    return {(1, 0): ii < si, (-1, 0): ii > si,          # columns
            (0, 1): (ii == si) & (jj < sj), (0, -1): (ii == si) & (jj > sj)}


def _check_compact(r, mine, seed, s) -> list[str]:
    idx = np.indices(mine.shape)
    ring = np.round(np.sqrt(sum((idx[a] - seed[a]) ** 2.0 for a in range(mine.ndim)))).astype(int)  # halves to even
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

def _shift(a: np.ndarray, step: tuple, fill) -> np.ndarray:
    """out[p] = a[p + step], `fill` outside the grid (|step| <= the grid along each axis)."""
    pad = [(abs(d), abs(d)) for d in step]
    padded = np.pad(a, pad, constant_values=fill)
    return padded[tuple(slice(abs(d) + d, abs(d) + d + n) for d, n in zip(step, a.shape))]


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(v) for v in np.argwhere(mask)[0])


def _more(mask: np.ndarray) -> str:
    n = int(np.sum(mask))
    return f" (and {n - 1} more)" if n > 1 else ""
