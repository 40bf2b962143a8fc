"""GridRules -> IR rows (seed 000 constraints (1)-(5) and the extensions), built as whole
arrays: index arrays are computed with NumPy for all cells and grains at once, and only the
final rows are Python objects.

Variables: the image `x[i, j]` (the spec's image variable, 1 = solid) and one Boolean per
grain and cell `c[r, i, j]` (cell in grain r). Rows, in the order of rules.py:
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
from .dag import DIRECTIONS, parent_mask, rings, shifted, void_parent_mask
from .rules import GridRules


@dataclass(frozen=True)
class GridVars:
    """Where an image's variables sit in the model."""
    image: str
    x_base: int        # first index of the image's T*T pixels (row-major)
    c_base: int        # first index of the w*T*T grain cells (grain-major), -1 without grains
    grains: int
    shape: tuple

    def labels(self, values: np.ndarray) -> np.ndarray:
        """Grain labels (0 void, r + 1 for grain r) from a solution vector."""
        T0, T1 = self.shape
        labels = np.zeros(self.shape, dtype=np.int16)
        if self.grains:
            c = np.round(values[self.c_base:self.c_base + self.grains * T0 * T1]).reshape(self.grains, T0, T1)
            for r in range(self.grains):
                labels[c[r] > 0.5] = r + 1
        return labels

    def image_of(self, values: np.ndarray) -> np.ndarray:
        T0, T1 = self.shape
        return np.round(values[self.x_base:self.x_base + T0 * T1]).reshape(self.shape).astype(np.uint8)

    def pixel_indices(self) -> np.ndarray:
        return self.x_base + np.arange(self.shape[0] * self.shape[1])


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


def lower_grid(model: ir.Model, image: str, x_base: int, rules: GridRules, origin: str) -> GridVars:
    T0, T1 = rules.shape
    n = T0 * T1
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
        for i in range(T0):
            for j in range(T1):
                model.add_var(f"{image}.grain{r + 1}[{i},{j}]", ir.BOOL, 0, 0 if fixed_void[i, j] else 1, origin)
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
    model.notes.append(f"image {image}: {T0} x {T1}, {w} grains"
                       + (f" ({rules.grains[0].dag} DAG)" if w else "") + f", holes {rules.holes}")
    return GridVars(image, x_base, c_base, w, rules.shape)


def _link(rows: _Rows, x, c) -> None:
    w = c.shape[0]
    for p in np.ndindex(x.shape):
        rows.add(np.concatenate(([x[p]], c[(slice(None),) + p])), np.concatenate(([1.0], -np.ones(w))),
                 ir.EQ, 0.0, "link")


def _offsets(gap: int) -> list:
    """Half of the forbidden offsets between cells of different grains (the other half is the
    same pairs seen from the other cell): the 4-neighbours for gap 0, the Chebyshev ball
    of radius `gap` otherwise."""
    if gap <= 0:
        full = [(1, 0), (0, 1)]
    else:
        full = [(di, dj) for di in range(-gap, gap + 1) for dj in range(-gap, gap + 1) if (di, dj) > (0, 0)]
    return full


def _apart(rows: _Rows, c, gap: int) -> None:
    w = c.shape[0]
    if w < 2:
        return
    T0, T1 = c.shape[1:]
    for di, dj in _offsets(gap):
        for i in range(max(0, -di), min(T0, T0 - di)):
            for j in range(max(0, -dj), min(T1, T1 - dj)):
                for r in range(w):
                    if rows.ub[c[r, i, j]] == 0:
                        continue
                    others = [c[q, i + di, j + dj] for q in range(w) if q != r]
                    rows.add([c[r, i, j]] + others, [1.0] * (1 + len(others)), ir.LE, 1.0, "apart")


def _dag(rows: _Rows, c, g, shape) -> None:
    mask = parent_mask(g, shape)
    big = -1
    nb = np.stack([shifted(c, di, dj, big) for di, dj in DIRECTIONS], axis=-1)
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
    nb = np.stack([shifted(x, di, dj, -1) for di, dj in DIRECTIONS], axis=-1)
    for p in np.ndindex(x.shape):
        if boundary[p]:
            continue
        parents = nb[p][mask[p]]
        parents = parents[parents >= 0]
        rows.add(np.concatenate(([x[p]], parents)), np.concatenate(([-1.0], np.ones(len(parents)))),
                 ir.LE, len(parents) - 1.0, "void_dag")


def _lone_void(rows: _Rows, x, boundary) -> None:
    """x[p] + sum over neighbours (1 - x[q]) >= 1 off the boundary set: no lone enclosed void cell."""
    nb = np.stack([shifted(x, di, dj, -1) for di, dj in DIRECTIONS], axis=-1)
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
    rim = np.zeros_like(hole)
    for di, dj in DIRECTIONS:
        rim |= shifted(hole, di, dj, False)
    rim &= ~hole
    idx = gv.x_base + np.ravel_multi_index(np.nonzero(rim), gv.shape)
    hin = gv.x_base + np.ravel_multi_index(np.nonzero(hole), gv.shape)
    # sum_rim (1 - x) + sum_hole x >= 1
    all_idx = np.concatenate((idx, hin))
    coef = np.concatenate((-np.ones(len(idx)), np.ones(len(hin))))
    order = np.argsort(all_idx)
    return ir.LinearCon(ir.Lin(all_idx[order], coef[order]), ir.GE, 1.0 - len(idx), origin, "hole_cut")


def image_no_good(gv: GridVars, image: np.ndarray, origin: str = "distinct images") -> ir.LinearCon:
    """The no-good excluding one binary image (over its pixels, not grain labels)."""
    idx = gv.pixel_indices()
    flat = np.asarray(image).reshape(-1)
    coef = np.where(flat > 0, -1.0, 1.0)
    return ir.LinearCon(ir.Lin(idx, coef), ir.GE, 1.0 - float(np.sum(flat > 0)), origin, "no_good")
