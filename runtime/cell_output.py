"""Run folders of porous cells: one PNG, NPY and JSON per image, a contact sheet, a summary.

Layout (k is 1-based, 4 digits):
  NNNN.png           the image, solid black on white void, upscaled by a whole factor so the
                     short side is at least 256 px (nearest neighbour: crisp pixel edges);
                     a volume shows its three orthogonal mid-slices side by side (axis 0,
                     1, 2); an n-phase image one colour per phase
  NNNN.npy           the grain labels, int16 (0 void, r for grain r), 2-D or 3-D; for an
                     n-phase image the phase indices (0..n-1, in the spec's order)
  NNNN.json          the record as given, plus "png" and "npy" (the file names)
  contact_sheet.png  every image in a grid of up to 10 a row, grains tinted by label, each
                     with its caption under it (absent when there are no images)
  summary.json       the summary as given, plus "images" (the PNG names) and "contact_sheet"

The folder is built with core.files.atomic_folder: a reader never sees it half-written, and
on an error nothing new is left behind (an existing folder stays as it was). Every cell and
record is checked and converted before anything is written.
"""
from __future__ import annotations

import colorsys
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.errors import PgenError
from ..core.files import atomic_folder

PNG_SHORT_SIDE = 256    # the single PNGs' short side is at least this
TILE_SHORT_SIDE = 96    # the contact sheet's tiles' short side is at least this
SHEET_COLUMNS = 10
SHEET_GAP = 8           # px around and between the sheet's slots
CAPTION_GAP = 3         # px between a tile's frame and its caption
MAX_CELLS = 9999        # names have 4 digits
_FRAME = (160, 160, 160)  # 1-px frame around each sheet tile, so an all-void tile shows its edge


def write_cells(out: str | Path, cells: list[dict], summary: dict, overwrite_ok: bool = True) -> Path:
    """Write the run folder `out` for `cells` ({"image", "labels", "record", "caption"} each)
    and `summary`. Raises ValueError/TypeError for malformed cells or records (before anything
    is written) and PgenError E040 when `out` cannot be written or exists and not `overwrite_ok`."""
    out = Path(out)
    files = cell_files(cells, summary)
    if out.exists() and not overwrite_ok:
        raise PgenError("E040", f"the output folder `{out}` exists",
                        hint="choose a new folder, or allow overwriting it")
    with atomic_folder(out, "output folder") as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return out


