"""Scattering spectra of a multilayer dielectric nanosphere, for seed 002's nano-photonics
experiment (Sec. 4.4.1, after Peurifoy et al. 2018: alternating SiO2 / TiO2 shells).

**The particle.** A SiO2 core of radius CORE_RADIUS = 50 nm and four shells, TiO2, SiO2,
TiO2, SiO2 from the inside out; the design is the four shell thicknesses in nm (the
experiment's grid: {0, 10, ..., 70}; any value in [0, 70] is simulated). A shell of
thickness 0 is absent (its neighbours then touch: two SiO2 layers simply form one thicker
SiO2 layer), so all-zero thicknesses are the bare core.

**Materials** (non-absorbing; wavelengths in vacuum, nm):
- SiO2: fused silica, Malitson's Sellmeier formula (I. H. Malitson, J. Opt. Soc. Am. 55,
  1205, 1965; as given on refractiveindex.info): n = 1.470 at 400 nm, 1.453 at 800 nm.
- TiO2: a constant n = 2.5, within the range of TiO2 films in the visible (anatase about
  2.5, rutile 2.6-2.9); no dispersion formula, so no absorption edge near 400 nm is modelled.
- Medium: vacuum / air, n = 1.

**The spectrum** (`spectrum`): the scattering cross-section sigma_sca at the 200 WAVELENGTHS
(400-800 nm) divided by a fixed area, pi * NORM_RADIUS^2 with NORM_RADIUS = 330 nm (the
outer radius of the largest design, 50 + 4 x 70), so values are O(1) (about 0 to 6) and
compare across designs: `spectrum = Q_sca * (R_outer / NORM_RADIUS)^2`.

**The solver** is `scattnlay` (O. Pena and U. Pal, Comput. Phys. Commun. 180, 2348, 2009:
the multilayer Mie coefficients by stable recursions), a training-time dependency
(`pip install -e ".[train]"`), imported only inside the functions here. Its layer
recursion (2.4) divides by exp(-2iz) - 1 for z = n_layer * x at each edge of a shell, so
where z is a multiple of pi exactly it returns garbage (Q_sca 1.16 instead of 3.77 for
shells (40, 70, 10, 40) at 400 nm; ovidiopr/scattnlay issue 17): with TiO2's n = 2.5 and whole-nm
radii that happens on the integer grid at 400 and 800 nm. Near such a point its relative
error is about 1e-15 / |sin z|, so where |sin z| < SINGULAR_SIN those rows are evaluated
at size parameters x (1 + EPS) and x (1 - EPS) and averaged (error O(EPS^2), about 1e-8;
z moves by at least 5e-6 away from the multiple of pi).
"""
from __future__ import annotations

import numpy as np

WAVELENGTHS = np.linspace(400.0, 800.0, 200)   # nm, vacuum
CORE_RADIUS = 50.0                              # nm, SiO2
SHELLS = 4
MAX_THICKNESS = 70.0                            # nm
GRID = np.arange(0.0, MAX_THICKNESS + 1, 10.0)  # the integer experiment's 8 levels
NORM_RADIUS = CORE_RADIUS + SHELLS * MAX_THICKNESS   # 330 nm
N_MEDIUM = 1.0
N_TIO2 = 2.5
LAYERS = ("SiO2", "TiO2", "SiO2", "TiO2", "SiO2")    # core, then shells inside out
SINGULAR_SIN = 1e-7
EPS = 1e-5


class MieError(ValueError):
    """Input the simulator cannot take (the message says which and why)."""


def n_sio2(wavelengths_nm) -> np.ndarray:
    """Fused silica (Malitson 1965 Sellmeier; lambda in micrometres inside the formula)."""
    l2 = (np.asarray(wavelengths_nm, dtype=np.float64) / 1000.0) ** 2
    return np.sqrt(1 + 0.6961663 * l2 / (l2 - 0.0684043 ** 2) + 0.4079426 * l2 / (l2 - 0.1162414 ** 2)
                   + 0.8974794 * l2 / (l2 - 9.896161 ** 2))


def refractive_index(material: str, wavelengths_nm) -> np.ndarray:
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if material == "SiO2":
        return n_sio2(wl)
    if material == "TiO2":
        return np.full(wl.shape, N_TIO2)
    raise MieError(f"unknown material `{material}`; choose SiO2 or TiO2")


def require_scattnlay():
    try:
        from scattnlay import scattnlay
    except ImportError:
        raise RuntimeError("the nano-photonics simulator needs scattnlay: pip install -e '.[train]' "
                           "(it builds from source in about 30 s; needs a C++ compiler)") from None
    return scattnlay


