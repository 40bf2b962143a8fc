"""The chain applies passes in order and replays their inverses backwards."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY, PASSES, Chain, DropAdded, Identity
from pgen.compiler.passes.integer_scaling import ObjectiveScale

from .oracle import model_of


@dataclass(frozen=True)
class Reversed(Identity):
    def invert(self, values):
        return np.asarray(values)[::-1]


def reverse_vars(model: ir.Model):
    """A toy pass: the variables in reverse order (its inverse reverses the values back)."""
    n = len(model.vars)
    out = ir.Model(vars=model.vars[::-1], constraints=[], objective=model.objective)
    out.notes.append("reversed")
    return out, Reversed() if n else IDENTITY


def add_one_var(model: ir.Model):
    """A toy pass: one more variable at the end (its inverse drops it)."""
    out = ir.Model(vars=list(model.vars), constraints=[], objective=model.objective)
    out.add_var("extra", ir.REAL, 0, 1)
    return out, DropAdded(len(model.vars))


def test_empty_chain_is_the_identity():
    m = model_of([("a", ir.BOOL, 0, 1)])
    out, inverse = Chain().apply(m)
    assert out is m
    assert inverse.invert(np.array([1.0])).tolist() == [1.0]
    assert inverse.objective(2.5) == 2.5


def test_passes_run_in_order():
    m = model_of([("a", ir.REAL, 0, 1), ("b", ir.REAL, 0, 1)])
    out, _ = Chain((reverse_vars, add_one_var)).apply(m)
    assert [v.name for v in out.vars] == ["b", "a", "extra"]
    out, _ = Chain((add_one_var, reverse_vars)).apply(m)
    assert [v.name for v in out.vars] == ["extra", "b", "a"]


def test_inverses_replay_backwards():
    m = model_of([("a", ir.REAL, 0, 1), ("b", ir.REAL, 0, 1)])
    # reverse, then add: the solver's vector is [b, a, extra]; undo add first, then reverse
    _, inverse = Chain((reverse_vars, add_one_var)).apply(m)
    assert inverse.invert(np.array([20.0, 10.0, 99.0])).tolist() == [10.0, 20.0]
    # add, then reverse: the solver's vector is [extra, b, a]; undo reverse first, then add
    _, inverse = Chain((add_one_var, reverse_vars)).apply(m)
    assert inverse.invert(np.array([99.0, 20.0, 10.0])).tolist() == [10.0, 20.0]


def test_objective_inverses_compose():
    m = model_of([("a", ir.INT, 0, 3)])

    def times4(model):
        return model, ObjectiveScale(4.0)

    def times2(model):
        return model, ObjectiveScale(2.0)

    _, inverse = Chain((times4, times2, add_one_var)).apply(m)
    assert inverse.objective(16.0) == 2.0


def test_the_table_names_every_pass():
    assert set(PASSES) == {"threshold", "big_m", "integer_scaling", "tighten"}
    m = model_of([("a", ir.BOOL, 0, 1)], [ir.LinearCon(ir.Lin.of({0: 1.0}), ir.LE, 1.0)])
    for name, step in PASSES.items():
        out, inverse = step(m)
        assert len(out.vars) == 1, name
        assert inverse.invert(np.array([1.0])).tolist() == [1.0], name
