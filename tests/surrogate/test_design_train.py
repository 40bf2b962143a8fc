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
