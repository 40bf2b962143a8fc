"""`--confirm`: an infeasible (unsat) verdict re-decided by a second method.

The second method is chosen to share as little as possible with the one that decided:

1. enumeration of every design, each checked by the verifier itself (brute force; small
   discrete spaces only);
2. input-space branch and bound (CROWN relaxations and onnxruntime, no MILP encoding) for
   properties of one plain ReLU network over a low-dimensional box;
3. the exact MILP / pseudo-Boolean model (the network encoder), when 1 or 2 decided; after
   input branch and bound, the MILP over a cover of the box (`SplitMilp`: a box whose MILP
   does not decide quickly is split and each half lowered again with its own bounds);
4. otherwise another solver on the same model (CP-SAT vs HiGHS on binarized networks, CBC vs
   HiGHS): a different search, the same encoding (the output says so).

Agreement: the caller (pgen/cli.py) puts `confirmation.line()` in the result's stats. A verified solution from the second
method is a disagreement: `Disagreement` is raised with both answers, never resolved here.
A second method that cannot decide in its time leaves the verdict unconfirmed (said).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compiler.backends import BACKENDS, check_backend
from ..core.errors import PgenError
from ..core.results import INFEASIBLE, Result
from .portfolio import run_portfolio
from .strategies import Enumeration, ExactBackend, InputBranchAndBound
from .strategies.enumeration import design_count
from .strategies.split_milp import SplitMilp


class Disagreement(PgenError):
    """Two methods gave opposite verdicts on the same problem."""


@dataclass
class Confirmation:
    confirmed: bool
    method: str          # what decided the second time, in words
    independent: bool    # shares no encoding with the first method
    message: str = ""

    def line(self) -> str:
        if self.confirmed:
            return f"confirmed by {self.method}" + ("" if self.independent else " (same encoding, another solver)")
        return f"not confirmed: {self.message}"


def second_methods(problem, first: str) -> list:
    """(strategy, words, independent) in order of preference, none the same as `first`."""
    out = []
    if first != "enumeration" and Enumeration().applies(problem):
        out.append((Enumeration(), f"enumeration of all {design_count(problem.checked)} designs (brute force)", True))
    if first != "input-bab" and InputBranchAndBound().applies(problem):
        out.append((InputBranchAndBound(), "input branch and bound (CROWN bounds, no MILP)", True))
    if first == "input-bab" and SplitMilp().applies(problem):
        out.append((SplitMilp(), "the exact MILP over a cover of the input box (interval and LP bounds)", True))
        return out
    if first in ("enumeration", "input-bab"):
        out.append((ExactBackend("auto"), "the exact MILP / pseudo-Boolean model ({backend})", True))
        return out
    model = problem.model
    for name in ("cpsat", "highs", "cbc", "z3"):
        if name == first:
            continue
        try:
            check_backend(name, model)
        except PgenError:
            continue
        out.append((ExactBackend(name), f"{name}", False))
    return out


def confirm(problem, result: Result, timeout: float, seed: int = 0, tolerance: float | None = None) -> Confirmation:
    """Re-decide `result` (infeasible) with the first second method that decides."""
    if result.termination != INFEASIBLE:
        return Confirmation(False, "", False, f"only infeasible verdicts are confirmed (this one is {result.termination})")
    tried = []
    for member, words, independent in second_methods(problem, result.backend):
        second = run_portfolio(problem, [member], float(timeout), int(seed),
                               tolerance if tolerance is not None else result.tolerance, False, False)
        words = words.format(backend=second.backend)
        if second.termination == INFEASIBLE:
            return Confirmation(True, words, independent)
        if second.has_solution:
            raise Disagreement(
                "E060", f"METHODS DISAGREE: {result.backend} proved the problem infeasible, but {words} found "
                f"a solution that passed independent verification ({_values(second)})",
                hint="neither answer can be trusted; please report the spec, the network and this message")
        tried.append(f"{words}: {second.termination}" + (f" ({second.message})" if second.message else ""))
    if not tried:
        return Confirmation(False, "", False, f"no second method applies besides {result.backend} "
                            f"(installed backends: {', '.join(b for b in BACKENDS if BACKENDS[b].available())})")
    return Confirmation(False, "", False, "; ".join(tried))


def _values(result: Result) -> str:
    import numpy as np

    parts = []
    for name, v in result.values.items():
        arr = np.asarray(v)
        text = np.array2string(arr, precision=6, threshold=12, max_line_width=200)
        parts.append(f"{name} = {text}")
    if result.objective is not None:
        parts.append(f"objective {result.objective:.9g}")
    return ", ".join(parts)
