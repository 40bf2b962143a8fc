"""The neural adjoint for specs with constraints: gradient descent on the design through the
spec itself, evaluated in torch, with each `require` as an exact (L1) penalty.

The seed's neural adjoint (surrogate/neural_adjoint.py) minimises `norm1(net(x) - t)` over a
box. Many specs add rows the box cannot express: smoothness of the design, outputs kept away
from an obstacle (seed 002 Sec. 4.2, reverse-convex: every point of the MILP's search needs
binaries for it), sums of ratios. Here the whole spec is differentiated: the objective plus
`weight x` the violation of every constraint instance, with a small margin so that a design
the descent calls feasible stays feasible in float64; boxes are kept by projection. The
weight grows in stages (an exact penalty needs it above the constraints' multipliers).

Applies to specs whose variables are all real with finite boxes, whose networks are plain
ReLU, and whose expressions use arithmetic, subscripts, `abs`, `norm1`, `sum`, `max`, `min`
(`why_not` says what else stops it). Proves nothing: its designs are starts, verified in the
parent like any candidate, then polished exactly (runtime/pattern_lp.py) and handed on.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional

import numpy as np

from ..dsl import ast as A
from ..dsl.printer import expr_text

ATOMS = {"abs", "norm1", "sum", "max", "min"}
MARGIN = 1e-3        # x max(1, |right side|): the descent aims this far inside every constraint
WEIGHTS = (10.0, 100.0, 1000.0)   # the penalty weight in stages, each a share of the steps
CHECK_EVERY = 50     # steps between checks of the time limit and of progress
STALL = 1e-3         # relative improvement of the best feasible design below which the descent stops


def why_not(checked) -> Optional[str]:
    """Why the constrained adjoint cannot take this spec, or None when it can."""
    from ..compiler.nn.forward import plain_relu_layers

    if checked.objective is None or checked.objective.sense not in ("minimize", "maximize"):
        return "no objective to descend"
    if checked.selects or getattr(checked, "grids", None):
        return "selections and grids need integers"
    for name, info in checked.vars.items():
        if info.kind != "real" or getattr(info, "values", None) is not None:
            # integers descended as reals and rounded: tried on contone (11 layer counts
            # summing to 30): the equality's penalty kept the descent at 4.7, the MILP at 3.6
            return f"`{name}` is not a real variable"
        if not (np.all(np.isfinite(info.lb)) and np.all(np.isfinite(info.ub))):
            return f"`{name}` has no finite box"
    for name, net in checked.nets.items():
        if plain_relu_layers(net) is None:
            return f"network `{name}` is not a plain ReLU network"
    exprs = [checked.objective.expr] + [r.constraint for r in checked.requires]
    for e in exprs:
        for node in _walk(e):
            if isinstance(node, A.Implies):
                return "implications are not descended"
            if isinstance(node, (A.Call, A.Generator)) and node.func not in ATOMS and node.func not in checked.nets:
                return f"`{node.func}` has no gradient here"
            if isinstance(node, A.Binary) and node.op == "/" and _has_var(node.right, checked):
                return "division by a variable"
    return None


def _walk(e):
    yield e
    if dataclasses.is_dataclass(e):
        for f in dataclasses.fields(e):
            v = getattr(e, f.name)
            for item in (v if isinstance(v, tuple) else (v,)):
                if dataclasses.is_dataclass(item) and not isinstance(item, type):
                    yield from _walk(item)


def _has_var(e, checked) -> bool:
    return any(isinstance(n, A.Name) and n.id in checked.vars for n in _walk(e))


def _names(e) -> set:
    return {n.id for n in _walk(e) if isinstance(n, A.Name)}


class TorchSpec:
    """The spec's expressions in torch over a batch of designs and, at once, over every
    instance of a constraint's `for` loops. A value is a tensor [batch, instances, *shape]:
    the batch of designs (size 1 for constants), the loop instances (size 1 outside a loop),
    then the spec's own shape. Loop variables are integer arrays with one entry per instance."""

    def __init__(self, checked, torch, dtype, device):
        from ..compiler.nn.forward import plain_relu_layers

        self.checked, self.torch, self.dtype, self.device = checked, torch, dtype, device
        self.nets = {}
        for name, net in checked.nets.items():
            layers = plain_relu_layers(net)
            self.nets[name] = [(torch.tensor(np.asarray(W), dtype=dtype, device=device),
                                torch.tensor(np.asarray(b), dtype=dtype, device=device)) for W, b in layers]
        self.params = {k: torch.tensor(np.asarray(v, np.float64), dtype=dtype, device=device)[None, None]
                       for k, v in checked.params.items() if np.asarray(v).dtype.kind in "fiub"}
        self.values: dict = {}
        self.calls: dict = {}   # network outputs of this pass, by call and the loop indices it reads

    def const(self, v):
        return self.torch.as_tensor(np.asarray(v, np.float64), dtype=self.dtype, device=self.device).reshape(1, -1)

    def bind(self, values: dict) -> None:
        """values: name -> tensor [batch, *shape]."""
        self.values = {k: v[:, None] for k, v in values.items()}
        self.calls = {}

    def index(self, e, env):
        """An index expression: an int, or an int array with one entry per loop instance."""
        match e:
            case A.Num():
                return int(e.value)
            case A.Name():
                if e.id in env:
                    return env[e.id]
                return int(np.asarray(self.checked.params[e.id]).reshape(-1)[0])
            case A.Unary():
                return -self.index(e.operand, env)
            case A.Binary() if e.op in "+-*":
                a, b = self.index(e.left, env), self.index(e.right, env)
                return a + b if e.op == "+" else a - b if e.op == "-" else a * b
        raise ValueError(f"index `{expr_text(e)}` is not integer arithmetic")

    def eval(self, e, env: dict):
        t = self.torch
        match e:
            case A.Num():
                return self.const(e.value)
            case A.Name():
                if e.id in env:
                    return self.const(env[e.id])
                return self.values[e.id] if e.id in self.values else self.params[e.id]
            case A.ArrayLit():
                items = [self.eval(i, env) for i in e.items]
                b, k = max(i.shape[0] for i in items), max(i.shape[1] for i in items)
                return t.stack([i.expand(b, k, *i.shape[2:]) for i in items], dim=2)
            case A.Unary():
                return -self.eval(e.operand, env)
            case A.Binary():
                a, b = _aligned(self.eval(e.left, env), self.eval(e.right, env))
                return {"+": t.add, "-": t.sub, "*": t.mul, "/": t.div}[e.op](a, b)
            case A.Subscript():
                return self._subscript(self.eval(e.base, env), e.indices, env)
            case A.Call():
                if e.func in self.nets:
                    return self._network(e, env)
                return self._atom(e.func, [self.eval(a, env) for a in e.args])
            case A.Generator():
                parts = [self.eval(e.body, inner) for inner in _envs(self, e.iters, env)]
                if e.func == "sum":
                    out = parts[0]
                    for p in parts[1:]:
                        out = t.add(*_aligned(out, p))
                    return out
                return self._atom(e.func, parts)
        raise ValueError(f"cannot evaluate {type(e).__name__}")

    def _subscript(self, base, indices, env):
        t = self.torch
        k = base.shape[1]
        ranges, points = [], []
        for j, idx in enumerate(indices):
            if isinstance(idx, A.IndexAll):
                lo, length = 0, base.shape[2 + j]
            elif isinstance(idx, A.IndexRange):
                lo = self.index(idx.lo, env)
                length = int(np.max(self.index(idx.hi, env) - lo)) + 1
            else:
                lo, length = self.index(idx, env), 1
                points.append(2 + j)
            lo = np.atleast_1d(np.asarray(lo, np.int64))
            k = max(k, len(lo))
            ranges.append((lo, length))
        m = len(ranges)
        key = [slice(None), t.arange(k, device=self.device).reshape(k, *([1] * m)) if base.shape[1] > 1 else
               t.zeros((k,) + (1,) * m, dtype=t.long, device=self.device)]
        for j, (lo, length) in enumerate(ranges):
            cols = np.broadcast_to(lo, (k,))[:, None] + np.arange(length)[None, :]   # [instances, length]
            shape = (k,) + (1,) * j + (length,) + (1,) * (m - 1 - j)
            key.append(t.as_tensor(cols, device=self.device).reshape(shape))
        out = base[tuple(key)]
        for axis in reversed(points):
            out = out.squeeze(axis)
        return out

    def _network(self, e, env):
        arg = e.args[0]
        # by the argument's text: the same `x` is written (and parsed) once per constraint
        loops = tuple((k, tuple(np.atleast_1d(v).tolist())) for k, v in sorted(env.items()) if k in _names(arg))
        key = (e.func, expr_text(arg), loops)
        if key not in self.calls:
            h = self.eval(arg, env)
            h = h.reshape(*h.shape[:2], -1)
            layers = self.nets[e.func]
            for i, (W, b) in enumerate(layers):
                h = h @ W.T + b
                if i < len(layers) - 1:
                    h = self.torch.relu(h)
            self.calls[key] = h
        return self.calls[key]

    def _atom(self, f, args):
        a = args[0]
        if f == "abs":
            return a.abs()
        if f == "norm1":
            return a.abs().reshape(*a.shape[:2], -1).sum(dim=2)
        if f == "sum":
            return a.reshape(*a.shape[:2], -1).sum(dim=2)
        if len(args) == 1:
            flat = a.reshape(*a.shape[:2], -1)
        else:
            b, k = max(x.shape[0] for x in args), max(x.shape[1] for x in args)
            flat = self.torch.stack([x.expand(b, k, *x.shape[2:]).reshape(b, k) for x in args], dim=2)
        return flat.amax(dim=2) if f == "max" else flat.amin(dim=2)


