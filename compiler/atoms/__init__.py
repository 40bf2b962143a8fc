"""The one table of the language's functions (DESIGN.md "Code shape").

The checker's known names, the checker's shape inference, the lowerer's dispatch and the
verifier's evaluator all read `ATOMS`; adding a function is one entry here plus its small
module (see `base.Atom` for what an entry names). A network application is the entry
`ATOMS[NETWORK]`, found through the network's declared name.
"""
from __future__ import annotations

from typing import Optional

from .absolute import ABS, NORM1
from .base import Atom, CallSite, LowerContext, NetCall, Value
from .maxmin import MAX, MIN
from .network import APPLY, NETWORK
from .pde import DXX, DYY
from .sums import SUM
from .transpose import TRANSPOSE

ATOMS: dict[str, Atom] = {
    "sum": SUM,
    "abs": ABS,
    "norm1": NORM1,
    "max": MAX,
    "min": MIN,
    "transpose": TRANSPOSE,
    "dxx": DXX,
    "dyy": DYY,
    NETWORK: APPLY,
}


def function_names() -> list:
    """The names a spec may call (besides its own networks)."""
    return [name for name in ATOMS if name != NETWORK]


def atom_of(func: str, nets: dict) -> Optional[Atom]:
    """The atom a call `func(...)` applies, or None when there is none."""
    if func in nets:
        return ATOMS[NETWORK]
    return ATOMS.get(func) if func != NETWORK else None


def mentions_oracle(node, nets: dict) -> bool:
    """Whether an AST node calls an oracle atom (`dxx`, `dyy`) anywhere inside."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(node):
        func = getattr(node, "func", None)
        if isinstance(func, str):
            atom = atom_of(func, nets)
            if atom is not None and atom.oracle:
                return True
        return any(mentions_oracle(getattr(node, f.name), nets) for f in fields(node) if f.name != "span")
    if isinstance(node, tuple):
        return any(mentions_oracle(n, nets) for n in node)
    return False


def call_site(node, nets: dict) -> CallSite:
    """The CallSite of an `A.Call` or `A.Generator` node."""
    args = getattr(node, "args", None)
    if args is None:  # a generator: its bodies are the arguments
        args = (node.body,)
    return CallSite(node.func, node.span, tuple(a.span for a in args), nets.get(node.func))


__all__ = ["ATOMS", "NETWORK", "Atom", "CallSite", "LowerContext", "NetCall", "Value", "atom_of",
           "call_site", "function_names", "mentions_oracle"]
