"""Checked model -> IR. Expressions become affine arrays; nonlinear atoms become
auxiliary variables, each with the exact encoding its context needs.

Polarity: an expression is lowered knowing whether the surrounding context
only pushes it down (+1: minimised, or bounded above), only up (-1), or both
(0). `abs`/`max` pushed down need no binary (epigraph); otherwise they get
the exact binary encoding. Network applications are always exact.
"""
from __future__ import annotations

import itertools
import math
from typing import Optional, Union

import numpy as np

from ..dsl import ast as A
from ..core.errors import PgenError
from ..core.options import DEFAULT_STRICT_DELTA
from . import ir
from .affine import Aff
from .check import Checked
from .nn.encode import BoundBudget, encode_network
from .nn.session import run_network

Value = Union[np.ndarray, Aff]
MAX_RANGE = 10_000_000  # one `for` range is unrolled; beyond this it is surely a typo


def _where(span: A.Span, path: Optional[str]) -> str:
    return f"{path or '<input>'}:{span.line}:{span.column}"


def iterate(iters, evaluator, env: dict):
    """All index environments of `for i in a..b, j in c..d` (inclusive ranges)."""
    if not iters:
        yield dict(env)
        return
    first, rest = iters[0], iters[1:]
    lo = evaluator.int_scalar(first.lo, env)
    hi = evaluator.int_scalar(first.hi, env)
    if hi - lo >= MAX_RANGE:
        raise PgenError("E016", f"the range {lo}..{hi} has more than {MAX_RANGE:,} values", first.span,
                        hint="index ranges are unrolled into constraints; use a smaller range")
    for v in range(lo, hi + 1):
        inner = dict(env)
        inner[first.var] = v
        yield from iterate(rest, evaluator, inner)


