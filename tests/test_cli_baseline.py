"""`pgenc baseline`: a run folder (model, card, samples, contact sheet, score), sampling a
saved model again, and one `error:` line with exit 1 for each bad input."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from pgen.cli import main  # noqa: E402
from pgen.surrogate import dataset  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "d2"
    dataset.write(folder, dataset.generate(64, 2, seed=0, workers=1), plot=False)
    return folder


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def one_error(code, err, text):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], err


def test_gan_run_folder_and_resample(capsys, data, tmp_path):
    out = tmp_path / "gan"
    code, text, err = run(capsys, "baseline", "gan", data, "--out", out, "--epochs", 1, "--batch", 32,
                          "--samples", 5, "--seed", 3, "--interval", 60, 70)
    assert code == 0, err
    assert "gan epoch 1/1" in err and "valid" in text and "[0.6, 0.7)" in text
    for name in ("model.pt", "card.md", "card.json", "contact_sheet.png", "score.json",
                 "samples/0005.png", "samples/0005.npy", "samples/0005.json", "samples/contact_sheet.png"):
        assert (out / name).exists(), name
    card = json.loads((out / "card.json").read_text())
    assert card["settings"]["seed"] == 3 and card["settings"]["norm"] == "batch"
    assert "pgenc baseline gan" in card["command"]
    score = json.loads((out / "score.json").read_text())
    assert score["rules"] == {"grains": 2, "compact": 3, "dag": "manhattan"}
    (group,) = score["groups"]
    assert group["count"] == 5 and group["sampled_for"] is None and group["interval"] == [0.6, 0.7]
    assert group["in_interval_share"] is not None and set(group["interval_shares"]) == set(dataset.INTERVAL_NAMES)
    assert len(score["images"]) == 5 and sum(group["grain_counts"].values()) == 5
    first = np.load(out / "samples" / "0001.npy")
    code, _, err = run(capsys, "baseline", "gan", data, "--out", tmp_path / "again", "--from", out,
                       "--samples", 5, "--seed", 3)
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "again" / "samples" / "0001.npy"), first)
    assert not (tmp_path / "again" / "model.pt").exists()


def test_cgan_samples_carry_the_interval(capsys, data, tmp_path):
    out = tmp_path / "cgan"
    code, text, err = run(capsys, "baseline", "cgan", data, "--out", out, "--epochs", 1, "--batch", 32,
                          "--samples", 3, "--interval", 60, 70, "--norm", "instance", "--no-score")
    assert code == 0, err
    record = json.loads((out / "samples" / "0001.json").read_text())
    assert record["interval"] == "[60,70)" and record["kind"] == "cgan"
    assert not (out / "score.json").exists()
    assert json.loads((out / "card.json").read_text())["settings"]["norm"] == "instance"


@pytest.mark.parametrize("args, text", [
    (["--interval", 60, 75], "not one of the intervals"),
    (["--interval", "sixty", 70], "give two numbers"),
    (["--samples", -1], "--samples must be at least 0"),
    (["--epochs", 0], "--epochs must be at least 1"),
])
def test_bad_options(capsys, data, tmp_path, args, text):
    code, _, err = run(capsys, "baseline", "cgan", data, "--out", tmp_path / "x", *args)
    one_error(code, err, text)
    assert not (tmp_path / "x").exists()


def test_missing_data_and_wrong_models(capsys, data, tmp_path):
    code, _, err = run(capsys, "baseline", "gan", tmp_path / "nowhere", "--out", tmp_path / "x")
    one_error(code, err, "does not exist")
    code, _, err = run(capsys, "baseline", "vae", data, "--out", tmp_path / "x", "--norm", "batch")
    one_error(code, err, "--norm")
    code, _, err = run(capsys, "baseline", "vae", data, "--out", tmp_path / "x", "--from", tmp_path)
    one_error(code, err, "holds no model.pt")
    code, _, err = run(capsys, "baseline", "vae", data, "--out", tmp_path / "v", "--epochs", 1, "--samples", 0)
    assert code == 0 and (tmp_path / "v" / "model.pt").exists()
    code, _, err = run(capsys, "baseline", "gan", data, "--out", tmp_path / "x", "--from", tmp_path / "v")
    one_error(code, err, "holds a vae, not a gan")


def test_without_torch(capsys, data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    code, _, err = run(capsys, "baseline", "gan", data, "--out", tmp_path / "x", "--epochs", 1)
    one_error(code, err, "pip install -e '.[train]'")
