"""The metasurface simulator (surrogate/metasurface.py) against its closed forms: one
resonator's peak and width, absent cylinders, symmetry in the cylinders, the range, and the
combination rule; and the `adm` design dataset it labels."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.surrogate import design_data
from pgen.surrogate import metasurface as ms

F = ms.FREQUENCIES


def _one(h, r):
    """A cell with one cylinder (h, r): the other three have height 0, i.e. are absent."""
    return ms.absorption([[h, 0.0, 0.0, 0.0]], [[r, 40.0, 50.0, 60.0]])[0]


def _half_max_crossings(a):
    """Frequencies where a falls to half its maximum, linearly interpolated between grid points."""
    k, half = int(np.argmax(a)), a.max() / 2
    i = k - np.argmax(a[k::-1] < half)          # first point below half, going left
    j = k + np.argmax(a[k:] < half)             # and going right
    left = F[i] + (half - a[i]) / (a[i + 1] - a[i]) * ms.STEP
    right = F[j - 1] + (half - a[j - 1]) / (a[j] - a[j - 1]) * ms.STEP
    return left, right


def test_single_resonator_on_a_grid_point_has_the_predicted_peak_and_width():
    k = 150
    r = ms.C_UM_THZ / (2 * ms.N_CYL * F[k])     # the radius whose centre is grid point k
    h = 40.0
    a = _one(h, r)
    assert int(np.argmax(a)) == k
    assert a[k] == pytest.approx(1 - np.exp(-h / ms.H_DECAY), rel=1e-12)
    left, right = _half_max_crossings(a)
    # linear interpolation misplaces each crossing by about step^2 |a''| / (8 |a'|) =
    # step^2 / (4 FWHM) at the half maximum (6e-6 of the width here); allowed: twice the sum
    tol = ms.STEP ** 2 / ms.FWHM
    assert right - left == pytest.approx(ms.FWHM, abs=tol)
    assert (left + right) / 2 == pytest.approx(F[k], abs=tol)


@pytest.mark.parametrize("r", [36.3, 47.77, 58.1])
def test_single_resonator_off_the_grid_peaks_within_half_a_step(r):
    h = 33.0
    a = _one(h, r)
    f0, s = ms.centre(r), ms.strength(h)
    k = int(np.argmax(a))
    assert abs(F[k] - f0) <= ms.STEP / 2 + 1e-12
    # the sampled peak lies between the Lorentzian half a step from its centre and the true peak
    assert ms.lorentzian(f0 + ms.STEP / 2, f0, s) - 1e-12 <= a[k] <= s + 1e-12
    assert np.all(np.diff(a[:k + 1]) >= 0) and np.all(np.diff(a[k:]) <= 0)   # one peak


def test_a_zero_strength_cylinder_adds_nothing():
    rng = np.random.default_rng(3)
    h, r = ms.physical(rng.random((20, 8)))
    without = h.copy()
    without[:, 2] = 0.0
    three = ms.combine(ms.lorentzian(F[None, None, :], ms.centre(r[:, [0, 1, 3]])[:, :, None],
                                     ms.strength(h[:, [0, 1, 3]])[:, :, None]), axis=1)
    np.testing.assert_allclose(ms.absorption(without, r), three, rtol=0, atol=1e-15)
    assert ms.strength(0.0) == 0.0


def test_permuting_the_cylinders_leaves_the_spectrum_unchanged():
    rng = np.random.default_rng(4)
    u = rng.random((50, 8))
    for perm in ([1, 0, 2, 3], [3, 2, 1, 0], [2, 3, 0, 1]):
        p = np.array(perm)
        np.testing.assert_allclose(ms.spectrum(np.c_[u[:, p], u[:, 4 + p]]), ms.spectrum(u), rtol=0, atol=1e-15)


def test_values_stay_in_zero_one():
    rng = np.random.default_rng(5)
    corners = np.array([[float(b) for b in f"{i:08b}"] for i in range(256)])
    y = ms.spectrum(np.r_[rng.random((2000, 8)), corners])
    assert y.shape == (2256, 300)
    assert np.all(y >= 0) and np.all(y < 1)
    # the tallest cylinders all on one centre: 1 - (1 - s_max)^4, the most a cell absorbs
    same = ms.absorption([[ms.H_MAX] * 4], [[45.0] * 4])[0]
    assert same.max() <= 1 - (1 - ms.strength(ms.H_MAX)) ** 4 + 1e-15


def test_combination_rule_on_two_resonators_is_its_closed_form():
    a1 = ms.lorentzian(F, 1.0, 0.6)
    a2 = ms.lorentzian(F, 1.1, 0.4)
    got = ms.absorption([[ms.H_DECAY * np.log(1 / 0.4), ms.H_DECAY * np.log(1 / 0.6), 0, 0]],
                        [[ms.C_UM_THZ / (2 * ms.N_CYL * 1.0), ms.C_UM_THZ / (2 * ms.N_CYL * 1.1), 40, 40]])[0]
    np.testing.assert_allclose(got, a1 + a2 - a1 * a2, rtol=1e-12, atol=1e-15)


def test_normalised_designs_map_to_the_documented_ranges():
    h, r = ms.physical([[0, 0.5, 1, 0.2, 0, 0.5, 1, 0.2]])
    np.testing.assert_allclose(h[0], [30, 42.5, 55, 35])
    np.testing.assert_allclose(r[0], [35, 47.5, 60, 40])
    np.testing.assert_allclose(ms.normalised(h, r), [[0, 0.5, 1, 0.2, 0, 0.5, 1, 0.2]])
    assert ms.centre(ms.R_MIN) < 1.5 and ms.centre(ms.R_MAX) > 0.8    # every centre on the axis


def test_bad_designs_are_named():
    with pytest.raises(ms.MetasurfaceError, match="8 values"):
        ms.spectrum(np.zeros((2, 7)))
    with pytest.raises(ms.MetasurfaceError, match=r"design 1, value 5 is 1.5: normalised designs lie in \[0, 1\]"):
        ms.spectrum([[0.5] * 8, [0.5] * 5 + [1.5] + [0.5] * 2])
    with pytest.raises(ms.MetasurfaceError, match="radii finite and > 0"):
        ms.absorption([[1, 1, 1, 1]], [[1, 0, 1, 1]])


def test_adm_dataset_is_labelled_by_the_simulator_and_reproducible():
    data = design_data.generate("adm", 200, seed=7)
    x, y = data["arrays"]["x"], data["arrays"]["y"]
    assert x.shape == (200, 8) and y.shape == (200, 300)
    assert np.all((x >= 0) & (x <= 1))
    np.testing.assert_allclose(y, ms.spectrum(x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    again = design_data.generate("adm", 200, seed=7)["arrays"]
    assert np.array_equal(again["x"], x) and np.array_equal(again["y"], y)
    m = data["manifest"]
    assert m["kind"] == "adm" and len(m["y"]["frequencies_thz"]) == 300 and "metasurface.py" in m["simulator"]
