"""Big-M: reified and indicator constraints become linear rows with the same solutions."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY
from pgen.compiler.passes.big_m import linearize_implications
from pgen.core.errors import PgenError

from .oracle import feasible, lin, model_of, optimum, solutions

SENSES = [ir.LE, ir.GE, ir.EQ]


def random_model(seed: int) -> ir.Model:
    """Two Booleans and three small integers; reified and indicator constraints with integral
    coefficients, constants in their expressions, and a linear objective."""
    rng = np.random.default_rng(seed)
    variables = [("b0", ir.BOOL, 0, 1), ("b1", ir.BOOL, 0, 1)] + [
        (f"n{i}", ir.INT, int(lo), int(lo) + int(rng.integers(1, 4))) for i, lo in enumerate(rng.integers(-2, 2, 3))]
    cons = []
    for _ in range(int(rng.integers(2, 5))):
        terms = {int(i): float(rng.integers(-3, 4)) for i in rng.choice(np.arange(2, 5), 2, replace=False)}
        const, rhs = float(rng.integers(-2, 3)), float(rng.integers(-3, 4)) + float(rng.choice([0.0, 0.5]))
        b = int(rng.integers(0, 2))
        if rng.random() < 0.4:
            cons.append(ir.ReifiedCon(b, lin(terms, const), [ir.LE, ir.GE][int(rng.integers(0, 2))], rhs))
        else:
            cons.append(ir.IndicatorCon(b, int(rng.integers(0, 2)), lin(terms, const),
                                        SENSES[int(rng.integers(0, 3))], rhs))
    cons.append(ir.LinearCon(lin({2: 1.0, 3: 1.0}), ir.LE, float(rng.integers(0, 4))))
    objective = ("max", {i: float(c) for i, c in enumerate(rng.integers(-2, 3, 5))}, 0.5)
    return model_of(variables, cons, objective)


def _keys(found) -> set:
    return {tuple(p.tolist()) for p in found}


@pytest.mark.parametrize("seed", range(40))
def test_same_solutions_as_brute_force(seed):
    m = random_model(seed)
    out, inverse = linearize_implications(m)
    assert all(isinstance(c, ir.LinearCon) for c in out.constraints)
    assert inverse is IDENTITY and out.vars == m.vars
    assert _keys(solutions(out)) == _keys(solutions(m))
    assert optimum(out) == optimum(m)


def test_rows_are_named_after_their_constraint():
    m = model_of([("b", ir.BOOL, 0, 1), ("n", ir.INT, 0, 3)],
                 [ir.LinearCon(lin({1: 1.0}), ir.LE, 2.0),
                  ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.EQ, 1.0),
                  ir.ReifiedCon(0, lin({1: 1.0}), ir.GE, 2.0)])
    out, _ = linearize_implications(m)
    assert [c.name for c in out.constraints] == ["c0", "c1_0", "c1_1", "c2_0", "c2_1"]


def test_a_lowering_given_m_is_used():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, 0, 10)],
                 [ir.IndicatorCon(0, 0, lin({1: 1.0}), ir.LE, 0.0, M=4.0)])
    out, _ = linearize_implications(m)
    row = out.constraints[0]
    assert dict(zip(row.expr.idx.tolist(), row.expr.coef.tolist())) == {1: 1.0, 0: -4.0}
    # b = 0 forces x <= 0; b = 1 leaves x <= M = 4 (the lowering vouches that x never exceeds it)
    assert feasible(out, [0, 0.0]) and not feasible(out, [0, 0.5])
    assert feasible(out, [1, 4.0]) and not feasible(out, [1, 4.5])


def test_reals_keep_their_solutions():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, 0, 2)],
                 [ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.GE, 1.5), ir.IndicatorCon(0, 0, lin({1: 2.0}), ir.LE, 1.0)])
    out, _ = linearize_implications(m)
    reals = {1: [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 1.75, 2.0]}
    assert _keys(solutions(out, reals)) == _keys(solutions(m, reals))


def test_a_model_without_implications_is_passed_through():
    m = model_of([("n", ir.INT, 0, 3)], [ir.LinearCon(lin({0: 1.0}), ir.LE, 2.0)])
    out, inverse = linearize_implications(m)
    assert out is m and inverse is IDENTITY


def test_an_unbounded_side_is_refused_with_e030():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, 0, np.inf)],
                 [ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.LE, 1.0)])
    with pytest.raises(PgenError, match="cannot write a constraint as big-M rows.*finite upper bound") as e:
        linearize_implications(m)
    assert e.value.code == "E030"
