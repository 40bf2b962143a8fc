"""GridRules -> IR rows (seed 000 constraints (1)-(5) and the extensions), built as whole
arrays: index arrays are computed with NumPy for all cells and grains at once, and only the
final rows are Python objects. Images are 2-D or 3-D (face neighbours: 4 or 6); an n-phase
image (PhaseRules) is lowered by `lower_phases` (at the end).

Variables: the image `x[p]` (the spec's image variable, 1 = solid) and one Boolean per
grain and cell `c[r, p]` (cell in grain r). Rows, in the order of rules.py:
- link (1): x = sum_r c[r]  (a cell is void or in exactly one grain);
- no shared side / gap (2): c[r, p] + sum_{r' != r} c[r', p + o] <= 1 for half of the
  offsets o of the neighbourhood (the other half is the same pairs seen from p + o);
- seed and DAG (3): c[r, seed] = 1; c[r, p] <= sum of c[r, parents of p];
- compactness (4): a Boolean `full[r, v]` per ring, full[r, v] <= c[r, p] for p in ring v,
  and c[r, p] <= full[r, ring(p) - s];
- border (5) and mask: bounds; area, porosity: one row each;
- holes: `dag` adds the border-rooted void DAG rows; `none` (exact, by check and cut in
  the runtime) adds only the cuts every valid image satisfies up front: no void cell
  off the boundary set with all its neighbours solid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from .dag import directions, parent_mask, rings, shifted, void_parent_mask
from .rules import GridRules, PhaseRules


@dataclass(frozen=True)
class GridVars:
    """Where an image's variables sit in the model."""
    image: str
    x_base: int        # first index of the image's T*T pixels (row-major)
    c_base: int        # first index of the w*T*T grain cells (grain-major), -1 without grains
    grains: int
    shape: tuple

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape))

    def labels(self, values: np.ndarray) -> np.ndarray:
        """Grain labels (0 void, r + 1 for grain r) from a solution vector."""
        labels = np.zeros(self.shape, dtype=np.int16)
        if self.grains:
            c = np.round(values[self.c_base:self.c_base + self.grains * self.cells]).reshape((self.grains,) + self.shape)
            for r in range(self.grains):
                labels[c[r] > 0.5] = r + 1
        return labels

    def image_of(self, values: np.ndarray) -> np.ndarray:
        return np.round(values[self.x_base:self.x_base + self.cells]).reshape(self.shape).astype(np.uint8)

    def pixel_indices(self) -> np.ndarray:
        return self.x_base + np.arange(self.cells)


class _Rows:
    """Collects rows given as index/coefficient arrays."""

    def __init__(self, model: ir.Model, origin: str, name: str):
        self.model, self.origin, self.name = model, origin, name
        self.ub = None

    def add(self, idx, coef, sense: str, rhs: float, what: str) -> None:
        idx, coef = np.asarray(idx, dtype=np.int64), np.asarray(coef, dtype=np.float64)
        keep = self.ub[idx] > 0  # variables fixed at 0 drop out of the row
        idx, coef = idx[keep], coef[keep]
        if idx.size == 0 and _holds(0.0, sense, rhs):
            return
        order = np.argsort(idx, kind="stable")
        self.model.constraints.append(ir.LinearCon(ir.Lin(idx[order], coef[order]), sense, float(rhs),
                                                   self.origin, f"{self.name}_{what}"))


def _holds(v: float, sense: str, rhs: float) -> bool:
    return v <= rhs if sense == ir.LE else v >= rhs if sense == ir.GE else v == rhs


