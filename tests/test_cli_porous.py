"""`pgenc solve` on porous specs: one line per image, a run folder a person can open, exit 0
only when every asked image is made, clear errors."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from pgen.cli import main
from tests.conftest import ROOT

SMALL = ("image I : grid 6 x 6\n"
         "grains 1 in I { seeds (2, 2); compact 1 }\n"
         "void I { border; no holes }\n"
         "solve backend cpsat timeout 30\n")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_images_and_run_folder(capsys, tmp_path):
    spec = tmp_path / "s.pgen"
    spec.write_text(SMALL)
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "solve", spec, "--count", 3, "--seed", 2, "--out", out_dir)
    assert code == 0, err
    lines = [l for l in out.splitlines() if l[:4].isdigit()]
    assert [l[:4] for l in lines] == ["0001", "0002", "0003"] and all("verified" in l for l in lines)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["0001.json", "0001.npy", "0001.png", "0002.json", "0002.npy", "0002.png",
                     "0003.json", "0003.npy", "0003.png", "contact_sheet.png", "summary.json"]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["asked"] == 3 and summary["made"] == 3 and summary["seed"] == 2
    images = []
    for k in (1, 2, 3):
        labels = np.load(out_dir / f"{k:04d}.npy")
        rec = json.loads((out_dir / f"{k:04d}.json").read_text())
        png = np.asarray(Image.open(out_dir / f"{k:04d}.png").convert("L"))
        assert labels.shape == (6, 6) and set(np.unique(labels)) <= {0, 1}
        assert rec["verified"] and rec["images"]["I"]["grains"][0]["seed"] == [2, 2]
        # the PNG shows the labels' solid black, void white (upscaled)
        small = png[:: png.shape[0] // 6, :: png.shape[1] // 6][:6, :6]
        assert np.array_equal(small == 0, labels > 0)
        images.append(labels.tobytes())
    assert len(set(images)) == 3


def test_asking_for_more_images_than_exist_exits_3_with_the_proof(capsys, tmp_path):
    spec = tmp_path / "s.pgen"
    spec.write_text(SMALL.replace("compact 1", "compact 1; area 1..2"))  # the seed alone, or with one neighbour: 5
    code, out, err = run(capsys, "solve", spec, "--count", 9)
    assert code == 3
    assert "made 5 of 9" in out and "only 5 distinct images" in err


def test_count_on_real_designs_without_a_distance_is_an_input_error(capsys, tmp_path):
    """--count on a spec without an image samples designs (tests/test_cli_apart.py); real ones
    must say how far apart."""
    spec = tmp_path / "r.pgen"
    spec.write_text("var x : real[2] in [0, 1]\nrequire x[0] + x[1] <= 1\n")
    code, _, err = run(capsys, "solve", spec, "--count", 2)
    assert code == 1 and "needs a distance" in err and "--apart 0.5" in err


def test_negative_draw_work_is_an_input_error(capsys, tmp_path):
    code, _, err = run(capsys, "solve", ROOT / "specs" / "porous" / "d2_60_70.pgen", "--count", 1, "--draw-work", -1,
                       "--out", tmp_path / "r")
    assert code == 1 and "--draw-work must be 0 (off) or more" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_check_describes_the_image(capsys):
    code, out, _ = run(capsys, "check", ROOT / "specs" / "porous" / "d3_60_70.pgen")
    assert code == 0 and "image I: 16 x 16; 3 grains; seeds random, dag manhattan, compact 1/2/3" in out


def test_solve_on_a_porous_problem_points_to_sample(tmp_path):
    """The exact `no holes` loop, draws and the grid verifier live in sample(): solve() refuses."""
    import pgen
    from pgen.core.errors import PgenError

    spec = tmp_path / "s.pgen"
    spec.write_text(SMALL)
    problem = pgen.load(spec)
    try:
        problem.solve()
    except PgenError as e:
        assert "sample" in e.message
    else:
        raise AssertionError("solve() on a porous spec must refuse")
    assert problem.sample(1, seed=0).made == 1