def cell_files(cells: list[dict], summary: dict, sheet: bool = True) -> dict:
    """The files of a run folder for `cells` and `summary`, name -> bytes, in memory (a batch
    task sends them to the process that writes its folder): NNNN.png, NNNN.npy (labels),
    NNNN.json (record), contact_sheet.png (unless `sheet` is False: a one-image task's sheet
    would only repeat its image), summary.json. Same errors as write_cells."""
    checked = [_checked_cell(k, cell) for k, cell in enumerate(cells, start=1)]
    if len(checked) > MAX_CELLS:
        raise ValueError(f"at most {MAX_CELLS} cells fit 4-digit names, got {len(checked)}")
    names = [f"{k:04d}" for k in range(1, len(checked) + 1)]
    records = [{**record, "png": f"{name}.png", "npy": f"{name}.npy"}
               for name, (_, _, record, _) in zip(names, checked)]
    sheet_name = "contact_sheet.png" if checked and sheet else None
    summary_json = _jsonable(_plain_dict(summary, "summary"), "summary")
    for key in ("images", "contact_sheet"):
        if key in summary_json:
            raise ValueError(f"summary: `{key}` is reserved for the file names write_cells adds")
    summary_json.update(images=[f"{name}.png" for name in names], contact_sheet=sheet_name)
    texts = [(json.dumps(r, indent=2, allow_nan=False) + "\n").encode() for r in records]  # all checked first
    files = {}
    for name, (image, labels, _, _), text, cell in zip(names, checked, texts, cells):
        files[f"{name}.png"] = _png_bytes(_png(image, cell.get("phases")))
        buf = io.BytesIO()
        np.save(buf, labels)
        files[f"{name}.npy"] = buf.getvalue()
        files[f"{name}.json"] = text
    if sheet_name:
        files[sheet_name] = _png_bytes(contact_sheet([(_view(labels), caption) for _, labels, _, caption in checked]))
    files["summary.json"] = (json.dumps(summary_json, indent=2, allow_nan=False) + "\n").encode()
    return files


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def contact_sheet(tiles: list[tuple[np.ndarray, str]]) -> Image.Image:
    """All (labels, caption) pairs in a grid, row by row, up to SHEET_COLUMNS a row: each tile
    framed at its slot's top left, grains tinted by label on white void, the caption under it."""
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [measure.multiline_textbbox((0, 0), caption, font=font) for _, caption in tiles]
    scales = [_scale(labels.shape, TILE_SHORT_SIDE) for labels, _ in tiles]
    caption_w = max(right for _, _, right, _ in boxes)
    caption_h = max(bottom for _, _, _, bottom in boxes)
    tile_w = max(labels.shape[1] * s for (labels, _), s in zip(tiles, scales)) + 2
    tile_h = max(labels.shape[0] * s for (labels, _), s in zip(tiles, scales)) + 2
    slot_w = max(tile_w, caption_w)
    slot_h = tile_h + CAPTION_GAP + caption_h
    cols = min(len(tiles), SHEET_COLUMNS)
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * slot_w + (cols + 1) * SHEET_GAP,
                              rows * slot_h + (rows + 1) * SHEET_GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for i, ((labels, caption), s) in enumerate(zip(tiles, scales)):
        x = SHEET_GAP + (i % cols) * (slot_w + SHEET_GAP)
        y = SHEET_GAP + (i // cols) * (slot_h + SHEET_GAP)
        h, w = labels.shape[0] * s, labels.shape[1] * s
        draw.rectangle((x, y, x + w + 1, y + h + 1), outline=_FRAME)
        sheet.paste(Image.fromarray(_upscale(_tint(labels), s)), (x + 1, y + 1))
        draw.multiline_text((x, y + h + 2 + CAPTION_GAP), caption, fill="black", font=font)
    return sheet


def grain_colour(label: int) -> tuple[int, int, int]:
    """The sheet's colour of grain `label` (>= 1): hues a golden-ratio step apart, so labels
    get distinct colours, none of them white."""
    r, g, b = colorsys.hsv_to_rgb((label * 0.618033988749895) % 1.0, 0.7, 0.85)
    return round(r * 255), round(g * 255), round(b * 255)


def _checked_cell(k: int, cell: dict):
    """(image as uint8 0/1, labels as int8, record made JSON-able, caption) of cell k, or a
    ValueError/TypeError that says what is wrong with it."""
    where = f"cell {k}"
    if not isinstance(cell, dict):
        raise TypeError(f"{where}: expected a dict, got {type(cell).__name__}")
    missing = [key for key in ("image", "labels", "record", "caption") if key not in cell]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    image, labels = np.asarray(cell["image"]), np.asarray(cell["labels"])
    phases = cell.get("phases")
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"{where}: the image must be a non-empty 2-D or 3-D array, got shape {image.shape}")
    if labels.shape != image.shape:
        raise ValueError(f"{where}: labels have shape {labels.shape}, the image {image.shape}")
    if phases is not None:
        if not np.isin(image, np.arange(len(phases))).all() or not np.array_equal(labels, image):
            raise ValueError(f"{where}: an n-phase image holds phase indices 0..{len(phases) - 1}, its labels the same")
        record = _jsonable(_plain_dict(cell["record"], f"{where}: record"), f"{where}: record")
        return image.astype(np.uint8), labels.astype(np.int16), record, str(cell["caption"])
    if not np.isin(image, (0, 1)).all():
        raise ValueError(f"{where}: the image must hold only 0 (void) and 1 (solid)")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"{where}: labels must be integers, got {labels.dtype}")
    if labels.min() < 0 or labels.max() > np.iinfo(np.int16).max:
        raise ValueError(f"{where}: labels must lie in 0..32767 to fit int16")
    if not np.array_equal(labels > 0, image == 1):
        raise ValueError(f"{where}: labels are 0 exactly where the image is void, and only there")
    record = _jsonable(_plain_dict(cell["record"], f"{where}: record"), f"{where}: record")
    for key in ("png", "npy"):
        if key in record:
            raise ValueError(f"{where}: record key `{key}` is reserved for the file name write_cells adds")
    if not isinstance(cell["caption"], str):
        raise TypeError(f"{where}: the caption must be a str, got {type(cell['caption']).__name__}")
    return image.astype(np.uint8), labels.astype(np.int16), record, cell["caption"]


