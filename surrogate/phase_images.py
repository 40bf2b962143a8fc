"""n-phase images: make them (PoreSpy-style blobs), store them, measure them, draw them.

An n-phase image holds one phase index per pixel (or voxel): 0 = pore, 1 = active,
2 = binder for the NMC-like electrode of seed 001 Sec. IV. These images are the 2-D
training data of the SliceGAN baseline (surrogate/slicegan.py), since no real micrograph
can be downloaded here; the same statistics score its 3-D volumes.

Blobs (after PoreSpy's `blobs`, written here with scipy.ndimage so that PoreSpy is no
dependency): each phase but the matrix draws its own field of white noise smoothed by a
periodic Gaussian filter of width sigma = size / (40 * blobiness). Phases then take their
pixels in index order, each the `count_k` highest-valued pixels of its field among those
still free; the matrix phase (by default the phase of largest target fraction) keeps the
rest. The counts are the targets times the pixel count rounded by largest remainders, so
every image has exactly those counts (fractions as close to the targets as the pixel
count allows), and the images are periodic. Image i is drawn from default_rng([seed, i]).

A dataset is a folder with `phases.npz` (`phases`: uint8 [N, H, W], values 0..n-1) and
`manifest.json` (format, count, size, phase names, target and measured fractions, seed,
generator parameters, the NPZ's sha256, the command that remakes it); `examples.png`
shows a few images. Make one with

    python -m pgen.surrogate.phase_images --out data/nmc2d --count 2000 --size 64 \\
        --fractions 0.25,0.60,0.15 --blobiness 1.0 --seed 0
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

FORMAT = "pgen-phase-images-1"
NMC_FRACTIONS = (0.25, 0.60, 0.15)
NMC_NAMES = ("pore", "active", "binder")
# pore near black, active gold, binder blue (distinct in colour and in grey)
PALETTE = np.array([(25, 25, 30), (222, 170, 60), (70, 130, 220), (200, 60, 60), (90, 180, 90),
                    (170, 90, 200), (240, 240, 240), (120, 120, 120)], np.uint8)


class PhaseDataError(ValueError):
    """A phase-image folder or argument that cannot be used (the message says why and what to do)."""


# ---------------------------------------------------------------- making images

def check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, float).ravel()
    if f.size < 2:
        raise PhaseDataError(f"give at least two phase fractions, got {list(f)}")
    if np.any(f < 0) or not np.all(np.isfinite(f)):
        raise PhaseDataError(f"phase fractions must be finite and >= 0, got {list(f)}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise PhaseDataError(f"phase fractions must sum to 1, got {list(f)} (sum {f.sum():.6g})")
    return f


def parse_fractions(text: str) -> tuple[float, ...]:
    """'0.25,0.60,0.15' -> (0.25, 0.6, 0.15), checked."""
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise PhaseDataError(f"--fractions must be numbers separated by commas, e.g. 0.25,0.60,0.15; "
                             f"got `{text}`") from None
    check_fractions(vals)
    return vals


def exact_counts(fractions, pixels: int) -> np.ndarray:
    """Pixel counts per phase summing to `pixels`, each the target rounded by largest remainders."""
    f = check_fractions(fractions)
    raw = f * pixels
    counts = np.floor(raw).astype(np.int64)
    short = pixels - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def blob_sigma(size: int, blobiness: float) -> float:
    """PoreSpy's width of the smoothing filter: mean side / (40 * blobiness)."""
    return size / (40.0 * blobiness)


def blobs(n: int, size: int = 64, fractions=NMC_FRACTIONS, blobiness=1.0, seed: int = 0,
          matrix: int | None = None, start: int = 0) -> np.ndarray:
    """`n` periodic blob images, uint8 [n, size, size] of phase indices with exact counts.

    `blobiness` is one number or one per phase (larger: smaller blobs); `matrix` is the
    phase that fills what the others leave (default: the largest target fraction);
    image i (from `start`) is drawn from default_rng([seed, i])."""
    from scipy import ndimage

    f = check_fractions(fractions)
    k = f.size
    if k > 255:
        raise PhaseDataError(f"at most 255 phases fit in uint8, got {k}")
    if n < 0 or size < 2:
        raise PhaseDataError(f"need n >= 0 images of side >= 2, got n={n}, size={size}")
    b = np.broadcast_to(np.asarray(blobiness, float), (k,))
    if np.any(b <= 0):
        raise PhaseDataError(f"blobiness must be > 0, got {list(b)}")
    matrix = int(np.argmax(f)) if matrix is None else int(matrix)
    if not 0 <= matrix < k:
        raise PhaseDataError(f"matrix phase {matrix} is not one of 0..{k - 1}")
    counts = exact_counts(f, size * size)
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        rng = np.random.default_rng([seed, start + i])
        img = np.full(size * size, matrix, np.uint8)
        free = np.ones(size * size, bool)
        for p in range(k):
            noise = rng.standard_normal((size, size))
            if p == matrix:
                continue
            field = ndimage.gaussian_filter(noise, blob_sigma(size, b[p]), mode="wrap").ravel()
            cand = np.flatnonzero(free)
            take = cand[np.argsort(-field[cand], kind="stable")[:counts[p]]]
            img[take] = p
            free[take] = False
        out[i] = img.reshape(size, size)
    return out


