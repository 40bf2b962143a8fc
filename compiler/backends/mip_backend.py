"""CBC and HiGHS through python-mip. Reified and indicator constraints reach it as exact
big-M rows (passes.big_m)."""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from ...core.options import SolveOptions
from ...core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, TIMEOUT, UNKNOWN, RawResult
from .. import ir
from ..passes.big_m import linearize_implications
from .base import Backend, constant_row_holds, unique_names

UNBOUNDED_OBJECTIVE = 1e20  # CBC's "optimal" on an unbounded LP lies out here; no real optimum does
FREE = 1e30  # a variable bound read back as infinite (HiGHS: inf; CBC: the largest float)


class MipBackend(Backend):
    module = "mip"
    capabilities = frozenset({ir.REAL, ir.INT, ir.BOOL})
    formats = ("lp", "mps")
    passes = (linearize_implications,)
    solver_name = ""

    def emit(self, model: ir.Model):
        import mip

        m = mip.Model(solver_name=self.solver_name)
        m.verbose = 0
        names = unique_names(model)
        kind = {ir.REAL: mip.CONTINUOUS, ir.INT: mip.INTEGER, ir.BOOL: mip.BINARY}
        xs = [m.add_var(name=n, lb=v.lb if np.isfinite(v.lb) else -mip.INF,
                        ub=v.ub if np.isfinite(v.ub) else mip.INF, var_type=kind[v.kind])
              for n, v in zip(names, model.vars)]

        def expr(lin: ir.Lin):
            return mip.xsum(float(c) * xs[i] for i, c in zip(lin.idx.tolist(), lin.coef.tolist())) + lin.const

        def add(lin, sense, rhs, name):
            e = expr(lin)
            if sense == ir.LE:
                m.add_constr(e <= rhs, name=name)
            elif sense == ir.GE:
                m.add_constr(e >= rhs, name=name)
            else:
                m.add_constr(e == rhs, name=name)

        for k, con in enumerate(model.constraints):
            if not isinstance(con, ir.LinearCon):
                raise TypeError(f"{type(con).__name__} reached backend {self.name}: its passes must linearize it")
            name = con.name or f"c{k}"
            if len(con.expr.idx) == 0:
                if not constant_row_holds(con):  # a false constant row: infeasible
                    z = m.add_var(name=f"false_{k}", lb=0.0, ub=0.0)
                    m.add_constr(z >= 1, name=name)
                continue
            add(con.expr, con.sense, con.rhs, name)
        obj = model.objective
        if obj is not None and obj.sense is not None:
            m.objective = mip.minimize(expr(obj.expr)) if obj.sense == "min" else mip.maximize(expr(obj.expr))
        return (m, xs, obj)

    def dump(self, native, fmt: str) -> str:
        m = native[0]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, f"model.{fmt}")
            m.write(path)
            with open(path) as f:
                return f.read()

    def solve(self, native, options: SolveOptions) -> RawResult:
        import mip

        m, xs, obj = native
        m.seed = int(options.seed)
        m.threads = int(options.threads)
        m.verbose = 1 if options.verbose else 0
        start = time.perf_counter()
        try:
            status = m.optimize(max_seconds=float(options.timeout))
        except Exception as e:  # python-mip raises on solver failures; report, never crash
            return RawResult(ERROR, message=f"{type(e).__name__}: {e}", wall=time.perf_counter() - start)
        wall = time.perf_counter() - start
        S = mip.OptimizationStatus
        if status == S.UNBOUNDED:  # HiGHS: one "solution" without values (measured), no optimum
            return RawResult(ERROR, message="the model is unbounded: add bounds to the variables", wall=wall)
        has_sol = m.num_solutions > 0 and m.objective_value is not None
        values = np.array([x.x for x in xs], dtype=np.float64) if has_sol else None
        objective = None
        bound = None
        if obj is not None and obj.sense is not None:
            if has_sol:
                objective = float(m.objective_value)
            try:
                bound = float(m.objective_bound)
            except Exception:
                bound = None
        elif has_sol:
            objective = 0.0
        if status == S.OPTIMAL and objective is not None and abs(objective) >= UNBOUNDED_OBJECTIVE \
                and any(max(abs(x.lb), abs(x.ub)) >= FREE for x in xs):
            # CBC calls an unbounded LP optimal at a point far along the ray (measured: 3.05e20 for
            # max x0 - x1 s.t. x0 + x1 >= 1, reals free): neither an optimum nor a bound
            return RawResult(ERROR, message="the model is unbounded: add bounds to the variables", wall=wall)
        if status == S.OPTIMAL and objective is not None and all(x.var_type == mip.CONTINUOUS for x in xs):
            # a pure LP: its optimum is its own bound (LP duality); HiGHS through python-mip
            # reports no MIP dual bound for it (measured: 0 beside an optimum of 2.2)
            bound = objective
        if status == S.OPTIMAL:
            term = OPTIMAL
        elif status == S.FEASIBLE:
            term = FEASIBLE
        elif status in (S.INFEASIBLE, S.INT_INFEASIBLE):
            term = INFEASIBLE
        elif status == S.NO_SOLUTION_FOUND:
            term = TIMEOUT if wall >= 0.95 * options.timeout else UNKNOWN
        else:
            term = UNKNOWN
        return RawResult(term, values, objective, bound, wall, message=str(status))


class CbcBackend(MipBackend):
    name = "cbc"
    solver_name = "CBC"
    # CBC's LP writer rounds coefficients to 5 decimals (seen in a golden file), which is not
    # the model pgen solves; LP and MPS files are written through HiGHS instead (same model).
    formats = ()


class HighsBackend(MipBackend):
    name = "highs"
    solver_name = "HiGHS"
    module = "highsbox"
