"""OR-Tools CP-SAT: integer models only. Float coefficients are scaled exactly:
every float64 is a dyadic rational, so one power of two per row makes it integral,
or the backend refuses the model (it never rounds)."""
from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Optional

import numpy as np

from ...core.options import SolveOptions
from ...core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, TIMEOUT, UNKNOWN, RawResult
from .. import ir
from .base import Backend, constant_row_holds, unique_names

MAX_SHIFT = 40          # at most 2^40 as a row's scale factor
MAX_MAGNITUDE = 2 ** 53  # keep every scaled number exactly representable


class ScalingError(ValueError):
    pass


def scale_coefs(coefs) -> tuple[list, int]:
    """Smallest power of two 2^k that makes every coefficient integral (exact)."""
    values = [Fraction(float(c)) for c in coefs]
    k = max((v.denominator.bit_length() - 1 for v in values), default=0)  # dyadic denominators
    if k > MAX_SHIFT:
        raise ScalingError(f"a coefficient needs a scale of 2^{k}")
    scaled = [v * (1 << k) for v in values]
    if any(abs(s) > MAX_MAGNITUDE for s in scaled):
        raise ScalingError("scaled coefficients exceed 2^53")
    return [int(s) for s in scaled], k


def scale_row(coefs, rhs: float, sense: str) -> tuple[list, Optional[int]]:
    """Integer coefficients and rhs for `sum(c x) sense rhs` over integer x, exactly.

    With integral scaled coefficients the left side is an integer, so the
    scaled rhs may be rounded in the direction that keeps the same solutions
    (ceil for >=, floor for <=); an equality with a fractional rhs has no
    solution (None).
    """
    ints, k = scale_coefs(coefs)
    r = Fraction(float(rhs)) * (1 << k)
    if sense == ir.GE:
        return ints, math.ceil(r)
    if sense == ir.LE:
        return ints, math.floor(r)
    return ints, (int(r) if r.denominator == 1 else None)


class CpSatBackend(Backend):
    name = "cpsat"
    module = "ortools"
    capabilities = frozenset({ir.INT, ir.BOOL})
    formats = ("cpsat.txt",)

    def refusal(self, model: ir.Model) -> Optional[str]:
        why = super().refusal(model)
        if why:
            return why + "; use highs, cbc or z3 for models with real variables"
        for v in model.vars:
            if not (np.isfinite(v.lb) and np.isfinite(v.ub)):
                return f"backend `cpsat` needs finite integer bounds; `{v.name}` is unbounded"
        try:
            for con in model.constraints:
                scale_coefs(con.expr.coef)
            if model.objective is not None and model.objective.sense is not None:
                scale_coefs(model.objective.expr.coef)
        except ScalingError as e:
            return f"backend `cpsat` cannot scale a coefficient to an integer exactly ({e})"
        return None

    def emit(self, model: ir.Model):
        from ortools.sat.python import cp_model

        cm = cp_model.CpModel()
        names = unique_names(model)
        xs = []
        for n, v in zip(names, model.vars):
            if v.kind == ir.BOOL:
                xs.append(cm.NewBoolVar(n))
            else:
                xs.append(cm.NewIntVar(int(math.ceil(v.lb)), int(math.floor(v.ub)), n))

        def constraint(lin, sense, rhs):
            coefs, r = scale_row(lin.coef, rhs - lin.const, sense)
            if r is None:
                return cm.NewConstant(0) == 1  # an equality no integer point meets
            e = sum(c * xs[i] for i, c in zip(lin.idx.tolist(), coefs))
            return {ir.LE: e <= r, ir.GE: e >= r, ir.EQ: e == r}[sense]

        for con in model.constraints:
            if isinstance(con, ir.LinearCon):
                if len(con.expr.idx) == 0:
                    if not constant_row_holds(con):
                        cm.AddBoolOr([])  # false
                    continue
                cm.Add(constraint(con.expr, con.sense, con.rhs))
            elif isinstance(con, ir.ReifiedCon):
                coefs, r = scale_row(con.expr.coef, con.rhs - con.expr.const, con.sense)
                e = sum(c * xs[i] for i, c in zip(con.expr.idx.tolist(), coefs))
                y = xs[con.b]
                if con.sense == ir.GE:  # the scaled side is an integer: not(e >= r) is e <= r - 1
                    cm.Add(e >= r).OnlyEnforceIf(y)
                    cm.Add(e <= r - 1).OnlyEnforceIf(y.Not())
                else:
                    cm.Add(e <= r).OnlyEnforceIf(y)
                    cm.Add(e >= r + 1).OnlyEnforceIf(y.Not())
            elif isinstance(con, ir.IndicatorCon):
                lit = xs[con.b] if con.value == 1 else xs[con.b].Not()
                cm.Add(constraint(con.expr, con.sense, con.rhs)).OnlyEnforceIf(lit)
        obj = model.objective
        scale = 1
        if obj is not None and obj.sense is not None and len(obj.expr.idx):
            coefs, k = scale_coefs(obj.expr.coef)
            scale = 1 << k
            e = sum(c * xs[i] for i, c in zip(obj.expr.idx.tolist(), coefs))
            (cm.Minimize if obj.sense == "min" else cm.Maximize)(e)
        if model.branch_first:
            # decide the network's binarized inputs first: the rest then follows by propagation
            # (a binarized MNIST property: 0.7 s instead of a 120 s timeout, measured)
            cm.AddDecisionStrategy([xs[i] for i in model.branch_first], cp_model.CHOOSE_FIRST,
                                   cp_model.SELECT_MIN_VALUE)
        return {"model": cm, "xs": xs, "scale": scale, "objective": obj, "fixed_search": bool(model.branch_first)}

    def dump(self, native, fmt: str) -> str:
        return str(native["model"].Proto())

    def solve(self, native, options: SolveOptions) -> RawResult:
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(options.timeout)
        solver.parameters.random_seed = int(options.seed)
        solver.parameters.num_workers = max(1, int(options.threads))
        if native.get("fixed_search"):
            solver.parameters.search_branching = cp_model.FIXED_SEARCH
        start = time.perf_counter()
        status = solver.Solve(native["model"])
        wall = time.perf_counter() - start
        obj = native["objective"]
        has_obj = obj is not None and obj.sense is not None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = np.array([float(solver.Value(x)) for x in native["xs"]])
            objective = obj.expr.value(values) if has_obj else 0.0
            bound = None
            if has_obj:
                bound = solver.BestObjectiveBound() / native["scale"] + obj.expr.const if len(obj.expr.idx) else objective
            term = OPTIMAL if status == cp_model.OPTIMAL else FEASIBLE
            return RawResult(term, values, objective, bound, wall, message=solver.StatusName(status))
        if status == cp_model.INFEASIBLE:
            return RawResult(INFEASIBLE, wall=wall, message="INFEASIBLE")
        if status == cp_model.MODEL_INVALID:
            return RawResult(ERROR, wall=wall, message="CP-SAT says the model is invalid: "
                             + native["model"].Validate())
        term = TIMEOUT if wall >= 0.95 * options.timeout else UNKNOWN
        return RawResult(term, wall=wall, message=solver.StatusName(status))