def lower_grid(model: ir.Model, image: str, x_base: int, rules: GridRules | PhaseRules, origin: str):
    if isinstance(rules, PhaseRules):
        return lower_phases(model, image, x_base, rules, origin)
    n = int(np.prod(rules.shape))
    w = len(rules.grains)
    cell = np.arange(n).reshape(rules.shape)
    x = x_base + cell
    forced = rules.forced_void()
    fixed_void = forced.copy()
    fixed_solid = np.zeros(rules.shape, dtype=bool)
    if rules.mask is not None:
        fixed_void |= rules.mask == 0
        fixed_solid |= rules.mask == 1
    for k in x[fixed_void]:
        model.vars[k].ub = 0.0
    for k in x[fixed_solid]:
        model.vars[k].lb = 1.0

    c_base = len(model.vars) if w else -1
    c = (c_base + np.arange(w * n).reshape((w,) + rules.shape)) if w else None
    for r in range(w):
        for p in np.ndindex(rules.shape):
            model.add_var(f"{image}.grain{r + 1}[{','.join(map(str, p))}]", ir.BOOL, 0, 0 if fixed_void[p] else 1, origin)
    rows = _Rows(model, origin, image)
    lb, ub = model.bounds_arrays()
    rows.ub = ub
    if w:
        for r, g in enumerate(rules.grains):
            ub[c[r][g.seed]] = 1.0
            model.vars[c[r][g.seed]].lb = 1.0
        _link(rows, x, c)
        _apart(rows, c, rules.gap)
        for r, g in enumerate(rules.grains):
            _dag(rows, c[r], g, rules.shape)
            if g.s is not None:
                _compact(rows, model, c[r], g, rules.shape, origin, f"{image}.grain{r + 1}")
            if g.area is not None:
                rows.add(c[r].ravel(), np.ones(n), ir.GE, g.area[0], f"grain{r + 1}_area_min")
                rows.add(c[r].ravel(), np.ones(n), ir.LE, g.area[1], f"grain{r + 1}_area_max")
    if rules.void_cells is not None:  # sum(x) = n - void
        rows.add(x.ravel(), np.ones(n), ir.LE, n - rules.void_cells[0], "porosity_min")
        rows.add(x.ravel(), np.ones(n), ir.GE, n - rules.void_cells[1], "porosity_max")
    if rules.holes == "dag":
        _void_dag(rows, x, rules.boundary())
    elif rules.holes == "none":
        _lone_void(rows, x, rules.boundary())
    # a search decides the pixels first (every other variable follows by propagation), in an
    # order and with values the solver's seed draws
    model.branch_first.extend(int(k) for k in x.ravel() if not (fixed_void.flat[k - x_base] or fixed_solid.flat[k - x_base]))
    model.branch_shuffle = True
    model.notes.append(f"image {image}: {' x '.join(map(str, rules.shape))}, {w} grains"
                       + (f" ({rules.grains[0].dag} DAG)" if w else "") + f", holes {rules.holes}")
    return GridVars(image, x_base, c_base, w, rules.shape)


def _link(rows: _Rows, x, c) -> None:
    w = c.shape[0]
    for p in np.ndindex(x.shape):
        rows.add(np.concatenate(([x[p]], c[(slice(None),) + p])), np.concatenate(([1.0], -np.ones(w))),
                 ir.EQ, 0.0, "link")


def _offsets(gap: int, ndim: int = 2) -> list:
    """Half of the forbidden offsets between cells of different grains (the other half is the
    same pairs seen from the other cell): the face neighbours for gap 0, the Chebyshev ball
    of radius `gap` otherwise."""
    if gap <= 0:
        return [d for d in directions(ndim) if sum(d) > 0]
    zero = (0,) * ndim
    ball = (tuple(v - gap for v in k) for k in np.ndindex(*([2 * gap + 1] * ndim)))
    return [d for d in ball if d > zero]


def _pairs(shape: tuple, step: tuple) -> tuple:
    """Flat indices (p, p + step) of every pair of grid cells `step` apart."""
    cell = np.arange(int(np.prod(shape))).reshape(shape)
    src = tuple(slice(max(-d, 0), n - max(d, 0)) for d, n in zip(step, shape))
    dst = tuple(slice(max(d, 0), n + min(d, 0)) for d, n in zip(step, shape))
    return cell[src].ravel(), cell[dst].ravel()


