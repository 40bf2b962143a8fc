"""`pgenc dataset`, `pgenc train`, `pgenc property`: files, numbers, and clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pgen.cli import main
from pgen.surrogate.pde import d_xx, d_yy
from tests.conftest import ROOT


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_dataset_then_property(capsys, tmp_path):
    code, out, _ = run(capsys, "dataset", "--grains", 3, "--count", 40, "--seed", 1, "--workers", 1,
                       "--no-plot", "--out", tmp_path / "d3")
    assert code == 0 and "40 cells with 3 grains" in out and "[40,50)" in out
    manifest = json.loads((tmp_path / "d3" / "manifest.json").read_text())
    assert manifest["count"] == 40 and sum(manifest["histogram"].values()) == 40
    cell = np.load(tmp_path / "d3" / "dataset.npz")["images"][5]
    np.save(tmp_path / "c.npy", cell)
    Image.fromarray(np.where(cell == 1, 0, 255).astype(np.uint8)).save(tmp_path / "c.png")
    np.savetxt(tmp_path / "c.csv", cell, delimiter=",", fmt="%d")
    for name in ("c.npy", "c.png", "c.csv"):
        code, out, _ = run(capsys, "property", tmp_path / name, "--json")
        assert code == 0
        got = json.loads(out)
        assert got["d_xx"] == pytest.approx(d_xx(cell)) and got["d_yy"] == pytest.approx(d_yy(cell))
        assert got["grains"] == 3 and got["void_components"] == 1 and got["void_border"]


def test_property_runs_a_surrogate(capsys, tmp_path):
    cell = np.zeros((16, 16), np.uint8)
    cell[4:9, 3:7] = 1
    np.save(tmp_path / "c.npy", cell.reshape(1, 256))  # a flat [1, 256] cell is accepted
    code, out, _ = run(capsys, "property", tmp_path / "c.npy", "--net", ROOT / "specs" / "nets" / "d2_relu.onnx")
    assert code == 0 and "surrogate" in out and f"{d_xx(cell):.6f}" in out


@pytest.mark.parametrize("array,needle", [
    (np.full((16, 16), 0.5), "binary"),
    (np.ones((16, 16)), "all solid"),
    (np.zeros((3, 16, 16)), "2-D"),
    (np.zeros(15), "2-D"),
])
def test_property_bad_cells(capsys, tmp_path, array, needle):
    np.save(tmp_path / "bad.npy", array)
    code, _, err = run(capsys, "property", tmp_path / "bad.npy")
    assert code == 1 and err.startswith("error:") and needle in err


def test_property_gray_png_and_missing_file(capsys, tmp_path):
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "g.png")
    code, _, err = run(capsys, "property", tmp_path / "g.png")
    assert code == 1 and "black" in err
    code, _, err = run(capsys, "property", tmp_path / "none.npy")
    assert code == 1 and "does not exist" in err


def test_train_on_an_empty_folder_is_a_clear_error(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "train", tmp_path / "empty", "--arch", "bnn", "--out", tmp_path / "n.onnx")
    assert code == 1 and "no dataset.npz" in err and not (tmp_path / "n.onnx").exists()


def test_dataset_bad_counts(capsys, tmp_path):
    code, _, err = run(capsys, "dataset", "--grains", 2, "--count", 0, "--out", tmp_path / "x")
    assert code == 1 and "at least one cell" in err and not (tmp_path / "x").exists()


def test_train_command_writes_net_and_card(capsys, tmp_path):
    pytest.importorskip("torch")
    run(capsys, "dataset", "--grains", 2, "--count", 60, "--workers", 1, "--no-plot", "--out", tmp_path / "d")
    code, out, _ = run(capsys, "train", tmp_path / "d", "--arch", "relu", "--epochs", 2, "--no-plot",
                       "--out", tmp_path / "nets" / "d2_relu.onnx")
    assert code == 0 and "test MAE" in out
    assert {p.name for p in (tmp_path / "nets").iterdir()} == {"d2_relu.onnx", "d2_relu.md", "d2_relu.json"}
