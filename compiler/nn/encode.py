"""Network -> IR constraints, exactly (DESIGN.md "Encodings").

ReLU: big-M with per-neuron bounds under the spec's own input domain, the
tightest of what is available, intersected: interval arithmetic on the model's
variable bounds, the network's linear relaxation (CROWN, `relax.layer_bounds`)
over the box of the variables that feed it (plain ReLU networks), then LP over
the model built so far (`BoundBudget`). Stably active / inactive neurons get
no binary. Binarized layers:
one reified cardinality constraint per neuron, thresholds found by running
the graph's own float32 tail on every reachable pre-activation value.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ...core.errors import PgenError
from .. import bound_cache, ir
from ..affine import Aff
from ..bounds import widened
from .forward import plain_relu_layers
from .network import Dense, Network, RealStep, Relu, Step
from .relax import layer_bounds

# Bounds from float64 interval arithmetic are widened by this relative margin so
# that rounding can never cut off a reachable value (a looser big-M stays exact).
BOUND_MARGIN = 1e-9


class BoundBudget:
    """How ReLU bounds are found: "interval" only; "lp" (interval and linear relaxation, then
    LP within `seconds`); or "milp" (then a MILP per neuron still unstable, each stopped after
    `neuron_time` seconds, `jobs` at a time: seed 002's Algorithm 1). With `cache`, a layer's
    bounds are read from and its MILP-stage bounds written to `compiler/bound_cache.py`.
    `layers` collects one record per ReLU layer for `pgenc bounds` and the model's notes."""

    def __init__(self, mode: str = "lp", seconds: float = 20.0, neuron_time: float = 2.0, jobs: int = 2,
                 cache: bool = True, on_layer=None, relaxation: bool = True):
        self.on_layer = on_layer   # called with each layer's record as soon as it is done (progress)
        self.mode = mode
        # False: no linear-relaxation (CROWN) bounds, only interval and LP ones (a model whose
        # verdict confirms input branch and bound's must not share its relaxation code)
        self.relaxation = relaxation
        self.seconds = seconds
        self.neuron_time = neuron_time
        self.jobs = jobs
        self.cache = cache
        self.lps = 0
        self.layers: list = []


def encode_network(net: Network, x: Aff, model: ir.Model, label: str, origin: str,
                   budget: BoundBudget | None = None) -> Aff:
    budget = budget or BoundBudget("interval")
    use_relaxation = budget.mode == "lp" and budget.relaxation
    relaxed = iter(relaxation_bounds(net, x, model) or []) if use_relaxation else iter([])
    h = x
    for li, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            h = h.matmul(layer.W, layer.b)
        elif isinstance(layer, Relu):
            h = _relu(h, model, f"{label}.relu{li}", origin, budget, next(relaxed, None))
        elif isinstance(layer, Step):
            h = _step(net, layer, h, model, f"{label}.bin{li}", origin)
        elif isinstance(layer, RealStep):
            h = _real_step(net, layer, h, model, f"{label}.in{li}", origin)
    return h


def _ordered(f: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys whose order is the float order (finite values)."""
    i = np.asarray(f, np.float32).view(np.int32).astype(np.int64)
    return np.where(i >= 0, i, -(i & 0x7FFFFFFF))


def _from_ordered(k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, np.int64)
    i = np.where(k >= 0, k, (-k) | 0x80000000).astype(np.uint32).view(np.int32)
    return i.view(np.float32)


def _real_step(net: Network, layer: RealStep, x: Aff, model: ir.Model, label: str, origin: str) -> Aff:
    """Thresholds on real inputs, found on the float32 grid by bisection through the graph's own tail.

    The tail is monotone (float rounding is), so y_i = 1 iff x_i >= theta_i (or <=). The
    encoding asks x_i >= theta_i when y_i = 1 and x_i <= the float32 just below theta_i
    when y_i = 0: every float32 input keeps its exact decision, and a real solution
    rounds to float32 on the right side (rounding is monotone too).
    """
    lb, ub = model.bounds_arrays()
    lo, hi = x.bounds(lb, ub)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise PgenError("E016", "binarized real inputs need finite bounds",
                        hint="give every network input a finite domain")
    lo32 = np.nextafter(lo.astype(np.float32), np.float32(-np.inf)).astype(np.float32)
    hi32 = np.nextafter(hi.astype(np.float32), np.float32(np.inf)).astype(np.float32)
    v_lo = layer.values(lo32[None, :])[0]
    v_hi = layer.values(hi32[None, :])[0]
    preds = [lambda v: v >= 0] if layer.tie == "ge" else [lambda v: v > 0, lambda v: v < 0]
    lins = x.lins()
    out = []
    n_free = 0
    for p_index, pos in enumerate(preds):
        p_lo, p_hi = pos(v_lo), pos(v_hi)
        increasing = ~p_lo & p_hi
        changing = increasing | (p_lo & ~p_hi)
        # bisection on the float32 order: decision(a) == decision(lo), decision(b) differs
        a, b = _ordered(lo32), _ordered(hi32)
        while np.any(changing & (b - a > 1)):
            mid = np.where(changing, (a + b) // 2, a)
            same = pos(layer.values(_from_ordered(mid)[None, :])[0]) == p_lo
            a = np.where(changing & same, mid, a)
            b = np.where(changing & ~same, mid, b)
        for k, lin in enumerate(lins):
            if not changing[k]:
                out.append(ir.Lin(np.zeros(0, np.int64), np.zeros(0), 1.0 if p_lo[k] else 0.0))
                continue
            n_free += 1
            y = model.add_var(f"{label}{'' if p_index == 0 else '.neg'}[{k}]", ir.BOOL, 0.0, 1.0, origin)
            model.branch_first.append(y)
            expr = ir.Lin(lin.idx, lin.coef, 0.0)
            below = float(_from_ordered(a[k:k + 1])[0])  # last float32 on lo's side
            t = float(_from_ordered(b[k:k + 1])[0])      # first float32 on hi's side
            # y is the predicate's value: on hi's side it is p_hi
            hi_value, lo_value = (1, 0) if increasing[k] else (0, 1)
            model.constraints.append(ir.IndicatorCon(y, hi_value, expr, ir.GE, t - lin.const, origin,
                                                     M=max(t - float(lo[k]), 0.0)))
            model.constraints.append(ir.IndicatorCon(y, lo_value, expr, ir.LE, below - lin.const, origin,
                                                     M=max(float(hi[k]) - below, 0.0)))
            out.append(ir.Lin(np.array([y], np.int64), np.array([1.0]), 0.0))
    model.notes.append(f"{label}: {len(lins)} binarized inputs, {n_free} free decisions")
    return Aff.of_lins(out, (len(out),), len(model.vars))


def _widened_bounds(h: Aff, model: ir.Model):
    lb, ub = model.bounds_arrays()
    lo, hi = h.bounds(lb, ub)
    lo = np.nan_to_num(lo, nan=-np.inf)
    hi = np.nan_to_num(hi, nan=np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        lo = lo - BOUND_MARGIN * (1.0 + np.abs(lo))
        hi = hi + BOUND_MARGIN * (1.0 + np.abs(hi))
    # a sum of terms each >= 0 (and a constant >= 0) is >= 0 without rounding: e.g. a value carried
    # through a ReLU layer (compiler/nn/relu_layer.py) stays stably active and gets no binary
    return np.where(_sums_of_nonnegatives(h, lb, ub), np.maximum(lo, 0.0), lo), hi


def _sums_of_nonnegatives(h: Aff, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    A = h.A.tocsr()
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    coef = A.data
    with np.errstate(invalid="ignore"):
        term_lo = np.where(coef > 0, coef * lb[A.indices], coef * ub[A.indices])
    negative = ~(term_lo >= 0)  # NaN (0 * inf) counts as possibly negative
    has_negative = np.bincount(rows[negative], minlength=A.shape[0]) > 0
    return ~has_negative & (np.asarray(h.c, np.float64).reshape(-1) >= 0)


def relaxation_bounds(net: Network, x: Aff, model: ir.Model):
    """[(l, u)] per hidden layer: bounds on the pre-activations of a plain ReLU network from
    its linear relaxation over the box of the model variables its input `x` reads (x = A v + c,
    the first layer composed with A, so relations between inputs are kept), widened like LP
    bounds for float rounding; None when the network is not plain ReLU or the box is not finite."""
    layers = plain_relu_layers(net)
    if layers is None or len(layers) < 2:
        return None
    cols = np.unique(x.A.indices)
    if not len(cols):
        return None  # a constant input: interval arithmetic is exact
    lb, ub = model.bounds_arrays()
    v_lo, v_hi = lb[cols], ub[cols]
    if not (np.all(np.isfinite(v_lo)) and np.all(np.isfinite(v_hi))):
        return None
    A = x.A[:, cols].toarray()
    W, b = layers[0]
    composed = [(W @ A, W @ x.c + b)] + list(layers[1:])
    pre = layer_bounds(composed, v_lo[None, :], v_hi[None, :])
    return [widened(l[0], u[0]) for l, u in pre]


def _relu(h: Aff, model: ir.Model, label: str, origin: str, budget: BoundBudget, relaxed=None) -> Aff:
    """`relaxed`: (lo, hi) known to hold for these pre-activations (the linear relaxation's),
    intersected with the interval bounds."""
    lo, hi = _widened_bounds(h, model)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise PgenError("E016", "a network input has no finite bounds, so its ReLU neurons cannot be encoded exactly",
                        hint="give every variable that feeds a network a finite domain, e.g. `in [0, 1]`")
    lins = h.lins()
    n_interval = int(np.sum((lo < 0) & (hi > 0)))
    if relaxed is not None:
        lo, hi = np.maximum(lo, relaxed[0]), np.minimum(hi, relaxed[1])
    n_relaxed = int(np.sum((lo < 0) & (hi > 0)))
    record = {"layer": label, "neurons": len(lins), "unstable": {"interval": n_interval, "relaxation": n_relaxed},
              "source": "computed", "seconds": 0.0}
    t0 = time.perf_counter()
    key, cached = None, None
    # hashing the model costs time on every lowering: only when there is a cache to read or
    # MILP bounds to write
    if budget.mode != "interval" and budget.cache and (budget.mode == "milp" or bound_cache.cache_dir().is_dir()):
        key = bound_cache.layer_key(model, lins)
        hit = bound_cache.load(key)
        if hit is not None and hit[0].shape == (len(lins),):
            lo, hi, cached = np.maximum(lo, hit[0]), np.minimum(hi, hit[1]), hit[2]
            record["source"] = f"cache ({cached})"
            record["unstable"]["cache"] = int(np.sum((lo < 0) & (hi > 0)))
    unstable = np.flatnonzero((lo < 0) & (hi > 0))
    # over a bare box an LP gives the interval bound again: only worth it once rows exist
    if (budget.mode in ("lp", "milp") and cached is None and len(unstable) and model.constraints
            and budget.seconds > 0):
        from ..bounds import lp_bounds

        lo, hi, n_lp = lp_bounds(model, lins, lo, hi, unstable, budget.seconds)
        budget.seconds -= time.perf_counter() - t0
        budget.lps += n_lp
        unstable = np.flatnonzero((lo < 0) & (hi > 0))
        record["unstable"]["lp"] = len(unstable)
    if budget.mode == "milp" and cached != "milp" and budget.seconds > 0:
        from ..bounds import milp_bounds

        t1 = time.perf_counter()
        complete = True
        if len(unstable):
            lo, hi, _, complete = milp_bounds(model, lins, lo, hi, unstable, budget.neuron_time,
                                              budget.seconds, budget.jobs)
        budget.seconds -= time.perf_counter() - t1
        record["unstable"]["milp"] = int(np.sum((lo < 0) & (hi > 0)))
        if complete and key is not None:
            try:
                bound_cache.store(key, lo, hi, "milp", {"layer": label, "neuron_time": budget.neuron_time})
                record["cached"] = True
            except PgenError as e:  # an unwritable cache costs the next solve time, not this one
                model.notes.append(f"{label}: bounds not cached: {e.message}")
    record["seconds"] = round(time.perf_counter() - t0, 3)
    budget.layers.append(record)
    if budget.on_layer is not None:
        budget.on_layer(record)
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
                       f"{int(np.sum(hi <= 0))} stably inactive, {int(np.sum((lo >= 0) & (hi > 0)))} stably active; "
                       f"stabilised beyond interval bounds: {n_interval - n_relaxed} by the linear relaxation, "
                       f"{n_relaxed - n_unstable} by " + ("the cached bounds" if cached else
                                                           "LP and MILP" if budget.mode == "milp" else "LP"))
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
    # "ge": one Boolean per neuron (v >= 0). "sign": two, for v > 0 and v < 0, so that the
    # third value Sign(0) = 0 is encoded exactly (both false); the output is [pos; neg].
    preds = [lambda d: d >= 0] if layer.tie == "ge" else [lambda d: d > 0, lambda d: d < 0]
    out = []
    n_const = 0
    for p_index, pred in enumerate(preds):
        for k, lin in enumerate(lins):
            lo, hi = int(round(ranges[k][0])), int(round(ranges[k][1]))
            g = int(np.gcd.reduce(np.abs(lin.coef).astype(np.int64))) if len(lin.coef) else 1
            reach = np.arange(lo, hi + 1, max(g, 1))
            pos = pred(table[reach - gmin, k])
            if pos.all() or not pos.any():
                n_const += 1
                out.append(ir.Lin(np.zeros(0, np.int64), np.zeros(0), 1.0 if pos.all() else 0.0))
                continue
            y = model.add_var(f"{label}{'' if p_index == 0 else '.neg'}[{k}]", ir.BOOL, 0.0, 1.0, origin)
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
                model.constraints.append(ir.ReifiedCon(y, expr, ir.LE, float(reach[first_neg - 1]) - lin.const, origin))
            out.append(ir.Lin(np.array([y], np.int64), np.array([1.0]), 0.0))
    model.notes.append(f"{label}: {len(lins)} binarized neurons, {n_const} constant")
    return Aff.of_lins(out, (len(out),), len(model.vars))
