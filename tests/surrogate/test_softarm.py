"""The soft-arm simulator against what its model says analytically (surrogate/softarm.py):
rest shape, straight growth, the bilayer's circular arc, a fixed base, a true energy
minimum, mirror symmetry, and scipy's least squares as a second solver."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import cholesky_banded

from pgen.surrogate import design_data
from pgen.surrogate import softarm as sa

REF = sa.reference().reshape(-1, 2)
SPINE = sa.spine(np.arange(sa.N_CELLS + 1))


def _vertices(y):
    return y.reshape(-1, sa.N_VERTICES, 2)


def _random(n, seed):
    return sa.random_designs(n, np.random.default_rng(seed))


def _circle(points):
    """(curvature, largest distance off the circle) of the least-squares circle through points."""
    a = np.c_[2 * points, np.ones(len(points))]
    c = np.linalg.lstsq(a, np.sum(points ** 2, axis=1), rcond=None)[0]
    radius = np.sqrt(c[2] + c[:2] @ c[:2])
    return 1 / radius, float(np.max(np.abs(np.linalg.norm(points - c[:2], axis=1) - radius)))


def test_layout_constants():
    assert sa.N_VERTICES == 103 and sa.N_OUT == 206 and sa.N_DESIGN == 40
    assert sa.TIP == (122, 123) and tuple(REF[sa.TIP_VERTEX]) == (0.0, 2 * sa.N_CELLS * sa.ROW)
    assert np.all(REF[list(sa.BASE), 1] == 0) and len(sa.EXPOSED) == 40
    assert np.all(np.abs(REF[list(sa.EXPOSED), 0]) == sa.WIDTH / 2)


def test_no_actuation_is_the_reference_shape():
    y = sa.solve(np.zeros(40))
    assert np.array_equal(y[0], sa.reference())
    assert sa.energy(y, np.zeros((1, 40)))[0] == 0.0


def test_equal_stretch_on_both_sides_grows_a_straight_arm_of_exact_length():
    profile = np.linspace(-0.2, 0.2, sa.N_CELLS) * np.cos(np.arange(sa.N_CELLS))   # any profile along the arm
    x = np.r_[profile, profile]
    p = _vertices(sa.solve(x))[0]
    # each half's rest shape is the reference stretched along the arm, and the halves fit:
    # stress free, so exact up to the solver's force tolerance
    np.testing.assert_allclose(p[:, 0], REF[:, 0], atol=1e-9)
    rows = 2 * sa.ROW * np.r_[0, np.cumsum(1 + profile)]
    np.testing.assert_allclose(p[SPINE, 1], rows, atol=1e-9)
    assert p[sa.TIP_VERTEX, 1] == pytest.approx(2 * sa.ROW * np.sum(1 + profile), abs=1e-9)
    assert sa.energy(sa.solve(x), x[None])[0] < 1e-20


@pytest.mark.parametrize("s", [0.05, 0.2, -0.2])
def test_one_sided_stretch_bends_into_the_bilayer_arc(s):
    x = np.r_[np.full(sa.N_CELLS, s), np.zeros(sa.N_CELLS)]
    kappa = abs(s) / (sa.WIDTH * (1 + s / 2))       # sandwich bilayer: |s_L - s_R| / (W (1 + mean))
    chain = _vertices(sa.trapezoid_chain(x))[0]
    k_chain, off_chain = _circle(chain[SPINE])
    assert k_chain == pytest.approx(kappa, rel=1e-12) and off_chain < 1e-12   # the closed form is exact
    p = _vertices(sa.solve(x))[0]
    # a longer left side bends the arm to the right, a shorter one to the left
    assert np.sign(p[sa.TIP_VERTEX, 0]) == np.sign(s)
    # the soft diagonals (K_SHEAR) want their own half's growth, not the linear interpolation
    # across the width: measured 1e-4 relative on the curvature and 4e-5 off the circle at
    # |s| = 0.2 (K_SHEAR = 0.1); tolerances 10x that
    k, off = _circle(p[SPINE])
    assert k == pytest.approx(kappa, rel=1e-3)
    assert off < 5e-4


def test_the_base_never_moves_and_the_energy_is_a_minimum():
    x = _random(40, seed=3)
    y = sa.solve(x)
    base = _vertices(y)[:, list(sa.BASE)]
    assert np.array_equal(base, np.broadcast_to(REF[list(sa.BASE)], base.shape))
    g = sa.gradient(y, x)
    assert np.max(np.abs(g[:, sa._FREE_DOF])) <= sa.GTOL
    for b in range(len(x)):   # Hessian positive definite: a strict local minimum
        cholesky_banded(sa.hessian(y[b:b + 1], x[b:b + 1])[0], lower=True)
    rng = np.random.default_rng(0)
    e0 = sa.energy(y, x)
    for _ in range(5):
        nudged = y.copy()
        nudged[:, sa._FREE_DOF] += 1e-4 * rng.standard_normal((len(x), len(sa._FREE_DOF)))
        assert np.all(sa.energy(nudged, x) > e0)


def test_mirrored_design_gives_the_mirrored_arm():
    x = _random(5, seed=4)
    swapped = np.c_[x[:, sa.N_CELLS:], x[:, :sa.N_CELLS]]
    p, q = _vertices(sa.solve(x)), _vertices(sa.solve(swapped))
    mirror = np.r_[sa.right(np.arange(sa.N_ROWS)), SPINE, sa.left(np.arange(sa.N_ROWS))]
    np.testing.assert_allclose(q[:, mirror, 0], -p[:, :, 0], atol=1e-8)
    np.testing.assert_allclose(q[:, mirror, 1], p[:, :, 1], atol=1e-8)


def test_batched_newton_equals_scipy_least_squares():
    x = np.r_[_random(3, seed=5), np.r_[np.full(20, 0.2), np.full(20, -0.2)][None]]   # the tightest curl too
    np.testing.assert_allclose(sa.solve(x), sa.solve_lsq(x), atol=1e-8)


def test_random_designs_are_in_the_box_mostly_smooth_and_reproducible():
    x = _random(2000, seed=6)
    assert x.shape == (2000, 40) and np.all(np.abs(x) <= sa.STRETCH)
    assert np.mean(sa.smoothness(x) <= 0.2) > 0.8
    assert np.array_equal(x, _random(2000, seed=6))


def test_dataset_kind_softarm():
    data = design_data.generate("softarm", 60, seed=2)
    x, y = data["arrays"]["x"], data["arrays"]["y"]
    assert x.shape == (60, 40) and y.shape == (60, 206)
    np.testing.assert_allclose(y, sa.solve(x.astype(np.float64)), atol=1e-5)   # float32 storage
    assert data["manifest"]["kind"] == "softarm" and "(122, 123)" in data["manifest"]["y"]["meaning"]
    assert np.array_equal(design_data.generate("softarm", 60, seed=2)["arrays"]["y"], y)


@pytest.mark.parametrize("bad,message", [
    (np.zeros(39), r"40 stretches \(20 left, 20 right\), got shape \(1, 39\)"),
    (np.r_[np.zeros(39), np.nan], "design 0 has a stretch that is not finite"),
    (np.r_[np.zeros(39), 0.7], r"must lie in \[-0.5, 0.5\].*got 0.7"),
])
def test_bad_designs_are_named(bad, message):
    with pytest.raises(sa.SoftArmError, match=message):
        sa.solve(bad)
