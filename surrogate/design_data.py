"""Datasets for seed 002's design-vector surrogates: designs X and what a simulator says of
them, Y, made reproducibly (`pgenc dataset --kind cmyk --count 20000 --out data/cmyk`).

A dataset is a folder with `dataset.npz` (`x` float32 [N, k], `y` float32 [N, m]) and
`manifest.json` (format FORMAT, kind, simulator, seed, sizes, sha256 of the NPZ).

Kinds (surrogate/spectral.py):
- `cmyk`, `ink8`: halftone coverages uniform in [0, 1]^k -> 31-band reflectance (YNSN).
- `ink44`: the 44-ink library; a print uses few inks, so each design draws 1-4 inks (the
  rest 0) with coverages uniform in [0, 1] (seed 002 Sec. 4.3 selects 2 of 44).
- `contone11`: integer layer counts of 11 inks summing to 30 (a random number of inks, then
  the layers shared among them uniformly at random) -> reflectance of the stack.
- `softarm` (surrogate/softarm.py): 40 side-edge stretches in [-0.2, 0.2], smooth random
  profiles along each side (most within seed 002's smoothness rule) -> the 206 vertex
  coordinates of the arm at equilibrium.
- `nano4` (surrogate/mie.py): 4 shell thicknesses (nm) of a SiO2-core, TiO2/SiO2-shell
  nanosphere -> its scattering cross-section at 200 wavelengths (400-800 nm) over
  pi (330 nm)^2. Half the designs (all 8^4 = 4096 once count >= 8192) are the experiment's
  grid {0, 10, ..., 70}^4 without repeats, the rest uniform in [0, 70]^4, so a surrogate
  fits both the integer and the continuous inversion.
- `adm` (surrogate/metasurface.py): 4 cylinder heights then 4 radii, normalised to [0, 1]^8
  and uniform there -> the metasurface's absorption at 300 frequencies (0.8-1.5 THz).
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np

from . import metasurface, mie, softarm, spectral

FORMAT = "pgen-design-dataset-1"
KINDS = ("cmyk", "ink8", "ink44", "contone11", "softarm", "nano4", "adm")


class DesignDataError(ValueError):
    """A design dataset that cannot be made or used (the message says why and what to do)."""


def _designs(kind: str, count: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "softarm":
        return softarm.random_designs(count, rng)
    if kind == "nano4":
        return _nano4_designs(count, rng)
    if kind == "adm":
        return metasurface.random_designs(count, rng)
    k = spectral.INK_SETS[kind].k
    if kind in ("cmyk", "ink8"):
        return rng.random((count, k))
    if kind == "ink44":
        x = np.zeros((count, k))
        for row in x:
            used = rng.choice(k, size=int(rng.integers(1, 5)), replace=False)
            row[used] = rng.random(len(used))
        return x
    x = np.zeros((count, k))      # contone11: compositions of CONTONE_LAYERS into k parts
    for row in x:
        used = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)
        row[used] = rng.multinomial(spectral.CONTONE_LAYERS, np.full(len(used), 1.0 / len(used)))
    return x


def _nano4_designs(count: int, rng: np.random.Generator) -> np.ndarray:
    levels = np.stack(np.meshgrid(*[mie.GRID] * mie.SHELLS, indexing="ij"), axis=-1).reshape(-1, mie.SHELLS)
    n_grid = min(len(levels), (count + 1) // 2)
    grid = levels if n_grid == len(levels) else levels[rng.choice(len(levels), n_grid, replace=False)]
    x = np.concatenate([grid, rng.random((count - n_grid, mie.SHELLS)) * mie.MAX_THICKNESS])
    return x.astype(np.float32).astype(np.float64)   # the stored float32 values are what is simulated


def simulate(kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "softarm":
        return softarm.solve(x)
    if kind == "nano4":
        return mie.spectrum(x)
    if kind == "adm":
        return metasurface.spectrum(x)
    inks = spectral.INK_SETS[kind]
    return spectral.contone(x, inks) if kind == "contone11" else spectral.ynsn(x, inks)


def generate(kind: str, count: int, seed: int = 0) -> dict:
    """`count` designs of `kind` and their simulated spectra; nothing written."""
    if kind not in KINDS:
        raise DesignDataError(f"unknown dataset kind `{kind}`; choose from porous, {', '.join(KINDS)}")
    if count < 1:
        raise DesignDataError(f"a dataset needs at least one design, got count {count}")
    t0 = time.perf_counter()
    x = _designs(kind, count, np.random.default_rng(seed))
    y = simulate(kind, x)
    x_info, y_info, simulator = _described(kind, x)
    manifest = {
        "format": FORMAT, "kind": kind, "count": int(count), "seed": int(seed),
        "x": {"shape": list(x.shape), **x_info}, "y": {"shape": list(y.shape), **y_info},
        "simulator": simulator, "seconds": round(time.perf_counter() - t0, 2),
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    return {"arrays": {"x": x.astype(np.float32), "y": y.astype(np.float32)}, "manifest": manifest}


def _described(kind: str, x: np.ndarray) -> tuple[dict, dict, str]:
    """(what x means, what y means, which simulator made y) for a kind's manifest."""
    if kind == "softarm":   # not a spectrum: its own description of x and y
        return ({"meaning": "side-edge stretches (fraction of rest length) in "
                 f"[-{softarm.STRETCH}, {softarm.STRETCH}]; x[0..19] left side, x[20..39] right, bottom to top",
                 "smooth_fraction": round(float(np.mean(softarm.smoothness(x) <= 0.2)), 4)},
                {"meaning": "vertex coordinates [x0, y0, x1, y1, ...]; tip centre at "
                 f"{softarm.TIP}, fixed base vertices {softarm.BASE}, exposed vertices {list(softarm.EXPOSED)}"},
                f"surrogate/softarm.py solve (bar network, K_SHEAR = {softarm.K_SHEAR}, forces below {softarm.GTOL})")
    if kind == "nano4":     # no inks: the particle's own description
        from importlib.metadata import version

        on_grid = np.all(np.isin(x, mie.GRID), axis=1)
        return ({"meaning": "shell thicknesses in nm, inside out: TiO2, SiO2, TiO2, SiO2 "
                 f"around a SiO2 core of radius {mie.CORE_RADIUS:g} nm; 0 = shell absent",
                 "grid_designs": int(on_grid.sum()), "continuous_designs": int((~on_grid).sum()),
                 "grid_levels": mie.GRID.tolist()},
                {"meaning": f"scattering cross-section / (pi * ({mie.NORM_RADIUS:g} nm)^2) "
                 f"in a medium of n = {mie.N_MEDIUM:g}", "wavelengths_nm": np.round(mie.WAVELENGTHS, 4).tolist()},
                f"surrogate/mie.py spectrum (multilayer Mie by scattnlay {version('scattnlay')}; "
                f"SiO2 Malitson 1965, TiO2 n = {mie.N_TIO2:g})")
    if kind == "adm":       # no inks: the metasurface's own description
        ms = metasurface
        return ({"meaning": "normalised design in [0, 1]^8: cylinder heights h1..h4 then radii "
                 f"r1..r4; h = {ms.H_MIN:g} + u ({ms.H_MAX:g} - {ms.H_MIN:g}) um, r = {ms.R_MIN:g} + u "
                 f"({ms.R_MAX:g} - {ms.R_MIN:g}) um"},
                {"meaning": "absorption in [0, 1)", "frequencies_thz": np.round(ms.FREQUENCIES, 6).tolist()},
                f"surrogate/metasurface.py spectrum (Lorentzian cylinders: f0 = c / (2 * {ms.N_CYL:g} r), "
                f"strength 1 - exp(-h / {ms.H_DECAY:g} um), FWHM {ms.FWHM:g} THz; A = 1 - prod(1 - a_i))")
    inks = spectral.INK_SETS[kind]
    return ({"meaning": "layer counts (integers summing to 30)" if kind == "contone11"
             else "halftone area coverages in [0, 1]", "names": [ink.name for ink in inks.inks]},
            {"meaning": "reflectance in [0, 1]", "wavelengths_nm": spectral.WAVELENGTHS.astype(int).tolist()},
            ("surrogate/spectral.py contone (Beer-Lambert layers, layer = "
             f"{spectral.LAYER_FRACTION} film)") if kind == "contone11"
            else f"surrogate/spectral.py ynsn (Yule-Nielsen n = {spectral.YULE_NIELSEN_N}, Demichel weights)")


