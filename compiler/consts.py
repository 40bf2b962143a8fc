"""Constant evaluation: expressions over numbers, params and indices -> NumPy arrays.

Used by the checker (param values, domains), by its shape inference (indices, ranges,
interval ends) and by the lowerer (every sub-expression that mentions no variable). Calls
go through the atoms' own type rules and evaluations.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.errors import PgenError
from ..dsl import ast as A
from .atoms import atom_of, call_site
from .atoms.base import broadcast, shape_of

MAX_RANGE = 10_000_000  # one `for` range is unrolled; beyond this it is surely a typo


def evaluate(e, checked, env: Optional[dict] = None) -> np.ndarray:
    """The value of a constant expression; a variable in it is an error at the variable."""
    env = env or {}
    match e:
        case A.Num():
            return np.asarray(float(e.value))
        case A.Name():
            return _name(e, checked, env)
        case A.ArrayLit():
            items = [evaluate(i, checked, env) for i in e.items]
            same_shape(items, e.span)
            return np.stack(items)
        case A.Unary():
            return -evaluate(e.operand, checked, env)
        case A.Binary():
            return _binary(e, checked, env)
        case A.Subscript():
            base = evaluate(e.base, checked, env)
            return np.asarray(base[index_key(e, base.shape, checked, env)])
        case A.Call():
            atom = atom_of(e.func, checked.nets)
            if atom is None:
                raise PgenError("E010", f"unknown function `{e.func}`", e.span)
            args = [evaluate(a, checked, env) for a in e.args]
            site = call_site(e, checked.nets)
            atom.shape(site, [a.shape for a in args])
            return atom.evaluate(site, args)
        case A.Generator():
            atom = atom_of(e.func, checked.nets).reduction
            parts = [evaluate(e.body, checked, inner) for inner in iterate(e.iters, checked, env)]
            if not parts:
                raise PgenError("E016", f"`{e.func}` over an empty range", e.span)
            site = call_site(e, checked.nets)
            atom.shape(site, [p.shape for p in parts])
            return atom.evaluate(site, parts)
    raise PgenError("E014", f"unexpected expression {type(e).__name__}", getattr(e, "span", A.NOSPAN))


def _name(e: A.Name, checked, env: dict) -> np.ndarray:
    if e.id in env:
        return np.asarray(float(env[e.id]))
    if e.id in checked.params:
        return checked.params[e.id]
    if e.id in checked.vars:
        raise PgenError("E014", f"`{e.id}` is a variable; a constant is needed here", e.span)
    if e.id in checked.nets:
        raise PgenError("E014", f"`{e.id}` is a network; apply it to an input: `{e.id}(x)`", e.span)
    raise PgenError("E010", f"unknown name `{e.id}`", e.span)


def _binary(e: A.Binary, checked, env: dict) -> np.ndarray:
    if e.op == "/":
        right = evaluate(e.right, checked, env)
        if np.any(right == 0):
            raise PgenError("E014", "division by zero", e.right.span)
        left = evaluate(e.left, checked, env)
        broadcast(shape_of(left), shape_of(right), e.span)
        return left / right
    left, right = evaluate(e.left, checked, env), evaluate(e.right, checked, env)
    broadcast(shape_of(left), shape_of(right), e.span)
    return {"+": np.add, "-": np.subtract, "*": np.multiply}[e.op](left, right)


def same_shape(items: list, span) -> tuple:
    """The common shape of an array literal's items."""
    shapes = {shape_of(i) for i in items}
    if len(shapes) != 1:
        raise PgenError("E012", f"array elements have different shapes {sorted(shapes)}", span)
    return shapes.pop()


# ---------------------------------------------------------------- in a constant's place


def constant(e, checked, env: dict) -> np.ndarray:
    """`e` where only a constant may stand (an index, a range end, an interval end)."""
    if mentions_vars(e, checked, env):
        raise PgenError("E014", "expected a constant here, found an expression over variables", e.span,
                        hint="bounds, indices and ranges must not depend on variables")
    return evaluate(e, checked, env)


def int_scalar(e, checked, env: dict) -> int:
    v = constant(e, checked, env)
    if v.shape != () or not np.isfinite(v) or v != np.round(v):
        raise PgenError("E014", "expected an integer scalar", e.span, hint="ranges and indices are integers")
    return int(v)


