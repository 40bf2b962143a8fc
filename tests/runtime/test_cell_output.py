"""Run folders of porous cells: files read back, the contact sheet's layout and colours, atomic writes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pgen.core.errors import PgenError
from pgen.runtime import cell_output
from pgen.runtime.cell_output import contact_sheet, grain_colour, write_cells


def random_cells(n, size=12, seed=0, grains=3):
    rng = np.random.default_rng(seed)
    cells = []
    for k in range(1, n + 1):
        labels = rng.integers(0, grains + 1, size=(size, size))
        cells.append({"image": (labels > 0).astype(np.uint8), "labels": labels,
                      "record": {"index": np.int64(k), "porosity": np.float64(0.25 * k),
                                 "w": grains, "seeds": np.array([[1, 2], [3, 4]]), "ok": np.bool_(True),
                                 "note": None, "pair": (1.5, "a")},
                      "caption": f"{k:04d}  s {60 + k:.1f}  true 0.655"})
    return cells


def leftovers(parent, out_name):
    """Anything beside the run folder: temp or old folders that atomic_folder should have removed."""
    return sorted(p.name for p in parent.iterdir() if p.name != out_name)


def test_three_cells_read_back(tmp_path):
    cells = random_cells(3)
    out = write_cells(tmp_path / "run", cells, {"spec": "porous.pgen", "seed": np.int32(7)})
    assert out == tmp_path / "run"
    names = [f"{k:04d}" for k in (1, 2, 3)]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.{ext}" for n in names for ext in ("png", "npy", "json")] + ["contact_sheet.png", "summary.json"])
    assert leftovers(tmp_path, "run") == []
    for name, cell in zip(names, cells):
        # 12 px -> the smallest whole factor reaching 256 is 22: 264 px, each pixel a 22x22 block
        png = Image.open(out / f"{name}.png")
        assert png.size == (264, 264) and png.mode == "L"
        pixels = np.asarray(png)
        rows, cols = np.indices(pixels.shape)
        expected = np.where(cell["image"][rows // 22, cols // 22] == 1, 0, 255)
        np.testing.assert_array_equal(pixels, expected)
        labels = np.load(out / f"{name}.npy")
        assert labels.dtype == np.int16 and labels.ndim == 2
        np.testing.assert_array_equal(labels, cell["labels"])
        record = json.loads((out / f"{name}.json").read_text())
        k = int(name)
        assert record == {"index": k, "porosity": 0.25 * k, "w": 3, "seeds": [[1, 2], [3, 4]], "ok": True,
                          "note": None, "pair": [1.5, "a"], "png": f"{name}.png", "npy": f"{name}.npy"}
        assert isinstance(record["index"], int) and isinstance(record["ok"], bool)
    summary = json.loads((out / "summary.json").read_text())
    assert summary == {"spec": "porous.pgen", "seed": 7, "images": [f"{n}.png" for n in names],
                       "contact_sheet": "contact_sheet.png"}
    sheet = Image.open(out / "contact_sheet.png")
    # three 96-px tiles (12 px x 8) side by side in one row, captions under them
    assert sheet.mode == "RGB" and sheet.width >= 3 * 98 and 98 < sheet.height < 2 * 98


def test_the_sheet_tints_grains_on_white_void(tmp_path):
    cells = random_cells(2, size=12, seed=3, grains=4)
    sheet = np.asarray(contact_sheet([(c["labels"], c["caption"]) for c in cells]))
    x = y = cell_output.SHEET_GAP + 1          # the first tile, inside its 1-px frame
    tile = sheet[y:y + 96, x:x + 96]          # 12 px x 8
    labels = cells[0]["labels"]
    rows, cols = np.indices((96, 96))
    palette = np.array([(255, 255, 255)] + [grain_colour(r) for r in range(1, 5)])
    np.testing.assert_array_equal(tile, palette[labels[rows // 8, cols // 8]])
    colours = {grain_colour(r) for r in range(1, 128)}
    assert len(colours) == 127 and (255, 255, 255) not in colours
    assert tuple(sheet[y - 1, x]) == cell_output._FRAME


def test_the_sheet_wraps_after_ten_per_row():
    def size(n):
        return contact_sheet([(c["labels"], c["caption"]) for c in random_cells(n, size=6)]).size
    (w3, h3), (w10, h10), (w12, h12) = size(3), size(10), size(12)
    assert w3 < w10 == w12 and h3 == h10 < h12
    slot_h = (h10 - 2 * cell_output.SHEET_GAP)
    assert h12 == 2 * slot_h + 3 * cell_output.SHEET_GAP


def test_no_cells_writes_the_summary_only(tmp_path):
    out = write_cells(tmp_path / "run", [], {"n": 0})
    assert [p.name for p in out.iterdir()] == ["summary.json"]
    assert json.loads((out / "summary.json").read_text()) == {"n": 0, "images": [], "contact_sheet": None}


def test_writing_into_an_existing_folder_replaces_it(tmp_path):
    out = tmp_path / "run"
    write_cells(out, random_cells(3), {"first": True})
    (out / "stale.txt").write_text("from before")
    write_cells(out, random_cells(1, seed=5), {"first": False})
    assert sorted(p.name for p in out.iterdir()) == \
        ["0001.json", "0001.npy", "0001.png", "contact_sheet.png", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["first"] is False
    assert leftovers(tmp_path, "run") == []
    with pytest.raises(PgenError) as e:
        write_cells(out, random_cells(2), {}, overwrite_ok=False)
    assert e.value.code == "E040" and "exists" in e.value.message
    assert json.loads((out / "summary.json").read_text())["first"] is False


def test_a_record_json_cannot_hold_writes_nothing(tmp_path):
    cells = random_cells(3)
    cells[1]["record"]["tags"] = {"a", "b"}
    with pytest.raises(TypeError, match=r"cell 2: record\.tags is a set"):
        write_cells(tmp_path / "run", cells, {})
    assert list(tmp_path.iterdir()) == []
    cells[1]["record"]["tags"] = [float("nan")]
    with pytest.raises(ValueError, match=r"cell 2: record\.tags\[0\] is nan"):
        write_cells(tmp_path / "run", cells, {})
    assert list(tmp_path.iterdir()) == []


def test_a_failure_halfway_leaves_no_folder_and_keeps_the_old_one(tmp_path, monkeypatch):
    def broken_sheet(tiles):
        raise RuntimeError("disk gone")
    # the sheet is drawn after every image's files are in the temp folder
    monkeypatch.setattr(cell_output, "contact_sheet", broken_sheet)
    with pytest.raises(RuntimeError, match="disk gone"):
        write_cells(tmp_path / "run", random_cells(3), {})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_cells(tmp_path / "run", random_cells(1), {"old": True})
    monkeypatch.setattr(cell_output, "contact_sheet", broken_sheet)
    with pytest.raises(RuntimeError):
        write_cells(tmp_path / "run", random_cells(3), {"old": False})
    assert leftovers(tmp_path, "run") == []
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["old"] is True
    assert len(list((tmp_path / "run").iterdir())) == 5


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(image=np.zeros((2, 2, 4, 4), np.uint8), labels=np.zeros((2, 2, 4, 4), int)), "2-D or 3-D"),
    (lambda c: c.update(labels=c["labels"][:, :-1]), "labels have shape"),
    (lambda c: c.update(image=2 * c["image"]), "only 0"),
    (lambda c: c.update(labels=np.where(c["labels"] == 2, 0, c["labels"])), "exactly where"),
    (lambda c: c.update(labels=c["labels"] * 40000), "0..32767"),
    (lambda c: c["record"].update(png="x.png"), "reserved"),
])
def test_malformed_cells_are_refused_before_writing(tmp_path, change, message):
    cells = random_cells(2)
    change(cells[1])
    with pytest.raises(ValueError, match=message):
        write_cells(tmp_path / "run", cells, {})
    assert list(tmp_path.iterdir()) == []
