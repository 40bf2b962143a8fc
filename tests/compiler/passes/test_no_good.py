"""No-good cuts: excluding the solutions found so far enumerates every solution exactly once."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.passes import IDENTITY
from pgen.compiler.passes.no_good import exclude

from .oracle import discrete_key, feasible, holds, lin, model_of, points, solutions


def boolean_model() -> ir.Model:
    """Four Booleans, exactly two on, b0 -> b1: four solutions."""
    return model_of([(f"b{i}", ir.BOOL, 0, 1) for i in range(4)],
                    [ir.LinearCon(lin({0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}), ir.EQ, 2.0),
                     ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.GE, 1.0)])


def mixed_model(seed: int) -> ir.Model:
    """Booleans, integers (one fixed by its box) and a real, with random rows."""
    rng = np.random.default_rng(seed)
    m = model_of([("b0", ir.BOOL, 0, 1), ("b1", ir.BOOL, 0, 1), ("n0", ir.INT, -1, 2), ("n1", ir.INT, 0, 2),
                  ("fixed", ir.INT, 1, 1), ("x", ir.REAL, 0, 1)])
    for _ in range(2):
        terms = {int(i): float(rng.integers(-2, 3)) for i in rng.choice(4, 3, replace=False)}
        m.constraints.append(ir.LinearCon(lin(terms), ir.LE, float(rng.integers(0, 3))))
    return m


REALS = {5: [0.5]}


def _extended_solutions(model: ir.Model, n_old: int, reals=None) -> list:
    """The solutions of a model with cuts over the first n_old variables' candidate points:
    each cut's helper Boolean appears only in its implication and (positively) in its cut,
    so it is 1 exactly where its implication holds (enumerating the helpers would be 2^n)."""
    base = model_of([(v.name, v.kind, v.lb, v.ub) for v in model.vars[:n_old]])
    helpers = [c for c in model.constraints if isinstance(c, ir.IndicatorCon) and c.b >= n_old]
    out = []
    for p in points(base, reals):
        x = np.concatenate([p, np.ones(len(model.vars) - n_old)])
        for con in helpers:
            x[con.b] = 1.0 if holds(con, x) else 0.0
        if feasible(model, x):
            out.append(x)
    return out


def _brute_force_solver(n_old: int, reals=None):
    """A 'solver' for the loop: the first feasible point in enumeration order, or None."""
    def solve(model):
        found = _extended_solutions(model, n_old, reals)
        return found[0] if found else None
    return solve


def _enumerate(model: ir.Model, solve, limit: int = 100) -> list:
    """Solve, exclude what was found, repeat until infeasible (as porous generation will)."""
    found = []
    for _ in range(limit):
        excluded, inverse = exclude(found)(model)
        values = solve(excluded)
        if values is None:
            return found
        values = inverse.invert(values)
        assert len(values) == len(model.vars)
        assert feasible(model, values)
        found.append(values)
    raise AssertionError("the loop did not end")


def test_nothing_to_exclude_is_the_identity():
    m = boolean_model()
    out, inverse = exclude([])(m)
    assert out is m and inverse is IDENTITY


def test_boolean_cuts_add_no_variables():
    m = boolean_model()
    out, inverse = exclude([np.array([1.0, 1.0, 0.0, 0.0])])(m)
    assert len(out.vars) == len(m.vars) and inverse is IDENTITY
    assert len(out.constraints) == len(m.constraints) + 1


def test_the_loop_enumerates_the_boolean_solutions_exactly():
    m = boolean_model()
    want = sorted(discrete_key(m, p) for p in solutions(m))
    assert len(want) == 4
    got = sorted(discrete_key(m, p) for p in _enumerate(m, _brute_force_solver(len(m.vars))))
    assert got == want


@pytest.mark.parametrize("seed", range(6))
def test_the_loop_enumerates_boolean_and_integer_assignments_exactly(seed):
    m = mixed_model(seed)
    want = sorted({discrete_key(m, p) for p in solutions(m, REALS)})
    got = [discrete_key(m, p) for p in _enumerate(m, _brute_force_solver(len(m.vars), REALS))]
    assert len(got) == len(set(got)), "a solution came back twice"
    assert sorted(got) == want


@pytest.mark.parametrize("seed", range(6))
def test_cuts_remove_exactly_the_excluded_assignments(seed):
    m = mixed_model(seed)
    every = solutions(m, REALS)
    if len(every) < 2:
        pytest.skip("too few solutions to split")
    gone = every[::2]
    out, inverse = exclude(gone)(m)
    left = {discrete_key(m, inverse.invert(p)) for p in _extended_solutions(out, len(m.vars), REALS)}
    assert left == {discrete_key(m, p) for p in every} - {discrete_key(m, p) for p in gone}
