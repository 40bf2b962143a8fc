"""Bound tightening: narrower boxes that still hold every solution."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY
from pgen.compiler.passes.tighten import tighten_bounds

from .oracle import lin, model_of, solutions


def _boxes(model):
    return [(v.lb, v.ub) for v in model.vars]


def test_integer_boxes_narrow_and_round_inward():
    m = model_of([("x", ir.INT, 0, 10), ("y", ir.INT, 0, 10), ("z", ir.INT, -5, 5)],
                 [ir.LinearCon(lin({0: 2.0, 1: 1.0}), ir.LE, 7.0),     # x <= 3.5 -> 3, y <= 7
                  ir.LinearCon(lin({2: 1.0, 1: -1.0}), ir.GE, 1.0)])    # z >= 1 + y >= 1; then y <= z - 1 <= 4
    out, inverse = tighten_bounds(m)
    assert inverse is IDENTITY
    assert _boxes(out) == [(0, 3), (0, 4), (1, 5)]
    assert "narrowed" in out.notes[-1]


def test_real_bounds_are_valid_after_the_margin():
    m = model_of([("x", ir.REAL, 0, 10), ("y", ir.REAL, 0, 10)],
                 [ir.LinearCon(lin({0: 3.0, 1: 1.0}, 0.5), ir.LE, 1.5)])   # 3x + y <= 1
    out, _ = tighten_bounds(m)
    (xl, xu), (yl, yu) = _boxes(out)
    assert (xl, yl) == (0, 0)
    assert 1 / 3 <= xu <= 1 / 3 + 1e-6 and 1.0 <= yu <= 1.0 + 1e-6


def test_equalities_tighten_both_sides():
    m = model_of([("x", ir.INT, -10, 10), ("y", ir.INT, 2, 3)], [ir.LinearCon(lin({0: 1.0, 1: 1.0}), ir.EQ, 5.0)])
    out, _ = tighten_bounds(m)
    assert _boxes(out) == [(2, 3), (2, 3)]


def test_an_infeasible_model_is_left_alone():
    m = model_of([("x", ir.INT, 0, 3)], [ir.LinearCon(lin({0: 1.0}), ir.GE, 5.0)])
    out, inverse = tighten_bounds(m)
    assert out is m and inverse is IDENTITY


def test_implications_do_not_tighten():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.INT, 0, 9)], [ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.LE, 2.0)])
    out, _ = tighten_bounds(m)
    assert out is m


@pytest.mark.parametrize("seed", range(30))
def test_every_solution_stays_inside_the_boxes(seed):
    """Random rows through a planted point (so most models are feasible), compared by enumeration."""
    rng = np.random.default_rng(seed)
    lows = rng.integers(-3, 3, 4)
    variables = [(f"n{i}", ir.INT, int(lo), int(lo) + int(rng.integers(1, 7))) for i, lo in enumerate(lows)]
    planted = np.array([rng.integers(lo, hi + 1) for _, _, lo, hi in variables], dtype=np.float64)
    cons = []
    for _ in range(3):
        terms = {int(i): float(rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0])) for i in rng.choice(4, 2, replace=False)}
        sense = [ir.LE, ir.GE, ir.LE, ir.GE, ir.EQ][int(rng.integers(0, 5))]
        at = lin(terms).value(planted)
        slack = float(rng.integers(0, 3))
        cons.append(ir.LinearCon(lin(terms), sense, {ir.LE: at + slack, ir.GE: at - slack, ir.EQ: at}[sense]))
    m = model_of(variables, cons)
    out, _ = tighten_bounds(m)
    found = solutions(m)
    assert found
    assert {tuple(p) for p in solutions(out)} == {tuple(p) for p in found}
    for (lo, hi), (lo0, hi0) in zip(_boxes(out), _boxes(m)):
        assert lo0 <= lo and hi <= hi0
