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
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np

from . import spectral

FORMAT = "pgen-design-dataset-1"
KINDS = ("cmyk", "ink8", "ink44", "contone11")


class DesignDataError(ValueError):
    """A design dataset that cannot be made or used (the message says why and what to do)."""


def _designs(kind: str, count: int, rng: np.random.Generator) -> np.ndarray:
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


def simulate(kind: str, x: np.ndarray) -> np.ndarray:
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
    inks = spectral.INK_SETS[kind]
    manifest = {
        "format": FORMAT, "kind": kind, "count": int(count), "seed": int(seed),
        "x": {"shape": list(x.shape), "meaning": "layer counts (integers summing to 30)" if kind == "contone11"
              else "halftone area coverages in [0, 1]", "names": [ink.name for ink in inks.inks]},
        "y": {"shape": list(y.shape), "meaning": "reflectance in [0, 1]",
              "wavelengths_nm": spectral.WAVELENGTHS.astype(int).tolist()},
        "simulator": ("surrogate/spectral.py contone (Beer-Lambert layers, layer = "
                      f"{spectral.LAYER_FRACTION} film)") if kind == "contone11"
        else f"surrogate/spectral.py ynsn (Yule-Nielsen n = {spectral.YULE_NIELSEN_N}, Demichel weights)",
        "seconds": round(time.perf_counter() - t0, 2),
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    return {"arrays": {"x": x.astype(np.float32), "y": y.astype(np.float32)}, "manifest": manifest}


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
