"""Threshold elimination: reals decided by Boolean implications alone are dropped, and put back."""
from __future__ import annotations

import numpy as np

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY
from pgen.compiler.passes.threshold import eliminate_threshold_reals

from .oracle import discrete_key, feasible, lin, model_of, objective, optimum, solutions

B0, B1, B2, B3, X, Y, K = range(7)


def thresholds_model() -> ir.Model:
    """Two binarized reals with contradicting thresholds (b0 and b1 cannot both hold; b0 needs
    b2, b1 excludes it; b3 asks for y outside its box). Without the consistency rows the
    reduced model would reach 5; the true optimum is 3."""
    ind = ir.IndicatorCon
    return model_of(
        [("b0", ir.BOOL, 0, 1), ("b1", ir.BOOL, 0, 1), ("b2", ir.BOOL, 0, 1), ("b3", ir.BOOL, 0, 1),
         ("x", ir.REAL, 0, 1), ("y", ir.REAL, -1, 2), ("k", ir.INT, 0, 2)],
        [ind(B0, 1, lin({X: 1.0}), ir.GE, 0.6),
         ind(B1, 1, lin({X: 1.0}), ir.LE, 0.4),
         ind(B2, 1, lin({X: 2.0}), ir.GE, 1.0),          # x >= 0.5, a coefficient other than 1
         ind(B2, 0, lin({X: 1.0}), ir.LE, 0.5),
         ind(B0, 1, lin({Y: 1.0}), ir.GE, 1.5),
         ind(B1, 1, lin({Y: 1.0}), ir.EQ, -0.5),         # an equality: both a lower and an upper bound
         ind(B1, 0, lin({Y: -1.0}), ir.GE, -1.0),        # y <= 1 with a negative coefficient
         ind(B3, 1, lin({Y: 1.0}, 0.5), ir.GE, 3.0),     # y >= 2.5 (a constant in the row): outside the box
         ir.LinearCon(lin({K: 1.0, B0: 1.0}), ir.LE, 2.0)],
        ("max", {B0: 1.0, B1: 1.0, B2: 1.0, B3: 1.0, K: 1.0}, 0.0))


# the box ends and every threshold: enough to find a point in any nonempty closed interval
REALS = {X: [0.0, 0.4, 0.5, 0.6, 1.0], Y: [-1.0, -0.5, 1.0, 1.5, 2.0, 2.5]}


def test_reals_are_dropped():
    m = thresholds_model()
    reduced, inverse = eliminate_threshold_reals(m)
    assert [v.name for v in reduced.vars] == ["b0", "b1", "b2", "b3", "k"]
    assert ir.REAL not in reduced.kinds()
    assert len(inverse.invert(np.zeros(5))) == len(m.vars)


def test_same_optimum_as_brute_force():
    m = thresholds_model()
    reduced, _ = eliminate_threshold_reals(m)
    assert optimum(m, REALS) == 3.0
    assert optimum(reduced) == 3.0


def test_every_reduced_solution_inverts_to_a_solution():
    m = thresholds_model()
    reduced, inverse = eliminate_threshold_reals(m)
    found = solutions(reduced)
    assert found
    for p in found:
        x = inverse.invert(p)
        assert feasible(m, x), (p, x)
        assert objective(m, x) == objective(reduced, p)


def test_reduced_solutions_are_exactly_the_original_boolean_ones():
    m = thresholds_model()
    reduced, _ = eliminate_threshold_reals(m)
    want = {discrete_key(m, p) for p in solutions(m, REALS)}
    got = {discrete_key(reduced, p) for p in solutions(reduced)}
    assert got == want


def test_a_real_in_the_objective_or_a_row_stays():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, 0, 1), ("z", ir.REAL, 0, 1)],
                 [ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.GE, 0.5),
                  ir.IndicatorCon(0, 1, lin({2: 1.0}), ir.GE, 0.5),
                  ir.LinearCon(lin({2: 1.0, 0: 1.0}), ir.LE, 1.5)],
                 ("min", {1: 1.0}, 0.0))
    out, inverse = eliminate_threshold_reals(m)
    assert out is m and inverse is IDENTITY


def test_an_unused_real_comes_back_at_the_middle_of_its_box():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, -1, 3)], [], ("max", {0: 1.0}, 0.0))
    reduced, inverse = eliminate_threshold_reals(m)
    assert len(reduced.vars) == 1
    assert inverse.invert(np.array([1.0])).tolist() == [1.0, 1.0]
