"""IR -> IR reductions that return what they need to map a solution back (CVXPY style).

`eliminate_threshold_reals`: a real variable that appears only in implications
of the form `b -> x >= t` / `b -> x <= t` (binarized real inputs, as in
a VNNLIB box around an image) is decided by those Booleans alone. Dropping
it leaves a pure Boolean/integer model that CP-SAT can take; `invert` puts
back a value that satisfies every active implication and the box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ir


@dataclass
class Elimination:
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
                bound = rhs / coef
                if (sense == ir.GE) == (coef > 0):
                    lo = max(lo, bound)
                else:
                    hi = min(hi, bound)
            full[x] = lo if np.isfinite(lo) else (hi if np.isfinite(hi) else 0.0)
            if np.isfinite(lo) and np.isfinite(hi) and not rows:
                full[x] = 0.5 * (lo + hi)  # an input nothing depends on: the middle of its box
        return full


def eliminate_threshold_reals(model: ir.Model) -> tuple[ir.Model, Elimination | None]:
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
        return model, None
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
                   branch_first=[int(new_index[i]) for i in model.branch_first if new_index[i] >= 0])
    for con in model.constraints:
        if isinstance(con, ir.IndicatorCon) and len(con.expr.idx) == 1 and int(con.expr.idx[0]) in drop_set:
            continue
        if isinstance(con, ir.LinearCon):
            out.constraints.append(ir.LinearCon(remap(con.expr), con.sense, con.rhs, con.origin))
        elif isinstance(con, ir.ReifiedCon):
            out.constraints.append(ir.ReifiedCon(int(new_index[con.b]), remap(con.expr), con.sense, con.rhs, con.origin))
        else:
            out.constraints.append(ir.IndicatorCon(int(new_index[con.b]), con.value, remap(con.expr), con.sense,
                                                   con.rhs, con.origin, con.M))
    out.objective = ir.Objective(model.objective.sense, remap(model.objective.expr)) if model.objective else None
    out.notes.append(f"{len(drop)} real variables decided by thresholds were eliminated")
    return out, elim
