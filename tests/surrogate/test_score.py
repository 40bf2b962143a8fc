"""The image scorer (surrogate/score.py, surrogate/image_folder.py): each rule broken once
on hand-made 16 x 16 images, the seed rules against a literal brute force and against pgen's
own verifier, 3-D volumes, phases, S2, and the folder rules (pgen run folders included)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from pgen.surrogate import pde
from pgen.surrogate.score import ScoreError, load_folder, score_folder, score_images, seed_rules, two_point


def disc(img, centre, radius):
    """Cells whose ring (rounded distance to `centre`) is at most `radius`: compact for s = 1."""
    ii, jj = np.indices(img.shape)
    img[np.round(np.hypot(ii - centre[0], jj - centre[1])) <= radius] = 1
    return img


def two_grains():
    img = np.zeros((16, 16), np.uint8)
    return disc(disc(img, (5, 5), 2), (10, 10), 2)


def one(img, **kw):
    kw.setdefault("pde", False)
    return score_images([img], ["t"], **kw)["images"][0]


def kinds(rec):
    return [r.split(":")[0] for r in rec["reasons"]]


# ---- each rule broken once -------------------------------------------------------------

def test_valid_two_grains_pass_every_rule():
    rec = one(two_grains(), grains=2, compact=1, dag="manhattan")
    assert rec["valid"] and rec["reasons"] == []
    assert (rec["grains"], rec["grains_8"], rec["touching"]) == (2, 2, 0)
    assert rec["border_solid"] == 0 and rec["enclosed_void"] == 0
    assert rec["compact"] and rec["dag"] and rec["seeds"] == [[5, 5], [10, 10]]


def test_wrong_grain_count():
    img = disc(two_grains(), (4, 12), 1)
    rec = one(img, grains=2)
    assert not rec["valid"] and rec["grains"] == 3 and rec["reasons"] == ["grains: 3 (asked 2)"]


def test_two_grains_sharing_a_side_are_one():
    img = np.zeros((16, 16), np.uint8)
    img[4:8, 3:6] = 1
    img[4:8, 6:9] = 1          # shares the side between columns 5 and 6
    rec = one(img, grains=2)
    assert (rec["grains"], rec["grains_8"]) == (1, 1) and kinds(rec) == ["grains"]


def test_diagonal_touching_is_reported_not_invalid():
    img = np.zeros((16, 16), np.uint8)
    img[3:6, 3:6] = 1
    img[6:9, 6:9] = 1          # (5, 5) and (6, 6) meet at a corner
    rec = one(img, grains=2)
    assert rec["valid"] and (rec["grains"], rec["grains_8"], rec["touching"]) == (2, 1, 1)
    rec = one(img, grains=1)   # a full-connectivity count would call it one grain: pgen's rules do not
    assert kinds(rec) == ["grains"]


def test_solid_on_the_border():
    img = two_grains()
    img[5, 0:3] = 1            # grain 1 reaches the left side along row 5
    rec = one(img, grains=2)
    assert rec["border_solid"] == 1 and kinds(rec) == ["border"] and "(5, 0)" in rec["reasons"][0]


def test_enclosed_void():
    img = np.zeros((16, 16), np.uint8)
    img[4:9, 4:9] = 1
    img[6, 6] = 0
    img[6, 7] = 0              # a 2-cell cavity
    rec = one(img, grains=1)
    assert (rec["enclosed_void"], rec["enclosed_void_cells"]) == (1, 2) and kinds(rec) == ["enclosed void"]
    img[6, 8] = 0              # opened to the outside through the grain's side
    assert one(img, grains=1)["valid"]


def test_enclosed_void_uses_4_connectivity():
    img = np.zeros((16, 16), np.uint8)
    img[4:9, 4:9] = 1
    img[5:8, 5:8] = 0
    img[4, 4] = 0              # the cavity's corner (5, 5) meets the outside only diagonally
    rec = one(img)
    assert rec["enclosed_void"] == 1 and rec["enclosed_void_cells"] == 9


def test_not_compact_for_s1_but_for_s3():
    img = np.zeros((16, 16), np.uint8)
    img[7, 4:11] = 1           # a bar of 7: ring 1 around any seed is not full
    rec = one(img, grains=1, compact=1)
    assert not rec["compact"] and kinds(rec) == ["compact"]
    assert one(img, grains=1, compact=2)["compact"] is False
    rec = one(img, grains=1, compact=3)
    assert rec["valid"] and rec["seeds"] == [[7, 7]]
    assert one(img, grains=1)["valid"]          # not asked: not checked


def test_dag_manhattan_is_checked_only_when_asked():
    img = np.zeros((16, 16), np.uint8)
    img[4, 4:11] = img[4:11, 10] = img[10, 4:11] = img[6:11, 4] = img[6, 4:9] = 1
    mine = img == 1            # a spiral: from any seed, some cell is reached only by going away first
    assert not any(brute_seed_ok(mine, (int(i), int(j)), None, True) for i, j in np.argwhere(mine))
    assert one(img, grains=1)["valid"]
    rec = one(img, grains=1, dag="manhattan")
    assert rec["dag"] is False and kinds(rec) == ["dag"]


def test_compact_and_dag_need_one_seed():
    img = np.zeros((16, 16), np.uint8)
    for i, cols in ((5, (5, 6, 7, 8)), (6, (5, 7, 8)), (7, (5, 7, 8, 9))):
        img[i, list(cols)] = 1
    mine = img == 1
    cells = [(int(i), int(j)) for i, j in np.argwhere(mine)]
    compact = {c for c in cells if brute_seed_ok(mine, c, 2, False)}
    dag = {c for c in cells if brute_seed_ok(mine, c, None, True)}
    assert compact == {(6, 7)} and dag == {(5, 5), (5, 6), (5, 7), (5, 8)}   # the premise
    rec = one(img, grains=1, compact=2, dag="manhattan")
    assert rec["compact"] and rec["dag"] and rec["seeds"] == [None] and kinds(rec) == ["seed"]
    assert one(img, grains=1, compact=2)["seeds"] == [[6, 7]]


# ---- the seed rules against a literal brute force and pgen's verifier ----------------------

def brute_seed_ok(mine, seed, s, dag) -> bool:
    """Seed 000's rules read literally, one cell at a time."""
    rings = {c: int(np.round(np.hypot(c[0] - seed[0], c[1] - seed[1]))) for c in np.ndindex(mine.shape)}
    for c in zip(*np.nonzero(mine)):
        c = (int(c[0]), int(c[1]))
        v = rings[c]
        if s is not None and v >= s and any(not mine[d] for d, w in rings.items() if w == v - s):
            return False
        if dag and c != seed:
            dist = abs(c[0] - seed[0]) + abs(c[1] - seed[1])
            closer = [(c[0] + a, c[1] + b) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))]
            if not any(0 <= d[0] < mine.shape[0] and 0 <= d[1] < mine.shape[1] and mine[d]
                       and abs(d[0] - seed[0]) + abs(d[1] - seed[1]) == dist - 1 for d in closer):
                return False
    return True


