"""The MILP encoder's big-M bounds from the network's linear relaxation: valid (every sampled
pre-activation inside), never looser than interval arithmetic, and the encoding stays exact."""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.compiler import ir
from pgen.compiler.affine import Aff
from pgen.compiler.nn.encode import BoundBudget, encode_network, relaxation_bounds
from pgen.compiler.nn.forward import interval_bounds, plain_relu_layers
from pgen.compiler.nn.onnx_import import load_network
from pgen.core.options import SolveOptions
from pgen.runtime.worker import run_in_worker


def _net(tmp_path, seed, sizes=(4, 16, 16, 16, 2)):
    return load_network(netgen.write(tmp_path / f"n{seed}.onnx", netgen.relu_mlp(list(sizes), seed=seed)))


def _model(v_lo, v_hi):
    model = ir.Model()
    for i, (a, b) in enumerate(zip(v_lo, v_hi)):
        model.add_var(f"v[{i}]", ir.REAL, float(a), float(b))
    return model


def _pre_activations(layers, x):
    """[P, n_k] per hidden layer at the points x."""
    out, h = [], x
    for W, b in layers[:-1]:
        z = h @ W.T + b
        out.append(z)
        h = np.maximum(z, 0.0)
    return out


# the network's input: the variables themselves, or a mix of them (x = M v + c), whose
# relations the relaxation keeps (it is computed over the variables' box)
MIXES = {"box": (np.eye(4), np.zeros(4)),
         "mixed": (np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, -1.0], [0.5, 0.5, 0.5]]), np.array([0.1, 0, 0, -0.2]))}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_relaxation_bounds_are_valid_and_tighter_than_intervals(tmp_path, seed, mix):
    net = _net(tmp_path, seed)
    M, c = MIXES[mix]
    n_v = M.shape[1]
    v_lo, v_hi = -np.ones(n_v), np.ones(n_v)
    model = _model(v_lo, v_hi)
    x = Aff.of_vars(0, (n_v,), n_v).matmul(M, c)
    bounds = relaxation_bounds(net, x, model)
    layers = plain_relu_layers(net)
    x_lo, x_hi = x.bounds(*model.bounds_arrays())  # the box the interval arithmetic starts from
    intervals = interval_bounds(layers, x_lo[None], x_hi[None])
    v = v_lo + (v_hi - v_lo) * np.random.default_rng(seed).random((20000, n_v))
    for (l, u), (il, iu), z in zip(bounds, intervals, _pre_activations(layers, v @ M.T + c)):
        assert np.all(z >= l) and np.all(z <= u)
        assert np.all(l >= il[0] - 1e-5) and np.all(u <= iu[0] + 1e-5)  # up to the rounding margin
    first_l, first_u = bounds[-1]
    assert np.sum(first_u - first_l) < np.sum(intervals[-1][1] - intervals[-1][0])  # strictly tighter deep down


def _relu_bounds(model):
    """{(layer label, k): (lo, hi)} of the unstable neurons' big-M bounds as encoded: the
    output's upper bound and the indicator's M (= -lo)."""
    out = {}
    for con in model.constraints:
        if isinstance(con, ir.IndicatorCon) and con.value == 1 and model.vars[con.b].name.endswith("]"):
            name = model.vars[con.b].name  # f"{label}.on[{k}]"
            y = name.replace(".on[", "[")
            ub = next(v.ub for v in model.vars if v.name == y)
            out[y] = (-con.M, ub)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_the_encoder_takes_the_relaxation_bounds_and_stays_exact(tmp_path, seed):
    net = _net(tmp_path, seed)
    layers = plain_relu_layers(net)
    encoded = {}
    r = 0.1  # a box small enough that the relaxation stabilises neurons interval arithmetic cannot
    for mode in ("interval", "lp"):  # "lp" with no LP time: interval and linear relaxation
        model = _model(-r * np.ones(4), r * np.ones(4))
        out = encode_network(net, Aff.of_vars(0, (4,), 4), model, "f", "test", BoundBudget(mode, seconds=0.0))
        model.objective = ir.Objective("min", out.lins()[0])
        encoded[mode] = model
    tight, loose = _relu_bounds(encoded["lp"]), _relu_bounds(encoded["interval"])
    assert set(tight) <= set(loose) and len(tight) < len(loose)  # neurons stabilised: fewer binaries
    assert any("stabilised beyond interval bounds: 0 by" not in note for note in encoded["lp"].notes)
    xs = r * (-1 + 2 * np.random.default_rng(seed).random((20000, 4)))
    pre = _pre_activations(layers, xs)
    for name, (lo, hi) in tight.items():
        li = int(name.split(".relu")[1].split("[")[0]) // 2  # Dense, Relu, Dense, ...: ReLU li is hidden layer li // 2
        k = int(name.split("[")[1].rstrip("]"))
        z = pre[li][:, k]
        assert lo <= z.min() and z.max() <= hi
        assert lo >= loose[name][0] - 1e-5 and hi <= loose[name][1] + 1e-5
    optima = [run_in_worker("highs", encoded[m], "solve", SolveOptions(timeout=60)) for m in ("interval", "lp")]
    assert all(r.termination == "optimal" for r in optima)
    assert abs(optima[0].objective - optima[1].objective) <= 1e-6 * (1 + abs(optima[0].objective))