class Lowerer:
    def __init__(self, checked: Checked):
        self.checked = checked
        self.path = checked.path
        self.model = ir.Model()
        self.var_base: dict = {}
        self.net_cache: dict = {}
        self.delta = float(checked.options.get("strict_delta", DEFAULT_STRICT_DELTA))
        self.bounds = BoundBudget(checked.options.get("bounds", "lp"), float(checked.options.get("bound_time", 20.0)))

    # ------------------------------------------------------------ entry point
    def lower(self) -> ir.Model:
        for info in self.checked.vars.values():
            self._declare(info)
        for req in self.checked.requires:
            origin = _where(req.span, self.path)
            for env in iterate(req.iters, self, {}):
                self._require(req.constraint, env, origin)
        for sel in self.checked.selects:
            self._select(sel)
        obj = self.checked.objective
        if obj.sense == "satisfy":
            self.model.objective = ir.Objective(None, ir.Lin.of({}))
        else:
            pol = 1 if obj.sense == "minimize" else -1
            v = self.eval(obj.expr, {}, pol)
            lin = self._scalar_lin(v, obj.expr)
            self.model.objective = ir.Objective("min" if pol == 1 else "max", lin)
        return self.model

    # ------------------------------------------------------------ variables
    def _declare(self, info) -> None:
        origin = _where(info.decl.span, self.path)
        base = len(self.model.vars)
        self.var_base[info.name] = base
        kind = {"bool": ir.BOOL, "int": ir.INT, "real": ir.REAL}[info.kind]
        shape = info.shape
        for flat, pos in enumerate(itertools.product(*[range(d) for d in shape])):
            name = info.name + ("[" + ",".join(map(str, pos)) + "]" if shape else "")
            self.model.add_var(name, kind, float(info.lb.flat[flat]), float(info.ub.flat[flat]), origin)
        if info.values is not None and len(info.values) > 1:
            n = int(np.prod(shape)) if shape else 1
            vals = info.values
            for k in range(n):
                x = base + k
                name = self.model.vars[x].name
                if info.step is not None:  # x = first + step * m, m integer
                    m = self.model.add_var(f"{name}.step", ir.INT, 0, len(vals) - 1, origin)
                    self.model.constraints.append(ir.LinearCon(
                        ir.Lin.of({x: 1.0, m: -float(info.step)}), ir.EQ, float(vals[0]), origin))
                else:  # one-hot choice of a value
                    sel = [self.model.add_var(f"{name}.is[{v}]", ir.BOOL, 0, 1, origin) for v in vals]
                    self.model.constraints.append(ir.LinearCon(ir.Lin.of({b: 1.0 for b in sel}), ir.EQ, 1.0, origin))
                    terms = {x: 1.0}
                    for b, v in zip(sel, vals):
                        terms[b] = -float(v)
                    self.model.constraints.append(ir.LinearCon(ir.Lin.of(terms), ir.EQ, 0.0, origin))

    def _ncols(self) -> int:
        return len(self.model.vars)

    # ------------------------------------------------------------ constants
    def eval_const(self, e, env) -> np.ndarray:
        """Evaluate `e` and insist the result is constant."""
        v = self.eval(e, env, 0)
        if isinstance(v, Aff):
            if v.is_constant():
                return v.c.reshape(v.shape)
            raise PgenError("E014", "expected a constant here, found an expression over variables", e.span,
                            hint="bounds, indices and ranges must not depend on variables")
        return v

    def int_scalar(self, e, env) -> int:
        v = self.eval_const(e, env)
        if v.shape != () or not np.isfinite(v) or v != np.round(v):
            raise PgenError("E014", "expected an integer scalar", e.span, hint="ranges and indices are integers")
        return int(v)

    # ------------------------------------------------------------ expressions
    def eval(self, e, env: dict, pol: int) -> Value:
        match e:
            case A.Num():
                return np.asarray(float(e.value))
            case A.Name():
                return self._name(e, env)
            case A.ArrayLit():
                items = [self.eval(i, env, pol) for i in e.items]
                shapes = {np.shape(i) if not isinstance(i, Aff) else i.shape for i in items}
                if len(shapes) != 1:
                    raise PgenError("E012", f"array elements have different shapes {sorted(shapes)}", e.span)
                if all(not isinstance(i, Aff) for i in items):
                    return np.stack(items)
                return Aff.stack([self._aff(i) for i in items], self._ncols())
            case A.Unary():
                v = self.eval(e.operand, env, -pol)
                return v.neg() if isinstance(v, Aff) else -v
            case A.Binary():
                return self._binary(e, env, pol)
            case A.Subscript():
                return self._subscript(e, env, pol)
            case A.Call():
                return self._call(e, env, pol)
            case A.Generator():
                return self._generator(e, env, pol)
        raise PgenError("E014", f"unexpected expression {type(e).__name__}", getattr(e, "span", A.NOSPAN))

    def _aff(self, v: Value) -> Aff:
        return v if isinstance(v, Aff) else Aff.of_const(v, self._ncols())

    def _name(self, e: A.Name, env) -> Value:
        if e.id in env:
            return np.asarray(float(env[e.id]))
        if e.id in self.checked.params:
            return self.checked.params[e.id]
        if e.id in self.checked.vars:
            info = self.checked.vars[e.id]
            if e.id in self.var_base:
                return Aff.of_vars(self.var_base[e.id], info.shape, self._ncols())
            raise PgenError("E014", f"`{e.id}` is a variable; a constant is needed here", e.span)
        if e.id in self.checked.nets:
            raise PgenError("E014", f"`{e.id}` is a network; apply it to an input: `{e.id}(x)`", e.span)
        raise PgenError("E010", f"unknown name `{e.id}`", e.span)

    def _binary(self, e: A.Binary, env, pol) -> Value:
        if e.op in "+-":
            left = self.eval(e.left, env, pol)
            right = self.eval(e.right, env, pol if e.op == "+" else -pol)
            self._check_broadcast(left, right, e)
            sign = 1.0 if e.op == "+" else -1.0
            if isinstance(left, Aff):
                return left.add(right, sign)
            if isinstance(right, Aff):
                return (right if sign > 0 else right.neg()).add(left)
            return left + sign * right
        # * and /: one side must be constant
        if e.op == "*":
            left_c = self._try_const(e.left, env)
            if left_c is not None:
                right = self.eval(e.right, env, _scaled_pol(pol, left_c))
                return self._times(right, left_c, e)
            right_c = self._try_const(e.right, env)
            if right_c is not None:
                left = self.eval(e.left, env, _scaled_pol(pol, right_c))
                return self._times(left, right_c, e)
            raise PgenError("E015", "product of two expressions over variables is not linear", e.span,
                            hint="one side of `*` must be a constant")
        right_c = self._try_const(e.right, env)
        if right_c is None:
            raise PgenError("E015", "division by an expression over variables is not linear", e.span,
                            hint="divide by a constant")
        if np.any(right_c == 0):
            raise PgenError("E014", "division by zero", e.right.span)
        left = self.eval(e.left, env, _scaled_pol(pol, right_c))
        return self._times(left, 1.0 / right_c, e)

    def _times(self, v: Value, c: np.ndarray, e) -> Value:
        self._check_broadcast(v, c, e)
        return v.scale(c) if isinstance(v, Aff) else v * c

    def _check_broadcast(self, a, b, e):
        sa = a.shape if isinstance(a, Aff) else np.shape(a)
        sb = b.shape if isinstance(b, Aff) else np.shape(b)
        if sa == sb or sa == () or sb == ():
            return
        raise PgenError("E012", f"shapes {list(sa)} and {list(sb)} do not match", e.span,
                        hint="index both sides to the same shape, e.g. `x[k]` and `T[k]`")

    def _try_const(self, e, env) -> Optional[np.ndarray]:
        if _mentions_vars(e, self.checked, env):
            return None
        return self.eval_const(e, env)

    def _subscript(self, e: A.Subscript, env, pol) -> Value:
        base = self.eval(e.base, env, pol)
        shape = base.shape if isinstance(base, Aff) else np.shape(base)
        if len(e.indices) > len(shape):
            raise PgenError("E012", f"{len(e.indices)} indices for a value of shape {list(shape)}", e.span,
                            hint=f"it has {len(shape)} axes")
        key = []
        for axis, idx in enumerate(e.indices):
            n = shape[axis]
            if isinstance(idx, A.IndexAll):
                key.append(slice(None))
            elif isinstance(idx, A.IndexRange):
                lo, hi = self.int_scalar(idx.lo, env), self.int_scalar(idx.hi, env)
                if not (0 <= lo <= hi < n):
                    raise PgenError("E013", f"range {lo}..{hi} is outside 0..{n - 1} on axis {axis}", idx.span)
                key.append(slice(lo, hi + 1))
            else:
                i = self.int_scalar(idx, env)
                if not 0 <= i < n:
                    raise PgenError("E013", f"index {i} is outside 0..{n - 1} on axis {axis}", idx.span,
                                    hint="indices start at 0; ranges `a..b` include b")
                key.append(i)
        key = tuple(key)
        if isinstance(base, Aff):
            pos = np.arange(base.size).reshape(shape)[key]
            return base.take(np.asarray(pos))
        return np.asarray(base[key])

    def _generator(self, e: A.Generator, env, pol) -> Value:
        parts = [self.eval(e.body, inner, pol) for inner in iterate(e.iters, self, env)]
        if not parts:
            raise PgenError("E016", f"`{e.func}` over an empty range", e.span)
        if e.func == "sum":
            total = parts[0]
            for p in parts[1:]:
                self._check_broadcast(total, p, e)
                total = total.add(p) if isinstance(total, Aff) else (p.add(total) if isinstance(p, Aff) else total + p)
            return total
        return self._maxmin(e.func, parts, e, pol)

    def _call(self, e: A.Call, env, pol) -> Value:
        f = e.func
        if f in self.checked.nets:
            return self._network(e, env)
        if not e.args:
            raise PgenError("E014", f"`{f}` needs an argument", e.span)
        if f == "sum":
            if len(e.args) != 1:
                raise PgenError("E014", "`sum` takes one array (or use `sum(... for i in a..b)`)", e.span)
            v = self.eval(e.args[0], env, pol)
            return v.total() if isinstance(v, Aff) else np.asarray(np.sum(v))
        if f in ("abs", "norm1"):
            if len(e.args) != 1:
                raise PgenError("E014", f"`{f}` takes one argument", e.span)
            v = self.eval(e.args[0], env, 0)
            r = self._abs(v, e, pol)
            if f == "norm1":
                return r.total() if isinstance(r, Aff) else np.asarray(np.sum(r))
            return r
        if f in ("max", "min"):
            parts = [self.eval(a, env, pol) for a in e.args]
            return self._maxmin(f, parts, e, pol)
        raise PgenError("E010", f"unknown function `{f}`", e.span)

    # ------------------------------------------------------------ nonlinear atoms
    def _bounds(self, v: Aff):
        lb, ub = self.model.bounds_arrays()
        lo, hi = v.bounds(lb, ub)
        return np.nan_to_num(lo, nan=-np.inf), np.nan_to_num(hi, nan=np.inf)

    def _abs(self, v: Value, e, pol) -> Value:
        if not isinstance(v, Aff):
            return np.abs(v)
        origin = _where(e.span, self.path)
        lo, hi = self._bounds(v)
        rows = []
        for k, lin in enumerate(v.lins()):
            if lo[k] >= 0:
                rows.append(lin)
                continue
            if hi[k] <= 0:
                rows.append(ir.Lin(lin.idx, -lin.coef, -lin.const))
                continue
            bound = max(-lo[k], hi[k])
            t = self.model.add_var(f"abs@{e.span.line}:{e.span.column}[{k}]", ir.REAL, 0.0,
                                   float(bound) if np.isfinite(bound) else np.inf, origin)
            for sign in (1.0, -1.0):  # t >= sign * lin
                self.model.constraints.append(ir.LinearCon(_t_minus(t, lin, sign), ir.GE, sign * lin.const, origin))
            if pol != 1:
                # exact: b = 1 -> t <= lin (big-M 2|lo|) ; b = 0 -> t <= -lin (big-M 2 hi)
                if not (np.isfinite(lo[k]) and np.isfinite(hi[k])):
                    raise PgenError("E016", "`abs` here needs an exact encoding, which needs finite bounds on its argument",
                                    e.span, hint="give the variables inside finite domains")
                b = self.model.add_var(f"abs@{e.span.line}:{e.span.column}.pos[{k}]", ir.BOOL, 0, 1, origin)
                for value, sign, m in ((1, 1.0, -2.0 * float(lo[k])), (0, -1.0, 2.0 * float(hi[k]))):
                    self.model.constraints.append(ir.IndicatorCon(b, value, _t_minus(t, lin, sign), ir.LE,
                                                                  sign * lin.const, origin, M=m))
                self.model.notes.append(f"{origin}: abs needs a binary here (it is maximised or bounded below)")
            rows.append(ir.Lin(np.array([t], np.int64), np.array([1.0]), 0.0))
        return Aff.of_lins(rows, v.shape, self._ncols())

    def _maxmin(self, f: str, parts: list, e, pol) -> Value:
        if len(parts) == 1:  # max over the elements of one array
            p = parts[0]
            if isinstance(p, Aff):
                parts = [p.take(np.array(i)) for i in range(p.size)]
            else:
                return np.asarray(np.max(p) if f == "max" else np.min(p))
        for p in parts:
            if (p.shape if isinstance(p, Aff) else np.shape(p)) not in ((), (1,)):
                raise PgenError("E012", f"`{f}` of several arguments takes scalars", e.span,
                                hint=f"use `{f}(v)` for the largest element of an array")
        if all(not isinstance(p, Aff) for p in parts):
            vals = [float(np.asarray(p).reshape(-1)[0]) for p in parts]
            return np.asarray(max(vals) if f == "max" else min(vals))
        sign = 1.0 if f == "max" else -1.0  # min(a, b) = -max(-a, -b)
        lins = [self._aff(p).scale(sign).lins()[0] for p in parts]
        eff_pol = pol if f == "max" else -pol
        origin = _where(e.span, self.path)
        lb, ub = self.model.bounds_arrays()
        ranges = [lin.bounds(lb, ub) for lin in lins]
        top = max(r[1] for r in ranges)
        # an argument whose lower bound beats every other upper bound is the max
        for i, (lo_i, _) in enumerate(ranges):
            if all(lo_i >= ranges[j][1] for j in range(len(ranges)) if j != i):
                return Aff.of_lins([lins[i]], (), self._ncols()).scale(sign)
        t = self.model.add_var(f"{f}@{e.span.line}:{e.span.column}", ir.REAL,
                               max(r[0] for r in ranges), top, origin)
        for lin in lins:  # t >= a_i
            self.model.constraints.append(ir.LinearCon(_t_minus(t, lin), ir.GE, lin.const, origin))
        if eff_pol != 1:
            if not all(np.isfinite(r[0]) and np.isfinite(r[1]) for r in ranges):
                raise PgenError("E016", f"`{f}` here needs an exact encoding, which needs finite bounds",
                                e.span, hint="give the variables inside finite domains")
            bs = [self.model.add_var(f"{f}@{e.span.line}:{e.span.column}.arg[{i}]", ir.BOOL, 0, 1, origin)
                  for i in range(len(lins))]
            self.model.constraints.append(ir.LinearCon(ir.Lin.of({b: 1.0 for b in bs}), ir.EQ, 1.0, origin))
            for b, lin, (lo_i, _) in zip(bs, lins, ranges):  # b_i = 1 -> t <= a_i (big-M top - lo_i)
                self.model.constraints.append(ir.IndicatorCon(b, 1, _t_minus(t, lin), ir.LE, lin.const, origin,
                                                              M=float(top - lo_i)))
        return Aff.of_vars(t, (), self._ncols()).scale(sign)

    def _network(self, e: A.Call, env) -> Value:
        net = self.checked.nets[e.func]
        if len(e.args) != 1:
            raise PgenError("E014", f"network `{e.func}` takes one input", e.span)
        x = self.eval(e.args[0], env, 0)
        shape = x.shape if isinstance(x, Aff) else np.shape(x)
        size = int(np.prod(shape)) if shape else 1
        if size != net.n_in:
            raise PgenError("E022", f"network `{e.func}` ({net.display}) takes {net.n_in} inputs "
                            f"(shape {list(net.input_shape)}), but is applied to a value of shape {list(shape)}",
                            e.args[0].span, hint="index the argument to the network's input size")
        if not isinstance(x, Aff) or x.is_constant():
            xc = x.c if isinstance(x, Aff) else np.asarray(x, dtype=np.float64).reshape(-1)
            return run_network(net.path, xc).astype(np.float64).reshape(-1)
        x = x.reshape((size,))
        key = (e.func, x.A.indptr.tobytes(), x.A.indices.tobytes(), x.A.data.tobytes(), x.c.tobytes())
        if key not in self.net_cache:
            origin = _where(e.span, self.path)
            label = f"{e.func}#{len(self.net_cache)}"
            try:
                self.net_cache[key] = encode_network(net, x, self.model, label, origin, self.bounds)
            except PgenError as err:
                if err.span.line == 0:
                    err.span = e.span
                raise
        return self.net_cache[key]

    # ------------------------------------------------------------ constraints
    def _scalar_lin(self, v: Value, e) -> ir.Lin:
        aff = self._aff(v)
        if aff.size != 1:
            raise PgenError("E012", f"expected a scalar, found shape {list(aff.shape)}", e.span,
                            hint="reduce it with sum(...) or norm1(...)")
        return aff.lins()[0]

    def _rows(self, rel, env) -> list:
        """A relation -> [(Lin, sense, rhs, strict)] rows, one per element."""
        match rel:
            case A.Compare():
                if rel.op in ("<=", "<"):
                    l, r = self.eval(rel.left, env, 1), self.eval(rel.right, env, -1)
                elif rel.op in (">=", ">"):
                    l, r = self.eval(rel.left, env, -1), self.eval(rel.right, env, 1)
                else:
                    l, r = self.eval(rel.left, env, 0), self.eval(rel.right, env, 0)
                self._check_broadcast(l, r, rel)
                d = self._aff(l).add(r, -1.0)
                sense = {"<=": ir.LE, "<": ir.LE, ">=": ir.GE, ">": ir.GE, "==": ir.EQ}[rel.op]
                strict = rel.op in ("<", ">")
                return [(ir.Lin(lin.idx, lin.coef, 0.0), sense, -lin.const, strict) for lin in d.lins()]
            case A.InInterval():
                v = self._aff(self.eval(rel.expr, env, 0))
                iv = rel.interval
                lo, hi = self.eval_const(iv.lo, env), self.eval_const(iv.hi, env)
                lo_b = np.broadcast_to(lo, v.shape).reshape(-1) if v.shape else lo.reshape(-1)
                hi_b = np.broadcast_to(hi, v.shape).reshape(-1) if v.shape else hi.reshape(-1)
                if np.any(lo_b > hi_b) or np.any((lo_b == hi_b) & (not (iv.lo_closed and iv.hi_closed))):
                    raise PgenError("E016", "the interval is empty", iv.span,
                                    hint="the lower end must be below the upper end")
                rows = []
                for k, lin in enumerate(v.lins()):
                    base = ir.Lin(lin.idx, lin.coef, 0.0)
                    rows.append((base, ir.GE, float(lo_b[k]) - lin.const, not iv.lo_closed))
                    rows.append((base, ir.LE, float(hi_b[k]) - lin.const, not iv.hi_closed))
                return rows
            case A.Truth():
                v = self._aff(self.eval(rel.expr, env, 0))
                rows = []
                for lin in v.lins():
                    self._bool_literal(lin, rel.expr)
                    rows.append((ir.Lin(lin.idx, lin.coef, 0.0), ir.EQ, 1.0 - lin.const, False))
                return rows
        raise PgenError("E014", "expected a comparison", rel.span)

    def _bool_literal(self, lin: ir.Lin, e) -> tuple[int, int]:
        """A Lin that is `b` or `1 - b` for a bool variable b -> (b, value that makes it true)."""
        if len(lin.idx) == 1 and self.model.vars[int(lin.idx[0])].kind == ir.BOOL:
            b = int(lin.idx[0])
            if lin.coef[0] == 1.0 and lin.const == 0.0:
                return b, 1
            if lin.coef[0] == -1.0 and lin.const == 1.0:
                return b, 0
        raise PgenError("E014", "expected a bool variable here", e.span,
                        hint="conditions and bare constraints must be bool variables (or `b == 0`)")

    def _strict_rhs(self, lin: ir.Lin, sense: str, rhs: float) -> float:
        kinds = {self.model.vars[i].kind for i in lin.idx.tolist()}
        integral = kinds <= {ir.BOOL, ir.INT} and np.all(lin.coef == np.round(lin.coef))
        if integral:
            return math.ceil(rhs) - 1.0 if sense == ir.LE else math.floor(rhs) + 1.0
        delta = self.delta * max(1.0, abs(rhs))
        return rhs - delta if sense == ir.LE else rhs + delta

    def _require(self, c, env, origin: str) -> None:
        if isinstance(c, A.Implies):
            cond = c.cond
            if isinstance(cond, A.Truth):
                lit = self._aff(self.eval(cond.expr, env, 0))
                if lit.size != 1:
                    raise PgenError("E012", "the condition of `->` must be a single bool", cond.span)
                b, val = self._bool_literal(lit.lins()[0], cond.expr)
            elif isinstance(cond, A.Compare) and cond.op == "==":
                l = self._aff(self.eval(cond.left, env, 0)).add(self.eval(cond.right, env, 0), -1.0)
                if l.size != 1:
                    raise PgenError("E012", "the condition of `->` must be a single bool", cond.span)
                lin = l.lins()[0]
                # b - v == 0 with v in {0, 1}
                if len(lin.idx) == 1 and lin.coef[0] == 1.0 and self.model.vars[int(lin.idx[0])].kind == ir.BOOL \
                        and -lin.const in (0.0, 1.0):
                    b, val = int(lin.idx[0]), int(-lin.const)
                else:
                    raise PgenError("E014", "the condition of `->` must be `b` or `b == 0/1` for a bool b",
                                    cond.span)
            else:
                raise PgenError("E014", "the condition of `->` must be `b` or `b == 0/1` for a bool b", cond.span)
            for lin, sense, rhs, strict in self._rows(c.then, env):
                if strict:
                    rhs = self._strict_rhs(lin, sense, rhs)
                self.model.constraints.append(ir.IndicatorCon(b, val, lin, sense, rhs, origin))
            return
        for lin, sense, rhs, strict in self._rows(c, env):
            if strict:
                rhs = self._strict_rhs(lin, sense, rhs)
            if len(lin.idx) == 0:
                ok = {ir.LE: 0.0 <= rhs + 1e-12, ir.GE: 0.0 >= rhs - 1e-12, ir.EQ: abs(rhs) <= 1e-12}[sense]
                if not ok:
                    self.model.notes.append(f"{origin}: constant constraint is false: the spec is infeasible")
                    self.model.constraints.append(ir.LinearCon(lin, sense, rhs, origin))
                continue
            self.model.constraints.append(ir.LinearCon(lin, sense, rhs, origin))

    def _select(self, sel: A.Select) -> None:
        origin = _where(sel.span, self.path)
        count = self.int_scalar(sel.count, {})
        v = self.eval(sel.target, {}, 0)
        if not isinstance(v, Aff):
            raise PgenError("E014", "`select` needs variables", sel.target.span)
        lins = v.lins()
        for lin in lins:
            if not (len(lin.idx) == 1 and lin.coef[0] == 1.0 and lin.const == 0.0):
                raise PgenError("E014", "`select ... of` takes a variable or a slice of one", sel.target.span)
        shape = v.shape
        if sel.axis is not None:
            if not 0 <= sel.axis < len(shape):
                raise PgenError("E013", f"axis {sel.axis} is outside the {len(shape)} axes of the target",
                                sel.span)
            groups = np.arange(v.size).reshape(shape)
            groups = np.moveaxis(groups, sel.axis, 0).reshape(shape[sel.axis], -1)
        else:
            groups = np.arange(v.size).reshape(-1, 1)
        qs = []
        for g, members in enumerate(groups):
            q = self.model.add_var(f"select@{sel.span.line}[{g}]", ir.BOOL, 0, 1, origin)
            qs.append(q)
            for m in members:
                x = int(lins[m].idx[0])
                var = self.model.vars[x]
                if not (np.isfinite(var.lb) and np.isfinite(var.ub)):
                    raise PgenError("E016", f"`select` needs finite bounds on `{var.name}`", sel.target.span)
                hi, lo = max(var.ub, 0.0), min(var.lb, 0.0)
                # x <= hi q ; x >= lo q ; 0 outside the bounds forces q = 1
                self.model.constraints.append(ir.LinearCon(ir.Lin.of({x: 1.0, q: -hi}), ir.LE, 0.0, origin))
                self.model.constraints.append(ir.LinearCon(ir.Lin.of({x: 1.0, q: -lo}), ir.GE, 0.0, origin))
        self.model.constraints.append(ir.LinearCon(ir.Lin.of({q: 1.0 for q in qs}), ir.LE, float(count), origin))