def random_grain(rng, shape, cells):
    mine = np.zeros(shape, bool)
    frontier = [(int(rng.integers(shape[0])), int(rng.integers(shape[1])))]
    while frontier and mine.sum() < cells:
        c = frontier.pop(int(rng.integers(len(frontier))))
        if mine[c]:
            continue
        mine[c] = True
        frontier += [(c[0] + a, c[1] + b) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))
                     if 0 <= c[0] + a < shape[0] and 0 <= c[1] + b < shape[1]]
    return mine


def test_seed_rules_match_a_literal_brute_force():
    rng = np.random.default_rng(3)
    seen = {True: 0, False: 0}
    for trial in range(40):
        mine = random_grain(rng, (7, 7), int(rng.integers(1, 20)))
        cells = [(int(i), int(j)) for i, j in np.argwhere(mine)]
        for s, dag in ((1, None), (2, None), (3, None), (None, "manhattan"), (2, "manhattan")):
            got = seed_rules(mine, s, dag)
            ok = [c for c in cells if brute_seed_ok(mine, c, s, dag is not None)]
            assert (got["seed"] is not None) == bool(ok), (trial, s, dag)
            assert got["seed"] is None or tuple(got["seed"]) in ok
            seen[bool(ok)] += 1
    assert min(seen.values()) > 15      # both answers were exercised


def test_seed_rules_agree_with_pgens_verifier_on_every_small_image():
    """Valid with one grain, compact s and the manhattan DAG from *some* seed = valid under
    pgen's verifier for some seed (the union of its oracle's sets over the seeds)."""
    from pgen.compiler.grid.rules import GrainRule, GridRules
    from tests.grid_oracle import valid_images

    shape = (5, 5)
    free = [(i, j) for i in range(1, 4) for j in range(1, 4)]
    images = []
    for bits in itertools.product((0, 1), repeat=len(free)):
        img = np.zeros(shape, np.uint8)
        for (i, j), b in zip(free, bits):
            img[i, j] = b
        images.append(img)
    union = set()
    for seed in free:
        union |= valid_images(GridRules(shape, (GrainRule(seed, "manhattan", None, 1, None),)))
    result = score_images(images, grains=1, compact=1, dag="manhattan", pde=False)
    mine = {img.tobytes() for img, rec in zip(images, result["images"]) if rec["valid"]}
    assert mine == union and 0 < len(union) < len(images)


