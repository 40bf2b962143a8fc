"""Input-space branch and bound as a portfolio member (the search is runtime/input_bab.py):
for problems over one plain ReLU network with a low-dimensional input box and a satisfy
objective. Proves infeasibility (every box of every input region safe) or finds a point."""
from __future__ import annotations

import time

import numpy as np

from ...compiler.nn.session import run_network
from ...core.progress import Progress
from ...core.results import FEASIBLE, INFEASIBLE, UNKNOWN
from ..input_bab import input_branch_and_bound
from .base import Outcome, Strategy, remaining

MAX_BAB_INPUTS = 16  # input splitting pays off for low-dimensional boxes (ACAS Xu: 5)
PROGRESS_AFTER = 2.0  # seconds of branch and bound before progress is shown (most cases end sooner)


class InputBranchAndBound(Strategy):
    name = "input-bab"

    def applies(self, problem) -> bool:
        prop = problem.net_property
        return prop is not None and prop.layers is not None and prop.n_x <= MAX_BAB_INPUTS

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        prop = problem.net_property
        volumes = np.array([np.prod(np.maximum(r.hi - r.lo, 0.0)[r.hi > r.lo]) for r in prop.regions])
        weights = volumes / volumes.sum() if volumes.sum() > 0 else np.full(len(volumes), 1.0 / len(volumes))
        bar = _BabProgress() if events.progress else None
        total = 0
        done_share = 0.0
        try:
            for region, weight in zip(prop.regions, weights):
                report = None
                if bar is not None:
                    report = lambda boxes, share, base=done_share, w=weight: bar(total + boxes, base + w * share)  # noqa: E731
                best = {}

                def incumbent(x, violation, best=best):
                    best["x"], best["violation"] = np.array(x), float(violation)

                verdict, x, boxes = input_branch_and_bound(region.clauses, prop.layers, region.lo, region.hi,
                                                           remaining(deadline), stop=events.should_stop,
                                                           progress=report, incumbent=incumbent)
                total += boxes
                done_share += weight
                if verdict == "sat":
                    values = prop.values(x, run_network(prop.net_path, x))
                    if values is not None:
                        return Outcome(FEASIBLE, values, member=self.name, stats={"boxes": total},
                                       message="a witness from input branch and bound")
                    return Outcome(UNKNOWN, member=self.name, stats={"boxes": total},
                                   message="the branch and bound's witness does not hold on onnxruntime's output")
                if verdict != "unsat":
                    return Outcome(UNKNOWN, member=self.name, stats={"boxes": total, **_best(best)})
        finally:
            if bar is not None:
                bar.close()
        return Outcome(INFEASIBLE, member=self.name, stats={"boxes": total},
                       message=f"every one of {total} input boxes proved safe")


def _best(best: dict) -> dict:
    return {"closest_violation": best["violation"]} if "violation" in best else {}


class _BabProgress:
    """The proved share of the input box on stderr, from PROGRESS_AFTER s on."""

    def __init__(self):
        self.start = time.perf_counter()
        self.bar = None

    def __call__(self, boxes: int, proved: float) -> None:
        if self.bar is None:
            if time.perf_counter() - self.start < PROGRESS_AFTER:
                return
            self.bar = Progress(1, "branch and bound: input box proved safe", fraction=True)
            self.bar.start = self.start  # elapsed time counts from the start of the search
        self.bar.set_fraction(min(proved, 1.0), f"({boxes:,} boxes)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
