"""A compiled problem read as a property of one network: is there an x in a box where some
clause of linear rows over (x, net(x)) holds?

This is the form the input-space members of the portfolio search (sampling, gradient
descent, input branch and bound), whether the problem came from a VNNLIB file or a .pgen
spec. It is read off the model lowered with the network left opaque (its outputs are free
variables), so it sees exactly the constraints the exact backends see:

- one real vector variable `x` with a finite box, the only input of one network call;
- rows over x and the outputs y (common to every clause);
- Boolean arrays whose only use is `sum(b) >= 1` and implications `b[k] -> row`: each is an
  `or` of clauses; several such arrays multiply out (one clause per choice of one member of
  each), and a clause's rows that bound a single input become its own box (VNNLIB input
  regions);
- a satisfy objective, nothing else.

Anything else (integer or other real variables, an objective, other uses of the Booleans)
and the property does not apply: the exact backends answer alone.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..compiler import ir
from ..compiler.lower import lower
from ..compiler.nn.forward import plain_relu_layers

MAX_CLAUSES = 256  # the product of the `or`s; beyond it the exact backends do better


@dataclass
class Region:
    """One input box and the clauses that can hold in it: (cy [m, n_y], cx [m, n_x], c0 [m])
    with rows cy.y + cx.x + c0 <= 0, and for each clause its choice of one member per `or`."""
    lo: np.ndarray
    hi: np.ndarray
    clauses: list = field(default_factory=list)
    choices: list = field(default_factory=list)


@dataclass
class NetProperty:
    x_name: str            # the spec variable fed to the network
    x_shape: tuple
    net_name: str
    net_path: str
    layers: Optional[list]  # [(W, b), ...] for a plain ReLU network, else None
    regions: list           # [Region]
    groups: list            # [(spec bool name, shape)] one per `or`, in the order of a clause's choice

    @property
    def n_x(self) -> int:
        return int(np.prod(self.x_shape)) if self.x_shape else 1

    def values(self, x: np.ndarray, y: np.ndarray) -> Optional[dict]:
        """The spec's values for a candidate input (y: the network's output on it): the
        Booleans of each `or` set to a clause that holds, or None when no clause holds."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        for region in self.regions:
            if np.any(x < region.lo) or np.any(x > region.hi):
                continue
            for (cy, cx, c0), choice in zip(region.clauses, region.choices):
                if np.all(cy @ y + cx @ x + c0 <= 0):
                    out = {self.x_name: x.reshape(self.x_shape) if self.x_shape else np.asarray(x[0])}
                    for (name, shape), k in zip(self.groups, choice):
                        b = np.zeros(int(np.prod(shape)))
                        b[k] = 1.0
                        out[name] = b.reshape(shape)
                    return out
        return None


