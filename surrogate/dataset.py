"""D2/D3-style datasets: random porous cells labelled with the PDE.

A dataset is a folder with `dataset.npz` and `manifest.json`:

- `images`  uint8 [N, H, W], 1 = solid, 0 = void (the surrogates' convention);
- `grains`  int8 [N, H, W], 0 = void, r + 1 = grain r (the generator's labels);
- `seeds`   int16 [N, w, 2] grain seeds (row, column); `s` int8 [N, w] compactness;
- `d_xx`, `d_yy` float64 [N]; `label` int16 [N] = round(100 * d_xx), in 40..100.

Cells whose D_xx is below `min_d` (0.40) are redrawn, never clipped. Generation is cut
into chunks of CHUNK cells, chunk k drawn from the k-th child of the seed's
SeedSequence, so the result is the same for any number of workers.
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from . import geometry, pde

CHUNK = 250
INTERVALS = [(40, 50), (50, 60), (60, 70), (70, 80), (80, 90), (90, 101)]
INTERVAL_NAMES = ["[40,50)", "[50,60)", "[60,70)", "[70,80)", "[80,90)", "[90,100]"]
FORMAT = "pgen-porous-dataset-1"


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used (the message says why and what to do)."""


def quantise(d: np.ndarray) -> np.ndarray:
    """Seed 000 Sec. 5: the coefficient in integer units 40..100 (100 x D_xx)."""
    return np.clip(np.round(100.0 * np.asarray(d)), 40, 100).astype(np.int16)


def _draw_chunk(job):
    child, n, w, size, s_choices, min_d = job
    rng = np.random.default_rng(child)
    images, grains, seeds, ss, dxx, dyy, redrawn = [], [], [], [], [], [], 0
    while len(images) < n:
        labels, gs = geometry.draw_cell(rng, w, size, s_choices)
        img = (labels > 0).astype(np.uint8)
        d = pde.d_xx(img)
        if d < min_d:
            redrawn += 1
            continue
        images.append(img)
        grains.append(labels)
        seeds.append([g.seed for g in gs])
        ss.append([g.s for g in gs])
        dxx.append(d)
        dyy.append(pde.d_yy(img))
    return (np.array(images), np.array(grains), np.array(seeds), np.array(ss),
            np.array(dxx), np.array(dyy), redrawn)


