"""What an atom is, what its functions receive, and the shape rules they are made of.

An atom is one function of the language (`abs`, `max`, a network application, ...). Its
entry in `ATOMS` names three functions, like a CVXPY atom with its canonicaliser:

- `shape(site, shapes) -> shape`: the type rule. The checker calls it with the shapes of
  the arguments; it raises a located PgenError when they do not fit.
- `lower(ctx, site, args, pol) -> Value`: the encoding. `args` are the lowered arguments
  (NumPy arrays for constants, `Aff` otherwise; at least one is an `Aff`), `pol` the
  polarity of the context (+1 only pushed down, -1 only up, 0 both; see compiler.lower).
- `evaluate(site, args) -> ndarray`: the meaning, on NumPy values (constant folding and
  the verifier).

`oracle` marks a function no encoding can state (the PDE's true value): requires that
mention one are left to the runtime's check-and-cut loop. `monotone` says whether the arguments keep the context's polarity (`max`, `sum`) or are
pushed both ways (`abs`). `reduction`, when set, is the atom that `f(body for i in a..b)`
applies to the list of bodies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np

from ...core.errors import PgenError, Span
from .. import ir
from ..affine import Aff

Value = Union[np.ndarray, Aff]


@dataclass(frozen=True)
class CallSite:
    """One application of an atom in the spec: what its functions may need besides the arguments."""
    func: str                  # the name written (a network's own name for a network application)
    span: Span                 # the whole call
    arg_spans: tuple = ()      # one per argument
    net: Any = None            # the Network, for a network application


@dataclass(frozen=True)
class Atom:
    name: str
    shape: Callable[[CallSite, list], tuple]
    lower: Callable[["LowerContext", CallSite, list, int], Value]
    evaluate: Callable[[CallSite, list], np.ndarray]
    monotone: bool = True
    reduction: Optional["Atom"] = None
    oracle: bool = False  # evaluated on candidates by the runtime, never lowered (compiler.atoms.pde)


@dataclass
class NetCall:
    """A network application left opaque (`lower(..., opaque_networks=True)`): the network
    `net` maps the input rows to the fresh real variables `outputs`."""
    net: str
    inputs: list               # [ir.Lin], one per network input
    outputs: list              # [int], model indices of the output variables
    span: Span


@dataclass
class LowerContext:
    """What an atom's lowering may read and add to: the model being built and its settings."""
    model: ir.Model
    path: Optional[str] = None
    budget: Any = None                 # the network encoder's BoundBudget
    opaque_networks: bool = False
    net_cache: dict = field(default_factory=dict)   # one encoding per (network, input)
    net_calls: list = field(default_factory=list)   # [NetCall] when networks stay opaque

    def origin(self, span: Span) -> str:
        return f"{self.path or '<input>'}:{span.line}:{span.column}"

    def ncols(self) -> int:
        return len(self.model.vars)

    def aff(self, v: Value) -> Aff:
        return v if isinstance(v, Aff) else Aff.of_const(v, self.ncols())

    def bounds(self, v: Aff) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds of every element of v over the current variable box."""
        lb, ub = self.model.bounds_arrays()
        lo, hi = v.bounds(lb, ub)
        return np.nan_to_num(lo, nan=-np.inf), np.nan_to_num(hi, nan=np.inf)


# ---------------------------------------------------------------- shape rules


def shape_of(v) -> tuple:
    """The shape of a NumPy value, an Aff, or anything else with a `shape`."""
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)


def size_of(shape: tuple) -> int:
    return int(np.prod(shape)) if shape else 1


def broadcast(sa: tuple, sb: tuple, span: Span) -> tuple:
    """Elementwise operands: equal shapes, or one of them a scalar."""
    if sa == sb or sb == ():
        return sa
    if sa == ():
        return sb
    raise PgenError("E012", f"shapes {list(sa)} and {list(sb)} do not match", span,
                    hint="index both sides to the same shape, e.g. `x[k]` and `T[k]`")


def needs_args(site: CallSite, shapes: list) -> None:
    if not shapes:
        raise PgenError("E014", f"`{site.func}` needs an argument", site.span)


def one_arg(site: CallSite, shapes: list, message: str) -> tuple:
    needs_args(site, shapes)
    if len(shapes) != 1:
        raise PgenError("E014", message, site.span)
    return shapes[0]


def t_minus(t: int, lin: ir.Lin, sign: float = 1.0) -> ir.Lin:
    """The terms of t - sign * lin (lin's constant left to the caller's right-hand side)."""
    terms = {t: 1.0}
    for i, c in zip(lin.idx.tolist(), lin.coef.tolist()):
        terms[i] = terms.get(i, 0.0) - sign * c
    return ir.Lin.of(terms)