def _qsca_rows(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Q_sca per row for size parameters x [R, L] (increasing along a row) and relative
    indices m [R, L] (real), with the guard against scattnlay's z = k pi edges."""
    scattnlay = require_scattnlay()
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = np.ascontiguousarray(m, dtype=np.complex128)
    q = np.asarray(scattnlay(x, m)[2], dtype=np.float64)
    if x.shape[1] > 1:
        z = np.concatenate([m.real[:, 1:] * x[:, :-1], m.real[:, 1:] * x[:, 1:]], axis=1)
        near = np.min(np.abs(np.sin(z)), axis=1) < SINGULAR_SIN
        if near.any():
            xs, ms = x[near], m[near]
            q[near] = 0.5 * (np.asarray(scattnlay(xs * (1 + EPS), ms)[2])
                             + np.asarray(scattnlay(xs * (1 - EPS), ms)[2]))
    return q


def qsca(radii_nm, indices, wavelengths_nm=WAVELENGTHS, medium: float = N_MEDIUM) -> np.ndarray:
    """Scattering efficiency Q_sca = sigma_sca / (pi R_outer^2) of a layered sphere at each
    wavelength. `radii_nm` [L]: outer radius of each layer, core first, non-decreasing (a
    layer of zero thickness is dropped); `indices`: each layer's refractive index, [L] or
    [W, L] (one row per wavelength); `medium`: the surrounding index."""
    wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=np.float64))
    r = np.atleast_1d(np.asarray(radii_nm, dtype=np.float64))
    n = np.broadcast_to(np.asarray(indices, dtype=np.float64), (len(wl), len(r)))
    if r.ndim != 1 or len(r) == 0 or not np.all(np.isfinite(r)) or r[0] <= 0 or np.any(np.diff(r) < 0):
        raise MieError(f"radii must be finite, the core's positive, and non-decreasing outwards; got {r.tolist()}")
    if not (np.all(np.isfinite(wl)) and np.all(wl > 0) and np.all(np.isfinite(n)) and np.all(n > 0) and medium > 0):
        raise MieError("wavelengths, refractive indices and the medium's index must be finite and positive")
    keep = np.r_[True, np.diff(r) > 0]
    x = 2 * np.pi * medium * r[keep][None, :] / wl[:, None]
    return _qsca_rows(x, n[:, keep] / medium)


def _designs(thicknesses) -> np.ndarray:
    th = np.asarray(thicknesses, dtype=np.float64)
    single = th.ndim == 1
    th = np.atleast_2d(th)
    if th.ndim != 2 or th.shape[1] != SHELLS:
        raise MieError(f"a design is {SHELLS} shell thicknesses in nm; got shape {list(np.shape(thicknesses))}")
    bad = ~np.isfinite(th) | (th < 0)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise MieError(f"design {row}: shell thicknesses must be finite and >= 0 nm, got {th[row].tolist()}")
    return th, single


def spectrum(thicknesses, wavelengths_nm=WAVELENGTHS) -> np.ndarray:
    """sigma_sca / (pi NORM_RADIUS^2) at each wavelength for designs [N, 4] (or one [4]) of
    shell thicknesses in nm; [N, W] (or [W])."""
    th, single = _designs(thicknesses)
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    n_layers = np.stack([refractive_index(mat, wl) for mat in LAYERS], axis=1) / N_MEDIUM   # [W, 5]
    radii = CORE_RADIUS + np.concatenate([np.zeros((len(th), 1)), np.cumsum(th, axis=1)], axis=1)
    present = np.concatenate([np.ones((len(th), 1), bool), th > 0], axis=1)
    out = np.empty((len(th), len(wl)))
    # designs with the same present shells share one scattnlay call (rows: design x wavelength)
    for mask in np.unique(present, axis=0):
        rows = np.flatnonzero(np.all(present == mask, axis=1))
        x = 2 * np.pi * N_MEDIUM * radii[rows][:, mask][:, None, :] / wl[None, :, None]   # [n, W, L]
        m = np.broadcast_to(n_layers[:, mask][None], x.shape)
        q = _qsca_rows(x.reshape(-1, x.shape[2]), m.reshape(-1, x.shape[2])).reshape(len(rows), len(wl))
        out[rows] = q * (radii[rows, -1:] / NORM_RADIUS) ** 2
    return out[0] if single else out


def rayleigh_qsca(m: complex, x: float) -> float:
    """The small-particle limit Q_sca = (8/3) x^4 |(m^2 - 1) / (m^2 + 2)|^2 (x << 1)."""
    return 8.0 / 3.0 * x ** 4 * abs((m * m - 1) / (m * m + 2)) ** 2
