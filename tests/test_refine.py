"""`pgenc refine` on a tiny instance: a 200-cell D2-format dataset, one retraining of the
shipped D2 binarized surrogate (fine-tuned for one epoch), two images per round from the
quick search. Checks the records, the PDE labels, the network each round's spec uses, the
training set's growth, and the command's errors."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.cli import main  # noqa: E402
from pgen.refine import RefineError, RoundRecord, refine  # noqa: E402
from pgen.surrogate import dataset, pde, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "porous" / "d2_60_70.pgen"
NET = ROOT / "specs" / "nets" / "d2_bnn.onnx"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refine_data") / "d2"
    return dataset.write(folder, dataset.generate(200, 2, seed=0, workers=1), plot=False)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("refine") / "out"
    shipped = hashlib.sha256(NET.read_bytes()).hexdigest()
    lines = []
    records = refine(SPEC, data, rounds=1, per_round=2, out=out, seed=0, epochs=1, fine_tune=True, repeat=2,
                     quick=True, timeout=20, lr=1e-4, control=True, progress=lines.append)
    assert hashlib.sha256(NET.read_bytes()).hexdigest() == shipped  # the shipped net is never written
    return out, records, lines


def test_one_record_per_generation_with_its_figures(run):
    out, records, lines = run
    assert [r.round for r in records] == [0, 1] and all(isinstance(r, RoundRecord) for r in records)
    doc = json.loads((out / "refine.json").read_text())
    assert [r["round"] for r in doc["rounds"]] == [0, 1]
    for r, saved in zip(records, doc["rounds"]):
        assert r.images == 2 and r.repeats == 0 and saved["images"] == 2
        for key in ("mae", "signed_error", "optimistic_share", "rejected_share", "generate_seconds", "sha256"):
            assert saved[key] is not None and saved[key] == getattr(r, key)
        assert r.mae >= abs(r.signed_error) and 0 <= r.optimistic_share <= 1 and 0 <= r.rejected_share <= 1
        assert r.sha256 == hashlib.sha256(Path(r.network).read_bytes()).hexdigest()
        assert r.dataset_in_interval_cells >= 0 and (r.dataset_in_interval_mae is None) == (
            r.dataset_in_interval_cells == 0)
    assert records[0].trained_on_generated == 0 and records[0].train_seconds is None
    assert records[1].trained_on_generated == 2 and records[1].train_seconds is not None
    # the paired baseline: round 0's surrogate on round 1's draws
    assert records[0].control_mae is None and records[1].control_images == 2 and records[1].control_mae is not None
    controls = sorted((out / "round_1" / "control").glob("0*.json"))
    assert len(controls) == 2 and all(json.loads(p.read_text())["solver"] for p in controls)
    assert "same draws" in (out / "refine.md").read_text()
    assert "| round |" in (out / "refine.md").read_text()
    assert (out / "refine.png").read_bytes()[:4] == b"\x89PNG"
    assert any(line.startswith("round 1: ") for line in lines)


def test_the_figures_are_the_surrogate_against_the_pde_on_the_new_images(run):
    out, records, _ = run
    for r in records:
        cells = sorted((out / f"round_{r.round}" / "images").glob("0*.json"))
        terms = [json.loads(p.read_text())["surrogate"][0] for p in cells]
        err = [t["value"] - t["true"] for t in terms]
        assert r.mae == pytest.approx(np.mean(np.abs(err)), abs=1e-4)
        assert r.signed_error == pytest.approx(np.mean(err), abs=1e-4)
        assert r.rejected_share == pytest.approx(np.mean([not t["true_in_interval"] for t in terms]))


def test_generated_images_are_labelled_by_the_pde(run):
    out, _, _ = run
    with np.load(out / "generated.npz") as z:
        images, dxx, dyy, rnd = z["images"], z["d_xx"], z["d_yy"], z["round"]
    assert list(rnd) == [0, 0, 1, 1] and images.shape == (4, 16, 16)
    assert dxx[0] == pde.d_xx(images[0]) and dyy[3] == pde.d_yy(images[3])
    first = json.loads((out / "round_0" / "images" / "0001.json").read_text())
    assert first["surrogate"][0]["true"] == pytest.approx(100 * dxx[0], abs=1e-4)


def test_the_retrained_network_differs_and_is_what_the_next_round_uses(run):
    import pgen

    out, records, _ = run
    net0, net1 = out / "round_0" / "net.onnx", out / "round_1" / "net.onnx"
    assert net0.read_bytes() == NET.read_bytes() and net1.read_bytes() != net0.read_bytes()
    assert records[1].network == str(net1)
    problem = pgen.load(out / "round_1" / "spec.pgen")
    assert Path(problem.checked.nets["disp"].path).resolve() == net1.resolve()
    # the spec stays the user's text: only the network's path changed
    user, copy = SPEC.read_text(), (out / "round_1" / "spec.pgen").read_text()
    assert copy == user.replace('"../nets/d2_bnn.onnx"', '"net.onnx"')


def test_the_training_set_grows_by_the_generated_images(run, data):
    out, _, _ = run
    card = json.loads((out / "round_1" / "net.json").read_text())
    assert card["data"]["generated"] == {"images": 2, "rounds": "0..0", "repeat": 2, "spec": str(SPEC)}
    assert card["settings"]["extra_images"] == 2 and card["settings"]["start"].startswith("given weights")
    assert "generated by" in (out / "round_1" / "net.md").read_text()
    assert card["split"]["train"] == 160  # the dataset's split is unchanged: generated images only add


def test_state_from_onnx_computes_what_the_export_computes(data):
    from pgen.surrogate import cards

    arrays, _ = dataset.load(data)
    for arch in ("bnn", "relu"):
        result = train.train(arrays, arch, epochs=1, seed=0, hidden=(8, 8))
        onnx_bytes = train.to_onnx(result)
        state = train.state_from_onnx(onnx_bytes, arch)
        assert train.hidden_sizes(state, arch) == [8, 8]
        model = train._models()[0 if arch == "bnn" else 1](256, [8, 8])
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        model.eval()
        np.testing.assert_allclose(train.predict_torch(model, arrays["images"][:20]),
                                   cards.onnx_predict(onnx_bytes, arrays["images"][:20]), atol=1e-3)


def test_refine_refuses_what_it_cannot_run(data, tmp_path):
    with pytest.raises(RefineError, match="rounds must be at least 1"):
        refine(SPEC, data, rounds=0, out=tmp_path / "a")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(RefineError, match="not empty"):
        refine(SPEC, data, rounds=1, out=busy)


NO_NET = """image I : grid 16 x 16
grains 2 in I { seeds random; dag manhattan; compact in {1, 2, 3} }
void I { border; no holes }
solve sample 1 seed 1 timeout 10
"""


@pytest.mark.parametrize("case, message", [
    ("no_net", "bounds no network applied to an image"),
    ("no_data", "does not exist"),
    ("rounds", "rounds must be at least 1, not 0"),
])
def test_cli_errors_are_one_line_and_exit_1(case, message, data, tmp_path, capsys):
    spec, folder, rounds = str(SPEC), str(data), "1"
    if case == "no_net":
        spec = str(tmp_path / "no_net.pgen")
        Path(spec).write_text(NO_NET)
    elif case == "no_data":
        folder = str(tmp_path / "missing")
    else:
        rounds = "0"
    code = main(["refine", spec, "--data", folder, "--rounds", rounds, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
