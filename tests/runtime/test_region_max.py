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
from pgen.runtime.region_max import region_maximum, unstable_masks

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
