"""`sum(v)`: the total of an array; `sum(body for i in a..b)`: the elementwise sum of the bodies."""
from __future__ import annotations

from functools import reduce

import numpy as np

from ..affine import Aff
from .base import Atom, CallSite, broadcast, one_arg


def _shape(site: CallSite, shapes: list) -> tuple:
    one_arg(site, shapes, "`sum` takes one array (or use `sum(... for i in a..b)`)")
    return ()


def _lower(ctx, site: CallSite, args: list, pol: int):
    return args[0].total()


def _evaluate(site: CallSite, args: list) -> np.ndarray:
    return np.asarray(np.sum(args[0]), dtype=np.float64)


def _parts_shape(site: CallSite, shapes: list) -> tuple:
    return reduce(lambda a, b: broadcast(a, b, site.span), shapes)


def _add(a, b):
    if isinstance(a, Aff):
        return a.add(b)
    if isinstance(b, Aff):
        return b.add(a)
    return a + b


def _parts_lower(ctx, site: CallSite, args: list, pol: int):
    return reduce(_add, args)


def _parts_evaluate(site: CallSite, args: list) -> np.ndarray:
    return np.asarray(reduce(np.add, args), dtype=np.float64)


SUM_OVER = Atom("sum", _parts_shape, _parts_lower, _parts_evaluate)
SUM = Atom("sum", _shape, _lower, _evaluate, reduction=SUM_OVER)
