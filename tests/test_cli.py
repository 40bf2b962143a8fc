"""`pgenc` end to end: exit codes, files written whole or not at all, clear errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pgen.cli import main
from tests.conftest import ROOT

SPEC = ROOT / "specs" / "inverse" / "robustness_tiny.pgen"   # the 8-neuron stand-in: these tests stay fast
INT_SPEC = ROOT / "specs" / "inverse" / "nano_integer.pgen"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_check_ok(capsys):
    code, out, _ = run(capsys, "check", SPEC)
    assert code == 0 and "ok" in out


def test_check_reports_located_error(capsys, tmp_path):
    bad = tmp_path / "bad.pgen"
    bad.write_text("var x : real[2] in [0, 1]\nminimize sum(y)\n")
    code, _, err = run(capsys, "check", bad)
    assert code == 1
    assert f"{bad}:2:14: error[E010]: unknown name `y`" in err
    assert "^" in err


def test_missing_spec_file(capsys, tmp_path):
    code, _, err = run(capsys, "check", tmp_path / "absent.pgen")
    assert code == 1 and "not found" in err


@pytest.mark.parametrize("name,needle", [("m.lp", "st"), ("m.mps", "ROWS"), ("m.smt2", "declare-fun")])
def test_compile_formats(capsys, tmp_path, name, needle):
    out_file = tmp_path / name
    code, _, _ = run(capsys, "compile", SPEC, "-o", out_file)
    assert code == 0
    assert needle in out_file.read_text()


def test_compile_cpsat_text_for_integer_model(capsys, tmp_path):
    out_file = tmp_path / "m.txt"
    code, _, _ = run(capsys, "compile", ROOT / "tests" / "fixtures" / "bnn_interval.pgen", "-o", out_file)
    assert code == 0 and "variables {" in out_file.read_text()


def test_cpsat_refuses_real_model(capsys, tmp_path):
    code, _, err = run(capsys, "solve", SPEC, "--backend", "cpsat")
    assert code == 1
    assert "error[E030]" in err and "real" in err


def test_solve_writes_run_folder(capsys, tmp_path):
    out = tmp_path / "runs" / "nano"
    code, stdout, _ = run(capsys, "solve", INT_SPEC, "--backend", "cbc", "--timeout", "60", "--out", out)
    assert code == 0 and "verified" in stdout
    result = json.loads((out / "result.json").read_text())
    assert result["termination"] == "optimal" and result["verified"] is True
    th = np.load(out / "th.npy")
    assert th.shape == (4,) and set(th.tolist()) <= set(range(0, 71, 10))
    assert (out / "th.csv").exists() and (out / "manifest.json").exists() and (out / "spec.pgen").exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind
    # a second run replaces the folder whole
    code, _, _ = run(capsys, "solve", INT_SPEC, "--backend", "highs", "--out", out)
    assert code == 0 and json.loads((out / "manifest.json").read_text())["backend"] == "highs"


def test_zero_timeout_is_refused(capsys, tmp_path):
    code, _, err = run(capsys, "solve", SPEC, "--timeout", "0", "--out", tmp_path / "o")
    assert code == 1 and "--timeout must be positive" in err
    assert not (tmp_path / "o").exists()


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "solve", SPEC, "--out", blocker / "run")
    assert code == 1 and "error[E040]" in err


def test_infeasible_spec_exit_code_and_nothing_written(capsys, tmp_path):
    spec = tmp_path / "inf.pgen"
    spec.write_text("var x : real[2] in [0, 1]\nrequire x[0] + x[1] >= 3\nminimize x[0]\n")
    code, out, _ = run(capsys, "solve", spec, "--backend", "highs", "--out", tmp_path / "run")
    assert code == 2 and "infeasible" in out
    assert not (tmp_path / "run").exists()


def test_fmt_prints_and_rewrites(capsys, tmp_path):
    spec = tmp_path / "messy.pgen"
    spec.write_text("# header\n\nvar   x:real[2] in[0,1]   # bounds\n# the goal\nminimize   x[0]+ (x[1])\n# end\n")
    code, out, _ = run(capsys, "fmt", spec)
    assert code == 0
    assert out == ("# header\nvar x : real[2] in [0, 1]  # bounds\n\n# the goal\nminimize x[0] + x[1]\n\n# end\n")
    code, _, _ = run(capsys, "fmt", "-i", spec)
    assert spec.read_text() == out


def test_console_script_runs():
    exe = shutil.which("pgenc")
    cmd = [exe] if exe else [sys.executable, "-m", "pgen.cli"]
    proc = subprocess.run(cmd + ["check", str(SPEC)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_bounds_computes_once_then_reads_the_cache(capsys, tmp_path, monkeypatch):
    from pgen import netgen

    monkeypatch.setenv("PGEN_CACHE_DIR", str(tmp_path / "cache"))
    netgen.write(tmp_path / "net.onnx", netgen.relu_mlp([3, 10, 10, 2], seed=1))
    spec = tmp_path / "s.pgen"
    spec.write_text('var n : int[3] in 0..4\nnet f = network "net.onnx"\nrequire sum(n) <= 5\n'
                    "minimize norm1(f(n / 4) - [0.1, 0.2])\n")
    code, out, err = run(capsys, "bounds", spec, "--time", 60, "--neuron-time", 0.5)
    assert code == 0 and "every layer is cached" in out and "computed, cached" in out
    assert err.count("neurons; unstable after interval") == 2   # progress, a line per layer as it finishes
    code, out, err = run(capsys, "bounds", spec, "--json")
    layers = json.loads(out)["layers"]
    assert code == 0 and [r["source"] for r in layers] == ["cache (milp)"] * 2
    netgen.write(tmp_path / "net.onnx", netgen.relu_mlp([3, 10, 10, 2], seed=2))
    code, out, err = run(capsys, "bounds", spec, "--time", 60, "--neuron-time", 0.5)
    assert code == 0 and "network `net.onnx` changed on disk" in err and "computed, cached" in out


def test_bounds_refuses_bad_input(capsys, tmp_path):
    code, _, err = run(capsys, "bounds", INT_SPEC, "--time", 0)
    assert code == 1 and "--time must be positive" in err
    code, _, err = run(capsys, "bounds", ROOT / "specs" / "porous" / "d2_60_70.pgen")
    assert code == 1 and "porous spec" in err
