"""Neural adjoint: never better than the certified optimum (it cannot be), close to it on an
easy surrogate, designs inside the box, and the same answer for the same seed."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.compiler.nn.forward import forward  # noqa: E402
from pgen.runtime import input_min  # noqa: E402
from pgen.surrogate.neural_adjoint import neural_adjoint  # noqa: E402


def _net(seed=5, sizes=(3, 16, 16, 6)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1.0 / np.sqrt(a), (b, a)), rng.normal(0, 0.2, b)) for a, b in zip(sizes, sizes[1:])]


def test_never_beats_the_certified_optimum_and_comes_close():
    layers = _net()
    lo, hi = np.zeros(3), np.ones(3)
    targets = np.array([forward(layers, np.array([[0.2, 0.7, 0.4]]))[0],   # reachable: optimum 0
                        np.full(6, 0.3)])
    na = neural_adjoint(layers, targets, lo, hi, restarts=20, steps=500, seed=1)
    assert np.all((na["x"] >= lo) & (na["x"] <= hi))
    for t, x, l1 in zip(targets, na["x"], na["l1"]):
        exact = input_min.minimise(layers, t, lo, hi, timeout=60)
        assert exact.status == "optimal"
        assert l1 >= exact.bound - 1e-5                      # a certified bound holds for every design
        assert abs(float(input_min.objective(layers, t, x[None])[0]) - l1) < 1e-4
        assert l1 <= exact.value + 0.05                      # and NA gets near it on this small network
    again = neural_adjoint(layers, targets, lo, hi, restarts=20, steps=500, seed=1)
    np.testing.assert_allclose(again["l1"], na["l1"])


def test_a_network_that_is_not_plain_relu_is_refused_by_name():
    from pgen.core.errors import PgenError
    from pgen.surrogate.neural_adjoint import relu_layers
    from tests.conftest import ROOT

    assert len(relu_layers(str(ROOT / "specs" / "nets" / "cmyk_4x100.onnx"))) == 5
    with pytest.raises(PgenError) as e:
        relu_layers(str(ROOT / "specs" / "nets" / "d2_bnn.onnx"))
    text = e.value.render()
    assert "d2_bnn.onnx" in text and "plain ReLU networks only" in text and "Step (node `Sign`)" in text
