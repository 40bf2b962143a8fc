"""n-phase blob images: exact counts, seeded, periodic; the folder writer and its loader."""
import json

import numpy as np
import pytest

from pgen.surrogate import phase_images as pi


def test_counts_are_exact_and_largest_remainder():
    assert pi.exact_counts((0.25, 0.60, 0.15), 64 * 64).tolist() == [1024, 2458, 614]
    assert pi.exact_counts((0.5, 0.5), 9).sum() == 9
    imgs = pi.blobs(5, 64, (0.25, 0.60, 0.15), blobiness=1.0, seed=3)
    assert imgs.dtype == np.uint8 and imgs.shape == (5, 64, 64)
    for im in imgs:
        assert np.bincount(im.ravel(), minlength=3).tolist() == [1024, 2458, 614]


def test_seeded_reproducible_and_image_i_independent():
    a = pi.blobs(4, 32, seed=7)
    assert np.array_equal(a, pi.blobs(4, 32, seed=7))
    assert not np.array_equal(a, pi.blobs(4, 32, seed=8))
    assert np.array_equal(a[2:], pi.blobs(2, 32, seed=7, start=2))


def test_blobs_are_blobs_and_periodic():
    imgs = pi.blobs(20, 64, (0.5, 0.5), blobiness=1.0, seed=0)
    s2 = pi.two_point(imgs, 2, 8, periodic=True)
    # correlated at short range (blobs, not noise), decaying towards phi^2 = 0.25
    assert s2[0, 0, 1] > 0.40 and s2[0, 0, 8] < 0.33
    # periodic: the filter wraps, so a pixel matches across the border as well as inside
    im = imgs.astype(float)
    across = np.mean(im[:, :, 0] == im[:, :, -1])
    inside = np.mean(im[:, :, 1:] == im[:, :, :-1])
    assert abs(across - inside) < 0.05


def test_matrix_phase_and_bad_arguments():
    im = pi.blobs(1, 16, (0.2, 0.3, 0.5), seed=0, matrix=0)[0]
    assert np.bincount(im.ravel(), minlength=3).tolist() == [51, 77, 128]
    with pytest.raises(pi.PhaseDataError, match="sum to 1"):
        pi.blobs(1, 16, (0.2, 0.2))
    with pytest.raises(pi.PhaseDataError, match="blobiness must be > 0"):
        pi.blobs(1, 16, blobiness=0)
    with pytest.raises(pi.PhaseDataError, match="numbers separated by commas"):
        pi.parse_fractions("a,b")


def test_write_load_roundtrip(tmp_path):
    data = pi.generate(6, 32, (0.25, 0.60, 0.15), blobiness=1.5, seed=2)
    folder = pi.write(tmp_path / "nmc", data)
    phases, man = pi.load(folder)
    assert np.array_equal(phases, data["phases"])
    assert man["format"] == pi.FORMAT and man["names"] == ["pore", "active", "binder"]
    assert man["fractions"] == [0.25, 0.6, 0.15] and man["seed"] == 2
    assert man["generator"]["blobiness"] == [1.5] * 3 and man["generator"]["matrix"] == 1
    assert f"--out {folder}" in man["command"] and (folder / "examples.png").exists()
    assert json.loads((folder / "manifest.json").read_text())["sha256"]


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(pi.PhaseDataError, match="does not exist; make one with `python -m pgen.surrogate"):
        pi.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(pi.PhaseDataError, match="has no phases.npz"):
        pi.load(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    np.savez(bad / "phases.npz", phases=np.full((2, 8, 8), 5, np.uint8))
    (bad / "manifest.json").write_text(json.dumps({"phases": 3}))
    with pytest.raises(pi.PhaseDataError, match=r"phase indices 0\.\.2"):
        pi.load(bad)
    np.savez(bad / "phases.npz", phases=np.zeros((2, 8, 6), np.uint8))
    with pytest.raises(pi.PhaseDataError, match=r"must be \[N, S, S\]"):
        pi.load(bad)
    (bad / "phases.npz").write_text("not an npz")
    with pytest.raises(pi.PhaseDataError, match="cannot be read as NPZ"):
        pi.load(bad)


def test_pgenc_dataset_folder_reads_as_two_phases(tmp_path):
    from pgen.surrogate import dataset as ds

    ds.write(tmp_path / "d2", ds.generate(4, 2, seed=0), plot=False)
    phases, man = pi.load(tmp_path / "d2")
    assert phases.shape == (4, 16, 16) and set(np.unique(phases)) <= {0, 1}
    assert man["phases"] == 2 and man["names"] == ["void", "solid"]


def test_module_entry_point(tmp_path, capsys):
    assert pi.main(["--out", str(tmp_path / "o"), "--count", "3", "--size", "16", "--seed", "1"]) == 0
    assert "3 images 16x16" in capsys.readouterr().out
    assert pi.main(["--out", str(tmp_path / "p"), "--count", "3", "--fractions", "0.5,0.6"]) == 1
    assert "sum to 1" in capsys.readouterr().err


def test_two_point_and_anisotropy():
    stripes = np.zeros((1, 8, 8), np.uint8)
    stripes[:, :, ::2] = 1  # columns alternate: varies along axis 1 (x), constant along axis 0
    s2 = pi.two_point(stripes, 2, 2, periodic=True)
    assert s2[1, 0].tolist() == [0.5, 0.5, 0.5] and s2[1, 1].tolist() == [0.5, 0.0, 0.5]
    assert pi.anisotropy(s2) == 0.5
    assert pi.anisotropy(pi.two_point(np.zeros((1, 4, 4, 4), np.uint8), 1, 2)) == 0.0
