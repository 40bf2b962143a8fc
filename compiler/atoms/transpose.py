"""`transpose(I)`: a 2-D array with rows and columns swapped (a D_yy value from a D_xx
surrogate is the surrogate applied to the transposed image)."""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from .base import Atom, CallSite, one_arg


def _shape(site: CallSite, shapes: list) -> tuple:
    shape = one_arg(site, shapes, "`transpose` takes one 2-D array")
    if len(shape) != 2:
        raise PgenError("E012", f"`transpose` takes a 2-D array, not one of shape {list(shape)}", site.span)
    return (shape[1], shape[0])


def _lower(ctx, site: CallSite, args: list, pol: int):
    x = args[0]
    return x.take(np.arange(x.size).reshape(x.shape).T)


def _evaluate(site: CallSite, args: list) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(np.asarray(args[0], dtype=np.float64)))


TRANSPOSE = Atom("transpose", _shape, _lower, _evaluate)