def index_key(e: A.Subscript, shape: tuple, checked, env: dict) -> tuple:
    """The NumPy key of `base[i, a..b, :]` on a value of `shape`, every index checked."""
    if len(e.indices) > len(shape):
        raise PgenError("E012", f"{len(e.indices)} indices for a value of shape {list(shape)}", e.span,
                        hint=f"it has {len(shape)} axes")
    key = []
    for axis, idx in enumerate(e.indices):
        n = shape[axis]
        if isinstance(idx, A.IndexAll):
            key.append(slice(None))
        elif isinstance(idx, A.IndexRange):
            lo, hi = int_scalar(idx.lo, checked, env), int_scalar(idx.hi, checked, env)
            if not (0 <= lo <= hi < n):
                raise PgenError("E013", f"range {lo}..{hi} is outside 0..{n - 1} on axis {axis}", idx.span)
            key.append(slice(lo, hi + 1))
        else:
            i = int_scalar(idx, checked, env)
            if not 0 <= i < n:
                raise PgenError("E013", f"index {i} is outside 0..{n - 1} on axis {axis}", idx.span,
                                hint="indices start at 0; ranges `a..b` include b")
            key.append(i)
    return tuple(key)


# ---------------------------------------------------------------- `for` ranges


def range_of(it: A.Iter, checked, env: dict) -> tuple[int, int]:
    """The inclusive ends of `i in lo..hi`."""
    lo, hi = int_scalar(it.lo, checked, env), int_scalar(it.hi, checked, env)
    if hi - lo >= MAX_RANGE:
        raise PgenError("E016", f"the range {lo}..{hi} has more than {MAX_RANGE:,} values", it.span,
                        hint="index ranges are unrolled into constraints; use a smaller range")
    return lo, hi


def iterate(iters, checked, env: dict, ends_only: bool = False):
    """All index environments of `for i in a..b, j in c..d` (inclusive ranges), in order;
    with `ends_only`, only the first and last value of each range."""
    if not iters:
        yield dict(env)
        return
    first, rest = iters[0], iters[1:]
    lo, hi = range_of(first, checked, env)
    values = sorted({lo, hi}) if ends_only and lo <= hi else range(lo, hi + 1)
    for v in values:
        inner = dict(env)
        inner[first.var] = v
        yield from iterate(rest, checked, inner, ends_only)


# ---------------------------------------------------------------- variables


def mentions_vars(e, checked, env=()) -> bool:
    """Whether `e` mentions a declared variable. (`env`'s indices never hide one: the
    checker refuses an index named like a declaration, so the answer depends on `e` alone.)"""
    return _any_node(e, checked, "vars")


def applies_network(e, checked) -> bool:
    """Whether `e` applies one of the spec's networks somewhere."""
    return _any_node(e, checked, "nets")


def _found_here(node, checked, what: str) -> bool:
    if what == "vars":
        return isinstance(node, A.Name) and node.id in checked.vars
    return isinstance(node, A.Call) and node.func in checked.nets


# (id(node), id(checked), what) -> (node, checked, answer); the entry holds the node and the
# checked model, so neither id can be reused while it is there. The lowerer and the checker
# ask about every node of an expression: with the answers kept for whole subtrees, a long
# chain `x + c[0] + ... + c[n]` costs n steps, not n^2.
_ANSWERS: dict = {}
_MAX_ANSWERS = 200_000


def _any_node(e, checked, what: str) -> bool:
    """Whether some node of `e` passes the test `what`. A post-order walk with its own stack
    (a long chain must not exhaust Python's), remembering the answer for every subtree."""
    key = (id(e), id(checked), what)
    hit = _ANSWERS.get(key)
    if hit is not None and hit[0] is e and hit[1] is checked:
        return hit[2]
    if len(_ANSWERS) > _MAX_ANSWERS:
        _ANSWERS.clear()
    stack = [(e, False)]
    while stack:
        node, children_done = stack.pop()
        k = (id(node), id(checked), what)
        if k in _ANSWERS and _ANSWERS[k][0] is node:
            continue
        kids = _children(node)
        if not children_done:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        answer = _found_here(node, checked, what) or any(_ANSWERS[(id(c), id(checked), what)][2] for c in kids)
        _ANSWERS[k] = (node, checked, answer)
    return _ANSWERS[key][2]


def _children(node) -> list:
    if isinstance(node, tuple):
        items = node
    elif hasattr(node, "__dataclass_fields__"):
        items = [getattr(node, name) for name in node.__dataclass_fields__ if name != "span"]
    else:
        return []
    return [c for c in items if isinstance(c, tuple) or hasattr(c, "__dataclass_fields__")]
