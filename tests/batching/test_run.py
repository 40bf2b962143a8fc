"""`pgenc batch` on the local pool: every task verified and equal to a direct solve, resume
after SIGKILL at random points (nothing lost, nothing done twice), a crashing worker retried
once then failed, `--redo`, `pgenc runs`, and the errors a user can make."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import numpy as np
import pytest

import pgen
from pgen.batching.engines import LocalPool
from pgen.batching.plan import read_plan
from pgen.batching.run import run_batch
from pgen.core.errors import PgenError

from .conftest import INFEASIBLE_LP, comparable, folder_contents, pgenc, rows_of, write_plan


def test_batch_equals_direct_solves(plan_folder, tmp_path):
    out = tmp_path / "out"
    report = run_batch(read_plan(plan_folder), out, LocalPool(2), progress=False)
    assert report.counts == {"verified": 8, "infeasible": 0, "unknown": 0, "failed": 0}
    rows = rows_of(out)
    assert [r["key"] for r in rows] == [f"cells-s{s:04d}" for s in range(1, 7)] + ["lp-s0001-t0.25", "lp-s0001-t0.75"]
    cells = pgen.load(plan_folder.parent / "cells.pgen")
    for r in rows[:6]:
        # the same image as a direct sample with the task's seed, and a verified record beside it
        direct = cells.sample(1, seed=r["options"]["seed"])
        image = np.load(out / r["folder"] / "0001.npy")
        assert np.array_equal(image > 0, direct.cells[0].images["I"] > 0)
        record = json.loads((out / r["folder"] / "0001.json").read_text())
        assert record["verified"] is True and r["verified"] == 1
        assert r["images"] == [f"{r['folder']}/0001.png"] and (out / r["images"][0]).is_file()
    for r, t in zip(rows[6:], (0.25, 0.75)):
        assert r["options"]["params"] == {"t": t}
        assert r["termination"] == "optimal" and r["objective"] == pytest.approx(t, abs=1e-6)
        assert r["objective"] == pytest.approx(pgen.load(plan_folder.parent / "lp.pgen", params={"t": t}).solve().objective)
        x = np.array(r["design"]["x"])
        assert x.sum() >= t - 1e-6 and 2 * x[0] + x[1] == pytest.approx(t, abs=1e-6)
        assert json.loads((out / r["folder"] / "task.json").read_text())["key"] == r["key"]
        assert r["overhead_seconds"] >= 0 and r["task_seconds"] >= r["solve_seconds"]


def test_rerun_does_nothing_and_redo_reruns(plan_folder, tmp_path):
    out = tmp_path / "out"
    run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    before = rows_of(out)
    again = run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    assert again.ran == 0 and again.skipped == 8
    assert rows_of(out) == before  # not one row rewritten (their times and workers are unchanged)
    # an infeasible task is recorded as such; --redo infeasible runs exactly it again
    (plan_folder.parent / "bad.pgen").write_text(INFEASIBLE_LP)
    plan2 = write_plan(tmp_path / "plan2", extra='\n[[run]]\nspec = "bad.pgen"\n')
    (plan2.parent / "bad.pgen").write_text(INFEASIBLE_LP)
    out2 = tmp_path / "out2"
    run_batch(read_plan(plan2), out2, LocalPool(2), progress=False)
    rows = {r["key"]: r for r in rows_of(out2)}
    assert rows["bad-s0001"]["status"] == "infeasible" and rows["bad-s0001"]["termination"] == "infeasible"
    redo = run_batch(read_plan(plan2), out2, LocalPool(1), redo=("infeasible",), progress=False)
    assert redo.ran == 1 and redo.counts["infeasible"] == 1


def _wait_rows(index_path, k, proc, limit=120.0):
    """Wait until the index holds at least k rows (read while the batch writes: WAL)."""
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        try:
            with closing(sqlite3.connect(f"{index_path.as_uri()}?mode=ro", uri=True)) as db:  # never creates it
                if db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] >= k:
                    return True
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    return False


def test_resume_after_sigkill_at_random_points(tmp_path):
    """SIGKILL the batch process at random points; each rerun resumes; at the end the index
    and folders equal those of an uninterrupted run, no task is lost and none is run again."""
    n = 24
    plan = write_plan(tmp_path / "plan", cells=n)
    reference = tmp_path / "reference"
    assert pgenc("batch", plan, "--jobs", 2, "--out", reference, "--no-gallery").returncode == 0
    out = tmp_path / "out"
    rng = random.Random(2026)
    kills = 0
    seen: dict = {}  # key -> (finished, worker) when first recorded: a task done twice would change it
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-m", "pgen.cli", "batch", str(plan), "--jobs", "2",
                                 "--out", str(out), "--no-gallery"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        have = len(seen)
        if attempt < 3 and _wait_rows(out / "index.sqlite", have + rng.randint(1, 6), proc):
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=300)
        for r in rows_of(out):
            if r["key"] in seen:
                assert seen[r["key"]] == (r["finished"], r["worker"]), f"{r['key']} was run again"
            seen[r["key"]] = (r["finished"], r["worker"])
        if proc.returncode == 0:
            break
    assert kills >= 2
    assert comparable(rows_of(out)) == comparable(rows_of(reference))
    assert folder_contents(out) == folder_contents(reference)
    names = sorted(p.name for p in (out / "tasks").iterdir())
    assert names == sorted(r["key"] for r in rows_of(out))  # no leftover temporary folder


@pytest.mark.parametrize("times, status, attempts", [(1, "verified", 2), (9, "failed", 2)])
def test_worker_crash_is_retried_once_then_failed(plan_folder, tmp_path, monkeypatch, times, status, attempts):
    monkeypatch.setenv("PGEN_TEST_CRASH_KEY", "cells-s0003")
    monkeypatch.setenv("PGEN_TEST_CRASH_TIMES", str(times))
    monkeypatch.setenv("PGEN_TEST_CRASH_DIR", str(tmp_path))
    out = tmp_path / "out"
    run_batch(read_plan(plan_folder), out, LocalPool(2), progress=False)
    rows = {r["key"]: r for r in rows_of(out)}
    assert len(rows) == 8
    crashed = rows["cells-s0003"]
    assert crashed["status"] == status and crashed["attempts"] == attempts
    assert len(list(tmp_path.glob("cells-s0003.*"))) == min(times, 2)  # two tries, no third
    if status == "failed":
        assert "died" in crashed["message"] and "-9" in crashed["message"]
        assert (out / "tasks" / "cells-s0003" / "task.json").is_file()
    assert all(r["status"] == "verified" for k, r in rows.items() if k != "cells-s0003")


def test_runs_command_filters_and_prints_json(plan_folder, tmp_path):
    out = tmp_path / "out"
    r = pgenc("batch", plan_folder, "--jobs", 2, "--out", out, "--no-gallery", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout[r.stdout.index("{"):])
    assert summary["counts"]["verified"] == 8
    r = pgenc("runs", out, "--status", "verified", "--run", "lp", "--json")
    rows = json.loads(r.stdout)
    assert [x["key"] for x in rows] == ["lp-s0001-t0.25", "lp-s0001-t0.75"]
    assert json.loads(pgenc("runs", out, "--status", "unknown", "--json").stdout) == []
    r = pgenc("runs", out)
    assert "cells-s0001" in r.stdout and "verified" in r.stdout


def test_spec_and_count(tmp_path):
    (tmp_path / "cells.pgen").write_text((write_plan(tmp_path / "p") and (tmp_path / "p" / "cells.pgen")).read_text())
    r = pgenc("batch", "--spec", tmp_path / "cells.pgen", "--count", 3, "--jobs", 1, "--out", tmp_path / "lib",
              "--no-gallery")
    assert r.returncode == 0, r.stderr
    assert [x["key"] for x in rows_of(tmp_path / "lib")] == ["cells-s0001", "cells-s0002", "cells-s0003"]
    # the same command again: nothing to do; a different count is a different plan
    r = pgenc("batch", "--spec", tmp_path / "cells.pgen", "--count", 3, "--out", tmp_path / "lib", "--no-gallery")
    assert r.returncode == 0 and "0 tasks run" in r.stdout and "3 already recorded" in r.stdout
    r = pgenc("batch", "--spec", tmp_path / "cells.pgen", "--count", 4, "--out", tmp_path / "lib", "--no-gallery")
    assert r.returncode == 1 and "different plan" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------------------ bad input

def test_plan_naming_a_missing_spec(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[[run]]\nspec = "nowhere.pgen"\nseeds = "1..3"\n')
    r = pgenc("batch", plan, "--out", tmp_path / "out")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{plan}:2:9: error[E050]: spec `nowhere.pgen` not found" in r.stderr
    assert not (tmp_path / "out").exists()  # nothing started


def test_a_folder_of_another_plan_is_refused(plan_folder, tmp_path):
    out = tmp_path / "out"
    run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    (plan_folder.parent / "lp.pgen").write_text((plan_folder.parent / "lp.pgen").read_text().replace("2 * x[0]", "3 * x[0]"))
    with pytest.raises(PgenError, match="different plan") as e:
        run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    assert "its own --out folder" in e.value.hint
    assert len(rows_of(out)) == 8  # untouched


def test_a_corrupt_index_is_a_clear_error(plan_folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.sqlite").write_bytes(b"this is not a database, it was truncated by a full disk\x00" * 40)
    r = pgenc("batch", plan_folder, "--out", out, "--no-gallery")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "is not a readable run index" in r.stderr and "move it aside" in r.stderr
    r = pgenc("runs", out)
    assert r.returncode == 1 and "is not a readable run index" in r.stderr
    # an empty file (what a reader's sqlite3.connect leaves before the batch makes its index) is a new index
    (out / "index.sqlite").write_bytes(b"")
    assert pgenc("batch", plan_folder, "--out", out, "--no-gallery").returncode == 0
    assert len(rows_of(out)) == 8


def test_unreachable_dask_address_fails_fast_and_starts_nothing(plan_folder, tmp_path):
    pytest.importorskip("distributed")
    t0 = time.time()
    r = pgenc("batch", plan_folder, "--dask", "tcp://127.0.0.1:9", "--out", tmp_path / "out", timeout=60)
    assert time.time() - t0 < 12  # the client gives up after 6 s; the rest is start-up (~8 s here)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "--dask: error[E050]: cannot reach the Dask scheduler at `tcp://127.0.0.1:9`" in r.stderr
    assert "no task was started" in r.stderr
    assert not (tmp_path / "out").exists()


def test_plan_errors_are_located(tmp_path):
    def error(text):
        p = tmp_path / "plan.toml"
        p.write_text(text)
        with pytest.raises(PgenError) as e:
            read_plan(p)
        return e.value.render()

    (tmp_path / "a.pgen").write_text("param g = 0.5\nvar x : real[1] in [0, 1]\nminimize x[0] + g\n")
    assert "plan.toml:2:6: error[E050]: not valid TOML" in error('[[run]]\nspec "a.pgen"\n')
    assert "plan.toml:3:12: error[E050]: `cases` sets `q`, but `a.pgen` declares no param `q`" in error(
        '[[run]]\nspec = "a.pgen"\ncases = [{ q = 1 }, { q = 2 }]\n')
    assert "two tasks of run `a` are the same (`a-s0001-auto`)" in error('[[run]]\nspec = "a.pgen"\nbackends = ["auto", "auto"]\n')
    assert "unknown key `seed_list` in run 1" in error('[[run]]\nspec = "a.pgen"\nseed_list = [1]\n')
    assert "`seeds` range `5..2` is empty" in error('[[run]]\nspec = "a.pgen"\nseeds = "5..2"\n')
    assert "unknown backend `gurobi`" in error('[[run]]\nspec = "a.pgen"\nbackend = "gurobi"\n')
    assert "two runs are named `a`" in error('[[run]]\nspec = "a.pgen"\n[[run]]\nspec = "a.pgen"\n')
    assert "the plan has no `[[run]]` table" in error('[batch]\ntimeout = 3\n')
    (tmp_path / "t.csv").write_text("# header comment\n0.1\n0.2\nabc\n")
    msg = error('[[run]]\nspec = "a.pgen"\ntargets = { param = "g", file = "t.csv" }\n')
    assert "t.csv:4: `abc` is not a number" in msg
    (tmp_path / "t.csv").write_text("0.1\n0.2\n")
    assert "asks for row 5 but `t.csv` has 2 rows" in error(
        '[[run]]\nspec = "a.pgen"\ntargets = { param = "g", file = "t.csv", rows = "0..5" }\n')


def test_a_spec_error_stops_the_batch_before_it_starts(tmp_path):
    """A target row of the wrong length, or a spec that does not check, is one located error
    before any task runs (not a failed row per task); a later task's own trouble is its row."""
    (tmp_path / "a.pgen").write_text("param g = 0.5\nvar x : real[1] in [0, 1]\nminimize x[0] + g\n")
    (tmp_path / "t.csv").write_text("0.1,0.2\n0.3,0.4\n")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[run]]\nspec = "a.pgen"\ntargets = { param = "g", file = "t.csv" }\n')
    r = pgenc("batch", plan, "--out", tmp_path / "out")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "a.pgen:1:1: error[E012]: the value given for `g` has 2 entries, but `g` holds 1" in r.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "b.pgen").write_text('net n = network "missing.onnx"\nvar x : real[1] in [0, 1]\nminimize x[0]\n')
    plan.write_text('[[run]]\nspec = "b.pgen"\n')
    r = pgenc("batch", plan, "--out", tmp_path / "out")
    assert r.returncode == 1 and "b.pgen:1:" in r.stderr and "missing.onnx" in r.stderr
    # params that only a later case gets wrong: that task fails with the reason, the others run
    plan.write_text('[[run]]\nspec = "a.pgen"\ncases = [{ g = 0.25 }, { g = [1, 2] }]\n')
    out = tmp_path / "out2"
    run_batch(read_plan(plan), out, LocalPool(1), progress=False)
    rows = rows_of(out)
    assert [r["status"] for r in rows] == ["verified", "failed"]
    assert "the value given for `g` has 2 entries, but `g` holds 1" in rows[1]["message"]
    assert os.path.isfile(out / "tasks" / rows[1]["key"] / "log.txt")


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(tmp_path):
    """SIGINT (Ctrl-C) to the batch: exit 130 with a line that says how to resume, every
    recorded row has its folder, and the rerun ends with what an uninterrupted run gives."""
    plan = write_plan(tmp_path / "plan", cells=24)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pgen.cli", "batch", str(plan), "--jobs", "2", "--out", str(out),
                             "--no-gallery"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_rows(out / "index.sqlite", 3, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:  # it had finished by the time the signal came
        pytest.skip("the batch ended before Ctrl-C arrived")
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert "stopped" in stdout and "rerun the same command to resume" in stderr
    rows = rows_of(out)
    assert 3 <= len(rows) < 26
    assert sorted(p.name for p in (out / "tasks").iterdir()) == sorted(r["key"] for r in rows)
    assert pgenc("batch", plan, "--jobs", 2, "--out", out, "--no-gallery").returncode == 0
    reference = tmp_path / "reference"
    run_batch(read_plan(plan), reference, LocalPool(2), progress=False)
    assert comparable(rows_of(out)) == comparable(rows_of(reference))


def test_the_gallery_of_a_batch_shows_the_index_values(plan_folder, tmp_path):
    """A real batch (images and designs) in headless Chromium: one card per task, the numbers
    on each card equal the index's, every image loads."""
    from .test_gallery import CHROMIUM, number, rendered, shown

    out = tmp_path / "out"
    r = pgenc("batch", plan_folder, "--jobs", 2, "--out", out)
    assert r.returncode == 0 and f"wrote {out / 'index.html'}" in r.stderr
    if CHROMIUM is None:
        pytest.skip("headless Chromium (Debian package `chromium`) is not installed")
    dom = rendered(out / "index.html", "", tmp_path / "profile")
    rows = {x["key"]: x for x in rows_of(out)}
    cards = shown(dom)
    assert [c.attrs["data-key"] for c in cards] == list(rows)
    for card in cards:
        row = rows[card.attrs["data-key"]]
        for field in ("objective", "error", "solve_seconds", "bound", "gap"):
            want = None if row[field] is None else pytest.approx(row[field], rel=1e-12)
            assert number(card.field(field)) == want, field
        assert card.field("status").attrs["data-value"] == row["status"]
    body = dom.find("body")[0]
    n_images = sum(len(x["images"] or []) + (1 if x["plot"] else 0) for x in rows.values())
    assert int(body.attrs["data-images-total"]) == n_images == int(body.attrs["data-images-loaded"]) == 6


def test_a_full_disk_stops_the_batch_and_loses_nothing(plan_folder, tmp_path, monkeypatch):
    """The disk fills while the 4th folder is written: a clear error, the three rows and
    folders before it intact, no half-written folder; after space is freed the rerun ends
    with what an uninterrupted run gives."""
    import errno
    from pathlib import Path

    real = Path.write_bytes
    calls = {"folders": 0}

    def write_bytes(self, data):
        if self.name == "task.json" and self.parent.name.startswith("."):  # the last file of a task folder
            calls["folders"] += 1
            if calls["folders"] == 4:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    out = tmp_path / "out"
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(PgenError) as e:
        run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    monkeypatch.setattr(Path, "write_bytes", real)
    assert e.value.code == "E040" and "No space left on device" in e.value.message
    assert "free disk space" in e.value.hint
    rows = rows_of(out)
    assert len(rows) == 3
    assert sorted(p.name for p in (out / "tasks").iterdir()) == sorted(r["key"] for r in rows)
    again = run_batch(read_plan(plan_folder), out, LocalPool(2), progress=False)
    assert again.ran == 5 and again.skipped == 3
    reference = tmp_path / "reference"
    run_batch(read_plan(plan_folder), reference, LocalPool(2), progress=False)
    assert comparable(rows_of(out)) == comparable(rows_of(reference))
    assert folder_contents(out) == folder_contents(reference)


def test_folders_without_rows_are_adopted_and_foreign_ones_refused(plan_folder, tmp_path):
    """A folder whose row was never written (the parent died between the two) is recorded from
    its task.json, not run again; a replacement cut short between atomic_folder's two renames
    is put back; a folder of another spec or other options is refused, not adopted."""
    out = tmp_path / "out"
    run_batch(read_plan(plan_folder), out, LocalPool(2), progress=False)
    before = {r["key"]: r for r in rows_of(out)}
    with sqlite3.connect(out / "index.sqlite") as db:
        db.execute("DELETE FROM tasks WHERE key IN ('cells-s0002', 'lp-s0001-t0.75')")
    (out / "tasks" / ".cells-s0004.old.x1y2z3").mkdir()
    os.replace(out / "tasks" / "cells-s0004", out / "tasks" / ".cells-s0004.old.x1y2z3" / "previous")
    (out / "tasks" / ".cells-s0005.ab12cd").mkdir()  # a temporary whose rename never happened
    report = run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    assert report.ran == 0 and report.adopted == 2
    after = {r["key"]: r for r in rows_of(out)}
    for key in ("cells-s0002", "lp-s0001-t0.75"):
        assert (after[key]["finished"], after[key]["worker"]) == (before[key]["finished"], before[key]["worker"])
    assert sorted(p.name for p in (out / "tasks").iterdir()) == sorted(before)
    # the index moved aside, a spec edited: the old folders are not this plan's answers
    (out / "index.sqlite").unlink()
    lp = plan_folder.parent / "lp.pgen"
    lp.write_text(lp.read_text().replace("2 * x[0]", "3 * x[0]"))
    with pytest.raises(PgenError, match="holds the result of another spec or other options") as e:
        run_batch(read_plan(plan_folder), out, LocalPool(1), progress=False)
    assert "lp-s0001-t0.25" in e.value.message and "move the folder aside" in e.value.hint


def test_a_second_batch_into_the_same_folder_is_refused(plan_folder, tmp_path):
    from pgen.batching.run import _lock

    out = tmp_path / "out"
    held = _lock(out)
    try:
        r = pgenc("batch", plan_folder, "--out", out, "--no-gallery")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert f"another batch is writing into `{out}` (pid {os.getpid()})" in r.stderr
    finally:
        held.close()
    assert pgenc("batch", plan_folder, "--out", out, "--no-gallery").returncode == 0
