"""Enumeration as a portfolio member (DESIGN.md strategy 1): when every variable is integer
or Boolean with a finite domain and the design space is small (seed 002 Sec. 4.4: 8^4
shell thicknesses), every design is checked and scored by the verifier itself (each
constraint and the objective evaluated directly, networks by onnxruntime, all designs'
network inputs in one batched run), so the answer is exact by exhaustion: the best design
is optimal, none feasible is a proof of infeasibility."""
from __future__ import annotations

import itertools
import time
from contextlib import ExitStack

import numpy as np

from ...compiler.nn.session import remembered
from ...core.results import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from ...dsl import ast as A
from ..verify import Evaluator, verify
from .base import Outcome, Strategy

MAX_DESIGNS = 100_000   # about 0.3 ms a design through the verifier: 30 s at most
CHUNK = 4096


def _domain(info) -> list:
    if info.values is not None:
        return [float(v) for v in info.values]
    lo, hi = np.asarray(info.lb).reshape(-1), np.asarray(info.ub).reshape(-1)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or len(set(lo)) != 1 or len(set(hi)) != 1:
        return []
    return [float(v) for v in range(int(np.ceil(lo[0])), int(np.floor(hi[0])) + 1)]


def design_count(checked) -> int:
    total = 1
    for info in checked.vars.values():
        if info.kind not in ("int", "bool"):
            return 0
        n = int(np.prod(info.shape)) if info.shape else 1
        values = _domain(info)
        if not values:
            return 0
        total *= len(values) ** n   # a Python int: exact however large, for the message
    return total


class Enumeration(Strategy):
    name = "enumeration"

    def applies(self, problem) -> bool:
        checked = problem.checked
        return not checked.grids and 0 < design_count(checked) <= MAX_DESIGNS

    def skipped(self, problem):
        """Why a finite discrete design space is not enumerated (its size), or None."""
        checked = problem.checked
        total = 0 if checked.grids else design_count(checked)
        if total <= MAX_DESIGNS:
            return None
        size = f"{total:,}" if total < 10 ** 12 else f"about {float(total):.2e}"
        return (f"{self.name} skipped: {size} designs exceed the {MAX_DESIGNS:,} it checks one by one "
                "(about 30 s); the other members search instead")

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        checked = problem.checked
        names = list(checked.vars)
        shapes = [tuple(checked.vars[n].shape) for n in names]
        sizes = [int(np.prod(s)) if s else 1 for s in shapes]
        domains = [v for n, k in zip(names, sizes) for v in [_domain(checked.vars[n])] * k]
        sense = checked.objective.sense
        best, best_obj, seen = None, None, 0
        designs = itertools.product(*domains)
        while True:
            chunk = list(itertools.islice(designs, CHUNK))
            if not chunk:
                break
            points = [self._values(names, shapes, sizes, d) for d in chunk]
            with ExitStack() as stack:
                for path, X in _network_inputs(checked, points).items():
                    stack.enter_context(remembered(path, X))
                for values in points:
                    if time.perf_counter() > deadline or events.should_stop():
                        return Outcome(UNKNOWN, member=self.name, stats={"designs": seen},
                                       message=f"stopped after {seen} designs")
                    seen += 1
                    report = verify(checked, values)
                    if not report.ok:
                        continue
                    if sense == "satisfy":
                        return Outcome(FEASIBLE, values, member=self.name, stats={"designs": seen})
                    obj = report.objective
                    if best is None or (obj < best_obj if sense == "minimize" else obj > best_obj):
                        best, best_obj = values, obj
        stats = {"designs": seen}
        if best is None:
            return Outcome(INFEASIBLE, member=self.name, stats=stats,
                           message=f"none of the {seen} designs satisfies every constraint")
        return Outcome(OPTIMAL, best, objective=best_obj, bound=best_obj, member=self.name, stats=stats,
                       message=f"the best of all {seen} designs")

    @staticmethod
    def _values(names, shapes, sizes, design) -> dict:
        out, k = {}, 0
        for n, s, size in zip(names, shapes, sizes):
            out[n] = np.array(design[k:k + size], dtype=np.float64).reshape(s)
            k += size
        return out


def _network_inputs(checked, points: list) -> dict:
    """{network path: the inputs [P, n] of its calls at every point}, for the calls outside
    generators and iterated requires whose arguments hold no other call (the others are
    run one by one when the verifier meets them)."""
    exprs = [checked.objective.expr] if checked.objective.expr is not None else []
    exprs += [r.constraint for r in checked.requires if not r.iters]
    calls = [c for e in exprs for c in _net_calls(e, checked.nets)]
    out: dict = {}
    for call in calls:
        path = str(checked.nets[call.func].path)
        try:
            X = np.stack([np.asarray(Evaluator(checked, v).eval(call.args[0], {}), np.float64).reshape(-1)
                          for v in points])
        except (KeyError, ValueError, TypeError):
            continue
        out[path] = np.concatenate([out[path], X]) if path in out else X
    return out


def _net_calls(e, nets) -> list:
    """Network calls in `e` whose argument holds no other call, outside generators."""
    if isinstance(e, A.Generator):
        return []
    found = [e] if isinstance(e, A.Call) and e.func in nets and len(e.args) == 1 and not _has_call(e.args[0]) else []
    children = [getattr(e, f, None) for f in ("left", "right", "operand", "base", "expr", "cond", "then")]
    children += list(getattr(e, "args", ())) + list(getattr(e, "items", ()))
    for child in children:
        if child is not None and not isinstance(child, (str, int, float)):
            found += _net_calls(child, nets)
    return found


def _has_call(e) -> bool:
    if isinstance(e, A.Call):
        return True
    return any(_has_call(getattr(e, f)) for f in ("left", "right", "operand", "base")
               if getattr(e, f, None) is not None and not isinstance(getattr(e, f), (str, int, float)))