def _plain_dict(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{where}: expected a dict, got {type(value).__name__}")
    return value


def _jsonable(value, where: str):
    """`value` with NumPy scalars and arrays turned into Python ones and tuples into lists;
    anything JSON cannot hold exactly (other types, non-str keys, NaN, inf) is an error
    naming where it sits."""
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON keys must be str")
            out[key] = _jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where} is a {type(value).__name__}, which JSON cannot hold")


def _scale(shape: tuple[int, int], short_side: int) -> int:
    """The smallest whole factor that makes the short side at least `short_side`."""
    return max(1, math.ceil(short_side / min(shape)))


def _upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling by a whole factor: each pixel becomes a factor x factor block."""
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


SLICE_GAP = -1   # the cells between a volume's slices in `_view`: drawn light grey


def _view(a: np.ndarray) -> np.ndarray:
    """A 2-D array to draw: the array itself, or a volume's three orthogonal mid-slices side
    by side (across axis 0, 1, 2), one SLICE_GAP column between them."""
    a = np.asarray(a).astype(np.int32)
    if a.ndim == 2:
        return a
    mid = [n // 2 for n in a.shape]
    slices = [a[mid[0], :, :], a[:, mid[1], :], a[:, :, mid[2]]]
    height = max(s.shape[0] for s in slices)
    parts = []
    for s in slices:
        pad = np.full((height, s.shape[1]), SLICE_GAP, dtype=np.int32)
        pad[:s.shape[0]] = s
        parts += [pad, np.full((height, 1), SLICE_GAP, dtype=np.int32)]
    return np.concatenate(parts[:-1], axis=1)


def phase_colour(k: int) -> tuple[int, int, int]:
    """Phase k's colour: phase 0 white (the pore), then black, then the grain colours."""
    return (255, 255, 255) if k == 0 else (0, 0, 0) if k == 1 else grain_colour(k - 1)


def _png(image: np.ndarray, phases=None) -> Image.Image:
    """The single PNG of a 0/1 image: solid black, void white, grey-scale; a volume as its
    three mid-slices; an n-phase image in phase colours (RGB)."""
    view = _view(image)
    if phases is not None:
        palette = np.array([phase_colour(k) for k in range(len(phases))] + [(200, 200, 200)], dtype=np.uint8)
        rgb = palette[np.where(view == SLICE_GAP, len(phases), view)]
        return Image.fromarray(_upscale(rgb, _scale(image.shape[:2], PNG_SHORT_SIDE)))
    grey = np.where(view == 1, 0, np.where(view == SLICE_GAP, 200, 255)).astype(np.uint8)
    return Image.fromarray(_upscale(grey, _scale(image.shape[:2], PNG_SHORT_SIDE)))


def _tint(labels: np.ndarray) -> np.ndarray:
    """RGB pixels of the sheet: void white, grain r in grain_colour(r), slice gaps grey."""
    top = max(int(labels.max()), 0)
    palette = np.array([(255, 255, 255)] + [grain_colour(r) for r in range(1, top + 1)] + [(200, 200, 200)],
                       dtype=np.uint8)
    return palette[np.where(labels == SLICE_GAP, top + 1, labels).astype(np.intp)]


def cells_for_output(run) -> list:
    """The cells of a sample run (runtime.sample.SampleRun) as write_cells takes them: the first
    image of each, its labels, record, caption (surrogate value / true value) and phases."""
    out = []
    for cell in run.cells:
        (g, img), = list(cell.images.items())[:1]
        rec = dict(cell.record)
        s = rec.get("surrogate", [])
        caption = f"{cell.index:04d}" + (f"  {s[0]['value']:.1f} / {s[0]['true']:.1f}" if s else "")
        phases = rec.get("images", {}).get(g, {}).get("phases")
        out.append({"image": img, "labels": cell.labels[g], "record": rec, "caption": caption,
                    "phases": list(phases) if phases else None})
    return out