def generate(count: int, size: int = 64, fractions=NMC_FRACTIONS, blobiness=1.0, seed: int = 0,
             names=None, matrix: int | None = None) -> dict:
    """Arrays and manifest of a blob dataset (nothing written)."""
    if count < 1:
        raise PhaseDataError(f"a dataset needs at least one image, got count {count}")
    f = check_fractions(fractions)
    names = list(names) if names is not None else (list(NMC_NAMES) if f.size == 3 else
                                                   [f"phase{k}" for k in range(f.size)])
    if len(names) != f.size:
        raise PhaseDataError(f"{len(names)} phase names for {f.size} fractions")
    phases = blobs(count, size, f, blobiness, seed, matrix)
    b = [float(x) for x in np.broadcast_to(np.asarray(blobiness, float), (f.size,))]
    frac_text = ",".join(f"{x:g}" for x in f)
    blob_text = ",".join(f"{x:g}" for x in b) if len(set(b)) > 1 else f"{b[0]:g}"
    manifest = {
        "format": FORMAT, "count": int(count), "size": int(size), "phases": len(names), "names": names,
        "fractions": [float(x) for x in f], "measured_fractions": fractions_of(phases, f.size).mean(0).tolist(),
        "seed": int(seed),
        "generator": {"name": "blobs", "blobiness": b,
                      "sigma": [blob_sigma(size, x) for x in b],
                      "matrix": int(np.argmax(f)) if matrix is None else int(matrix),
                      "rule": "per phase: periodic Gaussian-filtered noise, top-ranked free pixels "
                              "(exact counts by largest-remainder rounding); matrix phase keeps the rest; "
                              "image i from default_rng([seed, i])"},
        "command": f"python -m pgen.surrogate.phase_images --out OUT --count {count} --size {size} "
                   f"--fractions {frac_text} --blobiness {blob_text} --seed {seed}",
    }
    return {"phases": phases, "manifest": manifest}


def write(folder: str | Path, data: dict, picture: bool = True) -> Path:
    """`phases.npz`, `manifest.json` (with the NPZ's sha256) and `examples.png`, atomically."""
    from ..core.files import atomic_folder

    folder = Path(folder)
    with atomic_folder(folder, "phase-image folder") as tmp:
        np.savez_compressed(tmp / "phases.npz", phases=data["phases"])
        manifest = dict(data["manifest"])
        manifest["command"] = manifest["command"].replace("--out OUT", f"--out {folder}")
        manifest["sha256"] = hashlib.sha256((tmp / "phases.npz").read_bytes()).hexdigest()
        if picture:
            (tmp / "examples.png").write_bytes(montage([[im] for im in data["phases"][:8]], scale=2))
            manifest["picture"] = "examples.png"
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load(folder: str | Path) -> tuple[np.ndarray, dict]:
    """(phases uint8 [N, H, W], manifest) of a phase-image folder, checked.

    A `pgenc dataset` folder (D2/D3 cells, `dataset.npz`) is read too, as two phases:
    0 = void (pore), 1 = solid."""
    folder = Path(folder)
    make = f"make one with `python -m pgen.surrogate.phase_images --out {folder}`"
    if not folder.exists():
        raise PhaseDataError(f"`{folder}` does not exist; {make}")
    if not folder.is_dir():
        raise PhaseDataError(f"`{folder}` is a file; give the folder that holds phases.npz ({make})")
    npz, man = folder / "phases.npz", folder / "manifest.json"
    if not npz.exists():
        if (folder / "dataset.npz").exists():
            return _load_cells(folder)
        raise PhaseDataError(f"`{folder}` has no phases.npz (empty or not a phase-image folder); {make}")
    try:
        with np.load(npz) as z:
            if "phases" not in z.files:
                raise PhaseDataError(f"`{npz}` has no `phases` array (found: {', '.join(z.files) or 'none'})")
            phases = z["phases"]
    except PhaseDataError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy raises several kinds for a bad file
        raise PhaseDataError(f"`{npz}` cannot be read as NPZ ({type(e).__name__}: {e})") from None
    try:
        manifest = json.loads(man.read_text()) if man.exists() else {}
    except json.JSONDecodeError as e:
        raise PhaseDataError(f"`{man}` is not JSON ({e})") from None
    if phases.ndim != 3 or phases.shape[0] == 0 or phases.shape[1] != phases.shape[2]:
        raise PhaseDataError(f"`{npz}`: `phases` must be [N, S, S] with N >= 1, got {list(phases.shape)}")
    if phases.dtype != np.uint8:
        raise PhaseDataError(f"`{npz}`: `phases` must be uint8 phase indices, got {phases.dtype}")
    n = int(manifest.get("phases", int(phases.max()) + 1))
    if n < 2 or int(phases.max()) >= n:
        raise PhaseDataError(f"`{npz}`: values must be phase indices 0..{n - 1} with at least two phases, "
                             f"found max {int(phases.max())}")
    manifest.setdefault("phases", n)
    manifest.setdefault("names", [f"phase{k}" for k in range(n)])
    return phases, manifest


