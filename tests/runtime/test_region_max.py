"""The region-vertex maximum of norm1(net(x) - t) over a box: never below any sampled value,
equal to the MILP's certified optimum, and what the portfolio answers `maximize` with."""
from __future__ import annotations

import time

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.compiler.nn.forward import forward
from pgen.runtime.net_objective import net_maximum
from pgen.runtime.region_max import region_descent, region_maximum, unstable_masks

SPEC = """var x : real[{n}] in [{lo}, {hi}]
net f = network "n.onnx"
maximize norm1(f(x) - {t})
"""


def problem(tmp_path, n, seed, lo=-0.3, hi=0.3):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([n, 8, 8, 3], seed=seed))
    t = np.round(np.random.default_rng(seed).uniform(-0.5, 0.5, 3), 3).tolist()
    return pgen.compile_string(SPEC.format(n=n, lo=lo, hi=hi, t=t), base_dir=tmp_path)


@pytest.mark.parametrize("n,seed", [(2, 0), (2, 1), (3, 2), (3, 3), (4, 4)])
def test_region_maximum_bounds_samples_and_equals_the_milp(tmp_path, n, seed):
    p = problem(tmp_path, n, seed)
    obj = net_maximum(p.checked)
    masks = unstable_masks(obj.layers, obj.lo, obj.hi)
    res = region_maximum(obj.layers, obj.target, obj.lo, obj.hi, time.perf_counter() + 60, unstable=masks)
    assert res.status == "optimal" and res.regions > 1        # the box crosses several regions
    xs = np.random.default_rng(7).uniform(obj.lo, obj.hi, (20000, n))
    sampled = np.abs(forward(obj.layers, xs) - obj.target).sum(axis=1)
    assert sampled.max() <= res.value + 1e-9
    assert np.all(res.x >= obj.lo - 1e-12) and np.all(res.x <= obj.hi + 1e-12)
    assert np.abs(forward(obj.layers, res.x[None])[0] - obj.target).sum() == pytest.approx(res.value, abs=1e-9)
    milp = p.solve(backend="highs", timeout=60)
    assert milp.termination == "optimal"
    assert res.value == pytest.approx(milp.objective, abs=1e-5)


def test_the_portfolio_answers_maximize_with_it(tmp_path):
    res = problem(tmp_path, 3, 2).solve(backend="auto", timeout=60)
    assert res.termination == "optimal" and res.verified
    assert res.backend == "region-vertices"


def test_a_region_limit_stops_it_with_the_best_vertex_so_far(tmp_path):
    obj = net_maximum(problem(tmp_path, 3, 2).checked)
    res = region_maximum(obj.layers, obj.target, obj.lo, obj.hi, time.perf_counter() + 60, max_regions=1)
    assert res.status == "stopped" and res.regions == 1


@pytest.mark.parametrize("seed", range(4))
def test_region_descent_improves_to_a_local_minimum(tmp_path, seed):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 10, 10, 4], seed=seed))
    p = pgen.compile_string("var x : real[3] in [-1, 1]\nnet f = network \"n.onnx\"\n"
                            "minimize norm1(f(x) - [0.2, -0.1, 0.3, 0.0])\n", base_dir=tmp_path)
    obj = p.net_objective
    f = lambda X: np.abs(forward(obj.layers, np.atleast_2d(X)) - obj.target).sum(axis=1)
    rng = np.random.default_rng(seed)
    for x0 in rng.uniform(-1, 1, (5, 3)):
        x, value = region_descent(obj.layers, obj.target, obj.lo, obj.hi, x0, time.perf_counter() + 30)
        assert np.all(x >= -1) and np.all(x <= 1)
        assert value == pytest.approx(f(x)[0], abs=1e-9) and value <= f(x0)[0] + 1e-12
        near = np.clip(x + rng.uniform(-1e-4, 1e-4, (400, 3)), -1, 1)
        assert value <= f(near).min() + 1e-7          # nothing better right next to it


def test_a_reachable_target_is_met_and_certified_by_input_min(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([4, 16, 16, 6], seed=9))
    p = pgen.compile_string("var x : real[4] in [-1, 1]\nnet f = network \"n.onnx\"\nminimize f(x)[0]\n",
                            base_dir=tmp_path)
    from pgen.compiler.nn.forward import plain_relu_layers

    t = forward(plain_relu_layers(p.checked.nets["f"]), np.array([[0.3, -0.2, 0.5, 0.1]]))[0]
    q = pgen.compile_string(f"var x : real[4] in [-1, 1]\nnet f = network \"n.onnx\"\n"
                            f"minimize norm1(f(x) - {np.round(t, 6).tolist()})\n", base_dir=tmp_path)
    res = q.solve(backend="auto", timeout=60)
    assert res.termination == "optimal" and res.verified and res.objective <= 1e-4
    assert res.bound == 0.0
