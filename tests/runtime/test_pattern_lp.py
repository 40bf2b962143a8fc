"""Exact polishing on the lowered model: from any design it ends at a point of the model no
worse than the start and locally optimal (it steps across region borders), and a design that
violates the spec does not complete."""
from __future__ import annotations

import time

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.compiler.lower import lower
from pgen.compiler.nn.encode import BoundBudget
from pgen.compiler.nn.forward import forward, plain_relu_layers
from pgen.runtime.pattern_lp import polish
from pgen.runtime.strategies.exact import decode
from pgen.runtime.verify import verify


def lowered(tmp_path, spec, sizes, seed):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp(sizes, seed=seed))
    problem = pgen.compile_string(spec, base_dir=tmp_path)
    low = lower(problem.checked, budget=BoundBudget("interval"))
    return problem.checked, low.model, low.var_base, plain_relu_layers(problem.checked.nets["f"])


@pytest.mark.parametrize("seed", range(4))
def test_polish_ends_in_a_local_minimum_no_worse_than_the_start(tmp_path, seed):
    checked, model, base, layers = lowered(
        tmp_path, "var x : real[1] in [-1, 1]\nnet f = network \"n.onnx\"\nminimize f(x)[0]\n", [1, 12, 12, 1], seed)
    f = lambda x: forward(layers, np.atleast_2d(np.asarray(x, np.float64)).reshape(-1, 1))[:, 0]
    for start in np.linspace(-0.95, 0.95, 7):
        z, value = polish(model, base, checked, {"x": np.array([start])}, time.perf_counter() + 20)
        x = decode(base, checked, z)["x"]
        assert verify(checked, {"x": x}).ok
        assert value == pytest.approx(f(x)[0], abs=1e-6)
        assert value <= f(start)[0] + 1e-9
        # no better point next to it: the polish stepped over every border that leads down
        near = np.clip(x[0] + np.linspace(-1e-3, 1e-3, 41), -1, 1)
        assert value <= f(near).min() + 1e-7


def test_polish_respects_constraints_and_refuses_a_violating_design(tmp_path):
    spec = ("var x : real[2] in [-1, 1]\nnet f = network \"n.onnx\"\n"
            "require x[0] + x[1] <= 0.5\nrequire abs(f(x)[0]) >= 0.1\nminimize norm1(f(x) - [0.3, -0.2])\n")
    checked, model, base, layers = lowered(tmp_path, spec, [2, 8, 8, 2], 3)
    rng = np.random.default_rng(0)
    done = 0
    for x0 in rng.uniform(-1, 1, (40, 2)):
        y0 = forward(layers, x0[None])[0]
        ok = x0.sum() <= 0.5 and abs(y0[0]) >= 0.1
        out = polish(model, base, checked, {"x": x0}, time.perf_counter() + 20)
        if not ok:
            assert out is None     # the design does not complete to a point of the model
            continue
        z, value = out
        values = decode(base, checked, z)
        report = verify(checked, values)
        assert report.ok, report.failures
        assert value <= float(np.abs(y0 - [0.3, -0.2]).sum()) + 1e-9
        done += 1
    assert done >= 5
