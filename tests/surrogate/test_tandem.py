"""Tandem inverse network: every design inside the box, training lowers ||f(g(t)) - t||_1,
the NumPy query reproduces what was trained, and the same seed gives the same network."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.compiler.nn.forward import forward  # noqa: E402
from pgen.surrogate.tandem import train  # noqa: E402

LO = np.array([0.0, -1.0, 0.2, 0.3])
HI = np.array([1.0, 1.0, 0.5, 0.3])      # the last input is pinned: lo == hi


def _net(seed=3, sizes=(4, 16, 16, 6)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1.0 / np.sqrt(a), (b, a)), rng.normal(0, 0.2, b)) for a, b in zip(sizes, sizes[1:])]


def _spectra(layers, count=1500, seed=4):
    rng = np.random.default_rng(seed)
    return forward(layers, LO + rng.random((count, 4)) * (HI - LO))


def _train(seed=0, epochs=15):
    layers = _net()
    return layers, train(layers, _spectra(layers), LO, HI, hidden=(32, 32), epochs=epochs, batch=128, lr=3e-3,
                         seed=seed, device="cpu")


def test_every_design_lies_in_the_box_even_far_outside_the_data():
    layers, tandem = _train(epochs=3)
    rng = np.random.default_rng(0)
    wild = np.vstack([rng.normal(0, 1e3, (200, 6)), np.full((1, 6), 1e6), np.full((1, 6), -1e6), np.zeros((1, 6))])
    x = tandem.design(wild)
    assert x.shape == (len(wild), 4)
    assert np.all(x >= LO) and np.all(x <= HI)
    assert np.all(x[:, 3] == 0.3)
    assert np.all(tandem.query(layers, wild)["x"] == x)


def test_training_lowers_the_loss_and_the_query_reproduces_it():
    layers, tandem = _train()
    rec = tandem.record
    assert rec["best_val_l1"] < 0.5 * rec["initial_val_l1"]
    assert rec["train_l1"][-1] < rec["train_l1"][0]
    # the float64 NumPy query scores the validation spectra as the float32 training did
    spectra = _spectra(layers).astype(np.float32).astype(np.float64)
    from pgen.surrogate.train import split_indices
    _, va, _ = split_indices(len(spectra), 0)
    q = tandem.query(layers, spectra[va])
    assert abs(float(q["l1"].mean()) - rec["best_val_l1"]) < 1e-3 * max(1.0, rec["best_val_l1"])
    assert np.allclose(q["l1"], np.sum(np.abs(forward(layers, q["x"]) - spectra[va]), axis=1))


def test_the_same_seed_gives_the_same_network_and_another_seed_another():
    _, a = _train(seed=1, epochs=4)
    _, b = _train(seed=1, epochs=4)
    _, c = _train(seed=2, epochs=4)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    assert a.record["val_l1"] == b.record["val_l1"]
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_spectra_of_the_wrong_width_are_refused():
    layers = _net()
    with pytest.raises(ValueError, match=r"must be \[N, 6\]"):
        train(layers, np.zeros((10, 5)), LO, HI, epochs=1)
    with pytest.raises(ValueError, match="lo <= hi"):
        train(layers, np.zeros((10, 6)), HI, LO, epochs=1)