def _aligned(a, b):
    """Tensors of spec shapes broadcast the way the spec does (trailing axes), batch and
    loop instances first."""
    nd = max(a.dim(), b.dim())
    a = a.reshape(*a.shape[:2], *([1] * (nd - a.dim())), *a.shape[2:])
    b = b.reshape(*b.shape[:2], *([1] * (nd - b.dim())), *b.shape[2:])
    return a, b


def _envs(spec: TorchSpec, iters, env):
    if not iters:
        yield dict(env)
        return
    it = iters[0]
    for v in range(int(spec.index(it.lo, env)), int(spec.index(it.hi, env)) + 1):
        yield from _envs(spec, iters[1:], {**env, it.var: v})


def _instances(spec: TorchSpec, iters) -> dict:
    """Every instance of a constraint's loops at once: loop variable -> int array."""
    envs = list(_envs(spec, iters, {}))
    return {k: np.array([e[k] for e in envs], np.int64) for k in envs[0]} if envs and envs[0] else {}


def violation(spec: TorchSpec, margin: float):
    """The summed violation [batch] of every constraint instance, each aimed `margin` x
    max(1, |right side|) inside."""
    total = None
    for req in spec.checked.requires:
        v = _relation(spec, req.constraint, _instances(spec, req.iters), margin, spec.torch)
        total = v if total is None else total + v
    return total


