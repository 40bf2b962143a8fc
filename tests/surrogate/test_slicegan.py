"""SliceGAN baseline: density term, seeded training and sampling, the run folder and its card."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.surrogate import phase_images as pi  # noqa: E402
from pgen.surrogate import slicegan as sg  # noqa: E402

TINY = {"nz": 4, "gen_channels": [8, 8, 4], "critic_channels": [4, 8, 8], "batch_critic": 1,
        "batch_gen": 2, "slices": 2, "critic_steps": 1, "train_side": 16}
TARGETS = (0.25, 0.60, 0.15)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_noise_size_gives_the_side():
    assert sg.noise_size(16) == 3 and sg.noise_size(32) == 4
    G, _ = sg._nets(3, {**sg.CONFIG, **TINY}, 16)
    for side in (16, 32):
        z = sg.noise_size(side)
        assert tuple(G(torch.zeros(1, 4, z, z, z)).shape) == (1, 3, side, side, side)
    with pytest.raises(ValueError, match="multiple of 16"):
        sg.noise_size(20)


def test_density_term_zero_at_target_positive_away():
    t = torch.tensor(TARGETS)
    at = t.view(1, 3, 1, 1, 1).expand(2, 3, 4, 4, 4)
    assert float(sg.density_term(at, TARGETS)) == pytest.approx(0.0, abs=1e-12)
    uniform = torch.full((2, 3, 4, 4, 4), 1 / 3)
    expected = sum((1 / 3 - x) ** 2 for x in TARGETS)
    assert float(sg.density_term(uniform, TARGETS)) == pytest.approx(expected, rel=1e-5)
    # per volume, then averaged: two volumes off in opposite directions do not cancel
    a = torch.zeros(2, 2, 2, 2, 2)
    a[0, 0], a[0, 1], a[1, 1] = 1.0, 0.0, 1.0
    assert float(sg.density_term(a, (0.5, 0.5))) == pytest.approx(0.5)
    assert float(sg.density_term(a.mean(0, keepdim=True), (0.5, 0.5))) == pytest.approx(0.0)


def test_training_and_sampling_are_seeded():
    ph = pi.blobs(6, 16, TARGETS, seed=0)
    r1 = sg.train(ph, TARGETS, steps=3, seed=5, config=TINY, device="cpu")
    r2 = sg.train(ph, TARGETS, steps=3, seed=5, config=TINY, device="cpu")
    s1, s2 = r1["generator"].state_dict(), r2["generator"].state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    v1 = sg.sample(r1["generator"], 2, 16, seed=9)
    v2 = sg.sample(r1["generator"], 2, 16, seed=9)
    assert v1.shape == (2, 16, 16, 16) and v1.dtype == np.uint8
    assert np.array_equal(v1, v2) and np.array_equal(v1, sg.sample(r2["generator"], 2, 16, seed=9))
    assert v1.max() <= 2
    r3 = sg.train(ph, TARGETS, steps=1, seed=6, config=TINY, device="cpu")
    assert not all(torch.equal(s1[k], r3["generator"].state_dict()[k]) for k in s1)
    assert len(r1["history"]) >= 1 and r1["steps"] == 3


def test_score_volumes():
    v = np.zeros((2, 16, 16, 16), np.uint8)
    v[0, :4] = 2
    v[1, :8] = 0
    v[1, 8:] = 1
    sc = sg.score_volumes(v, (0.5, 0.25, 0.25))
    assert sc["fractions"][0] == [0.75, 0.0, 0.25] and sc["fractions"][1] == [0.5, 0.5, 0.0]
    assert sc["deviation_mean_abs"] == pytest.approx([0.125, 0.25, 0.125])
    assert sc["deviation_max_abs"] == pytest.approx([0.25, 0.25, 0.25]) and sc["deviation_max"] == 0.25
    assert sc["s2"]["anisotropy"] > 0  # layers across axis 0 only


def test_build_writes_the_run_folder(tmp_path):
    data = pi.write(tmp_path / "nmc", pi.generate(6, 16, TARGETS, seed=0))
    card = sg.build(data, tmp_path / "run", epochs=1, seed=1, samples=3, side=16, density_weight=50,
                    config=TINY, device="cpu")
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["card.json", "card.md", "model.pt", "samples", "score.json",
                                                     "slices.png"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["0001.npy", "0002.npy", "0003.npy"]
    on_disk = json.loads((run / "card.json").read_text())
    assert on_disk == json.loads(json.dumps(card))
    for key in ("data", "seed", "epochs", "density_weight", "train_seconds", "torch", "device", "targets", "score"):
        assert key in card
    assert card["seed"] == 1 and card["epochs"] == 1 and card["density_weight"] == 50.0
    assert card["targets"] == {"pore": 0.25, "active": 0.6, "binder": 0.15}
    assert card["data"]["count"] == 6 and card["data"]["seed"] == 0 and card["device"] == "cpu"
    assert "density weight 50" in (run / "card.md").read_text()
    score = json.loads((run / "score.json").read_text())
    assert score["volumes"] == 3 and len(score["deviation_mean_abs"]) == 3
    assert np.array(score["s2"]["per_phase_axis"]).shape == (3, 3, 9)
    vol = np.load(run / "samples" / "0001.npy")
    assert vol.shape == (16, 16, 16) and vol.dtype == np.uint8
    G, meta = sg.load(run, device="cpu")
    assert meta["names"] == ["pore", "active", "binder"]
    assert np.array_equal(sg.sample(G, 3, 16, seed=1)[0], vol)


def test_two_phase_d2_cells(tmp_path):
    from pgen.surrogate import dataset as ds

    ds.write(tmp_path / "d2", ds.generate(4, 2, seed=0), plot=False)
    card = sg.build(tmp_path / "d2", tmp_path / "run", steps=2, samples=1, side=16, config=TINY, device="cpu")
    assert len(card["targets"]) == 2 and card["data"]["names"] == ["void", "solid"]
    assert np.load(tmp_path / "run" / "samples" / "0001.npy").max() <= 1


def test_errors():
    ph = pi.blobs(2, 16, TARGETS, seed=0)
    with pytest.raises(ValueError, match="only 2 target fractions"):
        sg.train(ph, (0.5, 0.5), steps=1, config=TINY)
    with pytest.raises(ValueError, match="at least 16x16"):
        sg.train(pi.blobs(2, 8, TARGETS), TARGETS, steps=1, config=TINY)
    with pytest.raises(FileNotFoundError, match="pgenc baseline slicegan"):
        sg.load("/nonexistent/run")


def test_measures_agree_with_and_without_the_scorer(monkeypatch):
    v = pi.blobs(2, 16, TARGETS, seed=1)[:, None].repeat(16, axis=1)  # 2 volumes 16^3, columns of blobs
    a = sg.score_volumes(v, TARGETS, pi.blobs(3, 32, TARGETS, seed=2))
    monkeypatch.setattr(sg, "_score_module", lambda: None)
    b = sg.score_volumes(v, TARGETS, pi.blobs(3, 32, TARGETS, seed=2))
    assert a["fractions"] == b["fractions"]
    assert np.allclose(a["s2"]["per_phase_axis"], b["s2"]["per_phase_axis"], atol=1e-6)
    assert np.allclose(a["s2"]["rms_vs_training"], b["s2"]["rms_vs_training"], atol=1e-6)
    assert a["s2"]["anisotropy"] > 0.05  # constant along z, blobs in y and x


def test_pgenc_baseline_slicegan(tmp_path, capsys):
    from pgen.cli import main

    data = pi.write(tmp_path / "nmc", pi.generate(4, 16, TARGETS, seed=0))
    run = tmp_path / "run"
    assert main(["baseline", "slicegan", str(data), "--out", str(run), "--epochs", "1", "--samples", "2",
                 "--side", "16", "--density-weight", "10", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "slicegan: 1 steps" in out and "|fraction - target| mean pore" in out
    card = json.loads((run / "card.json").read_text())
    assert card["density_weight"] == 10.0 and card["samples"] == {**card["samples"], "count": 2, "side": 16}
    assert main(["baseline", "slicegan", str(tmp_path / "none"), "--out", str(run)]) == 1
    assert "does not exist; make one with `python -m pgen.surrogate.phase_images" in capsys.readouterr().err
    assert main(["baseline", "slicegan", str(data), "--out", str(run), "--side", "20"]) == 1
    assert "multiple of 16" in capsys.readouterr().err
    assert main(["baseline", "slicegan", str(data), "--out", str(run), "--fractions", "0.5,0.6"]) == 1
    assert "sum to 1" in capsys.readouterr().err