def _load_cells(folder: Path) -> tuple[np.ndarray, dict]:
    from . import dataset as ds

    try:
        arrays, man = ds.load(folder)
    except ds.DatasetError as e:
        raise PhaseDataError(str(e)) from None
    phases = arrays["images"].astype(np.uint8)
    f = fractions_of(phases, 2).mean(0)
    manifest = {"format": ds.FORMAT, "count": int(len(phases)), "size": int(phases.shape[1]), "phases": 2,
                "names": ["void", "solid"], "fractions": f.tolist(), "measured_fractions": f.tolist(),
                "seed": man.get("seed"), "generator": {"name": "pgenc dataset", "grains": man.get("grains")},
                "command": f"pgenc dataset --grains {man.get('grains')} --count {man.get('count')} "
                           f"--seed {man.get('seed')} --out {folder}"}
    return phases, manifest


# ---------------------------------------------------------------- measuring

def fractions_of(images: np.ndarray, n: int) -> np.ndarray:
    """[N, n] phase fractions of N images or volumes of phase indices."""
    a = np.asarray(images)
    flat = a.reshape(len(a), -1)
    return np.stack([(flat == k).mean(1) for k in range(n)], axis=1)


def two_point(images: np.ndarray, n: int, r_max: int, periodic: bool = False) -> np.ndarray:
    """S2 per phase and axis: [n, ndim, r_max + 1], the probability that two pixels r apart
    along the axis are both in phase k, averaged over the images (and positions). Without
    `periodic` only pairs inside the image count (generated volumes are not periodic)."""
    a = np.asarray(images)
    nd = a.ndim - 1
    out = np.zeros((n, nd, r_max + 1))
    for k in range(n):
        ind = (a == k).astype(np.float32)
        for ax in range(nd):
            axis = ax + 1
            for r in range(r_max + 1):
                if periodic:
                    prod = ind * np.roll(ind, -r, axis=axis)
                else:
                    length = a.shape[axis]
                    lo = np.take(ind, np.arange(0, length - r), axis=axis)
                    hi = np.take(ind, np.arange(r, length), axis=axis)
                    prod = lo * hi
                out[k, ax, r] = float(prod.mean())
    return out


def anisotropy(s2: np.ndarray) -> float:
    """Largest spread of S2 between axes, over phases and distances (0 for isotropic)."""
    return float(np.max(s2.max(axis=1) - s2.min(axis=1)))


# ---------------------------------------------------------------- drawing

def colour(img: np.ndarray) -> np.ndarray:
    return PALETTE[np.asarray(img) % len(PALETTE)]


def montage(rows, scale: int = 4, gap: int = 4, labels=None, titles=None) -> bytes:
    """PNG bytes of a grid of 2-D phase images (rows of equal-size images), phases in
    PALETTE colours, each pixel `scale` x `scale`; `labels` one short text per row,
    `titles` one per column."""
    from PIL import Image, ImageDraw

    rows = [[np.asarray(im) for im in row] for row in rows]
    h = max(im.shape[0] for row in rows for im in row) * scale
    w = max(im.shape[1] for row in rows for im in row) * scale
    cols = max(len(row) for row in rows)
    left = 70 if labels else 0
    top = 16 if titles else 0
    canvas = Image.new("RGB", (left + cols * (w + gap) + gap, top + len(rows) * (h + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(titles or []):
        draw.text((left + gap + j * (w + gap) + 2, 3), str(title), fill=(0, 0, 0))
    for i, row in enumerate(rows):
        y = top + gap + i * (h + gap)
        if labels:
            draw.text((4, y + h // 2 - 6), str(labels[i]), fill=(0, 0, 0))
        for j, im in enumerate(row):
            tile = Image.fromarray(colour(im)).resize((im.shape[1] * scale, im.shape[0] * scale), Image.NEAREST)
            canvas.paste(tile, (left + gap + j * (w + gap), y))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- command line

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pgen.surrogate.phase_images",
                                description="write a folder of n-phase blob images (phases.npz, manifest.json)")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--fractions", default="0.25,0.60,0.15", help="target fraction per phase (pore, active, binder)")
    p.add_argument("--blobiness", default="1.0", help="one number or one per phase (larger: smaller blobs)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        fr = parse_fractions(args.fractions)
        try:
            b = [float(x) for x in args.blobiness.split(",")]
        except ValueError:
            raise PhaseDataError(f"--blobiness must be numbers, got `{args.blobiness}`") from None
        data = generate(args.count, args.size, fr, b[0] if len(b) == 1 else b, args.seed)
        write(args.out, data)
    except PhaseDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = data["manifest"]
    print(f"wrote {args.out}: {m['count']} images {m['size']}x{m['size']}, fractions "
          f"{', '.join(f'{n} {x:.4f}' for n, x in zip(m['names'], m['measured_fractions']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