def net_property(checked) -> Optional[NetProperty]:
    """The problem as a NetProperty, or None when it is not of that form."""
    if checked.objective is None or checked.objective.sense != "satisfy" or checked.selects \
            or len(checked.nets) != 1:
        return None
    reals = [v for v in checked.vars.values() if v.kind == "real"]
    others = [v for v in checked.vars.values() if v.kind != "real"]
    if len(reals) != 1 or any(v.kind != "bool" or v.values is not None for v in others):
        return None
    xinfo = reals[0]
    if not (np.all(np.isfinite(xinfo.lb)) and np.all(np.isfinite(xinfo.ub))):
        return None
    lowered = lower(checked, opaque_networks=True)
    model, base = lowered.model, lowered.var_base
    if len(lowered.net_calls) != 1:
        return None
    call = lowered.net_calls[0]
    n_x = int(np.prod(xinfo.shape)) if xinfo.shape else 1
    x_idx = np.arange(base[xinfo.name], base[xinfo.name] + n_x)
    if len(call.inputs) != n_x or not all(
            len(lin.idx) == 1 and lin.idx[0] == i and lin.coef[0] == 1.0 and lin.const == 0.0
            for lin, i in zip(call.inputs, x_idx)):
        return None  # the network sees something other than x itself
    y_idx = np.asarray(call.outputs, dtype=np.int64)
    column = {int(i): ("x", k) for k, i in enumerate(x_idx)}
    column.update({int(i): ("y", k) for k, i in enumerate(y_idx)})
    bool_of = {}  # model index -> (group, member)
    groups = []
    for g, info in enumerate(v for v in checked.vars.values() if v.kind == "bool"):
        n = int(np.prod(info.shape)) if info.shape else 1
        groups.append((info.name, info.shape))
        for k in range(n):
            bool_of[base[info.name] + k] = (g, k)
    if len(model.vars) != len(column) + len(bool_of):
        return None  # auxiliary variables (abs, max, ...): not a plain property
    n_y = len(y_idx)

    def row(lin: ir.Lin, sense: str, rhs: float) -> Optional[list]:
        """[(cy, cx, c0)] meaning lin sense rhs, or None if it mentions a Boolean."""
        cy, cx = np.zeros(n_y), np.zeros(n_x)
        for i, c in zip(lin.idx.tolist(), lin.coef.tolist()):
            if i not in column:
                return None
            kind, k = column[i]
            (cy if kind == "y" else cx)[k] += c
        c0 = lin.const - rhs
        if sense == ir.LE:
            return [(cy, cx, c0)]
        if sense == ir.GE:
            return [(-cy, -cx, -c0)]
        return [(cy, cx, c0), (-cy, -cx, -c0)]

    common: list = []
    member_rows: dict = {}   # (group, member) -> rows
    at_least_one = set()
    for con in model.constraints:
        if isinstance(con, ir.LinearCon):
            rows = row(con.expr, con.sense, con.rhs)
            if rows is not None:
                common.extend(rows)
                continue
            members = [bool_of.get(int(i)) for i in con.expr.idx]
            if None in members or len({g for g, _ in members}) != 1 or con.sense != ir.GE \
                    or not np.all(con.expr.coef == 1.0) or con.rhs - con.expr.const != 1.0 \
                    or len(members) != _group_size(groups[members[0][0]]):
                return None
            at_least_one.add(members[0][0])
        elif isinstance(con, ir.IndicatorCon) and con.value == 1 and int(con.b) in bool_of:
            rows = row(con.expr, con.sense, con.rhs)
            if rows is None:
                return None
            member_rows.setdefault(bool_of[int(con.b)], []).extend(rows)
        else:
            return None
    if at_least_one != set(range(len(groups))):
        return None  # a Boolean array that is not an `or`
    sizes = [_group_size(g) for g in groups]
    if int(np.prod(sizes)) > MAX_CLAUSES:
        return None
    lo0, hi0 = xinfo.lb.reshape(-1).astype(np.float64), xinfo.ub.reshape(-1).astype(np.float64)
    regions: dict = {}
    for choice in itertools.product(*[range(s) for s in sizes]):
        rows = common + [r for g, k in enumerate(choice) for r in member_rows.get((g, k), [])]
        lo, hi, rest = _box(rows, lo0.copy(), hi0.copy())
        if np.any(lo > hi):
            continue  # this clause cannot hold anywhere
        key = (lo.tobytes(), hi.tobytes())
        region = regions.setdefault(key, Region(lo, hi))
        cy = np.array([r[0] for r in rest]).reshape(len(rest), n_y)
        cx = np.array([r[1] for r in rest]).reshape(len(rest), n_x)
        c0 = np.array([float(r[2]) for r in rest])
        region.clauses.append((cy, cx, c0))
        region.choices.append(choice)
    net = checked.nets[call.net]
    return NetProperty(xinfo.name, tuple(xinfo.shape), call.net, net.path, plain_relu_layers(net),
                       list(regions.values()), groups)


def _group_size(group) -> int:
    _, shape = group
    return int(np.prod(shape)) if shape else 1


def _box(rows: list, lo: np.ndarray, hi: np.ndarray):
    """Rows that bound one input (no output) narrow the box; the others stay as the clause."""
    rest = []
    for cy, cx, c0 in rows:
        nz = np.flatnonzero(cx)
        if not np.any(cy) and len(nz) == 1:
            i = int(nz[0])
            v = -float(c0) / cx[i]  # cx_i x_i + c0 <= 0
            if cx[i] > 0:
                hi[i] = min(hi[i], v)
            else:
                lo[i] = max(lo[i], v)
        elif not np.any(cy) and len(nz) == 0:
            if c0 > 0:  # a constant row that fails: the clause is empty
                lo[:] = np.inf
        else:
            rest.append((cy, cx, c0))
    return lo, hi, rest