def _apart(rows: _Rows, c, gap: int) -> None:
    w = c.shape[0]
    if w < 2:
        return
    shape = c.shape[1:]
    flat = c.reshape(w, -1)
    for step in _offsets(gap, len(shape)):
        for a, b in zip(*_pairs(shape, step)):
            for r in range(w):
                if rows.ub[flat[r, a]] == 0:
                    continue
                others = [flat[q, b] for q in range(w) if q != r]
                rows.add([flat[r, a]] + others, [1.0] * (1 + len(others)), ir.LE, 1.0, "apart")


def _dag(rows: _Rows, c, g, shape) -> None:
    mask = parent_mask(g, shape)
    big = -1
    nb = np.stack([shifted(c, d, big) for d in directions(len(shape))], axis=-1)
    for p in np.ndindex(shape):
        if p == tuple(g.seed) or rows.ub[c[p]] == 0:
            continue
        parents = nb[p][mask[p]]
        parents = parents[parents >= 0]
        rows.add(np.concatenate(([c[p]], parents)), np.concatenate(([1.0], -np.ones(len(parents)))),
                 ir.LE, 0.0, "dag")


def _compact(rows: _Rows, model: ir.Model, c, g, shape, origin: str, name: str) -> None:
    ring = rings(shape, g.seed)
    full = {}
    for v in np.unique(ring):
        full[v] = model.add_var(f"{name}.ring{v}_full", ir.BOOL, 0, 1, origin)
    rows.ub = np.append(rows.ub, np.ones(len(full)))
    for v, z in full.items():  # full[v] -> every cell of ring v is in the grain
        for p in c[ring == v]:
            rows.add([z, p], [1.0, -1.0], ir.LE, 0.0, "ring")
    for p in np.ndindex(shape):
        v = ring[p]
        if v >= g.s and rows.ub[c[p]] > 0:
            rows.add([c[p], full[v - g.s]], [1.0, -1.0], ir.LE, 0.0, "compact")


def _void_dag(rows: _Rows, x, boundary) -> None:
    """1 - x[p] <= sum over parents q of (1 - x[q]), off the boundary set."""
    mask = void_parent_mask(boundary)
    nb = np.stack([shifted(x, d, -1) for d in directions(x.ndim)], axis=-1)
    for p in np.ndindex(x.shape):
        if boundary[p]:
            continue
        parents = nb[p][mask[p]]
        parents = parents[parents >= 0]
        rows.add(np.concatenate(([x[p]], parents)), np.concatenate(([-1.0], np.ones(len(parents)))),
                 ir.LE, len(parents) - 1.0, "void_dag")


def _lone_void(rows: _Rows, x, boundary) -> None:
    """x[p] + sum over neighbours (1 - x[q]) >= 1 off the boundary set: no lone enclosed void cell."""
    nb = np.stack([shifted(x, d, -1) for d in directions(x.ndim)], axis=-1)
    for p in np.ndindex(x.shape):
        if boundary[p]:
            continue
        q = nb[p][nb[p] >= 0]
        rows.add(np.concatenate(([x[p]], q)), np.concatenate(([1.0], -np.ones(len(q)))),
                 ir.GE, 1.0 - len(q), "no_lone_void")


def hole_cut(gv: GridVars, hole: np.ndarray, origin: str = "no holes") -> ir.LinearCon:
    """The cut excluding an enclosed void component `hole` (Boolean mask): either a cell of its
    rim (its solid 4-neighbours) is void, or a cell of the hole is solid. Every valid image
    satisfies it: when the whole rim is solid, a void cell inside would be enclosed."""
    if isinstance(gv, PhaseVars):
        return gv.enclosed_cut(hole, origin)
    rim = _rim(hole)
    idx = gv.x_base + np.ravel_multi_index(np.nonzero(rim), gv.shape)
    hin = gv.x_base + np.ravel_multi_index(np.nonzero(hole), gv.shape)
    # sum_rim (1 - x) + sum_hole x >= 1
    all_idx = np.concatenate((idx, hin))
    coef = np.concatenate((-np.ones(len(idx)), np.ones(len(hin))))
    order = np.argsort(all_idx)
    return ir.LinearCon(ir.Lin(all_idx[order], coef[order]), ir.GE, 1.0 - len(idx), origin, "hole_cut")


