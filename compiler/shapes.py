"""Shape inference: every require, select and the objective, checked without lowering.

An expression over variables is known here only by its shape (`Shaped`); a constant
one is evaluated (`consts.evaluate`), since indices, ranges and divisors need values.
Calls follow their atom's type rule. Errors are the ones the lowerer would raise, at the
same spans, so `pgenc check` reports them without building a model.

A `for` range is checked at its first and last value only: shapes do not depend on the
index, and an index that is affine in the range variables is out of range, if anywhere,
at an end. When a statement fails there, it is checked again at every index, in the
lowerer's order, so the error reported is the one lowering would have raised first. The
lowerer still checks every index it unrolls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from ..core.errors import PgenError
from ..dsl import ast as A
from .atoms import atom_of, call_site
from .atoms.base import broadcast, shape_of, size_of
from .consts import applies_network, constant, evaluate, index_key, int_scalar, iterate, mentions_vars, same_shape


@dataclass(frozen=True)
class Shaped:
    """An expression over variables, as far as the checker knows it."""
    shape: tuple


Typed = Union[np.ndarray, Shaped]


def check_shapes(checked) -> None:
    """Raise the first shape error of the checked spec's requires, selects and objective."""
    for req in checked.requires:
        _first_error(_require, req, checked)
    for sel in checked.selects:
        _first_error(_select, sel, checked)
    obj = checked.objective
    if obj is not None and obj.expr is not None:
        _first_error(_objective, obj, checked)


def _first_error(check, *args) -> None:
    """`check(*args)` at the ends of its ranges; if it fails, at every index, so that the
    error raised is the first one in the lowerer's order."""
    try:
        check(*args, ends=True)
    except PgenError:
        check(*args, ends=False)
        raise


def _require(req: A.Require, checked, ends: bool) -> None:
    for env in iterate(req.iters, checked, {}, ends_only=ends):
        _constraint(req.constraint, checked, env, ends)


def _objective(obj: A.Objective, checked, ends: bool) -> None:
    scalar(infer(obj.expr, checked, {}, ends), obj.expr)


def scalar(t: Typed, e) -> None:
    shape = shape_of(t)
    if size_of(shape) != 1:
        raise PgenError("E012", f"expected a scalar, found shape {list(shape)}", e.span,
                        hint="reduce it with sum(...) or norm1(...)")


def infer(e, checked, env: dict, ends: bool = True) -> Typed:
    """A constant's value, or the shape of an expression over variables (`for` ranges
    inside taken at their ends only, unless `ends` is False)."""
    if not mentions_vars(e, checked, env) and not applies_network(e, checked):
        return evaluate(e, checked, env)  # (a network on a constant: its shape, without running it)
    match e:
        case A.Name():
            return Shaped(checked.vars[e.id].shape)
        case A.ArrayLit():
            items = [infer(i, checked, env, ends) for i in e.items]
            return Shaped((len(items),) + same_shape(items, e.span))
        case A.Unary():
            return infer(e.operand, checked, env, ends)
        case A.Binary():
            return _binary(e, checked, env, ends)
        case A.Subscript():
            base = infer(e.base, checked, env, ends)
            key = index_key(e, shape_of(base), checked, env)
            return Shaped(np.broadcast_to(0.0, shape_of(base))[key].shape)
        case A.Call():
            args = [infer(a, checked, env, ends) for a in e.args]
            site = call_site(e, checked.nets)
            return Shaped(atom_of(e.func, checked.nets).shape(site, [shape_of(a) for a in args]))
        case A.Generator():
            parts = [infer(e.body, checked, inner, ends) for inner in iterate(e.iters, checked, env, ends)]
            if not parts:
                raise PgenError("E016", f"`{e.func}` over an empty range", e.span)
            site = call_site(e, checked.nets)
            return Shaped(atom_of(e.func, checked.nets).reduction.shape(site, [shape_of(p) for p in parts]))
    raise PgenError("E014", f"unexpected expression {type(e).__name__}", getattr(e, "span", A.NOSPAN))