def _relation(spec, c, env, margin, t):
    def inside(x, side):   # x <= 0 wanted, with the margin
        m = margin * t.clamp(side.abs().detach(), min=1.0)
        return t.relu(x + m)

    def summed(v):
        return v.reshape(v.shape[0], -1).sum(dim=1)

    if isinstance(c, A.Compare):
        left, right = _aligned(spec.eval(c.left, env), spec.eval(c.right, env))
        if c.op in ("<=", "<"):
            return summed(inside(left - right, right))
        if c.op in (">=", ">"):
            return summed(inside(right - left, right))
        return summed((left - right).abs())
    if isinstance(c, A.InInterval):
        v = spec.eval(c.expr, env)
        a, lo = _aligned(v, spec.eval(c.interval.lo, env))
        b, hi = _aligned(v, spec.eval(c.interval.hi, env))
        return summed(inside(lo - a, lo)) + summed(inside(b - hi, hi))
    if isinstance(c, A.Truth):
        return summed((spec.eval(c.expr, env) - 1.0).abs())
    raise ValueError(f"cannot descend {type(c).__name__}")


def penalty_adjoint(checked, restarts: int = 64, steps: int = 3000, lr: float = 0.01, seed: int = 0,
                    time_limit: Optional[float] = None, keep: int = 8, device: Optional[str] = None) -> dict:
    """Adam from `restarts` random designs on objective + weight x violation (weights WEIGHTS
    in equal shares of `steps`), boxes by projection. Returns {"designs": [{name: array}]
    (at most `keep`, feasible ones first by objective, in float64), "objective": [...],
    "violation": [...], "seconds", "steps"}."""
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    spec = TorchSpec(checked, torch, torch.float32, dev)
    names = list(checked.vars)
    shapes = [tuple(checked.vars[k].shape) for k in names]
    sizes = [int(np.prod(s)) if s else 1 for s in shapes]
    lo = np.concatenate([np.broadcast_to(np.asarray(checked.vars[k].lb, np.float64), s or ()).reshape(-1)
                         for k, s in zip(names, shapes)])
    hi = np.concatenate([np.broadcast_to(np.asarray(checked.vars[k].ub, np.float64), s or ()).reshape(-1)
                         for k, s in zip(names, shapes)])
    lo_t = torch.tensor(lo, dtype=torch.float32, device=dev)
    hi_t = torch.tensor(hi, dtype=torch.float32, device=dev)
    sense = 1.0 if checked.objective.sense == "minimize" else -1.0

    def split(X):
        out, a = {}, 0
        for k, s, n in zip(names, shapes, sizes):
            out[k] = X[:, a:a + n].reshape(X.shape[0], *s)
            a += n
        return out

    # the descent moves u in [0, 1]^n, x = lo + u (hi - lo): `lr` is a share of each box's width
    width = torch.clamp(hi_t - lo_t, min=1e-12)
    U = torch.rand((restarts, len(lo)), generator=gen).to(dev).requires_grad_(True)
    opt = torch.optim.Adam([U], lr=lr)
    start = time.perf_counter()
    step = 0
    history = np.inf   # the best feasible objective at the last check
    per_stage = max(1, steps // len(WEIGHTS))
    for step in range(steps):
        weight = WEIGHTS[min(step // per_stage, len(WEIGHTS) - 1)]
        X = lo_t + U * width
        spec.bind(split(X))
        objective = spec.eval(checked.objective.expr, {}).reshape(restarts, -1).sum(dim=1)
        viol = violation(spec, MARGIN)
        loss = sense * objective + (weight * viol if viol is not None else 0.0)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            U.clamp_(0.0, 1.0)
        if step % CHECK_EVERY == CHECK_EVERY - 1:
            if time_limit is not None and time.perf_counter() - start > time_limit:
                break
            # stop once enough designs are feasible and the best of them has stalled: the
            # exact polish takes it from there (soft robot: 300 steps land within 0.014)
            with torch.no_grad():
                feasible = (viol <= 0) if viol is not None else torch.ones_like(objective, dtype=torch.bool)
                best = float((sense * objective)[feasible].min()) if int(feasible.sum()) >= keep // 2 else np.inf
            if np.isfinite(best) and best > history - STALL * max(1.0, abs(history)) and step >= steps // len(WEIGHTS):
                break
            history = min(history, best)
    # the designs scored in float64, without the margin
    spec64 = TorchSpec(checked, torch, torch.float64, dev)
    with torch.no_grad():
        X64 = lo_t.to(torch.float64) + U.detach().to(torch.float64) * width.to(torch.float64)
        spec64.bind(split(X64))
        objective = spec64.eval(checked.objective.expr, {}).reshape(restarts, -1).sum(dim=1).cpu().numpy()
        viol = violation(spec64, 0.0)
        viol = np.zeros(restarts) if viol is None else viol.cpu().numpy()
    order = np.lexsort((sense * objective, viol * (viol > 0), viol > 0))   # feasible first, then by objective
    designs = []
    x_np = X64.cpu().numpy()
    for i in order[:keep]:
        d, a = {}, 0
        for k, s, n in zip(names, shapes, sizes):
            d[k] = x_np[i, a:a + n].reshape(s) if s else np.asarray(float(x_np[i, a]))
            a += n
        designs.append(d)
    return {"designs": designs, "objective": objective[order[:keep]].tolist(),
            "violation": viol[order[:keep]].tolist(), "seconds": time.perf_counter() - start,
            "steps": step + 1, "device": str(dev)}
