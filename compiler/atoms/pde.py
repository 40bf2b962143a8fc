"""`dxx(I)`, `dyy(I)`: the *true* effective diffusion coefficient of a porous unit cell along
x / y, by the PDE solver (pgen.surrogate.pde), not a surrogate.

No encoding can state it, so these atoms are *oracles*: a require that mentions one is not
lowered; the runtime evaluates it on every candidate and cuts the candidate off when it
misses (PDE-checked generation). The verifier evaluates it like any other atom.
"""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from .base import Atom, CallSite, one_arg

ORACLE_HINT = ("use it in a require on its own, e.g. `require dxx(I) in [0.60, 0.70)`: such requires "
               "are checked on every candidate by the PDE solver and a miss is cut off")


def _shape(site: CallSite, shapes: list) -> tuple:
    shape = one_arg(site, shapes, f"`{site.func}` takes one image")
    if len(shape) != 2:
        raise PgenError("E012", f"`{site.func}` takes a 2-D image, not a value of shape {list(shape)}", site.span,
                        hint="apply it to an image variable (`image I : grid 16 x 16`)")
    return ()


def _lower(ctx, site: CallSite, args: list, pol: int):
    raise PgenError("E015", f"`{site.func}` is the PDE's true value and cannot be encoded in an expression",
                    site.span, hint=ORACLE_HINT)


def _evaluator(axis: str):
    def evaluate(site: CallSite, args: list) -> np.ndarray:
        from ...surrogate import pde  # scipy's sparse solver: loaded only when a spec asks

        img = np.round(np.asarray(args[0], dtype=np.float64)).astype(np.uint8)
        return np.asarray(pde.d_xx(img) if axis == "x" else pde.d_yy(img), dtype=np.float64)
    return evaluate


DXX = Atom("dxx", _shape, _lower, _evaluator("x"), oracle=True)
DYY = Atom("dyy", _shape, _lower, _evaluator("y"), oracle=True)
