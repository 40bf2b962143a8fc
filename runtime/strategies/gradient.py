"""Gradient descent: projected signed-gradient steps on the worst row of a clause, from the
best of many random points, for plain ReLU networks. Reaches unsafe sets too small to
sample (ACAS Xu 5_3 property 2: none in 200,000 samples, found in 0.7 s); finding nothing
proves nothing."""
from __future__ import annotations

import time

from ...compiler.nn.session import run_network
from ...core.results import FEASIBLE, UNKNOWN
from ..falsify import gradient_counterexample
from .base import Outcome, Strategy, remaining

GRADIENT_SECONDS = 1.5  # short: every unsat case pays it


class GradientDescent(Strategy):
    name = "gradient"
    quick = True

    def applies(self, problem) -> bool:
        prop = problem.net_property
        return prop is not None and prop.layers is not None

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        prop = problem.net_property
        deadline = min(deadline, time.perf_counter() + GRADIENT_SECONDS)
        for k, region in enumerate(prop.regions):
            budget = remaining(deadline) / (len(prop.regions) - k)
            if budget <= 0 or events.should_stop():
                break
            x = gradient_counterexample(region.clauses, prop.layers, region.lo, region.hi, seed=seed, budget=budget)
            if x is not None:
                values = prop.values(x, run_network(prop.net_path, x))
                if values is not None:
                    return Outcome(FEASIBLE, values, member=self.name,
                                   message=f"a point of the input box found by {self.name}")
        return Outcome(UNKNOWN, member=self.name)
