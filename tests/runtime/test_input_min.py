"""The minimising input branch and bound: its bounds never exceed the true minimum of a box
(dense sampling is the oracle: any sampled value is at least the minimum), the exact box
solver attains what it claims, and the certified optimum of a spec equals the exact MILP's
and is no worse than a fine grid's best point."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen.compiler.nn.relax import layer_bounds
from pgen.runtime import input_min as im
from pgen.surrogate.export import relu_onnx


def _net(seed: int, sizes=(2, 12, 12, 5)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1.0 / np.sqrt(a), (b, a)), rng.normal(0, 0.3, b)) for a, b in zip(sizes, sizes[1:])]


def _grid(lo, hi, n=201):
    axes = [np.linspace(a, b, n) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(lo))


@pytest.mark.parametrize("seed", range(4))
def test_bounds_never_exceed_the_box_minimum(seed):
    layers = _net(seed)
    rng = np.random.default_rng(100 + seed)
    t = rng.normal(0, 0.5, 5)
    for _ in range(6):
        c, w = rng.uniform(-1, 1, 2), rng.choice([1.0, 0.3, 0.05])
        lo, hi = c - w / 2, c + w / 2
        sampled = float(im.objective(layers, t, _grid(lo, hi, 101)).min())
        crown, flo, fhi, _ = im.box_lower_bounds(layers, t, lo[None], hi[None])
        assert crown[0] <= sampled + 1e-9
        pre = [(l[0], u[0]) for l, u in layer_bounds(layers, lo[None], hi[None])]
        lp, x = im.lp_box_bound(layers, t, lo, hi, pre)
        assert lp <= sampled + 1e-7
        if sum(int(np.sum((l < 0) & (u > 0))) for l, u in pre) <= 4:
            value, x = im.exact_box_min(layers, t, lo, hi, pre)
            assert value <= sampled + 1e-7
            assert abs(float(im.objective(layers, t, x[None])[0]) - value) <= 1e-6


def test_minimise_certifies_the_grid_optimum():
    layers = _net(7)
    t = np.array([0.2, -0.1, 0.4, 0.0, 0.3])
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    res = im.minimise(layers, t, lo, hi, timeout=60)
    grid = float(im.objective(layers, t, _grid(lo, hi, 801)).min())
    assert res.status == "optimal"
    assert res.value <= grid + 1e-9                   # no worse than any grid point
    assert res.bound >= res.value - im.GAP_TOL * max(1.0, res.value) - 1e-12
    assert res.value >= grid - 0.01                   # and the grid's spacing is fine enough to be close


def _spec(tmp_path, layers, target):
    (tmp_path / "n.onnx").write_bytes(relu_onnx([W for W, _ in layers], [b for _, b in layers], layers[0][0].shape[1],
                                                names=("x", "y")))
    (tmp_path / "s.pgen").write_text(
        f"param t = [{', '.join(repr(float(v)) for v in target)}]\nvar x : real[2] in [-1, 1]\n"
        "net f = network \"n.onnx\"\nminimize norm1(f(x) - t)\nsolve timeout 60\n")
    return pgen.load(tmp_path / "s.pgen")


def test_portfolio_answer_is_certified_and_equals_the_milp(tmp_path):
    layers = _net(3)
    problem = _spec(tmp_path, layers, [0.1, 0.2, -0.3, 0.0, 0.5])
    assert problem.net_objective is not None
    ours = problem.solve(timeout=60)
    milp = problem.solve(backend="highs", timeout=120)
    assert ours.termination == "optimal" and ours.backend == "input-min" and ours.verified
    assert milp.termination == "optimal"
    assert abs(ours.objective - milp.objective) <= 1e-4 * max(1.0, abs(milp.objective))


def test_other_forms_are_left_to_the_backends(tmp_path):
    problem = _spec(tmp_path, _net(3), [0.0] * 5)
    text = (tmp_path / "s.pgen").read_text()
    (tmp_path / "r.pgen").write_text(text.replace("minimize", "require x[0] >= 0\nminimize"))
    assert pgen.load(tmp_path / "r.pgen").net_objective is None
    (tmp_path / "i.pgen").write_text(text.replace("real[2]", "int[2]"))
    assert pgen.load(tmp_path / "i.pgen").net_objective is None
    assert problem.net_objective.target.shape == (5,)
