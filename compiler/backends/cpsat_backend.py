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
    arr = np.asarray(values, dtype=np.float64)
    if not np.array_equal(arr, np.round(arr)):
        raise ValueError("a non-integral coefficient reached the cpsat backend: its passes include scale_to_integers")
    return arr.astype(np.int64).tolist()


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
                if v.lb > v.ub:  # contradictory bounds: no solution, never a silent choice
                    cm.AddBoolOr([])
                elif v.lb > 0 or v.ub < 1:  # a Boolean fixed by its bounds (a void border, a grain's seed)
                    cm.Add(xs[-1] == int(v.lb > 0))
            else:
                xs.append(cm.NewIntVar(int(math.ceil(v.lb)), int(math.floor(v.ub)), n))

        def linear(lin):
            # WeightedSum: one call instead of a Python sum (a 3x100 BNN on 256 pixels emits
            # in a fraction of the time)
            return cp_model.LinearExpr.WeightedSum([xs[i] for i in lin.idx.tolist()], _ints(lin.coef))

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
        if model.branch_first and not model.branch_shuffle:
            # decide the network's binarized inputs first: the rest then follows by propagation
            # (a binarized MNIST property: 0.7 s instead of a 120 s timeout, measured)
            cm.AddDecisionStrategy([xs[i] for i in model.branch_first], cp_model.CHOOSE_FIRST,
                                   cp_model.SELECT_MIN_VALUE)
        return {"model": cm, "xs": xs, "objective": obj, "fixed_search": bool(model.branch_first),
                "shuffle": list(model.branch_first) if model.branch_shuffle else None}

    def add_rows(self, native, rows: list) -> bool:
        from ortools.sat.python import cp_model

        xs, cm = native["xs"], native["model"]
        for con in rows:
            if not isinstance(con, ir.LinearCon) or np.any(con.expr.coef != np.round(con.expr.coef)) \
                    or (con.rhs - con.expr.const) != round(con.rhs - con.expr.const):
                return False
        for con in rows:
            e = cp_model.LinearExpr.WeightedSum([xs[i] for i in con.expr.idx.tolist()], _ints(con.expr.coef))
            r = int(round(con.rhs - con.expr.const))
            cm.Add({ir.LE: e <= r, ir.GE: e >= r, ir.EQ: e == r}[con.sense])
        return True

    def dump(self, native, fmt: str) -> str:
        return str(native["model"].Proto())

    def solve(self, native, options: SolveOptions) -> RawResult:
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(options.timeout)
        solver.parameters.random_seed = int(options.seed)
        solver.parameters.num_workers = max(1, int(options.threads))
        if options.work_limit is not None:
            solver.parameters.max_deterministic_time = float(options.work_limit)
        if native.get("fixed_search"):
            solver.parameters.search_branching = cp_model.FIXED_SEARCH
        if native.get("shuffle"):
            # porous images: pixels first in an order and with values drawn from the seed; and
            # two presolve steps off that cost more than they save on these models (a 16x16,
            # 2-grain BNN draw: 2-20 s -> 0.3-5 s, measured on 6 draws)
            rng = np.random.default_rng(int(options.seed))
            xs = native["xs"]
            order = rng.permutation(native["shuffle"])
            flip = rng.random(len(order)) < 0.5
            native["model"].Proto().search_strategy.clear()  # a solve again: this seed's order only
            native["model"].AddDecisionStrategy([xs[i].Not() if f else xs[i] for i, f in zip(order, flip)],
                                                 cp_model.CHOOSE_FIRST, cp_model.SELECT_MIN_VALUE)
            solver.parameters.find_big_linear_overlap = False
            solver.parameters.presolve_inclusion_work_limit = 0
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
