"""Z3: pseudo-Boolean constraints for Boolean rows (the seed's best Z3 mode), LIA/LRA
otherwise, `Optimize` for objectives. Coefficients become exact rationals."""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from ...core.options import SolveOptions
from ...core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, TIMEOUT, UNKNOWN, RawResult
from .. import ir
from .base import Backend, constant_row_holds, unique_names


Z3_MAX_BOOLS_WITH_REAL_OBJECTIVE = 32


class Z3Backend(Backend):
    name = "z3"
    module = "z3"
    capabilities = frozenset({ir.REAL, ir.INT, ir.BOOL})
    formats = ("smt2",)
    passes = ()  # native implications and exact rationals: the IR as it is

    def refusal(self, model: ir.Model):
        # Mixed integer/real arithmetic (LIRA) with an objective: z3's Optimize timed out
        # after 60 s on specs/inverse/nano_integer.pgen and contone_layers.pgen (HiGHS:
        # 0.2 s), with plain and bit-blasted integers alike. Booleans are fine.
        kinds = model.kinds()
        if ir.INT in kinds and ir.REAL in kinds:
            var = next(v for v in model.vars if v.kind == ir.INT)
            return (f"backend `z3` does not take models that mix integer and real variables "
                    f"(`{var.name}` from {var.origin} is int, and the model has real variables); "
                    "use highs or cbc")
        # Optimisation over reals with many Booleans: z3's Optimize searches the Boolean
        # space without an LP relaxation to prune it. Measured on specs/inverse/duotone_*.pgen
        # (68 Booleans, 474 reals): no answer in 120 s where HiGHS takes 5 s, also with a
        # linear network, the symba/basic engines and as a decision problem; every shipped
        # spec with <= 10 Booleans solves in seconds.
        n_bool = sum(v.kind == ir.BOOL for v in model.vars)
        if (model.objective is not None and model.objective.sense is not None and ir.REAL in kinds
                and n_bool > Z3_MAX_BOOLS_WITH_REAL_OBJECTIVE):
            return (f"backend `z3` does not optimise over real variables with more than "
                    f"{Z3_MAX_BOOLS_WITH_REAL_OBJECTIVE} Booleans (this model has {n_bool}: "
                    "network neurons, selections, abs); z3 has no LP relaxation to prune them. "
                    "Use highs or cbc, or `satisfy` for a feasibility question")
        return None

    def emit(self, model: ir.Model):
        import z3

        names = unique_names(model)
        xs = []
        assertions = []
        for n, v in zip(names, model.vars):
            if v.kind == ir.BOOL:
                xs.append(z3.Bool(n))
                if v.lb > v.ub:  # contradictory bounds: no solution, never a silent choice
                    assertions.append(z3.BoolVal(False))
                elif v.lb > 0 or v.ub < 1:  # a Boolean fixed by its bounds (a void border, a grain's seed)
                    assertions.append(xs[-1] == z3.BoolVal(v.lb > 0))
                continue
            x = z3.Int(n) if v.kind == ir.INT else z3.Real(n)
            xs.append(x)
            if np.isfinite(v.lb):
                assertions.append(x >= _num(v.lb, v.kind))
            if np.isfinite(v.ub):
                assertions.append(x <= _num(v.ub, v.kind))
        kinds = [v.kind for v in model.vars]

        def is_pb(lin):
            return all(kinds[i] == ir.BOOL for i in lin.idx.tolist()) and np.all(lin.coef == np.round(lin.coef))

        def arith(lin):
            terms = []
            for i, c in zip(lin.idx.tolist(), lin.coef.tolist()):
                x = xs[i]
                q = z3.RealVal(Fraction(c)) if kinds[i] == ir.REAL or c != round(c) else z3.IntVal(int(c))
                if kinds[i] == ir.BOOL:
                    terms.append(z3.If(x, q, 0))
                else:
                    terms.append(q * x)
            total = z3.Sum(terms) if terms else z3.RealVal(0)
            if lin.const:
                total = total + z3.RealVal(Fraction(lin.const))
            return total

        def row(lin, sense, rhs):
            if is_pb(lin) and len(lin.idx) > 0:
                pairs = [(xs[i], int(c)) for i, c in zip(lin.idx.tolist(), lin.coef.tolist())]
                k = Fraction(rhs) - Fraction(lin.const)
                if sense == ir.LE:
                    return z3.PbLe(pairs, int(np.floor(float(k))))
                if sense == ir.GE:
                    return z3.PbGe(pairs, int(np.ceil(float(k))))
                if k.denominator != 1:
                    return z3.BoolVal(False)
                return z3.PbEq(pairs, int(k))
            e = arith(lin)
            r = z3.RealVal(Fraction(rhs))
            return {ir.LE: e <= r, ir.GE: e >= r, ir.EQ: e == r}[sense]

        for con in model.constraints:
            if isinstance(con, ir.LinearCon):
                if len(con.expr.idx) == 0:
                    if not constant_row_holds(con):
                        assertions.append(z3.BoolVal(False))
                    continue
                assertions.append(row(con.expr, con.sense, con.rhs))
            elif isinstance(con, ir.ReifiedCon):
                assertions.append(xs[con.b] == row(con.expr, con.sense, con.rhs))
            elif isinstance(con, ir.IndicatorCon):
                lit = xs[con.b] if con.value == 1 else z3.Not(xs[con.b])
                assertions.append(z3.Implies(lit, row(con.expr, con.sense, con.rhs)))
        obj = model.objective
        objective = arith(obj.expr) if obj is not None and obj.sense is not None else None
        return {"xs": xs, "kinds": kinds, "assertions": assertions, "objective": objective,
                "sense": obj.sense if obj is not None else None}

    def _solver(self, native, options: SolveOptions):
        import z3

        if native["objective"] is None:
            s = z3.Solver()
        else:
            s = z3.Optimize()
        s.set("timeout", max(1, int(options.timeout * 1000)))
        z3.set_param("smt.random_seed", int(options.seed))
        s.add(*native["assertions"])
        handle = None
        if native["objective"] is not None:
            handle = s.minimize(native["objective"]) if native["sense"] == "min" else s.maximize(native["objective"])
        return s, handle

    def dump(self, native, fmt: str) -> str:
        s, _ = self._solver(native, SolveOptions())
        return s.sexpr() + "\n(check-sat)\n"

    def solve(self, native, options: SolveOptions) -> RawResult:
        import z3

        s, handle = self._solver(native, options)
        start = time.perf_counter()
        try:
            verdict = s.check()
        except z3.Z3Exception as e:
            return RawResult(ERROR, message=str(e), wall=time.perf_counter() - start)
        wall = time.perf_counter() - start
        if verdict == z3.unsat:
            return RawResult(INFEASIBLE, wall=wall, message="unsat")
        if verdict == z3.unknown:
            reason = s.reason_unknown()
            term = TIMEOUT if "timeout" in reason or "canceled" in reason else UNKNOWN
            return RawResult(term, wall=wall, message=reason)
        m = s.model()
        values = np.array([_value(m, x, k) for x, k in zip(native["xs"], native["kinds"])])
        objective, bound, term = 0.0, None, OPTIMAL
        if handle is not None:
            objective = _to_float(m.eval(native["objective"], model_completion=True))
            optimum = handle.value()  # what z3 proved: a number, or a term in `oo` / `epsilon`
            if "oo" in str(optimum):
                # sat with an unbounded objective: the model's value is no optimum and no bound
                # (measured: `optimal 1, bound 1` for max x0 - x1 s.t. x0 + x1 >= 1, reals free)
                return RawResult(ERROR, wall=wall, message=f"the objective is unbounded (z3: {optimum}): "
                                 "add bounds to the variables")
            if _is_number(optimum):
                bound = _to_float(optimum)
            else:  # a supremum not attained (`2 - epsilon`): a point, not the optimum
                term = FEASIBLE
        return RawResult(term, values, objective, bound, wall, message="sat")


def _num(v: float, kind: str):
    import z3

    return z3.IntVal(int(v)) if kind == ir.INT else z3.RealVal(Fraction(v))


def _is_number(val) -> bool:
    import z3

    return z3.is_int_value(val) or z3.is_rational_value(val) or z3.is_algebraic_value(val)


def _to_float(val) -> float:
    import z3

    if z3.is_rational_value(val):
        return float(Fraction(val.numerator_as_long(), val.denominator_as_long()))
    if z3.is_int_value(val):
        return float(val.as_long())
    if z3.is_algebraic_value(val):
        return float(val.approx(20).as_fraction())
    return float(str(val))


def _value(m, x, kind: str) -> float:
    import z3

    v = m.eval(x, model_completion=True)
    if kind == ir.BOOL:
        return 1.0 if z3.is_true(v) else 0.0
    return _to_float(v)
