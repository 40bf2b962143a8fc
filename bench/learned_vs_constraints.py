"""Benchmark: learned generators against pgen's constraints on D2/D3 (issue 12; seed 000 Sec. 3).

    python bench/learned_vs_constraints.py                         # D2 and D3, six intervals
    python bench/learned_vs_constraints.py --datasets d2 --intervals 60-70 --count 10 --learned-count 50
    python bench/learned_vs_constraints.py --methods gan,cgan,pgen  # a subset of the methods

For each dataset and interval [lo, hi) of 100 x D_xx, each method makes a set of images:
- `gan`, `vae` (unconditional, runs/baselines/{gan,vae}_{d2,d3}): one set of --uncond-count
  samples per dataset (seed 1; default 6 x --learned-count), the same set for every interval:
  a user who wants [60, 70) keeps the samples that land there;
- `cgan`, `cvae` (conditioned on the interval): --learned-count samples asked for that
  interval (seed 1); sampling is cheap, so the learned shares are measured on more images
  than pgen's --count;
- `pgen`: `specs/porous/{d}_{lo}_{hi}.pgen` (the binarized surrogate's output in the interval),
  `sample(N, seed=1)`; `pgen-checked`: the same spec plus `require dxx(I) in [lo/100, hi/100)`
  (the PDE's true value; specs/porous/d2_60_70_checked.pgen is this for one interval), made on
  the fly for every interval.
Every image is scored by surrogate/score.py with the spec's rules: exactly K 4-connected grains,
void border, no enclosed void, every grain compact with s <= 3 and grown along the manhattan
DAG from some seed; and the true D_xx (PDE) in the interval. `hit` = valid and true D_xx in the
interval. Time per valid image / per hit = the method's generation wall time (sampling for the
learned models, without training; the whole `sample` call for pgen) over that count; training
time is reported apart. Diversity: distinct hits and their mean pairwise Hamming distance.

A learned model missing from --runs is trained with the defaults of `pgenc baseline` and saved
there. Writes docs/results/learned_vs_constraints.md (+ .json), the grain-count histograms
(learned_vs_constraints_grains.png) and a contact sheet per method and dataset
(learned_vs_constraints_{method}_{d}.png). Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import pgen
from pgen.core.files import atomic_write_bytes
from pgen.surrogate import baselines, dataset
from pgen.surrogate.generative import class_of_interval
from pgen.surrogate.score import mean_hamming, score_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from porous_generation import machine  # noqa: E402  (the machine line every porous bench prints)

ROOT = Path(__file__).resolve().parent.parent
INTERVALS = [(a, min(b, 100)) for a, b in dataset.INTERVALS]
METHODS = ("gan", "vae", "cgan", "cvae", "pgen", "pgen-checked")
LEARNED = ("gan", "vae", "cgan", "cvae")
COMPACT = re.compile(r"compact in \{([\d,\s]+)\}")
GRAINS = re.compile(r"grains (\d+) in")
SURROGATE_LINE = re.compile(r"^require disp\(I\) in ([\[(])\s*(\d+)\s*,\s*(\d+)\s*([\])])\s*$", re.M)
SHEET_TILES = 10


def label(iv) -> str:
    return f"[{iv[0]},{iv[1]}]" if iv[1] == 100 else f"[{iv[0]},{iv[1]})"


def dxx_interval(iv) -> tuple:
    """[lo, hi) of true D_xx as the scorer takes it; [90, 100] is closed, so up to 1.01."""
    a, b = dataset.INTERVALS[class_of_interval(*iv)]
    return a / 100.0, b / 100.0


def spec_text(specs: Path, d: str, iv, checked: bool) -> str:
    text = (specs / f"{d}_{iv[0]}_{iv[1]}.pgen").read_text()
    if not checked:
        return text
    m = SURROGATE_LINE.search(text)
    if m is None:
        raise SystemExit(f"{d}_{iv[0]}_{iv[1]}.pgen: no `require disp(I) in [lo, hi)` line to mirror")
    return text.rstrip("\n") + f"\nrequire dxx(I) in {m.group(1)}{int(m.group(2)) / 100:g}, " \
                               f"{int(m.group(3)) / 100:g}{m.group(4)}\n"


def spec_rules(text: str) -> dict:
    s = COMPACT.search(text)
    return {"grains": int(GRAINS.search(text).group(1)),
            "compact": max(int(v) for v in s.group(1).split(",")) if s else None, "dag": "manhattan"}


# ---------------------------------------------------------------- making images


def learned_model(kind: str, d: str, runs: Path, log) -> dict:
    run = runs / f"{kind}_{d}"
    if (run / "model.pt").exists():
        return baselines.load(run)
    log(f"{run}/model.pt is missing: training {kind} on data/{d} with the defaults")
    data_folder = ROOT / "data" / d
    arrays, manifest = dataset.load(data_folder)
    model = baselines.train(kind, arrays, seed=0, threads=1, log=log)
    baselines.save(run, model, data_folder, manifest, f"bench/learned_vs_constraints.py (pgenc baseline {kind} "
                                                      f"data/{d} --out {run} --seed 0)")
    return model


def pgen_images(text: str, specs: Path, name: str, n: int, timeout: float) -> tuple:
    problem = pgen.compile_string(text, base_dir=specs, name=name)
    run = problem.sample(n, seed=1, timeout=timeout, max_draws=2 * n)
    note = f"{run.made}/{n} made in {run.draws} draws ({run.timed_out} timed out, {run.infeasible} infeasible" \
           + (f", {run.rejected} candidates cut off by their true value" if run.rejected else "") + ")"
    return [c.image for c in run.cells], run.wall, note


def score_records(images, rules: dict) -> list:
    """The scorer's record of each image under the spec's rules (true D_xx included)."""
    if not len(images):
        return []
    return score_images(list(images), grains=rules["grains"], compact=rules["compact"], dag=rules["dag"])["images"]


def figures(images, records, iv) -> dict:
    """Figures of one set of images for one interval: `in_interval` is read from each record's
    true D_xx, so a set scored once serves every interval."""
    lo, hi = dxx_interval(iv)
    inside = [r["d_xx"] is not None and lo <= r["d_xx"] < hi for r in records]
    hits = [np.asarray(a) for a, r, i in zip(images, records, inside) if r["valid"] and i]
    reasons = {}
    for r in records:
        for reason in r["reasons"]:
            key = reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return {"n": len(records), "valid": sum(bool(r["valid"]) for r in records), "inside": sum(inside),
            "hits": len(hits), "distinct_hits": len({a.tobytes() for a in hits}),
            "hamming_hits": mean_hamming(hits, 2) if len(hits) > 1 else None, "reasons": reasons}


def run_plan(args, log) -> list:
    specs = args.specs
    rows = []
    for d in args.datasets:
        models = {k: learned_model(k, d, args.runs, log) for k in args.methods if k in LEARNED}
        rules = spec_rules(spec_text(specs, d, args.intervals[0], False))
        uncond = {}
        for kind in ("gan", "vae"):
            if kind in models:
                images, seconds = baselines.sampler(models[kind])(args.uncond_count, 1)
                uncond[kind] = (images, seconds, score_records(images, rules))
        for iv in args.intervals:
            for method in args.methods:
                t_train = None
                if method in ("gan", "vae"):
                    images, seconds, records = uncond[method]
                    note, t_train = f"{len(images)} samples for all intervals", models[method]["seconds"]
                elif method in ("cgan", "cvae"):
                    images, seconds = baselines.sampler(models[method])(args.learned_count, 1,
                                                                        class_of_interval(*iv))
                    records = score_records(images, rules)
                    note, t_train = f"{len(images)} samples asked for {label(iv)}", models[method]["seconds"]
                else:
                    checked = method == "pgen-checked"
                    images, seconds, note = pgen_images(spec_text(specs, d, iv, checked), specs,
                                                        f"{d}_{iv[0]}_{iv[1]}{'_checked' if checked else ''}",
                                                        args.count, args.timeout)
                    records = score_records(images, rules)
                f = figures(images, records, iv)
                row = {"dataset": d, "interval": list(iv), "method": method, "seconds": seconds,
                       "train_seconds": t_train, "note": note, "rules": rules, **f,
                       "images": [np.asarray(a).astype(int).tolist() for a in images[:SHEET_TILES]],
                       "grains_of_sheet": [r["grains"] for r in records[:SHEET_TILES]],
                       "valid_of_sheet": [r["valid"] for r in records[:SHEET_TILES]],
                       "dxx_of_sheet": [r["d_xx"] for r in records[:SHEET_TILES]],
                       "grain_counts": {str(g): n for g, n in sorted(Counter(r["grains"] for r in records).items())}}
                rows.append(row)
                log(f"{d} {label(iv):9s} {method:13s} {row_line(row)}")
    return rows


# ---------------------------------------------------------------- figures and tables


def _pct(a, b) -> str:
    if not b:
        return "-"
    p = 100 * a / b
    return f"{p:.1f} %" if 0 < p < 10 else f"{p:.0f} %"


def _per(seconds, count) -> str:
    if not count:
        return "-"
    t = seconds / count
    return f"{1000 * t:.2f} ms" if t < 1 else f"{t:.2f} s"


def row_line(r: dict) -> str:
    ham = "-" if r["hamming_hits"] is None else f"{r['hamming_hits']:.3f}"
    return (f"{r['n']:4d} images, valid {_pct(r['valid'], r['n']):>5s}, true in {_pct(r['inside'], r['n']):>5s}, "
            f"hits {r['hits']:3d} ({r['distinct_hits']} distinct, Hamming {ham}); "
            f"{_per(r['seconds'], r['valid'])} per valid, {_per(r['seconds'], r['hits'])} per hit")


def table(rows: list, datasets, intervals, methods) -> list:
    out = ["| dataset | interval | method | images | valid | true D_xx in interval | hits (valid and in) | "
           "distinct hits | mean Hamming of hits | time per valid image | time per hit |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in datasets:
        for iv in intervals:
            for m in methods:
                for r in rows:
                    if r["dataset"] == d and tuple(r["interval"]) == tuple(iv) and r["method"] == m:
                        ham = "-" if r["hamming_hits"] is None else f"{r['hamming_hits']:.3f}"
                        out.append(f"| {d.upper()} | {label(iv)} | {m} | {r['n']} | {_pct(r['valid'], r['n'])} | "
                                   f"{_pct(r['inside'], r['n'])} | {r['hits']} ({_pct(r['hits'], r['n'])}) | "
                                   f"{r['distinct_hits']} | {ham} | {_per(r['seconds'], r['valid'])} | "
                                   f"{_per(r['seconds'], r['hits'])} |")
    return out


def pooled(rows: list, datasets, methods) -> list:
    """Per method and dataset over the intervals: the grain counts and the shares. The
    unconditional models' sets are counted once (they are the same for every interval)."""
    out = ["| dataset | method | images | valid | grain counts (images) | hits over the intervals | "
           "generation s | training s |", "|---|---|---|---|---|---|---|---|"]
    for d in datasets:
        for m in methods:
            rs = [r for r in rows if r["dataset"] == d and r["method"] == m]
            if not rs:
                continue
            once = rs[:1] if m in ("gan", "vae") else rs
            n, valid = sum(r["n"] for r in once), sum(r["valid"] for r in once)
            grains = grain_hist(once)
            hist = ", ".join(f"{k}: {v}" for k, v in grains.items())
            hits = sum(r["hits"] for r in rs)
            gen_s = sum(r["seconds"] for r in once)
            train = f"{rs[0]['train_seconds']:.0f}" if rs[0]["train_seconds"] is not None else "-"
            out.append(f"| {d.upper()} | {m} | {n} | {_pct(valid, n)} | {hist} | {hits} | {gen_s:.2f} | {train} |")
    return out


