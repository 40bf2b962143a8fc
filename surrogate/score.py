"""Score images against seed 000's rules and measure them (`pgenc score`): pgen's output or
any model's, a GAN's included (it knows nothing of seeds, so seed rules are checked only when
asked, and then by looking for a seed that works).

Convention: 1 = solid, 0 = void (pore); with N phases, values 0..N-1 and phase 0 the pore.
A 2-D image is (y, x), a 3-D volume (z, y, x). Face connectivity: 4 in 2-D, 6 in 3-D; full
connectivity: 8 in 2-D, 26 in 3-D. Reading folders: surrogate/image_folder.py.

Valid, by default, judged on the image alone (no labels, no seeds):
- grains K (only when `grains` is given; binary images): exactly K face-connected solid
  components. Two grains that share a side are one component: they show as a wrong count;
- void border: no solid cell on the four sides (six faces of a volume);
- no enclosed void: every face-connected void component holds a border cell.
With N > 2 phases the void rules read "void" as phase 0, and grain rules do not apply.
Only when asked:
- compact s: every grain has a cell that, taken as its seed, satisfies seed 000's
  compactness: ring(p) = numpy.round(euclidean distance to the seed) (halves to even); a cell
  of ring v >= s is in the grain only if every grid cell of ring v - s is (a larger s is a
  weaker rule; s = 1 is convex-like);
- dag "manhattan": every grain has a cell that, taken as its seed, gives every other cell of
  the grain a face neighbour in the grain one Manhattan step closer to it (seed 000 Fig. 2(a)).
  With both, one seed must do for both (a pgen grain's DAG and rings share its seed).
These rules are written here from their meaning (compiler/grid/rules.py), not taken from
pgen's verifier, since this scores pgen's output too. Seeds are tried by brute force,
deepest in the grain first; the cost is about (grain cells) x (grid cells) per grain.

Reported besides, per image: the face- and full-connected grain counts (`grains`, `grains_8`;
the latter 26-connected in 3-D), `touching` (pairs of grains touching only at a corner or an
edge: allowed by pgen's rules, merged by a full-connectivity count), solid cells on the
border, enclosed void components and cells, porosity, the phase fractions (N phases or 3-D),
the true D_xx, D_yy (D_zz) by the PDE
(surrogate/pde.py; phase 0 conducts, the rest does not; all solid: undefined, None with a
note), and whether D_xx lies in the asked interval [lo, hi). Over the set: valid share,
reasons by frequency, grain-count histogram, distinct images, mean pairwise Hamming distance
(a fraction of the cells), porosity and D statistics, mean phase fractions, and the mean
two-point correlation S2 of each phase along each axis: S2(r) = P(x and x + r e_axis both in
the phase), periodic, by FFT, for lags r = 0..n_axis // 2 cells (S2(0) is the phase fraction).
"""
from __future__ import annotations

import hashlib
import itertools
from collections import Counter

import numpy as np
from scipy import ndimage

from . import pde
from .image_folder import ScoreError, check_phases, check_shape, check_sizes, check_values, collect, load_folder

__all__ = ["ScoreError", "collect", "load_folder", "score_images", "score_folder", "seed_rules", "two_point"]

AXES = {2: ("y", "x"), 3: ("z", "y", "x")}
D_KEYS = {2: ("d_xx", "d_yy"), 3: ("d_xx", "d_yy", "d_zz")}
DAGS = ("manhattan",)
CHUNK = 1 << 21          # candidate seeds x grid cells evaluated at once


def score_folder(path, *, phases: int = 2, invert: bool = False, **kw) -> dict:
    """load_folder + score_images, with `folder` and `skipped` (files not scored, and why)."""
    names, arrays, skipped = collect(path, phases, invert)
    return {"folder": str(path), **score_images(arrays, names, phases=phases, **kw), "skipped": skipped}


