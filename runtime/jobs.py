"""Worker jobs that do more than one backend call (runtime.worker runs them)."""
from __future__ import annotations

import dataclasses
import time

from ..compiler.backends import call_backend, choose_backend
from ..compiler.lower import lower
from ..core.errors import PgenError
from ..core.options import SolveOptions


class LowerAndSolveJob:
    """Lower a checked spec and solve it with the automatic backend, all in the worker:
    lowering ACAS Xu (LP bound tightening) takes seconds that the parent's input branch and
    bound would otherwise lose. `run()` gives (raw result, model, backend name, var_base):
    what the parent needs to decode and verify the answer."""

    def __init__(self, checked, options: SolveOptions, passes: tuple = (), budget=None):
        self.checked, self.options, self.passes = checked, options, tuple(passes)
        self.budget = budget  # how ReLU bounds are found (default: the spec's options)

    def run(self):
        start = time.perf_counter()
        try:
            lowered = lower(self.checked, budget=self.budget)
        except PgenError as e:  # the message says which spec file, as a lowering in the parent would
            raise e.located(self.checked.path, None)
        model, var_base = lowered.model, lowered.var_base
        name = choose_backend(model)
        # the parent's limit covers the lowering too
        remaining = max(1.0, self.options.timeout - (time.perf_counter() - start))
        options = dataclasses.replace(self.options, timeout=remaining)
        return call_backend(name, model, "solve", options, "", passes=self.passes), model, name, var_base


class NeuralAdjointJob:
    """The neural adjoint's descent (surrogate/neural_adjoint.py) in a worker: torch starts
    thread pools that a process forked after them inherits broken (a pool worker that solves
    after its parent did would hang), and it loads no faster in the parent. `run()` gives
    neural_adjoint's dict."""

    def __init__(self, layers, targets, lo, hi, restarts: int, steps: int, seed: int, time_limit: float):
        self.layers, self.targets, self.lo, self.hi = layers, targets, lo, hi
        self.restarts, self.steps, self.seed, self.time_limit = restarts, steps, seed, time_limit

    def run(self) -> dict:
        from ..surrogate.neural_adjoint import neural_adjoint

        return neural_adjoint(self.layers, self.targets, self.lo, self.hi, restarts=self.restarts,
                              steps=self.steps, seed=self.seed, time_limit=self.time_limit)


class PenaltyAdjointJob:
    """The constrained neural adjoint (runtime/penalty_adjoint.py) in a worker, for the same
    reason as NeuralAdjointJob. One torch thread: the worker runs beside the parent's search
    and the exact backend on a small machine, where two threads each slowed it threefold
    (soft robot, 2 cores: 68 ms a step with torch's default threads, 18 ms with one).
    `run()` gives penalty_adjoint's dict."""

    def __init__(self, checked, restarts: int, steps: int, seed: int, time_limit: float):
        self.checked, self.restarts, self.steps, self.seed, self.time_limit = checked, restarts, steps, seed, time_limit

    def run(self) -> dict:
        import torch

        from .penalty_adjoint import penalty_adjoint

        torch.set_num_threads(1)
        return penalty_adjoint(self.checked, restarts=self.restarts, steps=self.steps, seed=self.seed,
                               time_limit=self.time_limit)
