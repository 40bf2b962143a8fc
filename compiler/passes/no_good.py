"""No-good cuts: exclude assignments already found, so the solver must return another.

`exclude(solutions)` is a pass: for each given solution (a value vector over the model's
variables) it adds one cut saying that the Boolean and bounded integer variables do not
all take that solution's values. Booleans enter the cut directly
(`sum_{s_i=0} x_i + sum_{s_i=1} (1 - x_i) >= 1`); an integer `x` with value v gets two new
Booleans, `below -> x <= v - 1` and `above -> x >= v + 1` (indicator constraints, exact on
every backend), which count in the cut (a side that the box rules out is left out). Real
and unbounded integer variables are not part of the assignment: two solutions that differ
only there count as the same. The inverse drops the added Booleans.

Repeatedly solving with every solution found so far excluded enumerates distinct
solutions (porous generation's N distinct structures).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import ir
from .chain import IDENTITY, DropAdded, Identity


def _discrete(model: ir.Model) -> tuple[list, list]:
    """(Boolean indices, bounded non-fixed integer indices): the variables a cut is over."""
    bools, ints = [], []
    for i, v in enumerate(model.vars):
        if v.kind == ir.BOOL:
            bools.append(i)
        elif v.kind == ir.INT and math.isfinite(v.lb) and math.isfinite(v.ub) and v.lb < v.ub:
            ints.append(i)
    return bools, ints


def _cut(out: ir.Model, values: np.ndarray, bools: list, ints: list, origin: str) -> ir.LinearCon:
    """Add the cut excluding `values` (and its helper Booleans and implications) to `out`."""
    terms: dict = {}
    rhs = 1.0
    for i in bools:
        if round(float(values[i])) == 1:  # 1 - x_i
            terms[i] = -1.0
            rhs -= 1.0
        else:
            terms[i] = 1.0
    for i in ints:
        v, var = round(float(values[i])), out.vars[i]
        if v - 1 >= var.lb:
            below = out.add_var(f"{var.name}__below_{v}", ir.BOOL, 0, 1, origin)
            out.constraints.append(ir.IndicatorCon(below, 1, ir.Lin.of({i: 1.0}), ir.LE, float(v - 1), origin))
            terms[below] = 1.0
        if v + 1 <= var.ub:
            above = out.add_var(f"{var.name}__above_{v}", ir.BOOL, 0, 1, origin)
            out.constraints.append(ir.IndicatorCon(above, 1, ir.Lin.of({i: 1.0}), ir.GE, float(v + 1), origin))
            terms[above] = 1.0
    return ir.LinearCon(ir.Lin.of(terms), ir.GE, rhs, origin)


@dataclass(frozen=True)
class Exclude:
    """The pass `exclude(solutions)` returns (an object, so that it pickles into a worker)."""
    solutions: tuple

    def __call__(self, model: ir.Model) -> tuple[ir.Model, Identity]:
        if not self.solutions:
            return model, IDENTITY
        n_old = len(model.vars)
        bools, ints = _discrete(model)
        out = ir.Model(vars=list(model.vars), constraints=list(model.constraints), objective=model.objective,
                       notes=list(model.notes), branch_first=list(model.branch_first),
                   branch_shuffle=model.branch_shuffle)
        for k, values in enumerate(self.solutions):
            out.constraints.append(_cut(out, np.asarray(values, dtype=np.float64), bools, ints, f"no-good cut {k}"))
        out.notes.append(f"{len(self.solutions)} solutions excluded by no-good cuts")
        return out, (DropAdded(n_old) if len(out.vars) > n_old else IDENTITY)


def exclude(solutions) -> Exclude:
    """A pass that excludes each of `solutions` (value vectors over the model's variables)."""
    return Exclude(tuple(np.asarray(s, dtype=np.float64) for s in solutions))