def score_images(arrays, names=None, *, grains=None, compact=None, dag=None, dxx=None, pde=True,
                 phases: int = 2, progress=None) -> dict:
    """Score images of one size (NumPy arrays of phase indices): the summary keys and
    `images`, one record per image. `progress`: an object with `update(n)` (a Progress bar)."""
    arrays = list(arrays)
    names = [f"image {k}" for k in range(len(arrays))] if names is None else list(names)
    if len(names) != len(arrays):
        raise ScoreError(f"{len(names)} names for {len(arrays)} images")
    if not arrays:
        raise ScoreError("no images to score")
    _check_options(grains, compact, dag, dxx, pde, phases)
    arrays = [check_values(n, check_shape(n, np.asarray(a)), phases) for n, a in zip(names, arrays)]
    check_sizes(names, arrays)
    records = []
    for name, a in zip(names, arrays):
        records.append(_record(name, a, grains, compact, dag, dxx, pde, phases))
        if progress is not None:
            progress.update(1)
    return {**_summary(arrays, records, grains, compact, dag, dxx, pde, phases), "images": records}


def _check_options(grains, compact, dag, dxx, with_pde, phases) -> None:
    check_phases(phases)
    for name, value, least in (("--grains", grains, 0), ("--compact", compact, 1)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < least):
            raise ScoreError(f"{name} must be a whole number of at least {least}, not {value}")
    if dag is not None and dag not in DAGS:
        raise ScoreError(f"--dag `{dag}`: the scorer checks {', '.join(DAGS)}")
    if phases > 2 and (grains is not None or compact is not None or dag is not None):
        raise ScoreError(f"grain rules (--grains, --compact, --dag) apply to binary images, not {phases} phases")
    if dxx is not None:
        if len(dxx) != 2 or not float(dxx[0]) < float(dxx[1]):
            raise ScoreError(f"--dxx LO HI needs LO < HI (the interval [LO, HI) of true D_xx), got {list(dxx)}")
        if not with_pde:
            raise ScoreError("--dxx needs the true D_xx: leave out --no-pde")


def rules_text(ndim: int, grains, compact, dag, phases: int) -> list[str]:
    """What `valid` means for these options, one rule a line."""
    face = {2: "4", 3: "6"}[ndim]
    out = []
    if grains is not None:
        out.append(f"{grains} grain{'s' * (grains != 1)} ({face}-connected solid components)")
    elif phases == 2:
        out.append("grain count not checked (no --grains)")
    void = "void (phase 0)" if phases > 2 else "void"
    out.append(f"{void} on the whole border ({'4 sides' if ndim == 2 else '6 faces'})")
    out.append(f"no enclosed {void} ({face}-connected components reach the border)")
    if compact is not None:
        out.append(f"every grain compact with s = {compact} from some seed")
    if dag is not None:
        out.append(f"every grain grows along the {dag} DAG from some seed"
                   + (" (the compact one)" if compact is not None else ""))
    return out


# ---- one image ------------------------------------------------------------------------

def _record(name, a, grains, compact, dag, dxx, with_pde, phases) -> dict:
    ndim = a.ndim
    face = ndimage.generate_binary_structure(ndim, 1)
    full = ndimage.generate_binary_structure(ndim, ndim)
    solid = a != 0
    rec = {"name": name, "valid": None, "reasons": []}
    reasons = rec["reasons"]
    if phases == 2:
        labels, n = ndimage.label(solid, structure=face)
        rec["grains"] = int(n)
        rec["grains_8"] = int(ndimage.label(solid, structure=full)[1])
        rec["touching"] = len(touching_pairs(labels))
        if grains is not None and n != grains:
            reasons.append(f"grains: {n} (asked {grains})")
    else:
        rec.update(grains=None, grains_8=None, touching=None)
    border = border_mask(a.shape)
    on_border = solid & border
    rec["border_solid"] = int(on_border.sum())
    if rec["border_solid"]:
        word = "solid" if phases == 2 else "non-pore"
        reasons.append(f"border: {rec['border_solid']} {word} cell{'s' * (rec['border_solid'] != 1)} "
                       f"(first at {_first(on_border)})")
    enclosed = enclosed_void(~solid, face, border)
    rec["enclosed_void"] = len(enclosed)
    rec["enclosed_void_cells"] = int(sum(m.sum() for m in enclosed))
    if enclosed:
        reasons.append(f"enclosed void: {len(enclosed)} component{'s' * (len(enclosed) != 1)}, "
                       f"{rec['enclosed_void_cells']} cells (first at {_first(enclosed[0])})")
    if compact is not None or dag is not None:
        reasons += _seed_reasons(rec, labels, compact, dag)
    rec["porosity"] = round(float(np.mean(a == 0)), 6)
    if phases > 2 or ndim == 3:
        rec["fractions"] = [round(float(np.mean(a == p)), 6) for p in range(phases)]
    rec.update(_diffusion(a, with_pde))
    d = rec["d_xx"]
    rec["in_interval"] = None if dxx is None else bool(d is not None and dxx[0] <= d < dxx[1])
    rec["valid"] = not reasons
    return rec


