"""Network -> IR constraints, exactly (DESIGN.md "Encodings").

ReLU: big-M with interval-arithmetic bounds under the spec's own input
domain; stably active / inactive neurons get no binary. Binarized layers:
one reified cardinality constraint per neuron, thresholds found by running
the graph's own float32 tail on every reachable pre-activation value.
"""
from __future__ import annotations

import math

import numpy as np

from ...dsl.diagnostics import PgenError
from .. import ir
from ..affine import Aff
from .network import Dense, Network, Relu, Step

# Bounds from float64 interval arithmetic are widened by this relative margin so
# that rounding can never cut off a reachable value (a looser big-M stays exact).
BOUND_MARGIN = 1e-9


def encode_network(net: Network, x: Aff, model: ir.Model, label: str, origin: str) -> Aff:
    h = x
    for li, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            h = h.matmul(layer.W, layer.b)
        elif isinstance(layer, Relu):
            h = _relu(h, model, f"{label}.relu{li}", origin)
        elif isinstance(layer, Step):
            h = _step(net, layer, h, model, f"{label}.bin{li}", origin)
    return h


def _widened_bounds(h: Aff, model: ir.Model):
    lb, ub = model.bounds_arrays()
    lo, hi = h.bounds(lb, ub)
    lo = np.nan_to_num(lo, nan=-np.inf)
    hi = np.nan_to_num(hi, nan=np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        lo = lo - BOUND_MARGIN * (1.0 + np.abs(lo))
        hi = hi + BOUND_MARGIN * (1.0 + np.abs(hi))
    return lo, hi


def _relu(h: Aff, model: ir.Model, label: str, origin: str) -> Aff:
    lo, hi = _widened_bounds(h, model)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise PgenError("E016", "a network input has no finite bounds, so its ReLU neurons cannot be encoded exactly",
                        hint="give every variable that feeds a network a finite domain, e.g. `in [0, 1]`")
    lins = h.lins()
    out = []
    n_unstable = 0
    for k, pre in enumerate(lins):
        if hi[k] <= 0.0:  # stably inactive
            out.append(ir.Lin(np.zeros(0, np.int64), np.zeros(0), 0.0))
        elif lo[k] >= 0.0:  # stably active
            out.append(pre)
        else:
            n_unstable += 1
            y = model.add_var(f"{label}[{k}]", ir.REAL, 0.0, float(hi[k]), origin)
            z = model.add_var(f"{label}.on[{k}]", ir.BOOL, 0.0, 1.0, origin)
            # y >= pre ; z = 1 -> y <= pre (big-M -lo) ; z = 0 -> y <= 0 (big-M hi) ; y >= 0 (bound)
            # Written as implications so that exact-arithmetic backends see no rounded sums.
            base = dict(zip(pre.idx.tolist(), (-pre.coef).tolist()))
            base[y] = 1.0
            row = ir.Lin.of(base)
            model.constraints.append(ir.LinearCon(row, ir.GE, pre.const, origin))
            model.constraints.append(ir.IndicatorCon(z, 1, row, ir.LE, pre.const, origin, M=-float(lo[k])))
            model.constraints.append(ir.IndicatorCon(z, 0, ir.Lin.of({y: 1.0}), ir.LE, 0.0, origin, M=float(hi[k])))
            out.append(ir.Lin(np.array([y], np.int64), np.array([1.0]), 0.0))
    model.notes.append(f"{label}: {len(lins)} neurons, {n_unstable} unstable (binary), "
                       f"{int(np.sum(hi <= 0))} stably inactive, {int(np.sum((lo >= 0) & (hi > 0)))} stably active")
    return Aff.of_lins(out, (len(out),), len(model.vars))


def _step(net: Network, layer: Step, x: Aff, model: ir.Model, label: str, origin: str) -> Aff:
    h = x.matmul(layer.pre.W, layer.pre.b)
    s = h.matmul(layer.matrix, np.zeros(layer.matrix.shape[0]))
    lins = s.lins()
    kinds = [v.kind for v in model.vars]
    lb, ub = model.bounds_arrays()
    for k, lin in enumerate(lins):
        integral = np.all(lin.coef == np.round(lin.coef)) and lin.const == round(lin.const)
        discrete = all(kinds[i] in (ir.BOOL, ir.INT) for i in lin.idx)
        if not (integral and discrete):
            raise PgenError("E021", f"{net.display}: binarized layer `{layer.node}` receives non-integer values "
                            f"(neuron {k}); its input must be Boolean pixels or a previous binarized layer",
                            hint="declare the network's input as bool, or use a ReLU network for real inputs")
    ranges = [lin.bounds(lb, ub) for lin in lins]
    gmin = int(math.floor(min(r[0] for r in ranges)))
    gmax = int(math.ceil(max(r[1] for r in ranges)))
    values = np.arange(gmin, gmax + 1, dtype=np.float64)
    table = layer.decide(np.repeat(values[:, None], len(lins), axis=1))  # [value, neuron]
    out = []
    n_const = 0
    for k, lin in enumerate(lins):
        lo, hi = int(round(ranges[k][0])), int(round(ranges[k][1]))
        g = int(np.gcd.reduce(np.abs(lin.coef).astype(np.int64))) if len(lin.coef) else 1
        reach = np.arange(lo, hi + 1, max(g, 1))
        d = table[reach - gmin, k]
        if layer.tie == "sign" and np.any(d == 0):
            bad = int(reach[np.argmax(d == 0)])
            raise PgenError("E021", f"{net.display}: `Sign` at `{layer.node}` outputs 0 for neuron {k} at the "
                            f"reachable pre-activation {bad}; a three-valued activation is not supported",
                            hint="export the network with the `2*Cast(GreaterOrEqual(v,0))-1` spelling (0 -> +1)")
        pos = d > 0 if layer.tie == "sign" else d >= 0
        if pos.all() or not pos.any():
            n_const += 1
            out.append(ir.Lin(np.zeros(0, np.int64), np.zeros(0), 1.0 if pos.all() else 0.0))
            continue
        y = model.add_var(f"{label}[{k}]", ir.BOOL, 0.0, 1.0, origin)
        first_pos = int(np.argmax(pos))
        first_neg = int(np.argmax(~pos))
        up_set = pos[first_pos:].all()
        down_set = first_pos == 0 and not pos[first_neg:].any()
        if not (up_set or down_set):
            raise PgenError("E021", f"{net.display}: binarized neuron {k} at `{layer.node}` is not monotone in its "
                            "pre-activation (its batch-norm scale may be zero)")
        expr = ir.Lin(lin.idx, lin.coef, 0.0)
        if up_set:   # y <-> s >= t
            model.constraints.append(ir.ReifiedCon(y, expr, ir.GE, float(reach[first_pos]) - lin.const, origin))
        else:        # down-set: y <-> s <= t
            last_pos = first_neg - 1
            model.constraints.append(ir.ReifiedCon(y, expr, ir.LE, float(reach[last_pos]) - lin.const, origin))
        out.append(ir.Lin(np.array([y], np.int64), np.array([1.0]), 0.0))
    model.notes.append(f"{label}: {len(lins)} binarized neurons, {n_const} constant")
    return Aff.of_lins(out, (len(out),), len(model.vars))
