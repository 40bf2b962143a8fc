"""The multilayer-sphere simulator (surrogate/mie.py) against independent values: published
homogeneous-sphere efficiencies, the Rayleigh limit, and the layered-sphere identities
(one material throughout is a homogeneous sphere; absent shells are the bare core)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scattnlay", reason="scattnlay (the multilayer Mie solver) is in the train extra: "
                                        "pip install -e '.[train]'")

from pgen.surrogate import mie  # noqa: E402


def test_homogeneous_sphere_matches_published_efficiencies():
    # Bohren & Huffman (1983) Appendix A, BHMIE's test case: m = 1.55, radius 0.525 um,
    # wavelength 0.6328 um (x = 5.2128), Q_ext = Q_sca = 3.10543; and Wiscombe's MIEV0 test
    # case 7: m = 0.75, x = 10, Q_sca = 2.232265. Both as pinned in miepython's
    # tests/test_nojit.py (scottprahl/miepython).
    assert mie.qsca([525.0], [1.55], [632.8])[0] == pytest.approx(3.10543, abs=1e-5)
    assert mie.qsca([10 * 632.8 / (2 * np.pi)], [0.75], [632.8])[0] == pytest.approx(2.232265, abs=1e-6)


@pytest.mark.parametrize("m", [1.45, 2.5])
def test_small_sphere_approaches_the_rayleigh_limit(m):
    # Q_sca = (8/3) x^4 |(m^2-1)/(m^2+2)|^2 (1 + O(x^2)): within 1e-4 at x = 0.01, and the
    # relative deviation shrinks like x^2 (a factor 9 from x = 0.03 to 0.01, within 2 %)
    wl = 500.0
    dev = {}
    for x in (0.01, 0.03):
        q = mie.qsca([x * wl / (2 * np.pi)], [m], [wl])[0]
        dev[x] = q / mie.rayleigh_qsca(m, x) - 1
    assert abs(dev[0.01]) < 1e-4
    assert dev[0.03] / dev[0.01] == pytest.approx(9.0, rel=0.02)


def test_layers_of_one_material_are_a_homogeneous_sphere():
    n = mie.n_sio2(mie.WAVELENGTHS)
    layered = mie.qsca([50.0, 90.0, 130.0, 200.0], np.stack([n] * 4, axis=1))
    np.testing.assert_allclose(layered, mie.qsca([200.0], n[:, None]), rtol=1e-9)
    titania = mie.qsca([50.0, 120.0, 160.0], [2.5, 2.5, 2.5])
    np.testing.assert_allclose(titania, mie.qsca([160.0], [2.5]), rtol=1e-6)


def test_zero_shells_are_the_bare_core_and_absent_shells_merge_their_neighbours():
    wl = mie.WAVELENGTHS
    core = mie.qsca([mie.CORE_RADIUS], mie.n_sio2(wl)[:, None]) * (mie.CORE_RADIUS / mie.NORM_RADIUS) ** 2
    np.testing.assert_allclose(mie.spectrum([0, 0, 0, 0]), core, rtol=1e-12)
    # shells TiO2 20, SiO2 0, TiO2 30, SiO2 10 = one TiO2 shell of 50 nm, then 10 nm SiO2
    merged = mie.qsca([50.0, 100.0, 110.0], np.stack([mie.n_sio2(wl), np.full(200, mie.N_TIO2), mie.n_sio2(wl)], 1))
    np.testing.assert_allclose(mie.spectrum([20, 0, 30, 10]), merged * (110 / mie.NORM_RADIUS) ** 2, rtol=1e-9)


def test_a_layer_edge_at_a_multiple_of_pi_gives_the_smooth_value():
    # shells (40, 70, 10, 40): the TiO2 shell from r = 90 nm to 160 nm ends at n x = 2.5 * 2 pi
    # * 160 / 400 = 2 pi at 400 nm, where scattnlay alone returns a third of the true value;
    # the guard's value is the one just beside it
    th = [40, 70, 10, 40]
    at = mie.spectrum(th, [400.0])[0]
    beside = mie.spectrum(th, [400.0 * (1 + 1e-9), 400.0 * (1 - 1e-9)])
    assert at == pytest.approx(beside.mean(), rel=1e-6)
    assert 0 < at < 3


def test_spectra_are_of_order_one_and_batched_like_single_designs():
    designs = np.array([[0, 0, 0, 0], [70, 70, 70, 70], [23, 41, 58, 12], [10, 0, 60, 30]], float)
    s = mie.spectrum(designs)
    assert s.shape == (4, 200) and np.all(s > 0)
    assert s[0].max() < 1e-2 < s[1].max() < 10     # the bare 50 nm core barely scatters
    for row, th in zip(s, designs):
        np.testing.assert_array_equal(row, mie.spectrum(th))


def test_bad_designs_are_named():
    with pytest.raises(mie.MieError, match="4 shell thicknesses"):
        mie.spectrum([10, 20, 30])
    with pytest.raises(mie.MieError, match=r"design 1: .* >= 0 nm"):
        mie.spectrum([[0, 0, 0, 0], [10, -1, 0, 0]])
    with pytest.raises(mie.MieError, match="finite"):
        mie.spectrum([np.nan, 0, 0, 0])
    with pytest.raises(mie.MieError, match="non-decreasing"):
        mie.qsca([50.0, 40.0], [1.5, 2.5])


def test_nano4_dataset_mixes_the_grid_and_continuous_designs():
    from pgen.surrogate import design_data

    data = design_data.generate("nano4", 40, seed=4)
    x, y, man = data["arrays"]["x"], data["arrays"]["y"], data["manifest"]
    assert x.shape == (40, 4) and y.shape == (40, 200) and man["kind"] == "nano4"
    on_grid = np.all(np.isin(x, mie.GRID), axis=1)
    assert on_grid[:20].all() and len(np.unique(x[:20], axis=0)) == 20          # half the grid, no repeats
    assert np.all((x[20:] >= 0) & (x[20:] <= mie.MAX_THICKNESS)) and not on_grid[20:].any()
    assert (man["x"]["grid_designs"], man["x"]["continuous_designs"]) == (20, 20)
    np.testing.assert_allclose(y, mie.spectrum(x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    assert np.array_equal(design_data.generate("nano4", 40, seed=4)["arrays"]["y"], y)
    # from 8192 designs on, every one of the 8^4 grid designs is in, once
    big = design_data._designs("nano4", 9000, np.random.default_rng(0))
    assert len(np.unique(big[:4096], axis=0)) == 4096 and np.all(np.isin(big[:4096], mie.GRID))
