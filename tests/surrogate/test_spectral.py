"""The spectral printing simulators against what their models say analytically."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.surrogate import spectral as sp


@pytest.mark.parametrize("inks", [sp.CMYK, sp.EIGHT_INKS], ids=lambda s: s.name)
@pytest.mark.parametrize("n", [1.0, 2.0, 3.5])
def test_product_form_equals_the_sum_over_neugebauer_primaries(inks, n):
    a = np.random.default_rng(0).random((20, inks.k))
    np.testing.assert_allclose(sp.ynsn(a, inks, n), sp.ynsn_by_primaries(a, inks, n), rtol=1e-12)


def test_no_ink_is_paper_and_one_solid_ink_is_paper_times_its_transmittance_squared():
    inks = sp.library(44)
    np.testing.assert_allclose(sp.ynsn(np.zeros(44), inks), inks.paper, rtol=1e-12)
    for i in (0, 17, 43):
        a = np.zeros(44)
        a[i] = 1.0
        np.testing.assert_allclose(sp.ynsn(a, inks), inks.paper * inks.transmittances()[i] ** 2, rtol=1e-12)


def test_with_n_one_the_model_is_linear_in_each_coverage():
    rng = np.random.default_rng(1)
    a, b = rng.random(4), rng.random(4)
    for i in range(4):
        lo, hi, mid = a.copy(), a.copy(), a.copy()
        lo[i], hi[i], mid[i] = 0.0, 1.0, b[i]
        np.testing.assert_allclose(sp.ynsn(mid, sp.CMYK, 1.0),
                                   (1 - b[i]) * sp.ynsn(lo, sp.CMYK, 1.0) + b[i] * sp.ynsn(hi, sp.CMYK, 1.0), rtol=1e-12)


def test_more_ink_never_reflects_more():
    rng = np.random.default_rng(2)
    a = rng.random((50, 8))
    more = np.minimum(1.0, a + rng.random((50, 8)) * 0.3)
    assert np.all(sp.ynsn(more, sp.EIGHT_INKS) <= sp.ynsn(a, sp.EIGHT_INKS) + 1e-15)


def test_process_inks_absorb_where_their_colour_says():
    band = {w: int(np.flatnonzero(sp.WAVELENGTHS == w)[0]) for w in (450, 540, 650)}
    for name, absorbs in [("cyan", 650), ("magenta", 540), ("yellow", 450)]:
        a = np.array([ink.name == name for ink in sp.CMYK.inks], dtype=float)
        r = sp.ynsn(a, sp.CMYK)
        assert r[band[absorbs]] == r[list(band.values())].min(), name


def test_contone_stacks_multiply_and_clear_layers_change_nothing():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 15, 11).astype(float), rng.integers(0, 15, 11).astype(float)
    inks = sp.CONTONE_INKS
    np.testing.assert_allclose(sp.contone(x + y) * inks.paper, sp.contone(x) * sp.contone(y), rtol=1e-12)
    np.testing.assert_allclose(sp.contone(np.zeros(11)), inks.paper)
    clear = np.zeros(11)
    clear[-1] = sp.CONTONE_LAYERS
    np.testing.assert_allclose(sp.contone(clear), inks.paper)


def test_library_is_fixed_and_gray_ramp_is_flat():
    a, b = sp.library(44), sp.library(44)
    assert a.k == 44 and np.array_equal(a.transmittances(), b.transmittances())
    assert len({tuple(np.round(t, 9)) for t in a.transmittances()}) == 44
    ramp = sp.gray_ramp()
    assert ramp.shape == (901, 31) and np.all(ramp.max(axis=1) == ramp.min(axis=1))
    assert np.all(np.diff(ramp[:, 0]) > 0)


def test_wrong_design_length_is_refused():
    with pytest.raises(ValueError, match="expected 4 ink values"):
        sp.ynsn(np.zeros(5), sp.CMYK)


def test_the_shipped_gray_ramp_file_is_the_simulators_ramp():
    # bench/seed002.py loops over this file; it must be seed 002's 901 grays exactly
    from tests.conftest import ROOT

    ramp = np.loadtxt(ROOT / "specs" / "inverse" / "targets" / "gray_ramp_901.csv", comments="#")
    np.testing.assert_array_equal(ramp, sp.gray_ramp(901)[:, 0])
