"""A design surrogate trained on a small dataset: the exported network takes the design as
the spec writes it (input scaling folded in), reproduces PyTorch on onnxruntime, and the
compiler imports it."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.compiler.nn.session import run_network  # noqa: E402
from pgen.surrogate import design_data, design_train  # noqa: E402


def test_contone_surrogate_takes_layer_counts_as_they_are(tmp_path):
    folder = design_data.write(tmp_path / "c", design_data.generate("contone11", 400, seed=2))
    out = tmp_path / "contone.onnx"
    card = design_train.build(folder, [16, 16], out, epochs=30, seed=0)
    assert card["onnxruntime_vs_torch_max_abs_diff"] <= design_train.AGREE_TOL
    assert json.loads(out.with_suffix(".json").read_text())["layers"] == "11 -> 16 -> 16 -> 31"
    # raw layer counts in (0..30, the training scale folded into the first layer), spectrum out
    arrays, _ = design_data.load(folder)
    err = np.mean([np.mean(np.abs(run_network(str(out), x) - y)) for x, y in zip(arrays["x"][:50], arrays["y"][:50])])
    assert err < 2 * card["error"]["test_mae_per_band"] + 0.01
    assert card["error"]["test_mae_per_band"] < 0.1


def test_cli_makes_and_trains_a_design_dataset(tmp_path, capsys):
    from pgen.cli import main

    assert main(["dataset", "--kind", "cmyk", "--count", "300", "--out", str(tmp_path / "d")]) == 0
    assert main(["train", str(tmp_path / "d"), "--hidden", "8,8", "--epochs", "2", "--out", str(tmp_path / "n.onnx")]) == 0
    assert "4 -> 8 -> 8 -> 31" in capsys.readouterr().out
    assert main(["dataset", "--kind", "nope", "--count", "3", "--out", str(tmp_path / "e")]) == 1
    assert main(["train", str(tmp_path / "d"), "--hidden", "8,x", "--out", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert "unknown --kind `nope`" in err and "--hidden `8,x`" in err


def test_batchnorm_surrogate_exports_gemm_batchnorm_relu_and_imports_exactly(tmp_path, capsys):
    import onnx

    from pgen.cli import main
    from pgen.compiler.nn.forward import forward, plain_relu_layers
    from pgen.compiler.nn.onnx_import import load_network

    # 322 designs: 257 for training, so the last batch of 256 holds one design (skipped: batch norm needs two)
    folder = design_data.write(tmp_path / "a", design_data.generate("adm", 322, seed=3))
    out = tmp_path / "adm.onnx"
    card = design_train.build(folder, [12, 12], out, epochs=3, seed=0, batchnorm=True)
    assert card["batchnorm"] is True and card["settings"]["batchnorm"] is True and "--batchnorm" in card["command"]
    assert card["onnxruntime_vs_torch_max_abs_diff"] <= design_train.AGREE_TOL
    assert "batch norm" in out.with_suffix(".md").read_text()
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops == ["Gemm", "BatchNormalization", "Relu"] * 2 + ["Gemm"]
    # the importer folds each batch norm into its Gemm: a plain ReLU network equal to onnxruntime
    layers = plain_relu_layers(load_network(out))
    assert layers is not None and [W.shape for W, _ in layers] == [(12, 8), (12, 12), (300, 12)]
    arrays, _ = design_data.load(folder)
    ort = np.stack([run_network(str(out), x) for x in arrays["x"][:20]])
    np.testing.assert_allclose(forward(layers, arrays["x"][:20].astype(np.float64)), ort, atol=1e-5)
    # on the command line; refused for porous data before anything is trained
    assert main(["train", str(folder), "--hidden", "6", "--epochs", "1", "--batchnorm", "--out",
                 str(tmp_path / "b.onnx")]) == 0
    assert "8 -> 6 -> 300" in capsys.readouterr().out
    (tmp_path / "p").mkdir()
    assert main(["train", str(tmp_path / "p"), "--arch", "relu", "--batchnorm", "--out", str(tmp_path / "c.onnx")]) == 1
    assert "--batchnorm is for design data" in capsys.readouterr().err
