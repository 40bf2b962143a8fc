"""Objective cutoff: only solutions better than a known incumbent are asked for.

`objective_cutoff(value)` is a pass that adds the row `objective <= value` (minimise) or
`>= value` (maximise). The portfolio sets `value` a hair worse than a verified incumbent's
objective (the certification tolerance), so no solution at least as good is cut off: if the
solver then proves the model infeasible, nothing beats the incumbent by more than that
tolerance, which certifies it; and any bound the solver proves is a bound of the whole
problem as well, because the incumbent lies beyond the cutoff. The model is copied, not
changed; no variable is added.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .. import ir
from .chain import IDENTITY


@dataclass(frozen=True)
class objective_cutoff:
    value: float

    def __call__(self, model: ir.Model):
        obj = model.objective
        if obj is None or obj.sense not in ("min", "max") or not len(obj.expr.idx):
            return model, IDENTITY
        out = copy.copy(model)
        out.constraints = list(model.constraints)
        sense = ir.LE if obj.sense == "min" else ir.GE
        out.constraints.append(ir.LinearCon(obj.expr, sense, float(self.value), "objective cutoff",
                                            name="objective_cutoff"))
        return out, IDENTITY