# ---- 3-D, phases, measures --------------------------------------------------------------

def test_3d_cavity_by_6_connectivity():
    vol = np.zeros((6, 6, 6), np.uint8)
    vol[1:5, 1:5, 1:5] = 1
    vol[2, 2, 2] = 0
    rec = score_images([vol], grains=1)["images"][0]
    assert (rec["grains"], rec["enclosed_void"], rec["enclosed_void_cells"]) == (1, 1, 1)
    assert kinds(rec) == ["enclosed void"]
    assert rec["fractions"] == [pytest.approx(1 - 63 / 216, abs=1e-6), pytest.approx(63 / 216, abs=1e-6)]
    assert rec["d_zz"] == pytest.approx(pde.d_zz(vol), abs=1e-6) and rec["d_xx"] == pytest.approx(pde.d_xx(vol), abs=1e-6)
    vol[1, 2, 2] = 0           # the cavity opens through the top face of the block
    assert score_images([vol], grains=1, pde=False)["images"][0]["valid"]


def test_3d_edge_contact_is_touching_not_one_grain():
    vol = np.zeros((6, 6, 6), np.uint8)
    vol[1:3, 1:3, 1:3] = 1
    vol[3:5, 3:5, 1:3] = 1     # shares only an edge with the first block
    rec = score_images([vol], grains=2, pde=False)["images"][0]
    assert (rec["grains"], rec["grains_8"], rec["touching"], rec["valid"]) == (2, 1, 1, True)


def test_phase_fractions_and_s2():
    img = np.zeros((8, 8), np.uint8)
    img[2:4, 2:6] = 1
    img[5:7, 1:3] = 2
    out = score_images([img, img.T], phases=3, pde=False)
    assert out["images"][0]["fractions"] == [pytest.approx(52 / 64), pytest.approx(8 / 64), pytest.approx(4 / 64)]
    assert out["fractions_mean"] == pytest.approx([52 / 64, 8 / 64, 4 / 64])
    assert out["images"][0]["grains"] is None and out["grain_counts"] == {}
    for p, frac in enumerate((52 / 64, 8 / 64, 4 / 64)):
        assert out["s2"][p]["x"][0] == pytest.approx(frac) and out["s2"][p]["y"][0] == pytest.approx(frac)
        assert len(out["s2"][p]["x"]) == 5
    # S2 by the FFT = the periodic definition, at every lag
    for axis, lines in enumerate(zip(*[two_point(img, p) for p in range(3)])):
        for p, line in enumerate(lines):
            direct = [np.mean((img == p) & (np.roll(img, -r, axis=axis) == p)) for r in range(5)]
            assert line == pytest.approx(direct)


def test_n_phase_void_rules_read_phase_0():
    img = np.zeros((8, 8), np.uint8)
    img[0, 3] = 2
    rec = score_images([img], phases=3, pde=False)["images"][0]
    assert kinds(rec) == ["border"]
    with pytest.raises(ScoreError, match="binary"):
        score_images([img], phases=3, grains=1)


def test_pde_and_the_interval_are_half_open():
    img = two_grains()
    d = pde.d_xx(img)
    rec = score_images([img], dxx=(d - 0.1, d + 0.1))["images"][0]
    assert rec["d_xx"] == pytest.approx(d, abs=1e-6) and rec["d_yy"] == pytest.approx(pde.d_yy(img), abs=1e-6)
    assert rec["in_interval"] is True
    out = score_images([img], dxx=(d - 0.1, round(d, 6)))
    assert out["images"][0]["in_interval"] is False and out["in_interval_share"] == 0
    out = score_images([img], dxx=(round(d, 6), d + 0.1))
    assert out["in_interval_share"] == 1.0 and out["valid_in_interval_share"] == 1.0


def test_all_solid_image_has_no_d_but_a_note():
    out = score_images([np.ones((16, 16), np.uint8), two_grains()], dxx=(0.0, 1.0))
    rec = out["images"][0]
    assert rec["d_xx"] is None and rec["d_yy"] is None and "all solid" in rec["d_note"]
    assert rec["in_interval"] is False and not rec["valid"]
    assert out["d"]["d_xx"]["undefined"] == 1 and out["d"]["d_xx"]["mean"] is not None