def generate(count: int, grains: int, seed: int = 0, size: int = 16, s_choices=(1, 2, 3),
             min_d: float = 0.40, workers: int = 1, progress=None) -> dict:
    """Draw and label `count` cells; returns the arrays and the manifest (nothing written)."""
    if count < 1:
        raise DatasetError(f"a dataset needs at least one cell, got count {count}")
    if grains < 1:
        raise DatasetError(f"a cell needs at least one grain, got {grains}")
    if size < 5:
        raise DatasetError(f"cells must be at least 5x5 (a border and a grain), got {size}")
    t0 = time.perf_counter()
    sizes = [min(CHUNK, count - k) for k in range(0, count, CHUNK)]
    children = np.random.SeedSequence(seed).spawn(len(sizes))
    jobs = [(c, n, grains, size, tuple(s_choices), min_d) for c, n in zip(children, sizes)]
    parts = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(_draw_chunk, jobs):
                parts.append(part)
                if progress:
                    progress.update(len(part[0]))
    else:
        for job in jobs:
            parts.append(_draw_chunk(job))
            if progress:
                progress.update(len(parts[-1][0]))
    images, glabels, seeds, ss, dxx, dyy = (np.concatenate([p[i] for p in parts]) for i in range(6))
    redrawn = int(sum(p[6] for p in parts))
    label = quantise(dxx)
    arrays = {"images": images.astype(np.uint8), "grains": glabels.astype(np.int8),
              "seeds": seeds.astype(np.int16), "s": ss.astype(np.int8),
              "d_xx": dxx, "d_yy": dyy, "label": label}
    manifest = {
        "format": FORMAT,
        "count": int(count), "grains": int(grains), "size": [size, size], "seed": int(seed),
        "generator": {"rules": "surrogate/geometry.py: exactly w grains (4-connected), no shared "
                               "sides, void border, no enclosed void, manhattan DAG, ring "
                               "compactness round(euclidean)",
                      "s_choices": list(s_choices), "min_d_xx": min_d, "redrawn_below_min": redrawn,
                      "chunk": CHUNK},
        "label": "round(100 * d_xx) clipped to 40..100",
        "convention": "images: 1 = solid, 0 = void, row-major; d_xx along axis 1 (columns)",
        "solver": pde.SOLVER_VERSION,
        "histogram": histogram(label),
        "label_counts": {str(v): int(c) for v, c in zip(*np.unique(label, return_counts=True))},
        "seconds": round(time.perf_counter() - t0, 2), "workers": workers,
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    return {"arrays": arrays, "manifest": manifest}


def histogram(label) -> dict:
    label = np.asarray(label)
    return {name: int(np.sum((label >= a) & (label < b))) for name, (a, b) in zip(INTERVAL_NAMES, INTERVALS)}


def write(folder: str | Path, data: dict, plot: bool = True) -> Path:
    """Write `dataset.npz`, `manifest.json` (with the NPZ's sha256) and, when matplotlib
    is installed, `histogram.png`; atomically."""
    from ..core.files import atomic_folder

    folder = Path(folder)
    with atomic_folder(folder, "dataset folder") as tmp:
        np.savez_compressed(tmp / "dataset.npz", **data["arrays"])
        manifest = dict(data["manifest"])
        manifest["sha256"] = _sha256(tmp / "dataset.npz")
        if plot:
            manifest["plot"] = _plot_histogram(data["arrays"]["label"], tmp / "histogram.png",
                                               f"D{manifest['grains']}: {manifest['count']} cells")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load(folder: str | Path) -> tuple[dict, dict]:
    """(arrays, manifest) of a dataset folder, checked; DatasetError says what is wrong."""
    folder = Path(folder)
    if not folder.exists():
        raise DatasetError(f"`{folder}` does not exist; make one with `pgenc dataset --out {folder}`")
    npz, man = folder / "dataset.npz", folder / "manifest.json"
    if folder.is_dir() and not npz.exists():
        raise DatasetError(f"`{folder}` has no dataset.npz (empty or not a dataset folder); "
                           f"make one with `pgenc dataset --out {folder}`")
    if folder.is_file():
        npz, man = folder, folder.with_name("manifest.json")
    try:
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - numpy raises several kinds for a bad file
        raise DatasetError(f"`{npz}` cannot be read as NPZ ({type(e).__name__}: {e})") from None
    for key in ("images", "label"):
        if key not in arrays:
            raise DatasetError(f"`{npz}` has no `{key}` array (found: {', '.join(sorted(arrays)) or 'none'})")
    images, label = arrays["images"], arrays["label"]
    if images.ndim != 3 or images.shape[0] == 0:
        raise DatasetError(f"`{npz}`: `images` must be [N, H, W] with N >= 1, got {list(images.shape)}")
    if label.shape != (images.shape[0],):
        raise DatasetError(f"`{npz}`: `label` must have one entry per image ({images.shape[0]}), "
                           f"got shape {list(label.shape)}")
    if not np.all((images == 0) | (images == 1)):
        idx = int(np.argwhere(~((images == 0) | (images == 1)))[0][0])
        raise DatasetError(f"`{npz}`: image {idx} is not binary (pixels must be 0 = void or 1 = solid)")
    manifest = json.loads(man.read_text()) if man.exists() else {}
    return arrays, manifest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plot_histogram(label, path: Path, title: str):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped: matplotlib is not installed (pip install 'pgen[train]')"
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(label, bins=np.arange(39.5, 101.5, 1.0), color="#4477aa")
    for a, _ in INTERVALS[1:]:
        ax.axvline(a - 0.5, color="0.6", lw=0.8)
    ax.set_xlabel("label = round(100 D_xx)")
    ax.set_ylabel("cells")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
