"""`pgenc score`: the table, the JSON object, --out, and one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pgen.cli import main
from pgen.surrogate import pde


def run(capsys, *args):
    code = main(["score", *[str(a) for a in args]])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    """Three images: a valid 2-grain one, the same with solid on the border, one grain."""
    good = np.zeros((16, 16), np.uint8)
    good[3:6, 3:6] = good[9:12, 9:12] = 1
    border = good.copy()
    border[4, 0:3] = 1
    single = np.zeros((16, 16), np.uint8)
    single[5:9, 5:9] = 1
    for name, img in (("a", good), ("b", border), ("c", single)):
        np.save(tmp_path / f"{name}.npy", img)
    return tmp_path


def test_json_has_valid_share_and_records(capsys, folder):
    code, out, _ = run(capsys, folder, "--grains", 2, "--dxx", 0.5, 0.9, "--json")
    assert code == 0
    got = json.loads(out)
    assert got["valid_share"] == pytest.approx(1 / 3) and got["count"] == 3
    recs = {r["name"]: r for r in got["images"]}
    assert recs["a.npy"]["valid"] and recs["a.npy"]["reasons"] == []
    assert recs["b.npy"]["reasons"] == ["border: 1 solid cell (first at (4, 0))"]
    assert recs["c.npy"]["reasons"] == ["grains: 1 (asked 2)"]
    assert recs["a.npy"]["d_xx"] == pytest.approx(pde.d_xx(np.load(folder / "a.npy")), abs=1e-6)
    assert got["grain_counts"] == {"1": 1, "2": 2} and got["reason_counts"] == {"border": 1, "grains": 1}
    assert got["in_interval_share"] is not None


def test_table_and_out_file(capsys, folder, tmp_path_factory):
    target = tmp_path_factory.mktemp("o") / "score.json"
    code, out, err = run(capsys, folder, "--grains", 2, "--no-pde", "--out", target)
    assert code == 0 and f"wrote {target}" in err
    assert "valid               1 / 3  (33.3 %)" in out
    assert "invalid because     border 1, grains 1" in out and "b.npy: border" in out
    assert "D_xx" not in out
    assert json.loads(target.read_text())["valid_count"] == 1


def test_without_grains_the_output_says_the_count_is_not_checked(capsys, folder):
    code, out, _ = run(capsys, folder, "--no-pde")
    assert code == 0 and "grain count not checked (no --grains)" in out and "2 / 3" in out


@pytest.mark.parametrize("make,args,needle", [
    (lambda p: None, (), "holds no images"),
    (lambda p: (np.save(p / "x.npy", np.zeros((16, 16))), np.save(p / "y.npy", np.zeros((8, 8)))), (),
     "`x.npy` is 16 x 16 but `y.npy` is 8 x 8"),
    (lambda p: np.save(p / "x.npy", np.full((16, 16), 2)), (), "value 2 at (0, 0)"),
    (lambda p: np.save(p / "x.npy", np.zeros((16, 16))), ("--dxx", 0.7, 0.6), "LO < HI"),
    (lambda p: np.save(p / "x.npy", np.zeros((16, 16))), ("--dxx", 0.6, 0.7, "--no-pde"), "leave out --no-pde"),
    (lambda p: np.save(p / "x.npy", np.zeros((16, 16))), ("--phases", 3, "--grains", 2), "binary"),
])
def test_errors_are_one_line_and_exit_1(capsys, tmp_path, make, args, needle):
    make(tmp_path)
    code, out, err = run(capsys, tmp_path, *args)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
