"""What every pass returns besides its model, and the chain that runs passes in order.

A pass is a plain function (or a picklable callable object) `model -> (model, inverse)`.
The inverse maps what a solver says about the new model back to the old one:
`invert(values)` a solution vector of the new model to the old model's variables, and
`objective(value)` an objective value or bound of the new model to the old objective
(only a pass that rescales the objective overrides it). A `Chain` applies passes in order
and replays their inverses backwards, so decoding needs no knowledge of how the model
was built (CVXPY's Reduction / Chain).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import ir


class Identity:
    """The inverse of a pass that changes no variable and no objective scale."""

    def invert(self, values: np.ndarray) -> np.ndarray:
        return values

    def objective(self, value: float) -> float:
        return value


IDENTITY = Identity()


@dataclass(frozen=True)
class DropAdded(Identity):
    """The inverse of a pass that appended variables: keep the first `n_old` values."""
    n_old: int

    def invert(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values)[: self.n_old]


@dataclass(frozen=True)
class Inverses(Identity):
    """The inverses of a chain's passes, in the order the passes ran; replayed backwards."""
    steps: tuple

    def invert(self, values: np.ndarray) -> np.ndarray:
        for step in reversed(self.steps):
            values = step.invert(values)
        return values

    def objective(self, value: float) -> float:
        for step in reversed(self.steps):
            value = step.objective(value)
        return value


Pass = Callable[[ir.Model], tuple]


@dataclass(frozen=True)
class Chain:
    """Passes applied in order; `apply` returns the last model and the inverse of them all."""
    passes: tuple = ()

    def apply(self, model: ir.Model) -> tuple[ir.Model, Inverses]:
        steps = []
        for step in self.passes:
            model, inverse = step(model)
            steps.append(inverse)
        return model, Inverses(tuple(steps))
