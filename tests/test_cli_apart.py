"""`pgenc solve --apart D`: designs and images pairwise D apart, one line each; a run that
stops because nothing more fits says so (exit 3, or 2 when not even one design exists);
a bad distance is an error in the input (exit 1)."""
from __future__ import annotations

import json

from tests.test_cli_porous import run

DESIGNS = "var x : int[3] in 0..3\nrequire x[0] + x[1] + x[2] == 4\nsolve sample 50 backend highs\n"
IMAGES = ("image I : grid 5 x 5\ngrains 1 in I { seeds (2, 2); compact 1 }\nvoid I { border; no holes }\n"
          "solve backend cpsat timeout 30\n")


def test_designs_apart_until_none_fits(capsys, tmp_path):
    spec = tmp_path / "d.pgen"
    spec.write_text(DESIGNS)
    code, out, err = run(capsys, "solve", spec, "--apart", 3, "--json", "--out", tmp_path / "run")
    assert code == 3, err
    summary = json.loads(out)
    assert summary["stopped"] == "exhausted" and summary["min_distance"] >= 3 and summary["apart"] == 3
    assert f"no further design satisfies the spec at least 3 from the {summary['made']} made (proved" in err
    assert json.loads((tmp_path / "run" / "designs.json").read_text())["made"] == summary["made"]
    code, out, err = run(capsys, "solve", spec, "--count", 2, "--apart", 3)
    assert code == 0 and "made 2 of 2 designs at least 3 apart" in out


def test_images_apart_until_none_fits(capsys, tmp_path):
    spec = tmp_path / "p.pgen"
    spec.write_text(IMAGES)
    code, out, err = run(capsys, "solve", spec, "--count", 100, "--apart", 4)
    assert code == 3, err
    assert "no further image satisfies the spec at least 4 cells from the" in err and "(proved" in err


def test_a_bad_distance_is_an_input_error(capsys, tmp_path):
    spec = tmp_path / "p.pgen"
    spec.write_text(IMAGES)
    for bad, words in (("0", "must be a positive distance"), ("2.5", "distances between images count cells"),
                       ("26", "more than two images can differ: they have 25 cells")):
        code, out, err = run(capsys, "solve", spec, "--count", 3, "--apart", bad)
        assert code == 1 and words in err, err
