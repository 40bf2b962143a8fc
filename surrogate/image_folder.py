"""Read a folder of images to score (`pgenc score`): pgen's run folders or anyone's.

Convention: 1 = solid, 0 = void (pore); with `phases` N > 2 the values are phase indices
0..N-1 (phase 0 the pore). Arrays are row-major: a 2-D image is (y, x), a 3-D volume (z, y, x).

Which files are images (the folder is not searched below its top level):
- `NAME.npy`: the array (2-D image or 3-D volume; axes of length 1 are dropped, so (1, H, W)
  and (H, W, 1) are 2-D). Bool and float arrays are fine if their values are phase indices.
  With `invert` a binary array is read the other way round (PoreSpy's convention: True = pore).
- `NAME.npz` holding an `images` array [n, H, W] (`pgenc dataset`'s dataset.npz): n images
  named `NAME.npz[i]`; an .npz without `images` is skipped.
- `NAME.png`: grey levels, black = solid, white = void (as `pgenc property` and pgen's run
  folders); for N phases, phase k is grey round(255 (N-1-k) / (N-1)) (phase 0 white, phase
  N-1 black). Colour PNGs are read as their grey level. A PNG is read at its own resolution.
- `NAME.npy` and `NAME.png` side by side: the .npy is the image when its values are phase
  indices (the PNG is its picture). pgen's run folders keep *grain labels* (0 void, r grain r)
  in NNNN.npy: when the .npy holds values beyond the phases, it is read as labels; the PNG
  (pgen upscales it by a whole factor) is the image, read back at the labels' resolution and
  checked to agree with `labels > 0`.
- skipped: `contact_sheet*`, `summary*`, hidden files, other extensions (.json, .md, ...).

Every problem is a ScoreError that names the file and says what would fix it: an empty
folder, an unreadable file, images of mixed sizes (two files and their shapes), values
outside 0..N-1 (the file, the value, one position).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SKIP_PREFIXES = ("contact_sheet", "summary")
EXTENSIONS = (".npy", ".npz", ".png")


class ScoreError(ValueError):
    """Input the scorer cannot take; the message names the file and what would fix it."""


def load_folder(path, phases: int = 2, invert: bool = False) -> tuple[list[str], list[np.ndarray]]:
    """(names, arrays as uint8) of the images in the folder `path` (or the one file `path`)."""
    names, arrays, _ = collect(path, phases, invert)
    return names, arrays


def collect(path, phases: int = 2, invert: bool = False) -> tuple[list[str], list[np.ndarray], list[dict]]:
    """(names, arrays, skipped): `skipped` lists {"file", "why"} for the files not scored."""
    check_phases(phases)
    if invert and phases != 2:
        raise ScoreError(f"--invert flips binary arrays; it does not apply to {phases} phases")
    folder = Path(path)
    if not folder.exists():
        raise ScoreError(f"`{folder}` does not exist: give a folder of .png/.npy images")
    files = [folder] if folder.is_file() else sorted(p for p in folder.iterdir() if p.is_file())
    skipped, by_stem = [], {}
    for p in files:
        if p.name.startswith(".") and p != folder:
            continue
        if p.suffix.lower() not in EXTENSIONS:
            continue        # records, cards, notes: not listed
        if p.name.startswith(SKIP_PREFIXES) and p != folder:
            skipped.append({"file": p.name, "why": "pgen's contact sheet or summary, not an image"})
        else:
            by_stem.setdefault(p.stem, {})[p.suffix.lower()] = p
    names, arrays = [], []
    for stem in sorted(by_stem):
        got = by_stem[stem]
        if ".npz" in got:
            stack = _read_npz(got[".npz"], phases, invert)
            if stack is None:
                skipped.append({"file": got[".npz"].name, "why": "an .npz without an `images` array"})
            else:
                for i, image in enumerate(stack):
                    names.append(f"{got['.npz'].name}[{i}]")
                    arrays.append(image)
        if ".npy" in got and ".png" in got:
            name, image, note = _read_pair(got[".npy"], got[".png"], phases, invert)
            skipped.append(note)
        elif ".npy" in got:
            name, image = got[".npy"].name, _checked(got[".npy"], _read_npy(got[".npy"]), phases, invert)
        elif ".png" in got:
            name, image = got[".png"].name, _checked(got[".png"], _read_png(got[".png"], phases), phases)
        else:
            continue
        names.append(name)
        arrays.append(image)
    if not arrays:
        raise ScoreError(f"`{folder}` holds no images: put .png (black = solid) or .npy (1 = solid) "
                         "files in it" + (f" ({len(skipped)} other files were skipped)" if skipped else ""))
    check_sizes(names, arrays)
    return names, arrays, skipped


def check_phases(phases) -> None:
    if not isinstance(phases, (int, np.integer)) or phases < 2:
        raise ScoreError(f"--phases must be a whole number of at least 2 (2 = binary), not {phases}")


def check_values(name: str, array, phases: int) -> np.ndarray:
    """`array` as uint8 if every value is a phase index 0..phases-1, else a ScoreError naming
    the value and its position."""
    a = np.asarray(array)
    if a.dtype == bool:
        return a.astype(np.uint8)
    if a.dtype.kind not in "uif":
        raise ScoreError(f"`{name}` holds {a.dtype} values; an image holds numbers 0..{phases - 1}")
    bad = ~np.isin(a, np.arange(phases))
    if np.any(bad):
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        value = a[pos]
        fix = ("binarise it first, e.g. (a > 0.5).astype(np.uint8), or give --phases N for N phases"
               if phases == 2 else f"give --phases with more phases, or map the values to 0..{phases - 1}")
        if a.dtype.kind in "iu" and a.min() >= 0:
            fix += " (grain labels, like pgen's NNNN.npy? keep the NNNN.png beside them, or save labels > 0)"
        kind = "a binary image holds only 0 (void) and 1 (solid)" if phases == 2 else \
            f"a {phases}-phase image holds only 0..{phases - 1}"
        raise ScoreError(f"`{name}`: value {value.item():g} at {pos}; {kind}: {fix}")
    return a.astype(np.uint8)


def check_shape(name: str, a: np.ndarray) -> np.ndarray:
    """2-D or 3-D after dropping axes of length 1."""
    if a.ndim > 2:
        a = a.reshape([n for n in a.shape if n != 1] or [1, 1])
    if a.ndim not in (2, 3) or a.size == 0:
        raise ScoreError(f"`{name}` has shape {list(a.shape)}: an image is 2-D (H, W) or a 3-D volume "
                         "(D, H, W); save a batch as one file per image, or as an .npz with an `images` array")
    return a


def check_sizes(names, arrays) -> None:
    for name, a in zip(names, arrays):
        if a.shape != arrays[0].shape:
            raise ScoreError(f"images of mixed sizes: `{names[0]}` is {_dims(arrays[0].shape)} but `{name}` is "
                             f"{_dims(a.shape)}; score images of one size at a time (move the others to "
                             "another folder)")


def _dims(shape) -> str:
    return " x ".join(str(n) for n in shape)


def _checked(path: Path, a: np.ndarray, phases: int, invert: bool = False) -> np.ndarray:
    a = check_values(str(path), check_shape(str(path), a), phases)
    return 1 - a if invert else a


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ScoreError(f"`{path}` cannot be read as a NumPy array ({e}); save it with numpy.save") from None


def _read_npz(path: Path, phases: int, invert: bool):
    try:
        with np.load(path, allow_pickle=False) as z:
            if "images" not in z.files:
                return None
            stack = z["images"]
    except (OSError, ValueError, EOFError) as e:
        raise ScoreError(f"`{path}` cannot be read as a NumPy .npz ({e})") from None
    if stack.ndim not in (3, 4) or stack.shape[0] == 0:
        raise ScoreError(f"`{path}`: `images` has shape {list(stack.shape)}; a stack of images is [n, H, W] "
                         "(or [n, D, H, W] volumes) with n >= 1")
    return [_checked(f"{path}[{i}]", image, phases, invert) for i, image in enumerate(stack)]


def _grey(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise ScoreError(f"`{path}` cannot be read as a PNG ({e})") from None


def grey_levels(phases: int) -> np.ndarray:
    """The grey of phase k: 255 for phase 0 (white, void) down to 0 for phase N-1 (black)."""
    return np.round(255 * (phases - 1 - np.arange(phases)) / (phases - 1)).astype(np.uint8)


def _read_png(path: Path, phases: int, g=None) -> np.ndarray:
    """Phase indices of a PNG's grey levels (`g`: the grey pixels, if already read)."""
    g = _grey(path) if g is None else g
    levels = grey_levels(phases)
    lookup = np.full(256, 255, dtype=np.uint8)
    lookup[levels] = np.arange(phases)
    a = lookup[g]
    bad = a == 255
    if np.any(bad):
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        want = ("pure black (solid) and white (void)" if phases == 2 else
                f"the grey levels {', '.join(map(str, levels))} (phases 0..{phases - 1})")
        raise ScoreError(f"`{path}`: grey level {int(g[pos])} at {pos}; a PNG to score holds only {want}: "
                         "threshold it first (e.g. grey < 128 = solid), or give the right --phases")
    return a


