"""Sampling: random points (and the corners and centre) of each input box, run through
the network in batches. Finds unsafe sets that fill a visible share of the box in well
under a second; finding nothing proves nothing."""
from __future__ import annotations

from ...compiler.nn.session import run_network
from ...core.results import FEASIBLE, UNKNOWN
from ..falsify import sample_counterexample
from .base import Outcome, Strategy, remaining


class Sampling(Strategy):
    name = "sampling"
    quick = True

    def applies(self, problem) -> bool:
        return problem.net_property is not None

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        prop = problem.net_property
        for k, region in enumerate(prop.regions):
            budget = remaining(deadline) / (len(prop.regions) - k)
            if budget <= 0 or events.should_stop():
                break
            hit = sample_counterexample(region.clauses, prop.net_path, region.lo, region.hi, seed=seed,
                                        budget=budget, layers=prop.layers)
            if hit is not None:
                values = prop.values(hit[0], run_network(prop.net_path, hit[0]))
                if values is not None:  # the clause holds on onnxruntime's output too
                    return Outcome(FEASIBLE, values, member=self.name,
                                   message=f"a point of the input box found by {self.name}")
        return Outcome(UNKNOWN, member=self.name)

