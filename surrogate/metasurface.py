"""Absorption spectra of an all-dielectric metasurface (ADM) cell of four nano-cylinders, for
seed 002's robustness experiment (Sec. 4.6, after Nadell et al. 2019 and Ren et al. 2020:
8 parameters, 4 heights and 4 radii, -> an absorption spectrum at 300 points).

This is a cheap, smooth, documented model, not an electromagnetic solver: its purpose is a
realistic-size surrogate (8 -> 300) whose spectra move with the design the way resonant
cylinders do. Units: micrometres and terahertz (ADM cells resonate in the THz band).

**The design.** Physical `x = [h1, h2, h3, h4, r1, r2, r3, r4]` (heights first, then radii,
cylinder i = (h_i, r_i)), heights in [H_MIN, H_MAX] = [30, 55] um, radii in
[R_MIN, R_MAX] = [35, 60] um. The surrogate and the specs use the normalised design
u in [0, 1]^8 (seed 002 Table 1: 0 <= x^0 <= 1): `h = H_MIN + u[:4] (H_MAX - H_MIN)`,
`r = R_MIN + u[4:] (R_MAX - R_MIN)` (`physical`, `normalised`).

**The axis.** FREQUENCIES: 300 points, 0.8 to 1.5 THz, evenly spaced (step 0.7/299 THz,
about 2.34 GHz).

**One cylinder** is a Lorentzian absorber:

    a_i(f) = s_i (g/2)^2 / ((f - f0_i)^2 + (g/2)^2)

peak s_i at f0_i, full width at half maximum g = FWHM = 0.05 THz (fixed damping, Q about
17-29). Its centre follows the radius like the lowest (magnetic-dipole) Mie resonance of a
dielectric particle, where the wavelength inside the material is about the diameter:
`f0 = c / (2 N_CYL r)` with N_CYL = 3 (a high-index THz dielectric), so r in [35, 60] um puts
f0 in [0.83, 1.43] THz, inside the axis. Its strength follows the height, Beer-Lambert in
the lossy material the cylinder holds: `s = 1 - exp(-h / H_DECAY)`, H_DECAY = 50 um
(0.45 to 0.67 over the height range; 0 for h = 0, a cylinder that is not there).

**Four cylinders** absorb independently: light passing the cell escapes absorption by
every resonator, so `A(f) = 1 - prod_i (1 - a_i(f))`. Each a_i is in [0, s_i] with s_i < 1,
so A is in [0, 1); the rule is symmetric in the cylinders, and a cylinder with s_i = 0
leaves A unchanged.
"""
from __future__ import annotations

import numpy as np

C_UM_THZ = 299.792458            # speed of light, um * THz
N_CYL = 3.0                      # refractive index of the cylinders (centre scaling)
H_MIN, H_MAX = 30.0, 55.0        # um
R_MIN, R_MAX = 35.0, 60.0        # um
H_DECAY = 50.0                   # um, strength = 1 - exp(-h / H_DECAY)
FWHM = 0.05                      # THz, every resonator's full width at half maximum
CYLINDERS = 4
FREQUENCIES = np.linspace(0.8, 1.5, 300)   # THz
STEP = float(FREQUENCIES[1] - FREQUENCIES[0])


class MetasurfaceError(ValueError):
    """A design the simulator cannot take (the message says which and why)."""


def centre(radius) -> np.ndarray:
    """Resonance frequency (THz) of a cylinder of this radius (um): c / (2 N_CYL r)."""
    return C_UM_THZ / (2.0 * N_CYL * np.asarray(radius, dtype=np.float64))


def strength(height) -> np.ndarray:
    """Peak absorption of a cylinder of this height (um): 1 - exp(-h / H_DECAY)."""
    return -np.expm1(-np.asarray(height, dtype=np.float64) / H_DECAY)


def lorentzian(f, f0, s, fwhm: float = FWHM) -> np.ndarray:
    """s (g/2)^2 / ((f - f0)^2 + (g/2)^2): peak s at f0, full width g at half maximum."""
    half = fwhm / 2.0
    return s * half * half / ((np.asarray(f) - f0) ** 2 + half * half)


def combine(a, axis: int = -2) -> np.ndarray:
    """Absorption of independent absorbers: 1 - prod(1 - a_i) over `axis`."""
    return 1.0 - np.prod(1.0 - np.asarray(a, dtype=np.float64), axis=axis)


def absorption(heights, radii, f=FREQUENCIES) -> np.ndarray:
    """Spectra [N, len(f)] of N cells, heights and radii [N, CYLINDERS] in um (any h >= 0,
    r > 0: the tests use h = 0 for an absent cylinder)."""
    h = np.atleast_2d(np.asarray(heights, dtype=np.float64))
    r = np.atleast_2d(np.asarray(radii, dtype=np.float64))
    if h.shape != r.shape:
        raise MetasurfaceError(f"heights {list(h.shape)} and radii {list(r.shape)} differ in shape")
    if np.any(~np.isfinite(h)) or np.any(h < 0) or np.any(~np.isfinite(r)) or np.any(r <= 0):
        raise MetasurfaceError("heights must be finite and >= 0, radii finite and > 0 (um)")
    a = lorentzian(np.asarray(f, dtype=np.float64)[None, None, :], centre(r)[:, :, None], strength(h)[:, :, None])
    return combine(a, axis=1)


def physical(u) -> tuple[np.ndarray, np.ndarray]:
    """Normalised designs u [N, 8] in [0, 1] -> (heights, radii) [N, 4] in um."""
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    if u.shape[1] != 2 * CYLINDERS:
        raise MetasurfaceError(f"a design has {2 * CYLINDERS} values (4 heights, then 4 radii), got {u.shape[1]}")
    bad = ~np.isfinite(u) | (u < 0) | (u > 1)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise MetasurfaceError(f"design {row}, value {col} is {u[row, col]}: normalised designs lie in [0, 1]")
    return H_MIN + u[:, :CYLINDERS] * (H_MAX - H_MIN), R_MIN + u[:, CYLINDERS:] * (R_MAX - R_MIN)


def normalised(heights, radii) -> np.ndarray:
    """(heights, radii) [N, 4] in um -> normalised designs [N, 8]."""
    h, r = np.atleast_2d(heights), np.atleast_2d(radii)
    return np.concatenate([(h - H_MIN) / (H_MAX - H_MIN), (r - R_MIN) / (R_MAX - R_MIN)], axis=1)


def spectrum(u) -> np.ndarray:
    """Absorption spectra [N, 300] at FREQUENCIES of normalised designs u [N, 8]."""
    return absorption(*physical(u))


def random_designs(count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform normalised designs [count, 8]; float32-exact, so the stored x is what is simulated."""
    return rng.random((count, 2 * CYLINDERS)).astype(np.float32).astype(np.float64)
