"""OR-Tools CP-SAT: integer models only. Its passes drop real variables decided by Boolean
thresholds and scale every coefficient to an integer exactly (or refuse the model: it never
rounds); emit then only converts the integral floats to Python ints."""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np

from ...core.options import SolveOptions
from ...core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, TIMEOUT, UNKNOWN, RawResult
from .. import ir
from ..passes.integer_scaling import scale_to_integers
from ..passes.threshold import eliminate_threshold_reals
from .base import Backend, constant_row_holds, unique_names


def _ints(values) -> list:
    """Integral floats (after scale_to_integers) as Python ints; anything else is a bug upstream."""
    out = [int(v) for v in values]
    if any(o != v for o, v in zip(out, values)):
        raise ValueError("a non-integral coefficient reached the cpsat backend: its passes include scale_to_integers")
    return out


class CpSatBackend(Backend):
    name = "cpsat"
    module = "ortools"
    capabilities = frozenset({ir.INT, ir.BOOL})
    formats = ("cpsat.txt",)
    passes = (eliminate_threshold_reals, scale_to_integers)

    def refusal(self, model: ir.Model) -> Optional[str]:
        why = super().refusal(model)
        if why:
            return why + "; use highs, cbc or z3 for models with real variables"
        for v in model.vars:
            if not (np.isfinite(v.lb) and np.isfinite(v.ub)):
                return f"backend `cpsat` needs finite integer bounds; `{v.name}` is unbounded"
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

        def linear(lin):
            return sum(c * xs[i] for i, c in zip(lin.idx.tolist(), _ints(lin.coef)))

        def constraint(lin, sense, rhs):
            e, r = linear(lin), _ints([rhs - lin.const])[0]
            return {ir.LE: e <= r, ir.GE: e >= r, ir.EQ: e == r}[sense]

        for con in model.constraints:
            if isinstance(con, ir.LinearCon):
                if len(con.expr.idx) == 0:
                    if not constant_row_holds(con):
                        cm.AddBoolOr([])  # false
                    continue
                cm.Add(constraint(con.expr, con.sense, con.rhs))
            elif isinstance(con, ir.ReifiedCon):
                e, r = linear(con.expr), _ints([con.rhs - con.expr.const])[0]
                y = xs[con.b]
                if con.sense == ir.GE:  # the left side is an integer: not(e >= r) is e <= r - 1
                    cm.Add(e >= r).OnlyEnforceIf(y)
                    cm.Add(e <= r - 1).OnlyEnforceIf(y.Not())
                else:
                    cm.Add(e <= r).OnlyEnforceIf(y)
                    cm.Add(e >= r + 1).OnlyEnforceIf(y.Not())
            elif isinstance(con, ir.IndicatorCon):
                lit = xs[con.b] if con.value == 1 else xs[con.b].Not()
                cm.Add(constraint(con.expr, con.sense, con.rhs)).OnlyEnforceIf(lit)
        obj = model.objective
        if obj is not None and obj.sense is not None and len(obj.expr.idx):
            (cm.Minimize if obj.sense == "min" else cm.Maximize)(linear(obj.expr))
        if model.branch_first:
            # decide the network's binarized inputs first: the rest then follows by propagation
            # (a binarized MNIST property: 0.7 s instead of a 120 s timeout, measured)
            cm.AddDecisionStrategy([xs[i] for i in model.branch_first], cp_model.CHOOSE_FIRST,
                                   cp_model.SELECT_MIN_VALUE)
        return {"model": cm, "xs": xs, "objective": obj, "fixed_search": bool(model.branch_first)}

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
                bound = solver.BestObjectiveBound() + obj.expr.const if len(obj.expr.idx) else objective
            term = OPTIMAL if status == cp_model.OPTIMAL else FEASIBLE
            return RawResult(term, values, objective, bound, wall, message=solver.StatusName(status))
        if status == cp_model.INFEASIBLE:
            return RawResult(INFEASIBLE, wall=wall, message="INFEASIBLE")
        if status == cp_model.MODEL_INVALID:
            return RawResult(ERROR, wall=wall, message="CP-SAT says the model is invalid: "
                             + native["model"].Validate())
        term = TIMEOUT if wall >= 0.95 * options.timeout else UNKNOWN
        return RawResult(term, wall=wall, message=solver.StatusName(status))