def _binary(e: A.Binary, checked, env: dict, ends: bool) -> Shaped:
    if e.op in "+-":
        left, right = infer(e.left, checked, env, ends), infer(e.right, checked, env, ends)
    elif e.op == "*":
        if mentions_vars(e.left, checked, env) and mentions_vars(e.right, checked, env):
            raise PgenError("E015", "product of two expressions over variables is not linear", e.span,
                            hint="one side of `*` must be a constant")
        left, right = infer(e.left, checked, env, ends), infer(e.right, checked, env, ends)
    else:
        if mentions_vars(e.right, checked, env):
            raise PgenError("E015", "division by an expression over variables is not linear", e.span,
                            hint="divide by a constant")
        right = evaluate(e.right, checked, env)
        if np.any(right == 0):
            raise PgenError("E014", "division by zero", e.right.span)
        left = infer(e.left, checked, env, ends)
    return Shaped(broadcast(shape_of(left), shape_of(right), e.span))


# ---------------------------------------------------------------- constraints


def _constraint(c, checked, env: dict, ends: bool) -> None:
    if isinstance(c, A.Implies):
        _condition(c.cond, checked, env, ends)
        c = c.then
    _relation(c, checked, env, ends)


def _condition(cond, checked, env: dict, ends: bool) -> None:
    """The condition of `->`: `b` or `b == 0/1` for one bool (its kind is the lowerer's to check)."""
    if isinstance(cond, A.Truth):
        shape = shape_of(infer(cond.expr, checked, env, ends))
    elif isinstance(cond, A.Compare) and cond.op == "==":
        left, right = infer(cond.left, checked, env, ends), infer(cond.right, checked, env, ends)
        shape = broadcast(shape_of(left), shape_of(right), cond.span)
    else:
        raise PgenError("E014", "the condition of `->` must be `b` or `b == 0/1` for a bool b", cond.span)
    if size_of(shape) != 1:
        raise PgenError("E012", "the condition of `->` must be a single bool", cond.span)


def _relation(rel, checked, env: dict, ends: bool) -> None:
    match rel:
        case A.Compare():
            left, right = infer(rel.left, checked, env, ends), infer(rel.right, checked, env, ends)
            broadcast(shape_of(left), shape_of(right), rel.span)
        case A.InInterval():
            shape = shape_of(infer(rel.expr, checked, env, ends))
            interval_ends(rel.interval, shape, checked, env)
        case A.Truth():
            infer(rel.expr, checked, env, ends)
        case _:
            raise PgenError("E014", "expected a comparison", rel.span)


def interval_ends(iv: A.Interval, shape: tuple, checked, env: dict) -> tuple[np.ndarray, np.ndarray]:
    """The ends of `v in [lo, hi]` for a value of `shape`, flat, one pair per element."""
    lo, hi = constant(iv.lo, checked, env), constant(iv.hi, checked, env)
    for end in (lo, hi):
        if end.shape not in ((), shape):
            raise PgenError("E012", f"an interval end of shape {list(end.shape)} does not fit a value of shape {list(shape)}",
                            iv.span, hint="give scalar ends, or ends of the value's shape")
    lo_b = np.broadcast_to(lo, shape).reshape(-1)
    hi_b = np.broadcast_to(hi, shape).reshape(-1)
    if np.any(lo_b > hi_b) or np.any((lo_b == hi_b) & (not (iv.lo_closed and iv.hi_closed))):
        raise PgenError("E016", "the interval is empty", iv.span, hint="the lower end must be below the upper end")
    return lo_b, hi_b


def _select(sel: A.Select, checked, ends: bool) -> None:
    int_scalar(sel.count, checked, {})
    target = infer(sel.target, checked, {}, ends)
    if not isinstance(target, Shaped):
        raise PgenError("E014", "`select` needs variables", sel.target.span)
    if sel.axis is not None and not 0 <= sel.axis < len(target.shape):
        raise PgenError("E013", f"axis {sel.axis} is outside the {len(target.shape)} axes of the target", sel.span)
