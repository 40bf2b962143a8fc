"""The shipped volume specs (specs/porous3d/): `cube16` makes verified 16^3 volumes written
as 3-D `.npy` labels; `nmc_like_32` makes 32^3 three-phase volumes whose phase counts are
exactly the spec's, with every rule re-checked here by labelling of our own."""
from __future__ import annotations

import json

import numpy as np
from scipy import ndimage

from pgen.cli import main
from tests.conftest import ROOT

SPECS = ROOT / "specs" / "porous3d"
SIX = ndimage.generate_binary_structure(3, 1)


def _faces_of_cube(a: np.ndarray) -> np.ndarray:
    b = np.zeros(a.shape, dtype=bool)
    b[0], b[-1], b[:, 0], b[:, -1], b[:, :, 0], b[:, :, -1] = (True,) * 6
    return b


def test_cube16_writes_verified_volumes(tmp_path, capsys):
    out = tmp_path / "v3"
    assert main(["solve", str(SPECS / "cube16.pgen"), "--count", "2", "--out", str(out)]) == 0
    for k in (1, 2):
        labels = np.load(out / f"{k:04d}.npy")
        record = json.loads((out / f"{k:04d}.json").read_text())
        assert labels.shape == (16, 16, 16) and record["verified"]
        assert not np.any(labels[_faces_of_cube(labels)])            # void on all six faces
        components, count = ndimage.label(labels > 0, structure=SIX)
        assert count == 2                                              # two 6-connected grains ...
        for r in (1, 2):                                               # ... each one label
            assert len(np.unique(components[labels == r])) == 1
        void, n_void = ndimage.label(labels == 0, structure=SIX)
        assert n_void == 1                                             # no enclosed void
        assert "true_D_zz" in record["images"]["V"]
    assert (out / "contact_sheet.png").exists()


def test_nmc_like_32_has_exact_phase_counts(tmp_path, capsys):
    out = tmp_path / "nmc"
    assert main(["solve", str(SPECS / "nmc_like_32.pgen"), "--count", "1", "--out", str(out)]) == 0
    phases = np.load(out / "0001.npy")
    assert phases.shape == (32, 32, 32)
    assert np.bincount(phases.ravel(), minlength=3).tolist() == [8192, 19661, 4915]
    pore, count = ndimage.label(phases == 0, structure=SIX)
    reach = set(np.unique(pore[_faces_of_cube(phases)])) - {0}
    assert reach == set(range(1, count + 1))                           # `open pore`
    touching = any(np.any((np.roll(phases, 1, axis=a) == 1)[1:] & (phases == 2)[1:]) for a in range(3))
    assert touching                                                    # `touch active binder`
    record = json.loads((out / "0001.json").read_text())
    assert record["images"]["E"]["phases"]["pore"]["fraction"] == 0.25


def test_check_describes_volumes_and_phases(capsys):
    assert main(["check", str(SPECS / "nmc_like_32.pgen")]) == 0
    assert "image E: 32 x 32 x 32; 3 phases (cells: pore 8192, active 19661, binder 4915); touch active binder; " \
           "open pore" in capsys.readouterr().out
    assert main(["check", str(SPECS / "cube16.pgen")]) == 0
    assert "image V: 16 x 16 x 16; 2 grains" in capsys.readouterr().out