def grain_hist(rs) -> dict:
    """Images by grain count over the rows `rs`, 6 and more pooled as `6+`."""
    counts = {}
    for r in rs:
        for g, n in r["grain_counts"].items():
            key = g if int(g) < 6 else "6+"
            counts[key] = counts.get(key, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: (len(kv[0]), kv[0])))


def plot_grains(rows, datasets, methods, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["0", "1", "2", "3", "4", "5", "6+"]
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9, 3.2 * len(datasets)), squeeze=False)
    width = 0.8 / max(len(methods), 1)
    for ax, d in zip(axes[:, 0], datasets):
        for j, m in enumerate(methods):
            rs = [r for r in rows if r["dataset"] == d and r["method"] == m]
            once = rs[:1] if m in ("gan", "vae") else rs
            h = grain_hist(once)
            n = max(sum(h.values()), 1)
            ax.bar(np.arange(len(keys)) + (j - (len(methods) - 1) / 2) * width, [h.get(k, 0) / n for k in keys],
                   width, label=m)
        k = int(d[1])
        ax.axvspan(k - 0.45, k + 0.45, color="0.9", zorder=0)
        ax.set_xticks(range(len(keys)), keys)
        ax.set_ylabel("share of images")
        ax.set_title(f"{d.upper()} (cells have {k} grains): 4-connected grain count of the images made")
        ax.legend(fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("grains")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def contact_sheets(rows, datasets, methods, stem: Path) -> list:
    """One sheet per method and dataset: the first images of each interval, grains tinted,
    captions `interval grains valid? 100 x true D_xx`."""
    import io

    from pgen.runtime.cell_output import contact_sheet
    from scipy import ndimage

    written = []
    for d in datasets:
        for m in methods:
            tiles = []
            rs = [r for r in rows if r["dataset"] == d and r["method"] == m]
            for r in rs[:1] if m in ("gan", "vae") else rs:
                for img, g, ok, dxx in zip(r["images"], r["grains_of_sheet"], r["valid_of_sheet"], r["dxx_of_sheet"]):
                    labels = ndimage.label(np.array(img), structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])[0]
                    where = "" if m in ("gan", "vae") else label(r["interval"]) + " "
                    tiles.append((labels, f"{where}{g}g {'ok' if ok else 'x'}"
                                  + ("" if dxx is None else f" {100 * dxx:.0f}")))
            if not tiles:
                continue
            path = stem.with_name(f"{stem.name}_{m.replace('-', '_')}_{d}.png")
            buf = io.BytesIO()
            contact_sheet(tiles).save(buf, format="PNG")
            atomic_write_bytes(path, buf.getvalue())
            written.append(path.name)
    return written


