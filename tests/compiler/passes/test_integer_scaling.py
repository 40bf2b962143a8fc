"""Exact integer scaling: integral coefficients, the same integer solutions, objectives mapped back."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY
from pgen.compiler.passes.integer_scaling import scale_to_integers
from pgen.core.errors import PgenError

from .oracle import lin, model_of, objective, optimum, solutions

DYADIC = [0.5, -0.25, 1.5, -0.75, 2.0, -1.0, 0.125, 3.0]
SENSES = [ir.LE, ir.GE, ir.EQ]


def random_model(seed: int) -> ir.Model:
    rng = np.random.default_rng(seed)
    variables = [("b0", ir.BOOL, 0, 1), ("b1", ir.BOOL, 0, 1), ("n0", ir.INT, -2, 2), ("n1", ir.INT, 0, 3)]
    cons = []
    for _ in range(int(rng.integers(2, 5))):
        terms = {int(i): float(rng.choice(DYADIC)) for i in rng.choice(np.arange(4), 2, replace=False)}
        const = float(rng.choice([0.0, 0.375, -1.0]))
        rhs = float(rng.choice([0.3, -1.1, 1.0, 0.5, 2.0]))
        kind = rng.random()
        b = int(rng.integers(0, 2))
        terms.pop(b, None)
        if not terms:
            terms = {3: 0.5}
        if kind < 0.4:
            cons.append(ir.LinearCon(lin(terms, const), [ir.LE, ir.GE, ir.LE, ir.GE, ir.EQ][int(rng.integers(0, 5))], rhs))
        elif kind < 0.7:
            cons.append(ir.ReifiedCon(b, lin(terms, const), [ir.LE, ir.GE][int(rng.integers(0, 2))], rhs))
        else:
            cons.append(ir.IndicatorCon(b, int(rng.integers(0, 2)), lin(terms, const), SENSES[int(rng.integers(0, 3))], rhs))
    sense = ["min", "max"][seed % 2]
    return model_of(variables, cons, (sense, {i: float(rng.choice(DYADIC)) for i in range(4)}, 0.1))


def _integral(values) -> bool:
    return all(float(v) == round(float(v)) for v in np.atleast_1d(values))


def _keys(found) -> set:
    return {tuple(p.tolist()) for p in found}


@pytest.mark.parametrize("seed", range(40))
def test_same_solutions_and_objectives(seed):
    m = random_model(seed)
    out, inverse = scale_to_integers(m)
    for con in out.constraints:
        assert _integral(con.expr.coef) and _integral(con.rhs) and con.expr.const == 0.0, con
    assert _integral(out.objective.expr.coef)
    found = solutions(m)
    assert _keys(solutions(out)) == _keys(found)
    for p in found:
        assert inverse.objective(objective(out, p)) == pytest.approx(objective(m, p), abs=1e-12)
    if found:
        assert inverse.objective(optimum(out)) == pytest.approx(optimum(m), abs=1e-12)


def test_an_equality_no_integer_meets_is_false():
    m = model_of([("b", ir.BOOL, 0, 1), ("n", ir.INT, 0, 3)],
                 [ir.LinearCon(lin({1: 2.0}), ir.EQ, 3.0)])
    out, _ = scale_to_integers(m)
    assert solutions(out) == [] and solutions(m) == []


def test_an_implied_equality_no_integer_meets_fixes_the_literal():
    m = model_of([("b", ir.BOOL, 0, 1), ("n", ir.INT, 0, 3)],
                 [ir.IndicatorCon(0, 1, lin({1: 0.5}), ir.EQ, 0.75)])
    out, _ = scale_to_integers(m)
    assert isinstance(out.constraints[0], ir.LinearCon)
    assert {p[0] for p in solutions(out)} == {0.0}
    assert _keys(solutions(out)) == _keys(solutions(m))


def test_the_objective_scale_is_undone():
    m = model_of([("n", ir.INT, 0, 3)], [], ("max", {0: 0.25}, 0.5))
    out, inverse = scale_to_integers(m)
    assert out.objective.expr.coef.tolist() == [1.0] and out.objective.expr.const == 2.0
    assert inverse.objective(5.0) == 1.25  # n = 3: 0.75 + 0.5


def test_an_inexact_coefficient_is_refused_with_e030():
    m = model_of([("n", ir.INT, 0, 3)], [ir.LinearCon(lin({0: 0.1}), ir.LE, 1.0)])
    with pytest.raises(PgenError, match="cannot scale a coefficient to an integer exactly") as e:
        scale_to_integers(m)
    assert e.value.code == "E030"


def test_a_model_with_reals_is_passed_through():
    m = model_of([("x", ir.REAL, 0, 1)], [ir.LinearCon(lin({0: 0.1}), ir.LE, 0.3)])
    out, inverse = scale_to_integers(m)
    assert out is m and inverse is IDENTITY
