"""The independent verifier: evaluate the spec itself on a decoded solution.

This module shares no logic with the encoder: it walks the AST with NumPy
values, applies each function by its atom's direct evaluation (`compiler.atoms`;
a network runs in onnxruntime), and checks each `require`, each domain, each
`select` and the objective directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..compiler.atoms import atom_of, call_site, mentions_oracle
from ..core.options import DEFAULT_TOLERANCE
from ..dsl import ast as A
from ..dsl.printer import constraint_text, stmt_text



@dataclass
class Failure:
    where: str
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.detail}"


@dataclass
class Report:
    ok: bool
    failures: list = field(default_factory=list)
    checked: int = 0
    objective: Optional[float] = None
    tolerance: float = DEFAULT_TOLERANCE


class Evaluator:
    def __init__(self, checked, values: dict):
        self.checked = checked
        self.values = values

    def eval(self, e, env: dict) -> np.ndarray:
        match e:
            case A.Num():
                return np.asarray(float(e.value))
            case A.Name():
                if e.id in env:
                    return np.asarray(float(env[e.id]))
                if e.id in self.values:
                    return np.asarray(self.values[e.id], dtype=np.float64)
                return np.asarray(self.checked.params[e.id], dtype=np.float64)
            case A.ArrayLit():
                return np.stack([self.eval(i, env) for i in e.items])
            case A.Unary():
                return -self.eval(e.operand, env)
            case A.Binary():
                a, b = self.eval(e.left, env), self.eval(e.right, env)
                return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[e.op](a, b)
            case A.Subscript():
                base = self.eval(e.base, env)
                key = []
                for idx in e.indices:
                    if isinstance(idx, A.IndexAll):
                        key.append(slice(None))
                    elif isinstance(idx, A.IndexRange):
                        key.append(slice(int(self.eval(idx.lo, env)), int(self.eval(idx.hi, env)) + 1))
                    else:
                        key.append(int(self.eval(idx, env)))
                return np.asarray(base[tuple(key)])
            case A.Call():
                args = [self.eval(a, env) for a in e.args]
                atom = atom_of(e.func, self.checked.nets)
                return atom.evaluate(call_site(e, self.checked.nets), args)
            case A.Generator():
                parts = [self.eval(e.body, inner) for inner in self.envs(e.iters, env)]
                atom = atom_of(e.func, self.checked.nets).reduction
                return atom.evaluate(call_site(e, self.checked.nets), parts)
        raise ValueError(f"cannot evaluate {type(e).__name__}")

    def envs(self, iters, env):
        if not iters:
            yield dict(env)
            return
        it = iters[0]
        for v in range(int(self.eval(it.lo, env)), int(self.eval(it.hi, env)) + 1):
            inner = dict(env)
            inner[it.var] = v
            yield from self.envs(iters[1:], inner)


def _holds(rel, ev: Evaluator, env, tol: float) -> tuple[bool, str]:
    match rel:
        case A.Compare():
            l, r = ev.eval(rel.left, env), ev.eval(rel.right, env)
            slack = tol * np.maximum(1.0, np.abs(r))
            ok = {"<=": l <= r + slack, ">=": l >= r - slack, "==": np.abs(l - r) <= slack,
                  "<": l < r, ">": l > r}[rel.op]
            return bool(np.all(ok)), f"left = {_show(l)}, right = {_show(r)}"
        case A.InInterval():
            v = ev.eval(rel.expr, env)
            lo, hi = ev.eval(rel.interval.lo, env), ev.eval(rel.interval.hi, env)
            lo_ok = v >= lo - tol * np.maximum(1.0, np.abs(lo)) if rel.interval.lo_closed else v > lo
            hi_ok = v <= hi + tol * np.maximum(1.0, np.abs(hi)) if rel.interval.hi_closed else v < hi
            return bool(np.all(lo_ok & hi_ok)), f"value = {_show(v)}"
        case A.Truth():
            v = ev.eval(rel.expr, env)
            return bool(np.all(v == 1.0)), f"value = {_show(v)}"
    raise ValueError(rel)


def _show(v) -> str:
    arr = np.asarray(v)
    if arr.size == 1:
        return f"{float(arr.reshape(-1)[0]):.9g}"
    return np.array2string(arr.reshape(-1)[:8], precision=6) + (" ..." if arr.size > 8 else "")


def verify(checked, values: dict, objective: Optional[float] = None,
           tolerance: float = DEFAULT_TOLERANCE) -> Report:
    """Check a decoded solution against the spec itself."""
    ev = Evaluator(checked, values)
    failures = []
    n = 0
    path = checked.path or "<input>"
    for name, info in checked.vars.items():
        x = np.asarray(values[name], dtype=np.float64)
        where = f"{path}:{info.decl.span.line}:{info.decl.span.column}"
        n += 1
        slack = tolerance * np.maximum(1.0, np.abs(info.ub))
        if np.any(x < info.lb - tolerance * np.maximum(1.0, np.abs(info.lb))) or np.any(x > info.ub + slack):
            failures.append(Failure(where, f"domain of `{name}`", f"value {_show(x)} outside its bounds"))
        if info.kind in ("int", "bool") and not np.array_equal(x, np.round(x)):
            failures.append(Failure(where, f"domain of `{name}`", f"non-integer value {_show(x)}"))
        if info.values is not None and not np.all(np.isin(x, info.values)):
            failures.append(Failure(where, f"domain of `{name}`", f"value {_show(x)} not in {set(info.values)}"))
    for req in checked.requires:
        where = f"{path}:{req.span.line}:{req.span.column}"
        for env in ev.envs(req.iters, {}):
            n += 1
            c = req.constraint
            if isinstance(c, A.Implies):
                cond_ok, _ = _holds(c.cond, ev, env, 0.0)
                if not cond_ok:
                    continue
                c = c.then
            # the PDE's own value is compared as it is: the tolerance is for solver arithmetic
            ok, detail = _holds(c, ev, env, 0.0 if mentions_oracle(req.constraint, checked.nets) else tolerance)
            if not ok:
                at = ", ".join(f"{k} = {v}" for k, v in env.items())
                failures.append(Failure(where, f"`{stmt_text(req)}`" + (f" at {at}" if at else ""), detail))
                break
    for sel in checked.selects:
        n += 1
        x = ev.eval(sel.target, {})
        count = int(ev.eval(sel.count, {}))
        if sel.axis is None:
            used = int(np.count_nonzero(x))
        else:
            used = int(np.count_nonzero(np.any(np.moveaxis(x, sel.axis, 0).reshape(x.shape[sel.axis], -1) != 0, axis=1)))
        if used > count:
            failures.append(Failure(f"{path}:{sel.span.line}:{sel.span.column}", f"`{stmt_text(sel)}`",
                                    f"{used} selected"))
    true_obj = None
    obj = checked.objective
    if obj is not None and obj.expr is not None:
        true_obj = float(np.asarray(ev.eval(obj.expr, {})).reshape(-1)[0])
        if objective is not None:
            n += 1
            obj_tol = max(1e-4, 1e-5 * abs(true_obj)) + tolerance * 100
            if abs(true_obj - objective) > obj_tol:
                failures.append(Failure(f"{path}:{obj.span.line}:{obj.span.column}", "objective",
                                        f"the solver reports {objective:.9g} but the spec evaluates to {true_obj:.9g}"))
    return Report(not failures, failures, n, true_obj, tolerance)
