"""The constrained neural adjoint as a portfolio member: a reachable target under a
reverse-convex constraint is certified by it alone (polished design at the objective's
proved floor); an unreachable one is certified by the exact backend from its start, at the
same optimum as the MILP alone; without torch it is skipped and says so."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.compiler.nn.forward import forward, plain_relu_layers
from pgen.core.results import OPTIMAL
from pgen.runtime.strategies import constrained_adjoint as member

SPEC = """param t = {t}
param o = {o}
var x : real[4] in [-1, 1]
net f = network "n.onnx"
require abs(x[i + 1] - x[i]) <= 0.8 for i in 0..2
require norm1(f(x) - o) >= 0.3
minimize norm1(f(x) - t)
solve timeout 60
"""


def make(tmp_path, t, o):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([4, 8, 8, 2], seed=4))
    path = tmp_path / "p.pgen"
    path.write_text(SPEC.format(t=list(map(float, t)), o=list(map(float, o))))
    return pgen.load(path)


def layers(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([4, 8, 8, 2], seed=4))
    return plain_relu_layers(pgen.compile_string("var x : real[4] in [-1, 1]\nnet f = network \"n.onnx\"\n"
                                                 "minimize f(x)[0]\n", base_dir=tmp_path).checked.nets["f"])


def test_a_reachable_target_is_certified_by_the_member(tmp_path):
    pytest.importorskip("torch")
    x_star = np.array([0.2, -0.1, 0.3, 0.5])
    t = forward(layers(tmp_path), x_star[None])[0]
    res = make(tmp_path, t, t + [0.5, 0.0]).solve(backend="auto", timeout=60)
    assert res.termination == OPTIMAL and res.verified
    assert res.backend == "constrained-adjoint"
    assert res.objective <= 1e-4 and res.bound == 0.0
    assert "certified" in res.message


def test_an_unreachable_target_ends_at_the_milp_optimum(tmp_path):
    pytest.importorskip("torch")
    t, o = np.array([3.0, -2.0]), np.array([0.0, 0.0])
    auto = make(tmp_path, t, o).solve(backend="auto", timeout=60)
    milp = make(tmp_path, t, o).solve(backend="highs", timeout=60)
    assert milp.termination == OPTIMAL and auto.termination == OPTIMAL and auto.verified
    assert auto.objective == pytest.approx(milp.objective, abs=1e-4 * max(1.0, abs(milp.objective)))
    assert auto.stats.get("timeline") and auto.stats["timeline"][0]["member"] == "constrained-adjoint"


def test_without_torch_it_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(member, "torch_available", lambda: False)
    res = make(tmp_path, [3.0, -2.0], [0.0, 0.0]).solve(backend="auto", timeout=60)
    assert res.termination == OPTIMAL
    assert any("torch is not installed" in n for n in res.stats.get("notes", []))
