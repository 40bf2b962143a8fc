"""The cell-problem solver against analytic values and invariants (issue 4 "Must show")."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.surrogate.pde import CellError, d_xx, d_xx_batch, d_yy, plane_fluxes


def _random_cells(n, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((size, size)) < rng.uniform(0.1, 0.6)).astype(float) for _ in range(n)]


def test_empty_cell_is_one():
    assert d_xx(np.zeros((16, 16))) == 1.0


def test_stripes_along_x_give_porosity():
    img = np.zeros((16, 16))
    img[1::3, :] = 1
    assert d_xx(img) == pytest.approx(1 - img.mean(), abs=1e-12)


def test_stripes_across_x_give_zero():
    img = np.zeros((16, 16))
    img[:, 5] = 1
    assert d_xx(img) == 0.0
    assert d_yy(img) == pytest.approx(15 / 16, abs=1e-12)


def test_bounds_flux_shift_and_transpose():
    for img in _random_cells(25):
        d = d_xx(img)
        assert 0.0 <= d <= 1 - img.mean() + 1e-12
        q = plane_fluxes(img)
        np.testing.assert_allclose(q, q[0], atol=1e-9)  # the same flux through every x-plane
        shifted = np.roll(np.roll(img, 5, axis=0), -3, axis=1)
        assert d_xx(shifted) == pytest.approx(d, abs=1e-10)
        assert d_yy(img.T) == pytest.approx(d, abs=1e-12)


def test_square_grain_converges_to_one_over_sqrt3():
    values = []
    for size in (16, 32, 64):
        img = np.zeros((size, size))
        q = size // 4
        img[q:q + size // 2, q:q + size // 2] = 1
        values.append(d_xx(img))
    assert values[0] == pytest.approx(0.569, abs=1e-3)
    errors = [abs(v - 1 / np.sqrt(3)) for v in values]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 2e-3


@pytest.mark.parametrize("fraction,reference", [(0.1, 0.818), (0.2, 0.667), (0.3, 0.538), (0.4, 0.425)])
def test_square_array_of_disks_matches_rayleigh(fraction, reference):
    size = 256
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    r = np.sqrt(fraction * size * size / np.pi)
    img = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) <= r * r).astype(float)
    assert abs(d_xx(img) - reference) <= 0.01 * reference


def test_closed_pocket_and_non_percolating_cells():
    img = np.zeros((16, 16))
    img[4:11, 4:11] = 1
    img[6:9, 6:9] = 0  # a void pocket enclosed by solid: its own component, pinned
    assert 0 < d_xx(img) < 1
    blocked = np.zeros((16, 16))
    blocked[:, 7] = 1
    blocked[3, 2] = 1
    assert d_xx(blocked) == 0.0


def test_all_solid_cell_is_a_clear_error():
    with pytest.raises(CellError, match="all solid"):
        d_xx(np.ones((8, 8)))


@pytest.mark.parametrize("img,needle", [
    (np.full((4, 4), 0.5), "binary"),
    (np.zeros((2, 2, 2, 2)), "2-D"),
    (np.zeros((0, 4)), "2-D"),
])
def test_bad_cells_get_clear_errors(img, needle):
    with pytest.raises(CellError, match=needle):
        d_xx(img)


def test_batch_matches_single():
    cells = _random_cells(6, seed=3)
    np.testing.assert_allclose(d_xx_batch(cells, workers=2), [d_xx(c) for c in cells])


def test_3d_volumes_by_conjugate_gradients():
    from pgen.surrogate.pde import d_zz

    assert d_xx(np.zeros((5, 6, 7))) == pytest.approx(1.0, abs=1e-9)
    # plates normal to z: every x-line is void or solid, D_xx = porosity; D_zz = 0
    plates = np.zeros((6, 5, 5))
    plates[2] = 1
    assert d_xx(plates) == pytest.approx(5 / 6, abs=1e-9)
    assert d_zz(plates) == pytest.approx(0.0, abs=1e-9)
    # a 2-D cell extruded along z has the 2-D cell's D_xx and D_yy, and D_zz = porosity
    cells = _random_cells(3, seed=7)
    for cell in cells:
        vol = np.repeat(cell[None], 4, axis=0)
        assert d_xx(vol) == pytest.approx(d_xx(cell), abs=1e-7)
        assert d_yy(vol) == pytest.approx(d_yy(cell), abs=1e-7)
        assert d_zz(vol) == pytest.approx(1 - cell.mean(), abs=1e-7)
    # a random volume: equal flux through every x-plane, bounded by the porosity, shift-invariant
    rng = np.random.default_rng(4)
    vol = (rng.random((8, 8, 8)) < 0.3).astype(np.uint8)
    q = plane_fluxes(vol)
    assert np.allclose(q, q[0], rtol=1e-6)
    assert 0 <= d_xx(vol) <= 1 - vol.mean() + 1e-12
    assert d_xx(np.roll(vol, (2, 3, 1), axis=(0, 1, 2))) == pytest.approx(d_xx(vol), abs=1e-7)
