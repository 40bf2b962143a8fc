"""A compiled problem read as `minimize norm1(net(x) - t)` over an input box: the form the
minimising input branch and bound (runtime/input_min.py) searches (seed 002 eq. 5a with
only box constraints on the design: spectral separation, continuous inversion).

Recognised: exactly one variable, real (not integer), with finite bounds; no `require`, no
selection; the objective `minimize norm1(net(x) - t)` or `norm1(t - net(x))` where `t` is
made of numbers, params and networks applied to them (a scalar or one value per network
output) and `net` is a
plain ReLU network applied to the variable itself. Anything else: None (the exact
backends answer alone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiler.nn.forward import plain_relu_layers
from ..dsl import ast as A
from .verify import Evaluator


@dataclass
class NetObjective:
    x_name: str
    x_shape: tuple
    net_path: str
    layers: list          # [(W, b), ...] plain ReLU network
    lo: np.ndarray        # the input box (flat)
    hi: np.ndarray
    target: np.ndarray    # t, one value per output

    @property
    def n_x(self) -> int:
        return len(self.lo)

    def values(self, x: np.ndarray) -> dict:
        return {self.x_name: np.asarray(x, np.float64).reshape(self.x_shape)}

    def x_of(self, values: dict) -> np.ndarray:
        """The flat input of a solution in the spec's names (the inverse of `values`)."""
        return np.asarray(values[self.x_name], np.float64).reshape(-1)


def net_objective(checked):
    """The problem as a NetObjective, or None when it is not of that form."""
    return _norm1_of_net(checked, "minimize")


def net_maximum(checked):
    """`maximize norm1(net(x) - t)` over an input box (seed 002 Sec. 3.5: the worst deviation
    of a design's prediction when its inputs move; `t` may be the network at a fixed design)
    as a NetObjective, or None."""
    return _norm1_of_net(checked, "maximize")


def _norm1_of_net(checked, sense: str):
    obj = checked.objective
    if obj is None or obj.sense != sense or checked.requires or checked.selects \
            or len(checked.nets) != 1 or len(checked.vars) != 1 or getattr(checked, "grids", None):
        return None
    (info,) = checked.vars.values()
    if info.kind != "real" or getattr(info, "values", None) is not None:
        return None
    lo, hi = np.asarray(info.lb, np.float64).reshape(-1), np.asarray(info.ub, np.float64).reshape(-1)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return None
    e = obj.expr
    if not (isinstance(e, A.Call) and e.func == "norm1" and len(e.args) == 1
            and isinstance(e.args[0], A.Binary) and e.args[0].op == "-"):
        return None
    left, right = e.args[0].left, e.args[0].right
    call, const = (left, right) if _is_net_call(left, checked, info.name) else (right, left)
    if not _is_net_call(call, checked, info.name) or _mentions(const, info.name):
        return None
    net = checked.nets[call.func]
    layers = plain_relu_layers(net)
    if layers is None or layers[0][0].shape[1] != len(lo):
        return None
    n_y = layers[-1][0].shape[0]
    try:
        t = np.asarray(Evaluator(checked, {}).eval(const, {}), np.float64).reshape(-1)
    except (KeyError, ValueError, TypeError):
        return None
    if t.size == 1:
        t = np.full(n_y, float(t[0]))
    if t.size != n_y:
        return None
    return NetObjective(info.name, tuple(info.shape), net.path, layers, lo, hi, t)


def _is_net_call(e, checked, x_name: str) -> bool:
    return (isinstance(e, A.Call) and e.func in checked.nets and len(e.args) == 1
            and isinstance(e.args[0], A.Name) and e.args[0].id == x_name)


def _mentions(e, name: str) -> bool:
    if isinstance(e, A.Name):
        return e.id == name
    if isinstance(e, (A.Num,)):
        return False
    if isinstance(e, A.Call):   # a network at a fixed design is a constant (the verifier evaluates it)
        return any(_mentions(a, name) for a in e.args)
    children = [getattr(e, f) for f in ("left", "right", "operand", "base") if hasattr(e, f)]
    children += list(getattr(e, "items", ())) + list(getattr(e, "indices", ()))
    return any(_mentions(c, name) for c in children if c is not None and not isinstance(c, (str, int, float)))
