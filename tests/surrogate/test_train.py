"""Training and export on a tiny dataset: onnxruntime agrees with PyTorch, binarized
weights are exactly +-1, the card describes the file, the compiler imports the network."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.surrogate import cards, dataset, export, train  # noqa: E402
from pgen.surrogate.pde import d_xx, d_yy  # noqa: E402


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "d2"
    return dataset.write(folder, dataset.generate(150, 2, seed=3), plot=False)


@pytest.mark.parametrize("arch", ["bnn", "relu"])
def test_train_export_and_card(data_folder, tmp_path, arch):
    out = tmp_path / f"d2_{arch}.onnx"
    card = cards.build(data_folder, arch, out, epochs=3, seed=1)
    assert card["onnxruntime_vs_torch_max_abs_diff"] <= cards.AGREE_TOL
    assert card["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == card["sha256"]
    assert card["sha256"] in out.with_suffix(".md").read_text()
    weights = export.matmul_weights(out)
    if arch == "bnn":
        assert len(weights) == 4
        for w in weights.values():
            assert np.all((w == 1) | (w == -1))
    # the I/O convention: [1, 256] of 0/1 pixels in, [1, 1] out
    arrays, _ = dataset.load(data_folder)
    got = cards.onnx_predict(out.read_bytes(), arrays["images"][:5])
    assert got.shape == (5,) and np.all(np.isfinite(got))


def test_bnn_torch_and_onnx_agree_on_every_test_cell(data_folder):
    arrays, _ = dataset.load(data_folder)
    result = train.train(arrays, "bnn", epochs=2, seed=0)
    onnx_bytes = train.to_onnx(result)
    _, _, te = result["split"]
    np.testing.assert_allclose(cards.onnx_predict(onnx_bytes, arrays["images"][te]), result["test_pred"],
                               atol=cards.AGREE_TOL, rtol=0)


def test_augmentation_keeps_the_pde_labels(data_folder):
    arrays, _ = dataset.load(data_folder)
    ims, dx, dy = arrays["images"][:3], arrays["d_xx"][:3], arrays["d_yy"][:3]
    x, y = train.augment(ims, dx, dy)
    assert len(x) == 24
    for img, lab in zip(x, y):
        assert lab == dataset.quantise(d_xx(img))
    assert dataset.quantise(d_yy(ims[0])) == dataset.quantise(d_xx(ims[0].T))


def test_export_refuses_non_binary_weights():
    W = np.ones((4, 3))
    W[0, 0] = 0.5
    bn = (np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-5)
    with pytest.raises(ValueError, match="exactly"):
        export.bnn_onnx([(W, *bn)], np.ones((3, 1)), 1.0, 0.0, 4)


def test_split_is_disjoint_and_seeded():
    a = train.split_indices(100, 5)
    b = train.split_indices(100, 5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len(set(np.concatenate(a))) == 100 and [len(p) for p in a] == [80, 10, 10]