def _rim(part: np.ndarray) -> np.ndarray:
    """The cells outside `part` that share a face with it."""
    rim = np.zeros_like(part)
    for d in directions(part.ndim):
        rim |= shifted(part, d, False)
    return rim & ~part


def image_no_good(gv: GridVars, image: np.ndarray, origin: str = "distinct images", apart: int = 1) -> ir.LinearCon:
    """The no-good excluding one binary image (over its pixels, not grain labels); with
    `apart` D, every image within Hamming distance D - 1 of it:
    sum_{image=1} (1 - x) + sum_{image=0} x >= D."""
    if isinstance(gv, PhaseVars):
        return gv.no_good(image, origin, apart)
    idx = gv.pixel_indices()
    flat = np.asarray(image).reshape(-1)
    coef = np.where(flat > 0, -1.0, 1.0)
    return ir.LinearCon(ir.Lin(idx, coef), ir.GE, float(apart) - float(np.sum(flat > 0)), origin, "no_good")


# ---------------------------------------------------------------- n-phase images


@dataclass(frozen=True)
class PhaseVars:
    """Where an n-phase image's variables sit: the image `x[p]` (the phase index) and one
    Boolean `q[k, p]` per phase and cell (cell p holds phase k), phase-major."""
    image: str
    x_base: int
    q_base: int
    phases: int
    shape: tuple
    grains: int = 0

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape))

    def q(self, k: int) -> np.ndarray:
        return self.q_base + k * self.cells + np.arange(self.cells).reshape(self.shape)

    def image_of(self, values: np.ndarray) -> np.ndarray:
        return np.round(values[self.x_base:self.x_base + self.cells]).reshape(self.shape).astype(np.uint8)

    def labels(self, values: np.ndarray) -> np.ndarray:
        """A phase image's labels are its phase indices."""
        return self.image_of(values).astype(np.int16)

    def no_good(self, image: np.ndarray, origin: str = "distinct images", apart: int = 1) -> ir.LinearCon:
        """At least `apart` cells hold another phase: sum over cells of (1 - q[image[p], p]) >= D,
        written -sum q >= D - cells (the `>=` form of image_no_good, so sample._no_goods can
        add the rows of several images into one)."""
        flat = np.asarray(image).reshape(-1).astype(np.int64)
        idx = self.q_base + flat * self.cells + np.arange(self.cells)
        order = np.argsort(idx)
        return ir.LinearCon(ir.Lin(idx[order], -np.ones(self.cells)), ir.GE, float(apart - self.cells), origin, "no_good")

    def enclosed_cut(self, part, origin: str = "open phase") -> ir.LinearCon:
        """`part` = (phase k, Boolean mask of one enclosed component of phase k): either a
        cell of its rim holds phase k, or a cell of the component does not. Every image
        where phase k is open satisfies it: with no rim cell of phase k, the component is a
        whole component of phase k, enclosed."""
        k, comp = part
        qk = self.q(k)
        rim, inside = qk[_rim(comp)], qk[comp]
        idx = np.concatenate((rim, inside))
        coef = np.concatenate((np.ones(len(rim)), -np.ones(len(inside))))
        order = np.argsort(idx)
        return ir.LinearCon(ir.Lin(idx[order], coef[order]), ir.GE, 1.0 - len(inside), origin, "open_cut")


