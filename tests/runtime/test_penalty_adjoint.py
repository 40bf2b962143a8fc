"""The constrained neural adjoint: the spec evaluated in torch (every loop instance at once)
equals the independent verifier's evaluation, constraint by constraint; specs it cannot
descend are refused with the reason; its designs verify."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.dsl import ast as A
from pgen.runtime.penalty_adjoint import TorchSpec, penalty_adjoint, violation, why_not
from pgen.runtime.verify import Evaluator

torch = pytest.importorskip("torch")

SPEC = """param t = [0.1, -0.2]
param w = [1, 2, 3]
var x : real[3] in [-1, 1]
var y : real[2, 2] in [0, 1]
net f = network "n.onnx"
require abs(x[i + 1] - x[i]) <= 0.5 for i in 0..1
require norm1(f(x)[2 * k..2 * k + 1] - t) >= 0.3 for k in 0..1
require sum(y[j, :]) <= 1.5 for j in 0..1
require y[j, 1] - y[j, 0] >= -0.25 for j in 0..1
require max(f(x)) <= 3
require sum(x[i] * w[i] for i in 0..2) in [-2, 2]
minimize norm1(f(x)[0..1] - t) + 2 * sum(y) - min(x) + max(y[0, 0], x[1])
"""


@pytest.fixture
def problem(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 4], seed=1))
    path = tmp_path / "p.pgen"
    path.write_text(SPEC)
    return pgen.load(path)


def reference_violation(checked, values: dict) -> float:
    """Each constraint instance's violation by the verifier's own evaluator (NumPy)."""
    ev, total = Evaluator(checked, values), 0.0
    for req in checked.requires:
        for env in ev.envs(req.iters, {}):
            c = req.constraint
            if isinstance(c, A.Compare):
                left, right = ev.eval(c.left, env), ev.eval(c.right, env)
                gap = left - right if c.op in ("<=", "<") else right - left
                total += float(np.sum(np.maximum(gap, 0.0)))
            else:
                v = ev.eval(c.expr, env)
                lo, hi = ev.eval(c.interval.lo, env), ev.eval(c.interval.hi, env)
                total += float(np.sum(np.maximum(lo - v, 0.0)) + np.sum(np.maximum(v - hi, 0.0)))
    return total


def test_torch_evaluation_equals_the_verifier(problem):
    checked = problem.checked
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (32, 3))
    ys = rng.uniform(0, 1, (32, 2, 2))
    spec = TorchSpec(checked, torch, torch.float64, torch.device("cpu"))
    spec.bind({"x": torch.tensor(xs), "y": torch.tensor(ys)})
    objective = spec.eval(checked.objective.expr, {}).reshape(32).numpy()
    viol = violation(spec, 0.0).numpy()
    for k in range(32):
        values = {"x": xs[k], "y": ys[k]}
        want = float(Evaluator(checked, values).eval(checked.objective.expr, {}))
        assert objective[k] == pytest.approx(want, abs=1e-6)
        assert viol[k] == pytest.approx(reference_violation(checked, values), abs=1e-6)
    assert np.any(viol > 0) and np.any(viol == 0)   # the designs drawn test both sides


def test_the_margin_only_adds(problem):
    spec = TorchSpec(problem.checked, torch, torch.float64, torch.device("cpu"))
    rng = np.random.default_rng(1)
    spec.bind({"x": torch.tensor(rng.uniform(-1, 1, (16, 3))), "y": torch.tensor(rng.uniform(0, 1, (16, 2, 2)))})
    assert np.all(violation(spec, 1e-3).numpy() >= violation(spec, 0.0).numpy())


def test_designs_are_feasible_and_sorted(problem):
    r = penalty_adjoint(problem.checked, restarts=16, steps=300, seed=3)
    assert r["designs"], "no design"
    feasible = [v == 0 for v in r["violation"]]
    assert feasible[0], "the descent found no feasible design on an easy spec"
    assert feasible == sorted(feasible, reverse=True)   # feasible ones first
    objs = [o for o, f in zip(r["objective"], feasible) if f]
    assert objs == sorted(objs)
    from pgen.runtime.verify import verify

    report = verify(problem.checked, r["designs"][0])
    assert report.ok, report.failures
    assert report.objective == pytest.approx(r["objective"][0], abs=1e-6)


@pytest.mark.parametrize("spec,why", [
    ("var x : int[2] in 0..3\nnet f = network \"n.onnx\"\nminimize f(x)[0]\n", "not a real variable"),
    ("var x : real[2] in [0, 1]\nnet f = network \"n.onnx\"\nrequire f(x)[0] >= 0\n", "no objective"),
    ("var x : real[2] in [0, 1]\nnet f = network \"b.onnx\"\nminimize f(x)[0]\n", "not a plain ReLU"),
])
def test_what_it_cannot_descend_is_refused_with_the_reason(tmp_path, spec, why):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 4, 1], seed=2))
    netgen.write(tmp_path / "b.onnx", netgen.bnn(2, [4], seed=2))
    problem = pgen.compile_string(spec, base_dir=tmp_path)
    assert why in (why_not(problem.checked) or "")
