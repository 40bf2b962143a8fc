"""Threshold elimination: drop real variables decided by Boolean thresholds alone.

A real variable that appears only in implications of the form `b -> x >= t` /
`b -> x <= t` (binarized real inputs, as in a VNNLIB box around an image) is decided
by those Booleans. Dropping it leaves a pure Boolean/integer model that CP-SAT can
take; the inverse puts back a value that satisfies every active implication and the box.

Such a value exists exactly when no two active implications contradict each other or the
box (an interval is empty iff some lower bound exceeds some upper bound), so the reduced
model keeps one clause per contradicting pair, `not (lit_i and lit_j)`, and fixes a literal
whose bound lies outside the box. Without them the Booleans could take values no real
point produces (two thresholds on one input, as in a sign-binarized network's `> 0` and
`< 0` decisions).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from .chain import IDENTITY, Identity


@dataclass
class Elimination(Identity):
    n_full: int
    keep: np.ndarray                    # old index of each kept variable
    eliminated: dict = field(default_factory=dict)  # old index -> (lb, ub, [(b_old, value, coef, sense, rhs)])

    def invert(self, values: np.ndarray) -> np.ndarray:
        full = np.zeros(self.n_full)
        full[self.keep] = values
        for x, (lb, ub, rows) in self.eliminated.items():
            lo, hi = lb, ub
            for b, value, coef, sense, rhs in rows:
                if round(full[b]) != value:
                    continue
                lower, upper = _sides(coef, sense, rhs)
                lo, hi = max(lo, lower), min(hi, upper)
            full[x] = lo if np.isfinite(lo) else (hi if np.isfinite(hi) else 0.0)
            if np.isfinite(lo) and np.isfinite(hi) and not rows:
                full[x] = 0.5 * (lo + hi)  # an input nothing depends on: the middle of its box
        return full


def eliminate_threshold_reals(model: ir.Model) -> tuple[ir.Model, Identity]:
    n = len(model.vars)
    uses = np.zeros(n, dtype=np.int64)
    single: dict = {}
    for con in model.constraints:
        uses[con.expr.idx] += 1
        if isinstance(con, (ir.ReifiedCon, ir.IndicatorCon)):
            uses[con.b] += 1
        if isinstance(con, ir.IndicatorCon) and len(con.expr.idx) == 1:
            single.setdefault(int(con.expr.idx[0]), []).append(con)
    if model.objective is not None:
        uses[model.objective.expr.idx] += 1
    drop = [i for i, v in enumerate(model.vars)
            if v.kind == ir.REAL and uses[i] == len(single.get(i, []))
            and np.isfinite(v.lb) and np.isfinite(v.ub)]
    if not drop:
        return model, IDENTITY
    drop_set = set(drop)
    keep = np.array([i for i in range(n) if i not in drop_set], dtype=np.int64)
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    elim = Elimination(n, keep)
    for x in drop:
        rows = [(c.b, c.value, float(c.expr.coef[0]), c.sense, c.rhs - c.expr.const) for c in single.get(x, [])]
        elim.eliminated[x] = (model.vars[x].lb, model.vars[x].ub, rows)

    def remap(lin: ir.Lin) -> ir.Lin:
        return ir.Lin(new_index[lin.idx], lin.coef.copy(), lin.const)

    out = ir.Model(vars=[model.vars[i] for i in keep], notes=list(model.notes),
                   branch_first=[int(new_index[i]) for i in model.branch_first if new_index[i] >= 0],
                   branch_shuffle=model.branch_shuffle)
    for con in model.constraints:
        if isinstance(con, ir.IndicatorCon) and len(con.expr.idx) == 1 and int(con.expr.idx[0]) in drop_set:
            continue
        if isinstance(con, ir.LinearCon):
            out.constraints.append(ir.LinearCon(remap(con.expr), con.sense, con.rhs, con.origin, con.name))
        elif isinstance(con, ir.ReifiedCon):
            out.constraints.append(ir.ReifiedCon(int(new_index[con.b]), remap(con.expr), con.sense, con.rhs, con.origin))
        else:
            out.constraints.append(ir.IndicatorCon(int(new_index[con.b]), con.value, remap(con.expr), con.sense,
                                                   con.rhs, con.origin, con.M))
    for x, (lb, ub, rows) in elim.eliminated.items():
        out.constraints.extend(_consistency(lb, ub, rows, new_index, model.vars[x].origin))
    out.objective = ir.Objective(model.objective.sense, remap(model.objective.expr)) if model.objective else None
    out.notes.append(f"{len(drop)} real variables decided by thresholds were eliminated")
    return out, elim


def _sides(coef: float, sense: str, rhs: float) -> tuple[float, float]:
    """(lower, upper) bound on x from `coef * x sense rhs` (coef != 0); -inf / inf for none."""
    bound = rhs / coef
    if sense == ir.EQ:
        return bound, bound
    if (sense == ir.GE) == (coef > 0):
        return bound, np.inf
    return -np.inf, bound


def _consistency(lb: float, ub: float, rows: list, new_index: np.ndarray, origin: str) -> list:
    """Rows over the literals of one eliminated variable's implications that hold exactly when
    the active implications leave a nonempty interval inside [lb, ub]."""
    sides = [((b, value), *_sides(coef, sense, rhs)) for b, value, coef, sense, rhs in rows]
    out = []
    for i, (lit_i, lower_i, upper_i) in enumerate(sides):
        if lower_i > min(ub, upper_i) or upper_i < lb:  # this implication alone leaves nothing
            out.append(_not_both(lit_i, lit_i, new_index, origin))
            continue
        for lit_j, lower_j, upper_j in sides[i + 1:]:
            if lit_i[0] == lit_j[0] and lit_i[1] != lit_j[1]:
                continue  # b and not b: never active together
            if lower_i > upper_j or lower_j > upper_i:
                out.append(_not_both(lit_i, lit_j, new_index, origin))
    return out


def _not_both(lit_i: tuple, lit_j: tuple, new_index: np.ndarray, origin: str) -> ir.LinearCon:
    """`lit_i + lit_j <= 1` with lit = b (value 1) or 1 - b (value 0); lit_i == lit_j: lit false."""
    terms: dict = {}
    rhs = 1.0
    for b, value in (lit_i, lit_j):
        b = int(new_index[b])
        terms[b] = terms.get(b, 0.0) + (1.0 if value == 1 else -1.0)
        rhs -= 0.0 if value == 1 else 1.0
    return ir.LinearCon(ir.Lin.of(terms), ir.LE, rhs, origin)
