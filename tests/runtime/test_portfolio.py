"""The portfolio on .pgen problems: the property form, the branch and bound as a member, verification."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.compiler.nn.session import run_network
from pgen.core.results import FEASIBLE, INFEASIBLE
from pgen.runtime.net_property import net_property
from pgen.runtime.strategies import InputBranchAndBound, default_members
from pgen.runtime.strategies.base import Events

SPEC = """
var x : real[3] in [-1, 1]
net f = network "n.onnx"
require f(x)[0] - f(x)[1] >= {c0}
require x[2] <= 0.5
satisfy
"""


def test_a_satisfy_problem_over_a_relu_network_is_a_net_property(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=1))
    problem = pgen.compile_string(SPEC.format(c0=0.25), base_dir=tmp_path)
    prop = net_property(problem.checked)
    assert prop is not None and prop.x_name == "x" and prop.layers is not None
    [region] = prop.regions
    # the single-input row narrows the box; the output row stays a clause row
    np.testing.assert_array_equal(region.lo, [-1, -1, -1])
    np.testing.assert_array_equal(region.hi, [1, 1, 0.5])
    [(cy, cx, c0)] = region.clauses
    np.testing.assert_allclose(cy, [[-1.0, 1.0]])
    np.testing.assert_allclose(cx, 0.0)
    np.testing.assert_allclose(c0, [0.25])
    assert [type(m).__name__ for m in default_members(problem)] == \
        ["Sampling", "GradientDescent", "InputBranchAndBound", "ExactBackend"]


@pytest.mark.parametrize("spec,members", [
    ("var x : real[2] in [0, 1]\nnet f = network \"n.onnx\"\nminimize f(x)[0]\n",               # an objective:
     ["ConstrainedAdjoint"]),                                                                # a start by descent
    ("var x : int[2] in 0..3\nnet f = network \"n.onnx\"\nrequire f(x)[0] >= 0\n",                # integers: a
     ["Enumeration"]),                                                                       # small space
    ("var x : int[2] in 0..999\nnet f = network \"n.onnx\"\nrequire f(x)[0] >= 0\n", []),         # a large one
    ("var x : real[2] in [0, 1]\nnet f = network \"n.onnx\"\nrequire abs(f(x)[0]) >= 1\n", []),   # an auxiliary
])
def test_other_problems_are_left_to_the_exact_backends(tmp_path, spec, members):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 4, 1], seed=2))
    problem = pgen.compile_string(spec, base_dir=tmp_path)
    assert net_property(problem.checked) is None
    assert [type(m).__name__ for m in default_members(problem)] == members + ["ExactBackend"]


@pytest.mark.parametrize("seed", range(8))
def test_branch_and_bound_on_a_pgen_problem_agrees_with_milp(tmp_path, seed):
    rng = np.random.default_rng(seed)
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=seed))
    xs = np.array([-1, -1, -1]) + np.array([2, 2, 1.5]) * rng.random((400, 3))
    ys = np.array([run_network(str(net), x) for x in xs])
    c0 = float(np.max(ys[:, 0] - ys[:, 1]) + rng.uniform(-0.1, 0.3))  # near the sampled maximum
    problem = pgen.compile_string(SPEC.format(c0=repr(c0)), base_dir=tmp_path)
    out = InputBranchAndBound().run(problem, float("inf"), Events(), seed)
    milp = problem.solve(backend="highs", timeout=60)
    assert out.termination in (FEASIBLE, INFEASIBLE)
    assert milp.termination in ("optimal", "infeasible")
    assert (out.termination == FEASIBLE) == (milp.termination == "optimal"), (seed, c0)
    if out.termination == FEASIBLE:
        x = out.values["x"]
        y = run_network(str(net), x)
        assert y[0] - y[1] >= c0 - 1e-6 and x[2] <= 0.5


def test_the_portfolio_verifies_and_names_the_member(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=5))
    problem = pgen.compile_string(SPEC.format(c0=-100), base_dir=tmp_path)  # holds everywhere
    result = problem.solve(timeout=30)
    assert result.has_solution and result.verified and result.backend == "sampling"
    problem = pgen.compile_string(SPEC.format(c0=1e6), base_dir=tmp_path)   # holds nowhere
    result = problem.solve(timeout=30)
    assert result.termination == "infeasible" and result.backend == "input-bab"