def test_set_measures():
    a = two_grains()
    b = a.copy()
    b[5, 5] = 0                # enclosed: one void cell inside grain 1
    c = np.zeros((16, 16), np.uint8)
    out = score_images([a, a, b, c], grains=2, pde=False)
    assert out["count"] == 4 and out["distinct"] == 3
    assert out["valid_share"] == 0.5 and out["reason_counts"] == {"enclosed void": 1, "grains": 1}
    assert out["grain_counts"] == {0: 1, 2: 3}
    n = int(a.sum())
    pairs = [(a, a), (a, b), (a, c), (a, b), (a, c), (b, c)]
    expect = np.mean([np.mean(x != y) for x, y in pairs])
    assert out["mean_hamming"] == pytest.approx(expect, abs=1e-6) and n > 0
    assert out["porosity_mean"] == pytest.approx(np.mean([np.mean(x == 0) for x in (a, a, b, c)]), abs=1e-6)
    assert out["in_interval_share"] is None and "grain count not checked" not in " ".join(out["rules"])
    assert "grain count not checked" in " ".join(score_images([a], pde=False)["rules"])


# ---- folders -----------------------------------------------------------------------------

def save_png(path, img):
    Image.fromarray(np.where(img == 1, 0, 255).astype(np.uint8)).save(path)


def test_mixed_sizes_name_both_files(tmp_path):
    np.save(tmp_path / "a.npy", two_grains())
    save_png(tmp_path / "b.png", np.zeros((20, 16), np.uint8))
    with pytest.raises(ScoreError, match=r"`a\.npy` is 16 x 16 but `b\.png` is 20 x 16"):
        load_folder(tmp_path)


def test_non_binary_value_names_file_value_and_position(tmp_path):
    img = two_grains().astype(float)
    img[3, 7] = 0.5
    np.save(tmp_path / "gan_017.npy", img)
    with pytest.raises(ScoreError, match=r"gan_017\.npy`: value 0\.5 at \(3, 7\); a binary image"):
        load_folder(tmp_path)
    save_png(tmp_path / "grey.png", two_grains())
    g = np.asarray(Image.open(tmp_path / "grey.png")).copy()
    g[2, 2] = 128
    Image.fromarray(g).save(tmp_path / "grey.png")
    (tmp_path / "gan_017.npy").unlink()
    with pytest.raises(ScoreError, match=r"grey\.png`: grey level 128 at \(2, 2\)"):
        load_folder(tmp_path)


def test_phase_out_of_range(tmp_path):
    img = np.zeros((8, 8), np.uint8)
    img[3, 3] = 3
    np.save(tmp_path / "p.npy", img)
    with pytest.raises(ScoreError, match=r"p\.npy`: value 3 at \(3, 3\); a 3-phase image holds only 0\.\.2"):
        load_folder(tmp_path, phases=3)
    names, arrays = load_folder(tmp_path, phases=4)
    assert names == ["p.npy"] and arrays[0][3, 3] == 3


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(ScoreError, match="holds no images"):
        load_folder(tmp_path)
    with pytest.raises(ScoreError, match="does not exist"):
        load_folder(tmp_path / "nope")


def test_pgen_run_folder_is_scored_from_its_pictures(tmp_path):
    """write_cells's layout: NNNN.png upscaled, NNNN.npy grain labels, json, contact sheet."""
    from pgen.runtime.cell_output import write_cells

    img = two_grains()
    labels = img.astype(np.int16)
    labels[8:, 8:] *= 2
    cells = [{"image": img, "labels": labels, "record": {}, "caption": "x"}] * 2
    write_cells(tmp_path / "run", cells, {})
    out = score_folder(tmp_path / "run", grains=2, compact=1, pde=False)
    assert [r["name"] for r in out["images"]] == ["0001.png", "0002.png"]
    assert out["valid_share"] == 1.0
    skipped = {s["file"] for s in out["skipped"]}
    assert skipped == {"0001.npy", "0002.npy", "contact_sheet.png"}
    names, arrays = load_folder(tmp_path / "run")
    assert np.array_equal(arrays[0], img)


def test_binary_npy_beside_its_png_is_the_image(tmp_path):
    img = two_grains()
    np.save(tmp_path / "x.npy", img)
    save_png(tmp_path / "x.png", np.kron(img, np.ones((4, 4), np.uint8)))   # a bigger picture of it
    names, arrays = load_folder(tmp_path)
    assert names == ["x.npy"] and np.array_equal(arrays[0], img)


def test_npz_stacks_squeezed_axes_and_invert(tmp_path):
    img = two_grains()
    np.savez(tmp_path / "dataset.npz", images=np.stack([img, img.T]), label=np.array([1, 2]))
    np.save(tmp_path / "one.npy", (1 - img)[None, :, :, None].astype(bool))   # PoreSpy: True = pore
    names, arrays = load_folder(tmp_path, invert=True)
    assert names == ["dataset.npz[0]", "dataset.npz[1]", "one.npy"]
    assert np.array_equal(arrays[1], 1 - img.T) and np.array_equal(arrays[2], img)
    names, arrays = load_folder(tmp_path)
    assert np.array_equal(arrays[0], img) and np.array_equal(arrays[2], 1 - img)