def write(folder: str | Path, data: dict) -> Path:
    """Write `dataset.npz` and `manifest.json` (with the NPZ's sha256), atomically."""
    from ..core.files import atomic_folder

    folder = Path(folder)
    with atomic_folder(folder, "dataset folder") as tmp:
        np.savez_compressed(tmp / "dataset.npz", **data["arrays"])
        manifest = dict(data["manifest"])
        h = hashlib.sha256((tmp / "dataset.npz").read_bytes()).hexdigest()
        manifest["sha256"] = h
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def is_design_dataset(folder: str | Path) -> bool:
    man = Path(folder) / "manifest.json"
    try:
        return json.loads(man.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def load(folder: str | Path) -> tuple[dict, dict]:
    """(arrays, manifest) of a design dataset folder, checked."""
    folder = Path(folder)
    npz = folder / "dataset.npz"
    if not npz.exists():
        raise DesignDataError(f"`{folder}` has no dataset.npz; make one with "
                              f"`pgenc dataset --kind cmyk --count 20000 --out {folder}`")
    try:
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - numpy raises several kinds for a bad file
        raise DesignDataError(f"`{npz}` cannot be read as NPZ ({type(e).__name__}: {e})") from None
    x, y = arrays.get("x"), arrays.get("y")
    if x is None or y is None or x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise DesignDataError(f"`{npz}` must hold `x` [N, k] and `y` [N, m] with the same N >= 1")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DesignDataError(f"`{npz}`: row {int(np.argwhere(~np.isfinite(np.c_[x, y]))[0][0])} is not finite")
    return arrays, json.loads((folder / "manifest.json").read_text())
