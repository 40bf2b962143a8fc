"""VAE baselines (surrogate/vae.py): seeded training and sampling reproduce bit for bit on
the CPU, samples are binary cells, the conditional variant takes an interval, the model
file and card round-trip."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.surrogate import baselines, dataset, vae  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "d3"
    dataset.write(folder, dataset.generate(48, 3, seed=1, workers=1), plot=False)
    return folder, *dataset.load(folder)


def _train(arrays, kind="vae", seed=0):
    return vae.train(arrays, kind, epochs=2, seed=seed, batch=16)


def test_same_seed_same_weights_and_samples(data):
    _, arrays, _ = data
    m1, m2 = _train(arrays), _train(arrays)
    a, b = m1["state"]["vae"], m2["state"]["vae"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["losses"] for h in m1["history"]] == [h["losses"] for h in m2["history"]]
    s1, s2 = vae.sample(m1, 10, seed=4), vae.sample(m2, 10, seed=4)
    assert s1.shape == (10, 16, 16) and s1.dtype == np.uint8 and set(np.unique(s1)) <= {0, 1}
    assert np.array_equal(s1, s2)
    assert np.array_equal(s1[:4], vae.sample(m1, 4, seed=4))
    assert not np.allclose(vae.probabilities(m1, 10, seed=4), vae.probabilities(m1, 10, seed=5))
    m3 = _train(arrays, seed=1)
    assert not all(torch.equal(a[k], m3["state"]["vae"][k]) for k in a)
    assert set(m1["history"][-1]["losses"]) == {"loss", "reconstruction", "kl"}


def test_conditional_vae_takes_the_interval(data):
    _, arrays, _ = data
    m = _train(arrays, "cvae")
    assert m["settings"]["classes"] == 6
    assert not np.allclose(vae.probabilities(m, 6, seed=0, interval=1), vae.probabilities(m, 6, seed=0, interval=4))
    assert np.array_equal(vae.sample(m, 6, seed=0, interval=1), vae.sample(m, 6, seed=0, interval=1))
    with pytest.raises(ValueError, match="interval"):
        vae.sample(m, 2, seed=0)


def test_no_norm_choice(data):
    _, arrays, _ = data
    with pytest.raises(ValueError, match="no normalisation"):
        vae.train(arrays, "vae", epochs=1, norm="batch")


def test_model_file_and_card(data, tmp_path):
    folder, arrays, manifest = data
    m = _train(arrays)
    baselines.save(tmp_path / "run", m, folder, manifest, "pgenc baseline vae ...")
    card = json.loads((tmp_path / "run" / "card.json").read_text())
    assert card["kind"] == "vae" and card["data"]["grains"] == 3 and card["data"]["dataset_seed"] == 1
    assert card["settings"]["epochs"] == 2 and card["settings"]["latent"] == 16
    assert card["runtime"]["threads"] == 1 and len(card["history"]) == 2
    assert "Bernoulli" in (tmp_path / "run" / "card.md").read_text()
    back = baselines.load(tmp_path / "run")
    assert np.array_equal(vae.sample(back, 5, seed=9), vae.sample(m, 5, seed=9))
