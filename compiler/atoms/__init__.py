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
from .sums import SUM

ATOMS: dict[str, Atom] = {
    "sum": SUM,
    "abs": ABS,
    "norm1": NORM1,
    "max": MAX,
    "min": MIN,
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


def call_site(node, nets: dict) -> CallSite:
    """The CallSite of an `A.Call` or `A.Generator` node."""
    args = getattr(node, "args", None)
    if args is None:  # a generator: its bodies are the arguments
        args = (node.body,)
    return CallSite(node.func, node.span, tuple(a.span for a in args), nets.get(node.func))


__all__ = ["ATOMS", "NETWORK", "Atom", "CallSite", "LowerContext", "NetCall", "Value", "atom_of",
           "call_site", "function_names"]
