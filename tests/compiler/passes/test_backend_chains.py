"""Each backend's chain, applied in one place (compiler.backends): refusals name the backend,
and solving the prepared model gives a solution of the original one, with its objective.

Solvers run through `run_in_worker` (OR-Tools and python-mip cannot share a process); z3,
which conflicts with neither, also runs in-process to reach `call_backend`'s `passes`.
"""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.backends import BACKENDS, call_backend, check_backend, choose_backend
from pgen.compiler.passes.big_m import linearize_implications
from pgen.compiler.passes.integer_scaling import scale_to_integers
from pgen.compiler.passes.no_good import exclude
from pgen.compiler.passes.threshold import eliminate_threshold_reals
from pgen.core.errors import PgenError
from pgen.core.options import SolveOptions
from pgen.runtime.worker import run_in_worker

from .oracle import discrete_key, feasible, lin, model_of, objective, optimum, solutions
from .test_big_m import random_model
from .test_no_good import boolean_model
from .test_threshold import REALS, thresholds_model

OPTIONS = SolveOptions(timeout=30)


def test_each_backend_declares_its_chain():
    assert BACKENDS["highs"].passes == BACKENDS["cbc"].passes == (linearize_implications,)
    assert BACKENDS["cpsat"].passes == (eliminate_threshold_reals, scale_to_integers)
    assert BACKENDS["z3"].passes == ()


def test_an_inexact_coefficient_is_refused_by_cpsat_only():
    m = model_of([("n", ir.INT, 0, 3)], [ir.LinearCon(lin({0: 0.1}), ir.LE, 0.25)], ("max", {0: 1.0}, 0.0))
    with pytest.raises(PgenError, match=r"backend `cpsat` cannot scale a coefficient to an integer exactly") as e:
        check_backend("cpsat", m)
    assert e.value.code == "E030"
    check_backend("highs", m)


def test_cpsat_refuses_real_variables_by_name():
    m = model_of([("x", ir.REAL, 0, 1)], [ir.LinearCon(lin({0: 1.0}), ir.LE, 0.5)], ("max", {0: 1.0}, 0.0))
    with pytest.raises(PgenError, match=r"`x`.*is real"):
        check_backend("cpsat", m)


def test_an_unbounded_implication_is_refused_by_the_milp_backends_and_auto_takes_z3():
    m = model_of([("b", ir.BOOL, 0, 1), ("x", ir.REAL, 0, np.inf)],
                 [ir.IndicatorCon(0, 1, lin({1: 1.0}), ir.LE, 1.0)], ("max", {0: 1.0}, 0.0))
    with pytest.raises(PgenError, match=r"backend `highs` cannot write a constraint as big-M rows"):
        check_backend("highs", m)
    assert choose_backend(m) == "z3"


def test_cpsat_solves_the_thresholds_model_of_the_original_variables():
    m = thresholds_model()
    raw = run_in_worker("cpsat", m, "solve", OPTIONS)
    assert raw.termination == "optimal", raw.message
    assert len(raw.values) == len(m.vars) and feasible(m, raw.values)
    assert raw.objective == optimum(m, REALS) == objective(m, raw.values)


@pytest.mark.parametrize("backend", ["cpsat", "highs"])
def test_a_scaled_objective_and_bound_come_back_unscaled(backend):
    m = model_of([("n0", ir.INT, 0, 3), ("n1", ir.INT, 0, 3)],
                 [ir.LinearCon(lin({0: 0.5, 1: 0.5}), ir.LE, 2.25)], ("max", {0: 0.5, 1: 0.25}, 0.125))
    raw = run_in_worker(backend, m, "solve", OPTIONS)
    assert raw.termination == "optimal", raw.message
    assert raw.objective == pytest.approx(optimum(m)) and raw.objective == pytest.approx(1.875)
    assert raw.bound == pytest.approx(1.875, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 9, 20])
def test_highs_solves_big_m_models_to_the_brute_force_optimum(seed):
    m = random_model(seed)
    raw = run_in_worker("highs", m, "solve", OPTIONS)
    assert raw.termination == "optimal", raw.message
    assert feasible(m, raw.values)
    assert raw.objective == pytest.approx(optimum(m), abs=1e-6)


def test_cpsat_with_no_good_cuts_enumerates_the_brute_force_solutions():
    m = boolean_model()
    found = []
    while True:
        excluded, inverse = exclude(found)(m)
        raw = run_in_worker("cpsat", excluded, "solve", OPTIONS)
        if raw.termination == "infeasible":
            break
        assert raw.termination == "optimal", raw.message
        found.append(inverse.invert(raw.values))
        assert len(found) <= 4
    assert sorted(discrete_key(m, p) for p in found) == sorted(discrete_key(m, p) for p in solutions(m))


def test_call_backend_applies_the_callers_passes_first_and_inverts_them():
    m = model_of([("b0", ir.BOOL, 0, 1), ("n", ir.INT, 0, 2)],
                 [ir.LinearCon(lin({0: 1.0, 1: 1.0}), ir.LE, 2.0)], ("max", {0: 1.0, 1: 1.0}, 0.0))
    first = call_backend("z3", m, "solve", OPTIONS)
    assert first.termination == "optimal" and first.objective == 2.0
    second = call_backend("z3", m, "solve", OPTIONS, passes=(exclude([first.values]),))
    assert second.termination == "optimal" and len(second.values) == len(m.vars)
    assert discrete_key(m, second.values) != discrete_key(m, first.values)
    assert second.objective == 2.0 and feasible(m, second.values)
