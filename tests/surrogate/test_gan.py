"""DCGAN baselines (surrogate/gan.py): seeded training and sampling reproduce bit for bit on
the CPU, samples are binary cells, the conditional variant takes an interval, the model
file and card round-trip."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.surrogate import baselines, dataset, gan, generative  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "d2"
    dataset.write(folder, dataset.generate(64, 2, seed=0, workers=1), plot=False)
    return folder, *dataset.load(folder)


def _train(arrays, kind="gan", seed=0, **kw):
    return gan.train(arrays, kind, epochs=1, seed=seed, batch=16, **kw)


def _same_state(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_samples(data):
    _, arrays, _ = data
    m1, m2 = _train(arrays), _train(arrays)
    assert _same_state(m1["state"]["generator"], m2["state"]["generator"])
    assert _same_state(m1["state"]["discriminator"], m2["state"]["discriminator"])
    s1, s2 = gan.sample(m1, 12, seed=5), gan.sample(m2, 12, seed=5)
    assert s1.shape == (12, 16, 16) and s1.dtype == np.uint8
    assert set(np.unique(s1)) <= {0, 1}
    assert np.array_equal(s1, s2)
    assert not np.allclose(gan.probabilities(m1, 12, seed=5), gan.probabilities(m1, 12, seed=6))
    m3 = _train(arrays, seed=1)
    assert not _same_state(m1["state"]["generator"], m3["state"]["generator"])  # another training seed


def test_a_sample_does_not_depend_on_the_batch_and_torch_is_put_back(data):
    _, arrays, _ = data
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    m = _train(arrays, threads=2)
    assert m["runtime"]["threads"] == 2
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, deterministic)
    assert np.array_equal(gan.sample(m, 3, seed=2), gan.sample(m, 8, seed=2)[:3])


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_norm_choice(data, norm):
    _, arrays, _ = data
    m = _train(arrays, norm=norm)
    assert m["settings"]["norm"] == norm
    layers = {type(mod).__name__ for mod in gan.generator(m).modules()}
    assert ("BatchNorm2d" if norm == "batch" else "InstanceNorm2d") in layers
    d = {type(mod).__name__ for mod in gan._networks(16, 8, norm, 0)[1].modules()}
    assert "Conv2d" in d
    assert all(hasattr(mod, "weight_orig") for mod in gan._networks(16, 8, norm, 0)[1].modules()
               if type(mod).__name__ in ("Conv2d", "Linear"))                # spectral norm everywhere


def test_conditional_gan_takes_the_interval(data):
    _, arrays, _ = data
    m = _train(arrays, "cgan")
    assert m["settings"]["classes"] == 6
    a = gan.sample(m, 8, seed=0, interval=0)
    assert a.shape == (8, 16, 16) and a.dtype == np.uint8
    assert not np.allclose(gan.probabilities(m, 8, seed=0, interval=0), gan.probabilities(m, 8, seed=0, interval=5))
    assert np.array_equal(a, gan.sample(m, 8, seed=0, interval=0))
    with pytest.raises(ValueError, match="interval"):
        gan.sample(m, 2, seed=0)
    with pytest.raises(ValueError, match="not conditional"):
        gan.sample(_train(arrays), 2, seed=0, interval=1)


def test_model_file_and_card(data, tmp_path):
    folder, arrays, manifest = data
    m = _train(arrays, "cgan")
    card = baselines.save(tmp_path / "run", m, folder, manifest, "pgenc baseline cgan ...")
    got = json.loads((tmp_path / "run" / "card.json").read_text())
    assert got == json.loads(json.dumps(card))
    assert got["data"]["dataset_sha256"] == manifest["sha256"] and got["data"]["dataset_seed"] == 0
    for key in ("seed", "epochs", "batch", "lr", "norm", "latent"):
        assert key in got["settings"]
    assert got["settings"]["epochs"] == 1 and got["settings"]["batch"] == 16
    assert got["runtime"]["threads"] == 1 and got["runtime"]["device"] == "cpu" and got["runtime"]["torch"]
    assert set(got["final_losses"]) == {"loss_d", "loss_g", "d_real", "d_fake"}
    assert got["train_seconds"] >= 0
    md = (tmp_path / "run" / "card.md").read_text()
    assert "spectral norm" in md and manifest["sha256"] in md
    back = baselines.load(tmp_path / "run")
    assert np.array_equal(gan.sample(back, 6, seed=3, interval=2), gan.sample(m, 6, seed=3, interval=2))


def test_interval_classes():
    assert generative.interval_class([39.9, 40, 49.99, 50, 89.9, 90, 100, 100.5]).tolist() == \
        [-1, 0, 0, 1, 4, 5, 5, -1]
    assert generative.class_of_interval(60, 70) == 2 and generative.class_of_interval(90, 100) == 5
    with pytest.raises(ValueError, match="not one of"):
        generative.class_of_interval(60, 75)


def test_symmetries_keep_the_class_of_d_xx(data):
    """A mirrored cell keeps its D_xx class; a transposed one takes its D_yy's."""
    from pgen.surrogate.pde import d_xx

    _, arrays, _ = data
    td = generative.TrainingData(arrays, True, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    x, cls = td.batch(torch.arange(td.n), gen)
    for img, c in zip(x[:20, 0].numpy().astype(np.uint8), cls[:20].tolist()):
        assert generative.interval_class(100 * d_xx(img)) == c


def test_unconditional_data_transposes_every_cell():
    """Without conditioning a transpose is always a fair sample, whatever D_yy is."""
    x = np.zeros((4, 16, 16), np.uint8)
    x[:, 5, 3:9] = 1                                   # a horizontal bar: its transpose is vertical
    arrays = {"images": x, "label": np.full(4, 60), "d_xx": np.full(4, 0.6), "d_yy": np.full(4, 0.3)}
    gen = torch.Generator().manual_seed(0)
    plain = generative.TrainingData(arrays, False, torch.device("cpu"))
    vertical = lambda img: bool(img.sum(0).max() > 1)  # noqa: E731 - a column holds more than one cell
    seen = {vertical(plain.batch(torch.arange(4), gen)[0][k, 0]) for _ in range(5) for k in range(4)}
    assert seen == {True, False}
    cond = generative.TrainingData(arrays, True, torch.device("cpu"))
    for _ in range(5):
        img, cls = cond.batch(torch.arange(4), gen)
        assert cls.tolist() == [2] * 4 and not any(vertical(img[k, 0]) for k in range(4))
