"""Plans: the tasks a plan names, their keys and options, the files a spec reads (hashed by
content), and the shipped example plan."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from pgen.batching.plan import read_plan, spec_files, spec_plan

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_library_plan():
    plan = read_plan(ROOT / "specs/batch/library.toml")
    keys = [t.key for t in plan.tasks]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert keys[:2] == ["d2-s0001-lo50-hi60", "d2-s0002-lo50-hi60"] and keys[-1] == "gray-s0001-t0900"
    d2 = plan.tasks[0]
    assert d2.options["params"] == {"lo": 50, "hi": 60} and d2.options["timeout"] == 60
    # the network and its model card (its units) travel with the spec
    assert set(d2.spec_files.files) == {"porous/d2_interval.pgen", "nets/d2_bnn.onnx", "nets/d2_bnn.json"}
    for rel, sha in d2.spec_files.files.items():
        data = (d2.spec_files.root / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha and d2.spec_files.contents[sha] == data
    gray = plan.tasks[-1]
    ramp = np.loadtxt(ROOT / "specs/inverse/targets/gray_ramp_901.csv", comments="#")
    assert gray.options["target"] == {"param": "gray", "file": "../inverse/targets/gray_ramp_901.csv", "row": 900}
    assert gray.options["params"]["gray"] == [ramp[900]]


def test_grid_order_keys_and_labels(tmp_path):
    (tmp_path / "s.pgen").write_text("param a = 1\nparam v = [1, 2]\nvar x : real[2] in [0, 1]\nminimize x[0] + a\n")
    (tmp_path / "t.csv").write_text("0.5\n0.6\n0.7\n")
    plan = tmp_path / "p.toml"
    plan.write_text('[batch]\ntimeout = 5\n[[run]]\nspec = "s.pgen"\nseeds = [3, 1]\nbackends = ["highs", "cbc"]\n'
                    'targets = { param = "a", file = "t.csv", rows = "1..2" }\n'
                    'cases = [{ v = [1, 2] }, { v = [3, 4] }]\ncount = 2\n')
    tasks = read_plan(plan).tasks
    assert len(tasks) == 2 * 2 * 2 * 2
    # cases, then targets, then backends, then seeds; list values give numbered cases
    assert [t.key for t in tasks[:5]] == ["s-s0003-t0001-c00-highs", "s-s0001-t0001-c00-highs",
                                          "s-s0003-t0001-c00-cbc", "s-s0001-t0001-c00-cbc",
                                          "s-s0003-t0002-c00-highs"]
    assert tasks[0].options == {"seed": 3, "backend": "highs", "timeout": 5, "count": 2,
                                "params": {"v": [1, 2], "a": [0.6]}, "case": 0,
                                "target": {"param": "a", "file": "t.csv", "row": 1}}
    assert [t.position for t in tasks] == list(range(16))


def test_the_plan_hash_follows_the_files_not_their_place(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(ROOT / "specs/porous", a / "porous")
    shutil.copytree(ROOT / "specs/nets", a / "nets", ignore=shutil.ignore_patterns("adm_*", "ink44*", "*.pt"))
    shutil.copytree(a, b)
    pa = spec_plan(a / "porous/d2_60_70.pgen", 3)
    assert pa.digest == spec_plan(b / "porous/d2_60_70.pgen", 3).digest  # same contents, another folder
    assert pa.digest != spec_plan(a / "porous/d2_60_70.pgen", 4).digest
    card = b / "nets/d2_bnn.json"
    card.write_text(card.read_text().replace("100 x D_xx", "D_xx"))  # the units change: another plan
    assert pa.digest != spec_plan(b / "porous/d2_60_70.pgen", 3).digest
    assert spec_files(a / "porous/d2_60_70.pgen").spec == "porous/d2_60_70.pgen"
