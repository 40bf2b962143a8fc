"""Design datasets: reproducible, the designs each kind promises, labelled by the simulator,
written and read back; bad folders refused with a message."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.surrogate import design_data, spectral


# the spectral kinds; the others are checked beside their simulators (e.g. test_softarm.py)
@pytest.mark.parametrize("kind", [k for k in design_data.KINDS if k in spectral.INK_SETS])
def test_designs_follow_their_kind_and_are_labelled_by_the_simulator(kind):
    data = design_data.generate(kind, 300, seed=4)
    x, y = data["arrays"]["x"], data["arrays"]["y"]
    k = spectral.INK_SETS[kind].k
    assert x.shape == (300, k) and y.shape == (300, 31)
    if kind == "contone11":
        assert np.all(x == np.round(x)) and np.all(x.sum(axis=1) == spectral.CONTONE_LAYERS)
    else:
        assert np.all((x >= 0) & (x <= 1))
    if kind == "ink44":
        assert np.all((x > 0).sum(axis=1) <= 4) and np.all((x > 0).sum(axis=1) >= 1)
    np.testing.assert_allclose(y, design_data.simulate(kind, x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    again = design_data.generate(kind, 300, seed=4)["arrays"]
    assert np.array_equal(again["x"], x) and np.array_equal(again["y"], y)


def test_write_and_load(tmp_path):
    folder = design_data.write(tmp_path / "cmyk", design_data.generate("cmyk", 50, seed=1))
    arrays, manifest = design_data.load(folder)
    assert design_data.is_design_dataset(folder)
    assert arrays["x"].shape == (50, 4) and manifest["kind"] == "cmyk" and len(manifest["sha256"]) == 64


def test_bad_input_is_named(tmp_path):
    with pytest.raises(design_data.DesignDataError, match="unknown dataset kind `cmy`"):
        design_data.generate("cmy", 10)
    with pytest.raises(design_data.DesignDataError, match="has no dataset.npz"):
        design_data.load(tmp_path)
    np.savez(tmp_path / "dataset.npz", x=np.zeros((3, 2)), y=np.zeros((2, 31)))
    with pytest.raises(design_data.DesignDataError, match="same N"):
        design_data.load(tmp_path)