def training_lines(args) -> list:
    out = ["| model | epochs | training s | device, threads | final losses | card |", "|---|---|---|---|---|---|"]
    for d in args.datasets:
        for kind in (m for m in args.methods if m in LEARNED):
            card = args.runs / f"{kind}_{d}" / "card.json"
            if not card.exists():
                continue
            c = json.loads(card.read_text())
            losses = ", ".join(f"{k} {v:.3f}" for k, v in (c["final_losses"] or {}).items())
            rel = card.relative_to(ROOT) if card.is_relative_to(ROOT) else card
            out.append(f"| {kind} {d.upper()} | {c['settings']['epochs']} | {c['train_seconds']:.0f} | "
                       f"{c['runtime']['device']}, {c['runtime']['threads']} | {losses} | `{rel.with_suffix('.md')}` |")
    return out


def _code(text: str) -> str:
    """Markdown inline code that may hold backticks itself."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def report(args, rows, command, started, minutes, loads, sheets) -> str:
    subset = "" if (len(args.datasets) == 2 and len(args.intervals) == 6) else \
        (" Subset: " + ", ".join(d.upper() for d in args.datasets) + "; intervals "
         + ", ".join(label(iv) for iv in args.intervals) + ".")
    lines = [
        "# Learned generators against constraints (issue 12)", "",
        "Written by `bench/learned_vs_constraints.py` (its docstring defines every column).", "",
        f"Command: {_code(command)}", f"Date: {started}, {minutes:.0f} min.{subset}",
        f"Machine: {machine()}; torch at 1 thread, one method at a time. 1-minute load average during the run: "
        f"median {statistics.median(loads):.1f}, max {max(loads):.1f} (this benchmark alone is about 1: the "
        "2 cores were shared with other work, so times are upper bounds).",
        *([f"Note: {args.note}"] if args.note else []), "",
        f"Sets: the unconditional gan and vae sample {args.uncond_count} images once per dataset (every interval "
        f"reads the same set); cgan and cvae sample {args.learned_count} per interval; pgen and pgen-checked ask for "
        f"{args.count} per interval ({args.timeout:g} s per draw, at most {2 * args.count} draws). Valid: the "
        "spec's rules (K grains, 4-connected; void border; no enclosed void; compact s <= 3 and the manhattan DAG "
        "from some seed), checked by surrogate/score.py on the image alone. Hit: valid and true D_xx (PDE) in the "
        "interval. Time per valid image and per hit: generation wall time over that count (training apart, "
        "below).", "",
        "## Per interval", "", *table(rows, args.datasets, args.intervals, args.methods), "",
        "## Per method (intervals pooled)", "",
        "Images and grain counts: the unconditional models' one set; the others' sets of all intervals.", "",
        *pooled(rows, args.datasets, args.methods), "",
        f"![grain counts]({args.out.stem}_grains.png)", "",
        "## Training", "", *training_lines(args), "",
        "Contact sheets (first images of each interval; grains tinted; caption: grains, ok = valid, "
        "100 x true D_xx): " + ", ".join(f"[{s}]({s})" for s in sheets), ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="d2,d3")
    ap.add_argument("--intervals", default="all", help="all, or a comma list like 60-70,90-100")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    ap.add_argument("--count", type=int, default=20, help="images per interval for pgen (default 20)")
    ap.add_argument("--learned-count", type=int, default=200,
                    help="samples per interval for cgan and cvae (default 200)")
    ap.add_argument("--uncond-count", type=int, default=None,
                    help="gan and vae samples per dataset (default 6 x --learned-count)")
    ap.add_argument("--timeout", type=float, default=20.0, help="pgen: seconds per draw (default 20)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "baselines", help="trained models (KIND_D/model.pt)")
    ap.add_argument("--specs", type=Path, default=ROOT / "specs" / "porous")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "learned_vs_constraints.md")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    for d in args.datasets:
        if d not in ("d2", "d3"):
            raise SystemExit(f"unknown dataset `{d}` (d2 or d3)")
    args.methods = [m for m in args.methods.split(",") if m]
    for m in args.methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method `{m}` (choose from {', '.join(METHODS)})")
    if args.intervals == "all":
        args.intervals = INTERVALS
    else:
        try:
            args.intervals = [tuple(int(v) for v in part.split("-")) for part in args.intervals.split(",")]
            for iv in args.intervals:
                class_of_interval(*iv)
        except ValueError as e:
            raise SystemExit(f"--intervals: {e}") from None
    args.uncond_count = args.uncond_count or 6 * args.learned_count
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    prog = Path(sys.argv[0]).resolve()
    command = shlex.join(["python", str(prog.relative_to(ROOT)) if prog.is_relative_to(ROOT) else sys.argv[0],
                          *sys.argv[1:]])
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    loads = []

    def log(line):
        loads.append(os.getloadavg()[0])
        print(line, flush=True)

    rows = run_plan(args, log)
    loads = loads or [os.getloadavg()[0]]
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    plot_grains(rows, args.datasets, args.methods, stem.with_name(stem.name + "_grains.png"))
    sheets = contact_sheets(rows, args.datasets, args.methods, stem)
    text = report(args, rows, command, started, (time.perf_counter() - t0) / 60, loads, sheets)
    atomic_write_bytes(out, text.encode())
    keep = ("dataset", "interval", "method", "n", "valid", "inside", "hits", "distinct_hits", "hamming_hits",
            "seconds", "train_seconds", "grain_counts", "reasons", "note", "rules")
    atomic_write_bytes(out.with_suffix(".json"), (json.dumps(
        {"command": command, "started": started, "minutes": round((time.perf_counter() - t0) / 60, 1),
         "machine": machine(), "load_median": statistics.median(loads), "load_max": max(loads),
         "rows": [{k: r.get(k) for k in keep} for r in rows]}, indent=1) + "\n").encode())
    print(f"wrote {out}, {out.with_suffix('.json').name}, the grain histograms and {len(sheets)} contact sheets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
