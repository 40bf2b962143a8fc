"""The trained design surrogates shipped in specs/nets/ (made by `pgenc train`, see each
model card): the card describes the file and its training, onnxruntime agreed with PyTorch
at export, and the network's error on fresh designs it never saw (new seed, simulated here)
is in line with the card's test error."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from pgen.compiler.nn.session import run_network
from pgen.surrogate import design_train

NETS = Path(__file__).resolve().parents[2] / "specs" / "nets"
# name: (dataset kind, layers, test MAE per band it must reach: ours, the spectrum's mean is ~1.2)
SHIPPED = {"nano4_100_50_100": ("nano4", "4 -> 100 -> 50 -> 100 -> 200", 0.03),
           # per vertex coordinate: the arm is 10 long, coordinates within about -10..12
           "robot_2x128": ("softarm", "40 -> 128 -> 128 -> 206", 0.01),
           # absorption in [0, 1): mean 0.21, std 0.21 over the data set
           "adm_4x500": ("adm", "8 -> 500 -> 500 -> 500 -> 500 -> 300", 0.015)}
# seed 002 Sec. 4.7's scaling networks (bench/seed002_scaling.py): reflectance in [0, 1], dark
# (mean 0.013 over the data set); depth 6..12 x 50 and width 1 x 100..400
SHIPPED.update({f"ink8_{d}x{w}": ("ink8", " -> ".join(map(str, [8, *[w] * d, 31])), target)
                for d, w, target in [(6, 50, 0.001), (8, 50, 0.001), (10, 50, 0.001), (12, 50, 0.002),
                                     (1, 100, 0.002), (1, 200, 0.0012), (1, 300, 0.001), (1, 400, 0.001)]})


def _card(name):
    return json.loads((NETS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", SHIPPED)
def test_card_describes_the_file(name):
    kind, layers, target = SHIPPED[name]
    card = _card(name)
    assert card["sha256"] == hashlib.sha256((NETS / f"{name}.onnx").read_bytes()).hexdigest()
    assert card["data"]["kind"] == kind and card["layers"] == layers and card["architecture"] == "relu"
    assert card["error"]["test_mae_per_band"] <= target
    assert card["onnxruntime_vs_torch_max_abs_diff"] <= design_train.AGREE_TOL
    assert f"--out specs/nets/{name}.onnx" in card["command"]
    md = (NETS / f"{name}.md").read_text()
    assert card["sha256"][:16] in md and card["data"]["regenerate"] in md


@pytest.mark.parametrize("name", SHIPPED)
def test_error_on_fresh_designs(name):
    from pgen.surrogate import design_data

    kind, _, target = SHIPPED[name]
    if kind == "nano4":
        pytest.importorskip("scattnlay", reason="the nano4 simulator needs scattnlay (train extra)")
    fresh = design_data.generate(kind, 60, seed=9004)["arrays"]   # the shipped data used seed 0
    pred = np.stack([run_network(str(NETS / f"{name}.onnx"), x) for x in fresh["x"]])
    mae = float(np.mean(np.abs(pred - fresh["y"])))
    assert mae <= 2 * target, mae


def test_adm_batch_norm_sits_between_gemm_and_relu():
    # seed 002's robustness network: batch norm after each hidden layer, exported in the
    # form the importer folds into the Gemm's affine map
    import onnx

    assert _card("adm_4x500")["batchnorm"] is True
    ops = [n.op_type for n in onnx.load(str(NETS / "adm_4x500.onnx")).graph.node]
    assert ops == ["Gemm", "BatchNormalization", "Relu"] * 4 + ["Gemm"]
    assert (NETS / "adm_4x500.onnx").stat().st_size < 5 * 2 ** 20
