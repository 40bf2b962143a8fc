"""Checked model -> IR. Expressions become affine arrays; each atom (compiler.atoms) lowers
its own applications, adding auxiliary variables with the exact encoding the context needs.

Polarity: an expression is lowered knowing whether the surrounding context
only pushes it down (+1: minimised, or bounded above), only up (-1), or both
(0). `abs`/`max` pushed down need no binary (epigraph); otherwise they get
the exact binary encoding. Network applications are always exact, or, with
`opaque_networks`, left as free outputs and recorded as `NetCall`s.

Sub-expressions that mention no variable are evaluated by `compiler.consts`; the
checker has already inferred every shape (`compiler.shapes`), and the rules the
lowerer applies again are the same functions.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import PgenError
from ..core.options import DEFAULT_STRICT_DELTA
from ..dsl import ast as A
from . import ir
from .affine import Aff
from .atoms import LowerContext, NetCall, Value, atom_of, call_site, mentions_oracle
from .atoms.base import broadcast, shape_of
from .check import Checked
from .grid.draw import rules_for
from .grid.lower import lower_grid
from .consts import evaluate, index_key, int_scalar, iterate, mentions_vars, same_shape
from .nn.encode import BoundBudget
from .shapes import interval_ends, scalar

__all__ = ["Lowered", "Lowerer", "NetCall", "lower"]


@dataclass
class Lowered:
    """The IR model, where each spec variable starts in it, and the opaque network calls.
    For porous specs: each image's variables (`grids`, compiler.grid.lower.GridVars), the
    concrete rules they were lowered with (`rules`), and the requires left to the runtime's
    check-and-cut loop (`lazy`: those on true PDE values, which no encoding can state)."""
    model: ir.Model
    var_base: dict
    net_calls: list
    grids: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    lazy: list = field(default_factory=list)
    bound_layers: list = field(default_factory=list)   # per ReLU layer: how its bounds were found


def lower(checked: Checked, opaque_networks: bool = False, grid_rules: dict | None = None,
          budget: BoundBudget | None = None) -> Lowered:
    """`grid_rules`: {image: GridRules} for a porous spec (one draw); default: draw 0 of the
    spec's `seed` option. `budget`: how ReLU bounds are found (default: the spec's `bounds`,
    `bound_time` and `neuron_time` options)."""
    low = Lowerer(checked, opaque_networks, grid_rules, budget)
    model = low.lower()
    return Lowered(model, low.var_base, low.net_calls, low.grids, low.grid_rules, low.lazy,
                   low.ctx.budget.layers)


class Lowerer:
    def __init__(self, checked: Checked, opaque_networks: bool = False, grid_rules: dict | None = None,
                 budget: BoundBudget | None = None):
        self.checked = checked
        if grid_rules is None and checked.grids:
            grid_rules = rules_for(checked, int(checked.options.get("seed", 0)), 0)
        self.grid_rules = grid_rules or {}
        self.grids: dict = {}
        self.lazy: list = []
        self.var_base: dict = {}
        self.delta = float(checked.options.get("strict_delta", DEFAULT_STRICT_DELTA))
        opts = checked.options
        budget = budget or BoundBudget(opts.get("bounds", "lp"), float(opts.get("bound_time", 20.0)),
                                       float(opts.get("neuron_time", 2.0)))
        self.ctx = LowerContext(ir.Model(), checked.path, budget, opaque_networks)

    @property
    def model(self) -> ir.Model:
        return self.ctx.model

    @property
    def net_calls(self) -> list:
        return self.ctx.net_calls

    # ------------------------------------------------------------ entry point
    def lower(self) -> ir.Model:
        for info in self.checked.vars.values():
            self.var_base[info.name] = declare(self.model, info, self.ctx.origin(info.decl.span))
        for name, rules in self.grid_rules.items():
            decl = self.checked.grids[name].decl
            self.grids[name] = lower_grid(self.model, name, self.var_base[name], rules, self.ctx.origin(decl.span))
        for req in self.checked.requires:
            if mentions_oracle(req.constraint, self.checked.nets):
                self.lazy.append(req)  # checked on candidates by the runtime, never encoded
                continue
            origin = self.ctx.origin(req.span)
            for env in iterate(req.iters, self.checked, {}):
                self._require(req.constraint, env, origin)
        for sel in self.checked.selects:
            self._select(sel)
        obj = self.checked.objective
        if obj.sense == "satisfy":
            self.model.objective = ir.Objective(None, ir.Lin.of({}))
        else:
            pol = 1 if obj.sense == "minimize" else -1
            v = self.eval(obj.expr, {}, pol)
            scalar(v, obj.expr)
            self.model.objective = ir.Objective("min" if pol == 1 else "max", self._aff(v).lins()[0])
        return self.model

    # ------------------------------------------------------------ expressions
    def eval(self, e, env: dict, pol: int) -> Value:
        if not mentions_vars(e, self.checked, env):
            return evaluate(e, self.checked, env)
        match e:
            case A.Name():
                return Aff.of_vars(self.var_base[e.id], self.checked.vars[e.id].shape, self._ncols())
            case A.ArrayLit():
                items = [self.eval(i, env, pol) for i in e.items]
                same_shape(items, e.span)
                return Aff.stack([self._aff(i) for i in items], self._ncols())
            case A.Unary():
                return self.eval(e.operand, env, -pol).neg()
            case A.Binary():
                return self._binary(e, env, pol)
            case A.Subscript():
                base = self.eval(e.base, env, pol)
                key = index_key(e, shape_of(base), self.checked, env)
                return base.take(np.arange(base.size).reshape(base.shape)[key]) if isinstance(base, Aff) \
                    else np.asarray(base[key])
            case A.Call():
                atom = atom_of(e.func, self.checked.nets)
                args = [self.eval(a, env, pol if atom.monotone else 0) for a in e.args]
                return self._apply(atom, call_site(e, self.checked.nets), args, pol)
            case A.Generator():
                atom = atom_of(e.func, self.checked.nets).reduction
                parts = [self.eval(e.body, inner, pol) for inner in iterate(e.iters, self.checked, env)]
                if not parts:
                    raise PgenError("E016", f"`{e.func}` over an empty range", e.span)
                return self._apply(atom, call_site(e, self.checked.nets), parts, pol)
        raise PgenError("E014", f"unexpected expression {type(e).__name__}", getattr(e, "span", A.NOSPAN))

    def _apply(self, atom, site, args: list, pol: int) -> Value:
        atom.shape(site, [shape_of(a) for a in args])
        if not any(isinstance(a, Aff) for a in args):
            return atom.evaluate(site, args)
        return atom.lower(self.ctx, site, args, pol)

    def _ncols(self) -> int:
        return len(self.model.vars)

    def _aff(self, v: Value) -> Aff:
        return self.ctx.aff(v)

    def _binary(self, e: A.Binary, env, pol) -> Value:
        if e.op in "+-":
            left = self.eval(e.left, env, pol)
            right = self.eval(e.right, env, pol if e.op == "+" else -pol)
            broadcast(shape_of(left), shape_of(right), e.span)
            sign = 1.0 if e.op == "+" else -1.0
            if isinstance(left, Aff):
                return left.add(right, sign)
            return (right if sign > 0 else right.neg()).add(left)
        # * and /: one side is constant (the checker made sure)
        if e.op == "*":
            if not mentions_vars(e.left, self.checked, env):
                const, var = evaluate(e.left, self.checked, env), e.right
            elif not mentions_vars(e.right, self.checked, env):
                const, var = evaluate(e.right, self.checked, env), e.left
            else:
                raise PgenError("E015", "product of two expressions over variables is not linear", e.span,
                                hint="one side of `*` must be a constant")
        else:
            if mentions_vars(e.right, self.checked, env):
                raise PgenError("E015", "division by an expression over variables is not linear", e.span,
                                hint="divide by a constant")
            const, var = evaluate(e.right, self.checked, env), e.left
            if np.any(const == 0):
                raise PgenError("E014", "division by zero", e.right.span)
            const = 1.0 / const
        v = self.eval(var, env, _scaled_pol(pol, const))
        broadcast(shape_of(v), shape_of(const), e.span)
        return v.scale(const)

    # ------------------------------------------------------------ constraints
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
                broadcast(shape_of(l), shape_of(r), rel.span)
                d = self._aff(l).add(r, -1.0)
                sense = {"<=": ir.LE, "<": ir.LE, ">=": ir.GE, ">": ir.GE, "==": ir.EQ}[rel.op]
                strict = rel.op in ("<", ">")
                return [(ir.Lin(lin.idx, lin.coef, 0.0), sense, -lin.const, strict) for lin in d.lins()]
            case A.InInterval():
                v = self._aff(self.eval(rel.expr, env, 0))
                iv = rel.interval
                lo_b, hi_b = interval_ends(iv, v.shape, self.checked, env)
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

    def _condition(self, cond, env) -> tuple[int, int]:
        """The condition of `->` as (bool variable, the value that triggers the implication)."""
        if isinstance(cond, A.Truth):
            lit = self._aff(self.eval(cond.expr, env, 0))
            if lit.size != 1:
                raise PgenError("E012", "the condition of `->` must be a single bool", cond.span)
            return self._bool_literal(lit.lins()[0], cond.expr)
        if isinstance(cond, A.Compare) and cond.op == "==":
            l = self._aff(self.eval(cond.left, env, 0)).add(self.eval(cond.right, env, 0), -1.0)
            if l.size != 1:
                raise PgenError("E012", "the condition of `->` must be a single bool", cond.span)
            lin = l.lins()[0]
            # b - v == 0 with v in {0, 1}
            if len(lin.idx) == 1 and lin.coef[0] == 1.0 and self.model.vars[int(lin.idx[0])].kind == ir.BOOL \
                    and -lin.const in (0.0, 1.0):
                return int(lin.idx[0]), int(-lin.const)
        raise PgenError("E014", "the condition of `->` must be `b` or `b == 0/1` for a bool b", cond.span)

    def _require(self, c, env, origin: str) -> None:
        if isinstance(c, A.Implies):
            b, val = self._condition(c.cond, env)
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
        """`select at most D of x [by axis k]`: a bool per entry (or slice) that may be nonzero."""
        origin = self.ctx.origin(sel.span)
        count = int_scalar(sel.count, self.checked, {})
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


# ---------------------------------------------------------------- variables


def declare(model: ir.Model, info, origin: str) -> int:
    """Add a spec variable's entries (row-major) to the model; returns the index of the first.
    An explicit integer set becomes `x = first + step * m` or a one-hot choice of its values."""
    base = len(model.vars)
    kind = {"bool": ir.BOOL, "int": ir.INT, "real": ir.REAL}[info.kind]
    shape = info.shape
    for flat, pos in enumerate(itertools.product(*[range(d) for d in shape])):
        name = info.name + ("[" + ",".join(map(str, pos)) + "]" if shape else "")
        model.add_var(name, kind, float(info.lb.flat[flat]), float(info.ub.flat[flat]), origin)
    if info.values is not None and len(info.values) > 1:
        n = int(np.prod(shape)) if shape else 1
        vals = info.values
        for k in range(n):
            x = base + k
            name = model.vars[x].name
            if info.step is not None:  # x = first + step * m, m integer
                m = model.add_var(f"{name}.step", ir.INT, 0, len(vals) - 1, origin)
                model.constraints.append(ir.LinearCon(
                    ir.Lin.of({x: 1.0, m: -float(info.step)}), ir.EQ, float(vals[0]), origin))
            else:  # one-hot choice of a value
                sel = [model.add_var(f"{name}.is[{v}]", ir.BOOL, 0, 1, origin) for v in vals]
                model.constraints.append(ir.LinearCon(ir.Lin.of({b: 1.0 for b in sel}), ir.EQ, 1.0, origin))
                terms = {x: 1.0}
                for b, v in zip(sel, vals):
                    terms[b] = -float(v)
                model.constraints.append(ir.LinearCon(ir.Lin.of(terms), ir.EQ, 0.0, origin))
    return base


def _scaled_pol(pol: int, c: np.ndarray) -> int:
    if np.all(c >= 0):
        return pol
    if np.all(c <= 0):
        return -pol
    return 0