def _seed_reasons(rec, labels, compact, dag) -> list[str]:
    grains = [seed_rules(labels == k, compact, dag) for k in range(1, int(labels.max()) + 1)]
    firsts = [_first(labels == k) for k in range(1, len(grains) + 1)]
    rec["seeds"] = [g["seed"] for g in grains]
    reasons = []
    for key, asked in (("compact", compact), ("dag", dag)):
        if asked is None:
            continue
        bad = [f for g, f in zip(grains, firsts) if not g[key]]
        rec[key] = not bad
        if bad:
            one = len(bad) == 1
            text = (f"compact with s = {compact}" if key == "compact" else
                    f"grow along the {dag} DAG (a grain neighbour one step closer to the seed for every cell)")
            reasons.append(f"{key}: {len(bad)} of {len(grains)} grains {'has' if one else 'have'} no seed that "
                           f"makes {'it' if one else 'them'} {text}; the grain at {bad[0]}")
    if compact is not None and dag is not None and rec["compact"] and rec["dag"]:
        bad = [f for g, f in zip(grains, firsts) if g["seed"] is None]
        if bad:
            reasons.append(f"seed: compactness and the {dag} DAG hold only from different seeds "
                           f"({len(bad)} grain{'s' * (len(bad) != 1)}, the grain at {bad[0]})")
    return reasons


