"""Exact polishing of a design: the MILP restricted to the neighbourhood of its pattern.

A design found by descent (runtime/penalty_adjoint.py) is near a good point but not on it:
float32 steps, a penalty's margin. Fixing the design's pattern (every ReLU's side, every
`abs`'s sign, every choice binary of the lowered model) turns the MILP into an LP whose
optimum is an exact vertex of the same region, usually far better in the last digits
(an L1 distance of 1e-3 becomes 1e-7). Binaries whose other value the current point also
satisfies (a neuron exactly at 0: the LP stopped on the region's border) are left free, so
the next solve can step into the neighbouring region; repeated until nothing improves.

Every step is a solve of the lowered model itself with some binaries fixed, so each point is
feasible for the whole model; the parent verifies the answer like any other candidate.
SciPy's HiGHS (no python-mip or OR-Tools library in this process).
"""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np

from ..compiler import ir

TOL = 1e-7            # a constraint holds at a point within this x max(1, |rhs|)
STEP_SECONDS = 5.0    # each restricted solve's limit


def applies(model: ir.Model) -> Optional[str]:
    """Why a model cannot be polished this way, or None."""
    if model.objective is None or model.objective.sense is None:
        return "no objective"
    if not any(v.kind in (ir.BOOL, ir.INT) for v in model.vars):
        return "no binaries (the model is an LP already)"
    return None


def _arrays(model: ir.Model):
    from ..compiler.bounds import milp_arrays

    cons, bounds = milp_arrays(model)
    c = np.zeros(len(model.vars))
    obj = model.objective
    c[obj.expr.idx] = obj.expr.coef * (1.0 if obj.sense == "min" else -1.0)
    return c, cons, bounds


def _solve(c, cons, lb, ub, integrality, seconds):
    from scipy.optimize import Bounds, milp

    from ..compiler.bounds import _native_stdout_silenced

    with _native_stdout_silenced():
        res = milp(c, integrality=integrality, bounds=Bounds(lb, ub), constraints=cons,
                   options={"time_limit": max(0.1, seconds), "disp": False})
    return res.x if res.x is not None and res.status in (0, 1) else None


def _flippable(model: ir.Model, z: np.ndarray, ints: np.ndarray) -> np.ndarray:
    """Boolean mask of the binaries whose other value the point z also satisfies in every
    indicator they guard (the point sits on the border between their two sides)."""
    ok = np.zeros(len(model.vars), dtype=bool)
    ok[ints] = True
    for con in model.constraints:
        if isinstance(con, ir.IndicatorCon):
            if round(z[con.b]) == con.value:
                continue   # this branch holds now; the question is the other value's branch
            v, slack = con.expr.value(z), TOL * max(1.0, abs(con.rhs))
            holds = (v <= con.rhs + slack if con.sense == ir.LE else v >= con.rhs - slack if con.sense == ir.GE
                     else abs(v - con.rhs) <= slack)
            if not holds:
                ok[con.b] = False
        elif isinstance(con, ir.ReifiedCon):
            ok[con.b] = False   # its value is the row's truth: flipping breaks it
    return ok


def polish(model: ir.Model, var_base: dict, checked, values: dict, deadline: float,
           rounds: int = 20) -> Optional[tuple[np.ndarray, float]]:
    """(the model's solution vector, its objective in the model's sense) reached from the
    design `values` (spec names) by repeated pattern-restricted solves, or None when the
    design does not complete to a solution of the model (it violates it)."""
    c, cons, bounds = _arrays(model)
    lb, ub = bounds[:, 0].copy(), bounds[:, 1].copy()
    integrality = np.array([0 if v.kind == ir.REAL else 1 for v in model.vars])
    ints = np.flatnonzero(integrality)
    spec_cols = []
    for name, info in checked.vars.items():
        n = int(np.prod(info.shape)) if info.shape else 1
        spec_cols.append((np.arange(var_base[name], var_base[name] + n), np.asarray(values[name], np.float64).reshape(-1)))
    # 1. complete: the design fixed, every other column (network values, signs) follows
    flb, fub = lb.copy(), ub.copy()
    for cols, x in spec_cols:
        x = np.clip(x, lb[cols], ub[cols])
        flb[cols], fub[cols] = x, x
    z = _solve(c, cons, flb, fub, integrality, min(STEP_SECONDS, deadline - time.perf_counter()))
    if z is None:
        return None
    best = float(c @ z)
    # 2. the pattern's region (its border binaries free), again while it improves
    for _ in range(rounds):
        left = deadline - time.perf_counter()
        if left <= 0.2:
            break
        free = _flippable(model, z, ints)
        rlb, rub = lb.copy(), ub.copy()
        fixed = ints[~free[ints]]
        rlb[fixed] = rub[fixed] = np.round(z[fixed])
        z1 = _solve(c, cons, rlb, rub, integrality, min(STEP_SECONDS, left))
        if z1 is None:
            break
        value = float(c @ z1)
        if value >= best - 1e-9 * max(1.0, abs(best)):
            if value < best:
                z, best = z1, value
            break
        z, best = z1, value
    return z, best * (1.0 if model.objective.sense == "min" else -1.0) + model.objective.expr.const


def objective_floor(model):
    """A proved bound on a minimised objective from the model's variable boxes alone
    (e.g. 0 for an L1 distance), or None (maximised, or unbounded)."""
    obj = model.objective
    if obj is None or obj.sense != "min":
        return None
    low, _ = obj.expr.bounds(*model.bounds_arrays())
    return low if math.isfinite(low) else None