def _read_pair(npy: Path, png: Path, phases: int, invert: bool) -> tuple[str, np.ndarray, dict]:
    """A stem with both files: the array when it holds phase indices, else grain labels
    whose PNG is the image (read back at the labels' resolution and checked against them)."""
    a = check_shape(str(npy), _read_npy(npy))
    if a.dtype == bool or (a.dtype.kind in "uif" and np.all(np.isin(a, np.arange(phases)))):
        return npy.name, _checked(npy, a, phases, invert), {"file": png.name, "why": f"a picture of {npy.name}"}
    if a.ndim != 2 or a.dtype.kind not in "iu" or a.min() < 0:
        check_values(str(npy), a, phases)   # raises: neither phase indices nor grain labels
    g = _grey(png)
    fy, fx = (g.shape[0] // a.shape[0], g.shape[1] // a.shape[1])
    pgen_png = (fy >= 1 and fx >= 1 and g.shape == (a.shape[0] * fy, a.shape[1] * fx)
                and np.array_equal(np.repeat(np.repeat(g[::fy, ::fx], fy, 0), fx, 1), g))
    if not pgen_png:
        raise ScoreError(f"`{npy}` holds values beyond 0..{phases - 1} (grain labels?) but `{png}` is not its "
                         f"picture ({_dims(g.shape)} px is no whole-factor upscale of {_dims(a.shape)}): "
                         "keep one of the two files, or give --phases N")
    image = _read_png(png, phases, g[::fy, ::fx])
    if not np.array_equal(image == 1, a > 0):
        pos = tuple(int(i) for i in np.argwhere((image == 1) != (a > 0))[0])
        raise ScoreError(f"`{png}` and its grain labels `{npy}` disagree at {pos} (solid in one, void in the "
                         "other): the run folder was changed; keep one of the two files")
    return png.name, image, {"file": npy.name, "why": f"grain labels of {png.name} (agree with it)"}
