"""Keep apart: a new solution at least D away, in L1, from each solution already found.

`keep_apart(solutions, apart, coords)` is a pass: for each given solution y (a value vector
over the model's variables) it adds one row saying `sum_{i in coords} |x_i - y_i| >= D`.
The distance is not convex, so each term is written exactly by what its variable is:

- a Boolean: `x_i` where y_i = 0, `1 - x_i` where y_i = 1 (Hamming; no new variable);
- an integer or real at a bound of its box: `x_i - lb` or `ub - x_i` (linear, exact);
- otherwise a new `t_i` in [0, max(ub - y_i, y_i - lb)] (integer for an integer x_i) and a
  Boolean `side_i` choosing the side: `side_i = 1 -> t_i <= x_i - y_i`, `side_i = 0 ->
  t_i <= y_i - x_i` (indicator constraints: native on CP-SAT and Z3, big-M from the box on
  the MILP backends), so `t_i <= |x_i - y_i|` and t_i can reach it.

A variable without a finite box cannot be kept apart exactly: the pass refuses it (E030).
With D = 1 over Boolean and integer coordinates this is a no-good over those coordinates
only (compiler.passes.no_good cuts over every discrete variable of the model). The inverse
drops the added variables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.errors import PgenError
from .. import ir
from .chain import IDENTITY, DropAdded, Identity


def _row(out: ir.Model, y: np.ndarray, apart: float, coords: tuple, origin: str) -> ir.LinearCon:
    """Add the row keeping the model's solutions `apart` from `y` (and its helpers) to `out`."""
    terms: dict = {}
    rhs = float(apart)
    for i in coords:
        var = out.vars[i]
        if var.lb == var.ub:
            continue  # a fixed coordinate never differs
        if not (math.isfinite(var.lb) and math.isfinite(var.ub)):
            raise PgenError("E030", f"cannot keep solutions apart in `{var.name}`: it has no finite bounds")
        yi = min(max(float(y[i]), var.lb), var.ub)
        if var.kind in (ir.BOOL, ir.INT):
            yi = float(round(yi))
        if var.kind == ir.BOOL:
            terms[i] = terms.get(i, 0.0) + (-1.0 if yi == 1.0 else 1.0)
            rhs -= yi
        elif yi <= var.lb:   # x - lb
            terms[i] = terms.get(i, 0.0) + 1.0
            rhs += yi
        elif yi >= var.ub:   # ub - x
            terms[i] = terms.get(i, 0.0) - 1.0
            rhs -= yi
        else:
            kind = ir.INT if var.kind == ir.INT else ir.REAL
            t = out.add_var(f"{var.name}__apart", kind, 0.0, max(var.ub - yi, yi - var.lb), origin)
            side = out.add_var(f"{var.name}__side", ir.BOOL, 0, 1, origin)
            out.constraints.append(ir.IndicatorCon(side, 1, ir.Lin.of({t: 1.0, i: -1.0}), ir.LE, -yi, origin))
            out.constraints.append(ir.IndicatorCon(side, 0, ir.Lin.of({t: 1.0, i: 1.0}), ir.LE, yi, origin))
            terms[t] = 1.0
    return ir.LinearCon(ir.Lin.of(terms), ir.GE, rhs, origin, "apart")


@dataclass(frozen=True)
class KeepApart:
    """The pass `keep_apart(...)` returns (an object, so that it pickles into a worker)."""
    solutions: tuple
    apart: float
    coords: tuple

    def __call__(self, model: ir.Model) -> tuple[ir.Model, Identity]:
        if not self.solutions:
            return model, IDENTITY
        n_old = len(model.vars)
        out = ir.Model(vars=list(model.vars), constraints=list(model.constraints), objective=model.objective,
                       notes=list(model.notes), branch_first=list(model.branch_first),
                       branch_shuffle=model.branch_shuffle)
        for k, y in enumerate(self.solutions):
            out.constraints.append(_row(out, y, self.apart, self.coords, f"apart from solution {k}"))
        out.notes.append(f"{len(self.solutions)} solutions kept at least {self.apart:g} away (L1)")
        return out, (DropAdded(n_old) if len(out.vars) > n_old else IDENTITY)


def keep_apart(solutions, apart: float, coords) -> KeepApart:
    """A pass keeping the model's solutions at least `apart` (L1 over the variables `coords`)
    from each of `solutions` (value vectors over the model's variables)."""
    return KeepApart(tuple(np.asarray(s, dtype=np.float64) for s in solutions), float(apart),
                     tuple(int(i) for i in coords))