def seed_rules(mine: np.ndarray, compact=None, dag=None) -> dict:
    """Whether the grain `mine` (Boolean array) has a seed for each asked rule:
    {"compact": bool or None, "dag": bool or None, "seed": the first cell (deepest first)
    satisfying every asked rule, or None}. A rule not asked is None."""
    mine = np.asarray(mine, dtype=bool)
    ndim = mine.ndim
    grid = np.indices(mine.shape).reshape(ndim, -1).T          # (P, ndim), row-major
    flat = mine.reshape(-1)
    cells = grid[flat]
    depth = ndimage.distance_transform_edt(np.pad(mine, 1))[(slice(1, -1),) * ndim][mine]
    candidates = cells[np.argsort(-depth, kind="stable")]
    lower, upper = _neighbour_in(mine) if dag is not None else (None, None)
    found = {"compact": False, "dag": False}
    seed = None
    step = max(1, CHUNK // grid.shape[0])
    for start in range(0, len(candidates), step):
        c = candidates[start:start + step]
        diff = grid[None, :, :] - c[:, None, :]                   # (k, P, ndim)
        ok = np.ones(len(c), dtype=bool)
        if compact is not None:
            good = _compact_from(diff, flat, compact)
            found["compact"] |= bool(good.any())
            ok &= good
        if dag is not None:
            good = _dag_from(diff[:, flat], lower[:, flat], upper[:, flat])
            found["dag"] |= bool(good.any())
            ok &= good
        if ok.any():
            seed = [int(i) for i in c[int(np.argmax(ok))]]
            found = {"compact": True, "dag": True}
            break
    return {"compact": found["compact"] if compact is not None else None,
            "dag": found["dag"] if dag is not None else None, "seed": seed}


def _compact_from(diff, flat, s) -> np.ndarray:
    """For each candidate seed (axis 0 of diff): every ring v >= s that holds a grain cell
    has ring v - s full (a ring with no grid cell is full)."""
    ring = np.rint(np.sqrt(np.sum(diff * diff, axis=-1))).astype(np.int64)   # halves to even
    k, v = len(ring), int(ring.max()) + 1
    offset = (np.arange(k) * v)[:, None]
    present = np.bincount((ring + offset)[:, flat].reshape(-1), minlength=k * v).reshape(k, v) > 0
    not_full = np.bincount((ring + offset)[:, ~flat].reshape(-1), minlength=k * v).reshape(k, v) > 0
    if s >= v:
        return np.ones(k, dtype=bool)
    return ~np.any(present[:, s:] & not_full[:, :v - s], axis=1)


def _dag_from(diff, lower, upper) -> np.ndarray:
    """For each candidate seed: every grain cell but the seed has a grain neighbour one
    Manhattan step closer (one step back along an axis on which it differs from the seed).
    diff (k, K, ndim) over the grain's cells; lower/upper (ndim, K): the neighbour at
    -1 / +1 along each axis is in the grain."""
    has = np.zeros(diff.shape[:2], dtype=bool)
    for axis in range(diff.shape[-1]):
        d = diff[..., axis]
        has |= ((d > 0) & lower[axis][None]) | ((d < 0) & upper[axis][None])
    return np.all(has | np.all(diff == 0, axis=-1), axis=1)


def _neighbour_in(mine) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (ndim, P): the cell one step down / up each axis is in `mine`."""
    lower, upper = [], []
    for axis in range(mine.ndim):
        lo, up = np.zeros_like(mine), np.zeros_like(mine)
        a, b = _slices(mine.shape, axis, 1)           # x in a, x + e_axis in b
        lo[b] = mine[a]
        up[a] = mine[b]
        lower.append(lo.reshape(-1))
        upper.append(up.reshape(-1))
    return np.array(lower), np.array(upper)


def _slices(shape, axis, step) -> tuple:
    a = [slice(None)] * len(shape)
    b = [slice(None)] * len(shape)
    a[axis], b[axis] = slice(0, shape[axis] - step), slice(step, None)
    return tuple(a), tuple(b)


def touching_pairs(labels: np.ndarray) -> set:
    """Pairs of face-connected components (labels > 0) that touch at a corner or an edge
    (in 2-D: diagonally). Face-connected components never share a side."""
    pairs = set()
    ndim = labels.ndim
    for off in itertools.product((-1, 0, 1), repeat=ndim):
        if sum(o != 0 for o in off) < 2 or next(o for o in off if o) < 0:
            continue       # faces join components; each diagonal direction once
        src, dst = [], []
        for o, n in zip(off, labels.shape):
            src.append(slice(max(0, -o), n - max(0, o)))
            dst.append(slice(max(0, o), n + min(0, o)))
        x, y = labels[tuple(src)], labels[tuple(dst)]
        m = (x > 0) & (y > 0) & (x != y)
        pairs |= {(int(min(p, q)), int(max(p, q))) for p, q in zip(x[m], y[m])}
    return pairs


def border_mask(shape) -> np.ndarray:
    b = np.zeros(shape, dtype=bool)
    for axis in range(len(shape)):
        idx = [slice(None)] * len(shape)
        for end in (0, -1):
            idx[axis] = end
            b[tuple(idx)] = True
    return b


def enclosed_void(void: np.ndarray, structure, border: np.ndarray) -> list[np.ndarray]:
    """The void components (under `structure`) that hold no border cell, as masks."""
    labels, n = ndimage.label(void, structure=structure)
    reaches = np.zeros(n + 1, dtype=bool)
    reaches[labels[border]] = True
    return [labels == k for k in range(1, n + 1) if not reaches[k]]


def _diffusion(a, with_pde) -> dict:
    keys = D_KEYS[a.ndim]
    out = dict.fromkeys(keys)
    if not with_pde:
        return out
    solid = (a != 0).astype(np.uint8)         # N phases: the pore (phase 0) conducts, the rest not
    if not np.any(solid == 0):
        return {**out, "d_note": "all solid: no void to diffuse through, D undefined"}
    funcs = {"d_xx": pde.d_xx, "d_yy": pde.d_yy, "d_zz": pde.d_zz}
    try:
        return {k: round(funcs[k](solid), 6) for k in keys}
    except (pde.CellError, RuntimeError) as e:
        return {**out, "d_note": f"PDE: {e}"}


def two_point(a: np.ndarray, phase: int) -> list[np.ndarray]:
    """S2 of `phase` along each axis, lags 0..n_axis // 2, periodic (FFT autocorrelation)."""
    ind = (a == phase).astype(np.float64)
    f = np.fft.rfftn(ind)
    auto = np.fft.irfftn(f * np.conj(f), s=ind.shape, axes=tuple(range(a.ndim))) / ind.size
    lines = []
    for axis in range(a.ndim):
        idx = [0] * a.ndim
        idx[axis] = slice(0, a.shape[axis] // 2 + 1)
        lines.append(auto[tuple(idx)])
    return lines


# ---- the set --------------------------------------------------------------------------

def _summary(arrays, records, grains, compact, dag, dxx, with_pde, phases) -> dict:
    n, shape = len(arrays), arrays[0].shape
    valid = [r["valid"] for r in records]
    reason_counts = Counter(reason.split(":")[0] for r in records for reason in r["reasons"])
    porosity = np.array([r["porosity"] for r in records])
    out = {"count": n, "shape": list(shape), "phases": phases,
           "rules": rules_text(len(shape), grains, compact, dag, phases),
           "valid_count": int(sum(valid)), "valid_share": _share(valid),
           "reason_counts": dict(reason_counts.most_common()),
           "interval": None if dxx is None else [float(dxx[0]), float(dxx[1])],
           "in_interval_share": None, "valid_in_interval_share": None}
    if dxx is not None:
        inside = [r["in_interval"] for r in records]
        out["in_interval_share"] = _share(inside)
        out["valid_in_interval_share"] = _share([i and v for i, v in zip(inside, valid)])
    out["distinct"] = len({hashlib.sha1(a.tobytes()).hexdigest() for a in arrays})
    out["mean_hamming"] = mean_hamming(arrays, phases)
    if phases == 2:
        out["grain_counts"] = dict(sorted(Counter(r["grains"] for r in records).items()))
        out["touching_share"] = _share([r["touching"] > 0 for r in records])
    else:
        out["grain_counts"], out["touching_share"] = {}, None
    out["porosity_mean"] = round(float(porosity.mean()), 6)
    out["porosity_std"] = round(float(porosity.std()), 6)
    out["d"] = _d_stats(records, D_KEYS[len(shape)]) if with_pde else None
    out["d_conducts"] = ("void (0) conducts; solid (1) does not" if phases == 2 else
                         f"phase 0 (the pore) conducts; phases 1..{phases - 1} do not")
    out["fractions_mean"] = [round(float(np.mean([np.mean(a == p) for a in arrays])), 6) for p in range(phases)]
    axes = AXES[len(shape)]
    out["s2"] = []
    for p in range(phases):
        lines = [two_point(a, p) for a in arrays]
        out["s2"].append({axes[k]: [round(float(v), 6) + 0.0 for v in np.mean([ln[k] for ln in lines], axis=0)]
                          for k in range(len(shape))})
    return out


def mean_hamming(arrays, phases: int):
    """Mean over pairs of images of the share of cells where they differ (None below 2 images):
    from per-cell phase counts, C(n, 2) - sum_v C(k_v, 2) differing pairs per cell."""
    n = len(arrays)
    if n < 2:
        return None
    same = 0.0
    for p in range(phases):
        k = np.zeros(arrays[0].shape, dtype=np.int64)
        for a in arrays:
            k += a == p
        same += float(np.sum(k * (k - 1) / 2))
    pairs = n * (n - 1) / 2
    cells = arrays[0].size
    return round((pairs * cells - same) / (pairs * cells), 6)


def _d_stats(records, keys) -> dict:
    out = {}
    for key in keys:
        values = np.array([r[key] for r in records if r[key] is not None], dtype=float)
        out[key] = ({"mean": round(float(values.mean()), 6), "std": round(float(values.std()), 6),
                     "min": round(float(values.min()), 6), "max": round(float(values.max()), 6)}
                    if len(values) else {"mean": None, "std": None, "min": None, "max": None})
        out[key]["undefined"] = len(records) - len(values)
    return out


def _share(flags) -> float:
    flags = list(flags)
    return round(sum(bool(f) for f in flags) / len(flags), 6) if flags else None


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])