def _t_minus(t: int, lin: ir.Lin, sign: float = 1.0) -> ir.Lin:
    """The terms of t - sign * lin (lin's constant left to the caller's right-hand side)."""
    terms = {t: 1.0}
    for i, c in zip(lin.idx.tolist(), lin.coef.tolist()):
        terms[i] = terms.get(i, 0.0) - sign * c
    return ir.Lin.of(terms)


def _scaled_pol(pol: int, c: np.ndarray) -> int:
    if np.all(c >= 0):
        return pol
    if np.all(c <= 0):
        return -pol
    return 0


def _mentions_vars(e, checked: Checked, env: dict) -> bool:
    match e:
        case A.Name():
            return e.id in checked.vars and e.id not in env
        case A.Call():
            return any(_mentions_vars(a, checked, env) for a in e.args)
        case A.Generator():
            return _mentions_vars(e.body, checked, env)
        case A.Num() | A.IndexAll():
            return False
    if hasattr(e, "__dataclass_fields__"):
        for name in e.__dataclass_fields__:
            if name == "span":
                continue
            val = getattr(e, name)
            items = val if isinstance(val, tuple) else (val,)
            if any(hasattr(i, "__dataclass_fields__") and _mentions_vars(i, checked, env) for i in items):
                return True
    return False


def lower(checked: Checked) -> ir.Model:
    return Lowerer(checked).lower()