def lower_phases(model: ir.Model, image: str, x_base: int, rules: PhaseRules, origin: str) -> PhaseVars:
    """One-hot phases per cell, linked to the image's integer; cell counts per phase; `apart`
    as pair rows over every face; `touch` with a Boolean per cell (the cell holds phase a and
    a face neighbour holds phase b); `open` adds the rows every valid image satisfies up
    front (a cell of the phase off the boundary has a face neighbour of the phase) and is
    made exact by check and cut (PhaseVars.enclosed_cut)."""
    shape, n_ph = rules.shape, len(rules.names)
    n = int(np.prod(shape))
    q_base = len(model.vars)
    for k, name in enumerate(rules.names):
        for p in np.ndindex(shape):
            model.add_var(f"{image}.{name}[{','.join(map(str, p))}]", ir.BOOL, 0, 1, origin)
    pv = PhaseVars(image, x_base, q_base, n_ph, shape)
    rows = _Rows(model, origin, image)
    rows.ub = model.bounds_arrays()[1]
    q = np.stack([pv.q(k).ravel() for k in range(n_ph)])          # [phase, cell]
    x = x_base + np.arange(n)
    ks = np.arange(n_ph, dtype=np.float64)
    for c in range(n):  # one phase per cell, and the image holds its index
        rows.add(q[:, c], np.ones(n_ph), ir.EQ, 1.0, "one_phase")
        rows.add(np.concatenate(([x[c]], q[1:, c])), np.concatenate(([1.0], -ks[1:])), ir.EQ, 0.0, "phase_index")
    for k, bounds in enumerate(rules.cells):
        if bounds is None:
            continue
        lo, hi = bounds
        if lo == hi:
            rows.add(q[k], np.ones(n), ir.EQ, lo, f"{rules.names[k]}_cells")
        else:
            rows.add(q[k], np.ones(n), ir.GE, lo, f"{rules.names[k]}_cells_min")
            rows.add(q[k], np.ones(n), ir.LE, hi, f"{rules.names[k]}_cells_max")
    steps = [d for d in directions(len(shape)) if sum(d) > 0]
    pairs = [_pairs(shape, d) for d in steps]
    for a, b in rules.apart:
        for u, v in pairs:
            for s, t in ((a, b), (b, a)):
                for i, j in zip(q[s, u], q[t, v]):
                    rows.add([i, j], [1.0, 1.0], ir.LE, 1.0, f"apart_{rules.names[a]}_{rules.names[b]}")
    nb = np.stack([shifted(np.arange(n).reshape(shape), d, -1) for d in directions(len(shape))], axis=-1).reshape(n, -1)
    for a, b in rules.touch:
        first = len(model.vars)
        for c in range(n):
            model.add_var(f"{image}.touch_{rules.names[a]}_{rules.names[b]}[{c}]", ir.BOOL, 0, 1, origin)
        rows.ub = np.append(rows.ub, np.ones(n))
        t = first + np.arange(n)
        for c in range(n):  # t[c] -> cell c holds a and a neighbour holds b (either way round)
            near = nb[c][nb[c] >= 0]
            rows.add([t[c], q[a, c]], [1.0, -1.0], ir.LE, 0.0, "touch_here")
            rows.add(np.concatenate(([t[c]], q[b, near])), np.concatenate(([1.0], -np.ones(len(near)))),
                     ir.LE, 0.0, "touch_near")
        rows.add(t, np.ones(n), ir.GE, 1.0, f"touch_{rules.names[a]}_{rules.names[b]}")
    boundary = rules.boundary().ravel()
    for k in rules.open:
        for c in range(n):
            if boundary[c]:
                continue
            near = nb[c][nb[c] >= 0]
            rows.add(np.concatenate(([q[k, c]], q[k, near])), np.concatenate(([1.0], -np.ones(len(near)))),
                     ir.LE, 0.0, f"open_{rules.names[k]}")
    model.branch_first.extend(int(v) for v in q.T.ravel())
    model.branch_shuffle = True
    model.notes.append(f"image {image}: {' x '.join(map(str, shape))}, {n_ph} phases ({', '.join(rules.names)})")
    return pv
