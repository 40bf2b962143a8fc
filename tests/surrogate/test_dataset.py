"""Dataset generation: valid cells, labels from the PDE, determinism, files, bad folders."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pgen.surrogate import dataset
from pgen.surrogate.geometry import Grain, check_cell
from pgen.surrogate.pde import d_xx


@pytest.fixture(scope="module")
def small():
    return dataset.generate(60, 2, seed=11)


def test_cells_are_valid_and_labelled_by_the_pde(small):
    a = small["arrays"]
    assert a["images"].shape == (60, 16, 16) and a["images"].dtype == np.uint8
    for k in range(60):
        grains = [Grain(tuple(int(v) for v in a["seeds"][k, r]), int(a["s"][k, r])) for r in range(2)]
        assert check_cell(a["grains"][k], grains) == []
        assert np.array_equal(a["images"][k], (a["grains"][k] > 0).astype(np.uint8))
    for k in range(0, 60, 7):
        assert a["d_xx"][k] == pytest.approx(d_xx(a["images"][k]), abs=1e-12)
        assert a["label"][k] == round(100 * a["d_xx"][k])
    assert np.all(a["d_xx"] >= 0.40) and np.all((a["label"] >= 40) & (a["label"] <= 100))
    assert sum(small["manifest"]["histogram"].values()) == 60


def test_same_seed_same_cells_for_any_worker_count(small):
    again = dataset.generate(60, 2, seed=11, workers=2)
    for key in small["arrays"]:
        assert np.array_equal(small["arrays"][key], again["arrays"][key]), key
    other = dataset.generate(60, 2, seed=12)
    assert not np.array_equal(small["arrays"]["images"], other["arrays"]["images"])


def test_redraws_below_the_minimum_instead_of_clipping():
    data = dataset.generate(30, 3, seed=4, min_d=0.75)
    assert np.all(data["arrays"]["d_xx"] >= 0.75)
    assert data["manifest"]["generator"]["redrawn_below_min"] > 0


def test_write_and_load_round_trip(small, tmp_path):
    out = dataset.write(tmp_path / "d2", small, plot=False)
    arrays, manifest = dataset.load(out)
    assert np.array_equal(arrays["images"], small["arrays"]["images"])
    assert manifest["sha256"] == dataset._sha256(out / "dataset.npz")
    assert json.loads((out / "manifest.json").read_text())["seed"] == 11
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_bad_dataset_folders_get_clear_errors(tmp_path, small):
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        dataset.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(dataset.DatasetError, match="no dataset.npz"):
        dataset.load(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    np.savez(bad / "dataset.npz", images=np.full((3, 4, 4), 0.5), label=np.zeros(3))
    with pytest.raises(dataset.DatasetError, match="not binary"):
        dataset.load(bad)
    np.savez(bad / "dataset.npz", images=np.zeros((3, 4, 4)), label=np.zeros(2))
    with pytest.raises(dataset.DatasetError, match="one entry per image"):
        dataset.load(bad)
    (bad / "dataset.npz").write_bytes(b"not a zip")
    with pytest.raises(dataset.DatasetError, match="cannot be read"):
        dataset.load(bad)
    with pytest.raises(dataset.DatasetError, match="at least one cell"):
        dataset.generate(0, 2)
