"""Benchmark: porous generation in the shape of seed 000 Table 1 (issue 10).

    python bench/porous_generation.py                 # auto 60 s N=10; cpsat, highs, cbc, z3 at 30 s N=3
    python bench/porous_generation.py --checked       # the PDE-checked variant: auto 60 s N=5
    python bench/porous_generation.py --quick         # smoke test: N=2, one interval per dataset
    python bench/porous_generation.py --configs auto  # redo the auto rows, keep the others

An instance is one draw: `pgen.load(spec).sample(1, seed=S, timeout=T, backend=B,
max_draws=1)` with S = 1..N per interval, so each instance has its own grain seeds, `s` in
{1, 2, 3} and solver seed (seed 000 Sec. 5). `auto` is what a user gets (the quick
grown-image search, then the exact solver); a named backend runs with `quick=False`, so its
rows compare the exact solvers themselves. Outcomes: solved (an image, verified),
proved infeasible (decided, no image), unknown (timed out or failed). Time is the
instance's wall time end to end (worker start, lowering, solve, verification, PDE).

Writes a markdown file (default docs/results/porous_generation.md; none with --quick unless
--out is given) and beside it the instances as JSON (`.json`): a run replaces the rows of
the configurations it makes and keeps the others' (with their own provenance), so
`--configs cbc,z3` after a full run redoes two rows; `--fresh` drops the rest. The main
run and the --checked run each own a section. Not a test.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pgen
import pgen.core
from pgen.core.errors import PgenError
from pgen.core.files import atomic_write_bytes

INTERVALS = ((40, 50), (50, 60), (60, 70), (70, 80), (80, 90), (90, 100))
BACKENDS = ("cpsat", "highs", "cbc", "z3")
# seed 000 Table 1: solved of 100 per interval, 600 s timeout, average time per dataset
ANCHORS = {"CPLEX": ({"d2": (100, 99, 99, 98, 100, 41), "d3": (100, 100, 96, 99, 100, 84)}, {"d2": 25, "d3": 12}),
           "Z3": ({"d2": (98, 89, 81, 74, 56, 12), "d3": (100, 97, 97, 97, 96, 54)}, {"d2": 94, "d3": 64})}
TARGET_WALL, TARGET_MEDIAN = 60.0, 1.0
CODE_ROOT = Path(pgen.core.__file__).resolve().parent.parent  # the tree `import pgen` runs
ROOT = Path(__file__).resolve().parent.parent
SURROGATE_LINE = re.compile(r"^require disp\(I\) in ([\[(])\s*(\d+)\s*,\s*(\d+)\s*([\])])\s*$", re.M)


@dataclass
class Instance:
    config: str      # auto or a backend name
    net: str         # bnn or relu
    dataset: str     # d2 or d3
    interval: tuple  # (lo, hi), units 100 x D_xx
    seed: int
    outcome: str = "unknown"   # solved | infeasible | unknown
    wall: float = 0.0
    solve_time: float | None = None   # the record's time_seconds (solver, in the worker)
    candidates: int | None = None
    surrogate: float | None = None
    true: float | None = None          # 100 x true D_xx
    true_in_interval: bool | None = None
    solver: str = ""
    note: str = ""

    @property
    def error(self) -> float | None:
        return None if self.surrogate is None else abs(self.surrogate - self.true)


@dataclass
class Plan:
    configs: list            # [(name, timeout, n)]
    nets: list               # ["bnn"] or ["bnn", "relu"]
    datasets: list
    intervals: tuple
    checked: bool
    results: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    earlier: list = field(default_factory=list)   # stored runs whose rows are kept: [run dict]

    @property
    def shown(self) -> list:
        """Every configuration with rows: earlier runs' (not rerun here), then this run's."""
        mine = {c[0] for c in self.configs}
        kept = [tuple(c) for run in self.earlier for c in run["configs"] if c[0] not in mine]
        return sorted(kept + list(self.configs), key=lambda c: (c[0] != "auto", BACKENDS.index(c[0])
                                                                if c[0] in BACKENDS else 0))


def spec_text(specs: Path, net: str, dataset: str, interval: tuple, checked: bool) -> str:
    name = f"{dataset}_{'relu_' if net == 'relu' else ''}{interval[0]}_{interval[1]}.pgen"
    text = (specs / name).read_text()
    if not checked:
        return text
    m = SURROGATE_LINE.search(text)
    if m is None:
        raise SystemExit(f"{specs / name}: no `require disp(I) in [lo, hi)` line to mirror for the PDE check")
    lo, hi = int(m.group(2)) / 100, int(m.group(3)) / 100
    return text.rstrip("\n") + f"\nrequire dxx(I) in {m.group(1)}{lo:g}, {hi:g}{m.group(4)}\n"


def run_instance(problem, inst: Instance, timeout: float) -> Instance:
    start = time.perf_counter()
    try:
        # auto: the quick grown-image search, then CP-SAT; a named backend: that solver alone
        run = problem.sample(1, seed=inst.seed, timeout=timeout, backend=inst.config, max_draws=1,
                             quick=inst.config == "auto")
    except PgenError as e:
        inst.wall, inst.note = time.perf_counter() - start, f"error {e.code}: {e.message}"
        return inst
    inst.wall = run.wall
    if run.made:
        rec = run.cells[0].record
        inst.outcome, inst.solver = "solved", rec["solver"]
        inst.solve_time, inst.candidates = rec["time_seconds"], rec["candidates"]
        if rec["surrogate"]:
            s = rec["surrogate"][0]
            inst.surrogate, inst.true, inst.true_in_interval = s["value"], s["true"], s["true_in_interval"]
    elif run.infeasible:
        inst.outcome = "infeasible"
    else:
        inst.note = "timed out" if run.timed_out else "; ".join(run.messages) or "failed"
    if run.rejected:
        inst.note = (inst.note + "; " if inst.note else "") + f"{run.rejected} candidates missed the true value"
    return inst


def label(interval: tuple) -> str:
    """As the specs write it: [90, 100] is closed, the others half-open."""
    lo, hi = interval
    return f"[{lo},{hi}]" if hi == 100 else f"[{lo},{hi})"


def describe(inst: Instance) -> str:
    line = (f"{inst.config:6s} {inst.net:4s} {inst.dataset} {label(inst.interval)} seed {inst.seed:2d}: "
            f"{inst.outcome:10s} {inst.wall:7.2f} s")
    if inst.outcome == "solved":
        line += (f"  (solve {inst.solve_time:.2f} s, {inst.solver}, {inst.candidates} cand.)  "
                 f"surrogate {inst.surrogate:.1f} true {inst.true:.1f}")
    return line + (f"  {inst.note}" if inst.note else "")


# ---------------------------------------------------------------- figures


def _median(xs):
    return statistics.median(xs) if xs else None


def _fmt(x, digits=2, unit=""):
    return "-" if x is None else f"{x:.{digits}f}{unit}"


def figures(insts: list) -> dict:
    solved = [i for i in insts if i.outcome == "solved"]
    walls = [i.wall for i in insts]
    errors = [i.error for i in solved if i.error is not None]
    return {"n": len(insts), "solved": len(solved),
            "infeasible": sum(i.outcome == "infeasible" for i in insts),
            "unknown": sum(i.outcome == "unknown" for i in insts),
            "median": _median(walls), "max": max(walls) if walls else None,
            "mean": statistics.fmean(walls) if walls else None,
            "solve_median": _median([i.solve_time for i in solved]),
            "overhead_median": _median([i.wall - i.solve_time for i in solved]),
            "mae": statistics.fmean(errors) if errors else None,
            "true_in": sum(bool(i.true_in_interval) for i in solved),
            "candidates_mean": statistics.fmean([i.candidates for i in solved]) if solved else None,
            "candidates_max": max((i.candidates for i in solved), default=None),
            "solve_max": max((i.solve_time for i in solved), default=None)}


def count_cell(f: dict) -> str:
    if not f["n"]:
        return ""
    extra = [f"{f['infeasible']} inf" if f["infeasible"] else "", f"{f['unknown']} unk" if f["unknown"] else ""]
    extra = ", ".join(e for e in extra if e)
    return f"{f['solved']}/{f['n']}" + (f" ({extra})" if extra else "")


def time_cell(f: dict) -> str:
    if not f["n"]:
        return ""
    return f"{_fmt(f['median'])} / {_fmt(f['max'], 1)} s, MAE {_fmt(f['mae'], 1)}"


def select(results: list, **kw) -> list:
    return [r for r in results if all(getattr(r, k) == v for k, v in kw.items())]


def row_label(config: str, net: str, plan: Plan) -> str:
    return config + (f" ({net.upper()})" if len(plan.nets) > 1 else "")


def header_row(plan: Plan, first: str) -> list:
    cols = [f"{d.upper()} {label(iv)}" for d in plan.datasets for iv in plan.intervals]
    cols += [f"{d.upper()} all" for d in plan.datasets]
    return [f"| {first} | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]


def main_tables(plan: Plan) -> list:
    out = ["Table 1 shape: images made of N instances per interval (solved/N); proved infeasible "
           "(inf, decided without an image) and unknown (unk: timed out or failed) in brackets.", ""]
    out += header_row(plan, "configuration")
    for net in plan.nets:
        for config, timeout, n in plan.shown:
            cells = [count_cell(figures(select(plan.results, config=config, net=net, dataset=d, interval=iv)))
                     for d in plan.datasets for iv in plan.intervals]
            cells += [count_cell(figures(select(plan.results, config=config, net=net, dataset=d)))
                      for d in plan.datasets]
            out.append(f"| {row_label(config, net, plan)}, {timeout:g} s, N={n} | " + " | ".join(cells) + " |")
    for name, (solved, mean) in ANCHORS.items():
        if set(plan.datasets) <= set(solved) and plan.intervals == INTERVALS:
            cells = [f"{v}/100" for d in plan.datasets for v in solved[d]]
            cells += [f"{sum(solved[d])}/600, avg {mean[d]} s" for d in plan.datasets]
            out.append(f"| {name} (seed 000, 600 s, N=100) | " + " | ".join(cells) + " |")
    out += ["", "Time per instance (median / max wall seconds, worker start to verified image or "
            "proof) and the mean absolute error |surrogate - 100 x true D_xx| of the images made.", ""]
    cols = [label(iv) for iv in plan.intervals] + ["all", "mean s", "solver median s",
                                                             "rest median s"]
    out += ["| configuration | dataset | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for net in plan.nets:
        for config, _, _ in plan.shown:
            for d in plan.datasets:
                cells = [time_cell(figures(select(plan.results, config=config, net=net, dataset=d, interval=iv)))
                         for iv in plan.intervals]
                f = figures(select(plan.results, config=config, net=net, dataset=d))
                if not f["n"]:
                    continue
                cells += [time_cell(f), _fmt(f["mean"]), _fmt(f["solve_median"]), _fmt(f["overhead_median"])]
                out.append(f"| {row_label(config, net, plan)} | {d.upper()} | " + " | ".join(cells) + " |")
    out += ["", "`solver median`: the solver's own time for the images made (the record's "
            "`time_seconds`, in the worker); `rest median`: wall minus that (worker start, "
            "lowering, emitting the model, verification with onnxruntime and the PDE)."]
    return out


def target_lines(plan: Plan) -> list:
    autos = select(plan.results, config="auto", net="bnn")
    if not autos:
        return []
    f = figures(autos)
    undecided = f["unknown"]
    slow = sum(i.wall > TARGET_WALL for i in autos)
    met = undecided == 0 and slow == 0 and f["median"] < TARGET_MEDIAN
    return ["", f"**Target** (issue 10): every instance decided within {TARGET_WALL:g} s and the median under "
            f"{TARGET_MEDIAN:g} s, with `auto`. **{'Met' if met else 'Not met'}**: {f['n'] - undecided} of "
            f"{f['n']} decided ({f['solved']} images, {f['infeasible']} proved infeasible), {slow} over "
            f"{TARGET_WALL:g} s, median {_fmt(f['median'])} s, max {_fmt(f['max'])} s; the solver's own median "
            f"{_fmt(f['solve_median'])} s, the rest (worker start, lowering, verification) "
            f"{_fmt(f['overhead_median'])} s."]


def checked_tables(plan: Plan) -> list:
    out = ["Every require of the interval spec plus `require dxx(I) in [lo/100, hi/100)` (the true "
           "value, by the PDE solver): a candidate whose true value misses is cut off and the "
           "solver goes on within the draw's time. `true in` = share of the images made whose true "
           "100 x D_xx is in the interval (target 100 %); candidates = solver answers per image; "
           "time per image = the solver's time for it / the instance's wall time.", "",
           "| configuration | dataset | interval | solved/N | proved infeasible | unknown | true in | "
           "candidates mean (max) | solver s median / max | wall s median / max | MAE |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for net in plan.nets:
        for config, timeout, n in plan.shown:
            for d in plan.datasets:
                groups = [(label(iv), select(plan.results, config=config, net=net, dataset=d, interval=iv))
                          for iv in plan.intervals]
                groups.append(("all", select(plan.results, config=config, net=net, dataset=d)))
                for name, insts in groups:
                    f = figures(insts)
                    if not f["n"]:
                        continue
                    share = f"{f['true_in']}/{f['solved']} ({100 * f['true_in'] / f['solved']:.0f} %)" \
                        if f["solved"] else "-"
                    cand = f"{_fmt(f['candidates_mean'], 1)} ({f['candidates_max']})" if f["solved"] else "-"
                    out.append(f"| {row_label(config, net, plan)}, {timeout:g} s | {d.upper()} | {name} | "
                               f"{f['solved']}/{f['n']} | {f['infeasible']} | {f['unknown']} | {share} | {cand} | "
                               f"{_fmt(f['solve_median'])} / {_fmt(f['solve_max'], 1)} | "
                               f"{_fmt(f['median'])} / {_fmt(f['max'], 1)} | {_fmt(f['mae'], 1)} |")
    return out


# ---------------------------------------------------------------- the file


def _git(*args) -> str:
    try:
        return subprocess.run(["git", "-C", str(CODE_ROOT), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu or platform.processor()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def run_record(plan: Plan, command: str, started: str, wall: float, note: str, complete: bool) -> dict:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (plus uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    loads = plan.loads or [0.0]
    return {"configs": [list(c) for c in plan.configs], "command": command, "started": started,
            "minutes": round(wall / 60, 1), "code": f"commit {commit}{dirty} (`{CODE_ROOT}`)", "machine": machine(),
            "load_median": round(statistics.median(loads), 2), "load_max": round(max(loads), 2),
            "note": note, "complete": complete}


def provenance(plan: Plan, this_run: dict) -> list:
    mine = {c[0] for c in plan.configs}
    runs = [this_run] + [r for r in plan.earlier if any(c[0] not in mine for c in r["configs"])]
    out = []
    for run in runs:
        rows = ", ".join(c[0] for c in run["configs"] if run is this_run or c[0] not in mine)
        if len(runs) > 1:
            out += [f"Rows {rows}:", ""]
        out += [f"Command: `{run['command']}`" + ("" if run["complete"] else " — **interrupted; partial figures**"),
                f"Date: {run['started']}, {run['minutes']:.0f} min. Code: {run['code']}.",
                f"Machine: {run['machine']}. One instance at a time, single-threaded solver. 1-minute load "
                f"average during the run: median {run['load_median']:.1f}, max {run['load_max']:.1f} "
                f"(this benchmark alone is about 1: above that, other work shared the cores)."]
        out += ([f"Note: {run['note']}"] if run["note"] else []) + [""]
    return out[:-1]


def load_store(path: Optional[Path], section: str, plan: Plan) -> None:
    """Earlier instances of this section whose configuration this run does not make again
    (same networks, datasets and intervals only), and their runs' provenance."""
    if path is None or not path.exists():
        return
    stored = json.loads(path.read_text()).get(section, {})
    mine = {c[0] for c in plan.configs}
    for d in stored.get("instances", []):
        inst = Instance(**{**d, "interval": tuple(d["interval"])})
        if inst.config not in mine and inst.net in plan.nets and inst.dataset in plan.datasets \
                and inst.interval in plan.intervals:
            plan.results.append(inst)
    plan.earlier = [r for r in stored.get("runs", []) if any(c[0] not in mine for c in r["configs"])]


def save_store(path: Path, section: str, plan: Plan, this_run: dict) -> None:
    data = json.loads(path.read_text()) if path.exists() else {}
    data[section] = {"runs": [this_run] + plan.earlier,
                     "instances": [{**dataclasses.asdict(i), "interval": list(i.interval)} for i in plan.results]}
    atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


def section_markers(name: str) -> tuple:
    return f"<!-- section {name} -->", f"<!-- end section {name} -->"


def write_section(path: Path, name: str, body: list) -> None:
    """Replace this run's section of the file (the main run and the --checked run each own one)."""
    order = ["main", "checked"]
    sections = {}
    if path.exists():
        text = path.read_text()
        for other in order:
            a, b = section_markers(other)
            if a in text and b in text:
                sections[other] = text[text.index(a):text.index(b) + len(b)]
    a, b = section_markers(name)
    sections[name] = "\n".join([a, *body, b])
    head = ("# Porous generation (issue 10, seed 000 Table 1)\n\n"
            "Written by `bench/porous_generation.py`; each section by its own run.\n")
    text = head + "".join(f"\n{sections[s]}\n" for s in order if s in sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode())


def report(plan: Plan, this_run: dict) -> list:
    if plan.checked:
        body = ["", "## PDE-checked generation", ""] + provenance(plan, this_run)
        return body + [""] + checked_tables(plan) + [""]
    body = ["", "## Surrogate intervals (Table 1)", ""] + provenance(plan, this_run)
    body += ["", "An instance is one draw (`sample(1, seed=S, max_draws=1)`, S = 1..N per interval): its own "
             "grain seeds, compactness s in {1, 2, 3}, manhattan DAG and solver seed (seed 000 Sec. 5). "
             "`auto` is what a user gets: the quick grown-image search (runtime/grow.py, in the main process), "
             "then CP-SAT; a named backend runs alone (`quick=False`), so its rows compare the exact solvers. "
             "In seed 000 `solved` counts instances with an image; proved infeasible instances are decided "
             "but not solved. Seed 000's CPLEX and Z3 ran 100 instances per interval with 600 s each on "
             "an Intel Xeon 3.30 GHz.", ""]
    return body + main_tables(plan) + target_lines(plan) + [""]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=None, help="instances per interval with auto (10; 5 with --checked)")
    ap.add_argument("--n-backend", default="3",
                    help="instances per interval with each named backend: 3, or per backend: 3,cbc=1")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per instance with auto")
    ap.add_argument("--backend-timeout", type=float, default=30.0, help="seconds per instance with a named backend")
    ap.add_argument("--configs", default=None,
                    help=f"comma list of auto and backends (default auto,{','.join(BACKENDS)}; auto with --checked)")
    ap.add_argument("--datasets", default="d2,d3")
    ap.add_argument("--relu", action="store_true", help="also the *_relu_* specs (ReLU surrogates)")
    ap.add_argument("--checked", action="store_true", help="the PDE-checked variant (true D_xx required too)")
    ap.add_argument("--quick", action="store_true", help="smoke test: N=2, the interval [60,70) only")
    ap.add_argument("--specs", type=Path, default=CODE_ROOT / "specs" / "porous")
    ap.add_argument("--out", type=Path, default=None,
                    help="markdown file (default docs/results/porous_generation.md; none with --quick)")
    ap.add_argument("--fresh", action="store_true",
                    help="drop the stored rows of configurations this run does not make (default: keep them)")
    ap.add_argument("--note", default="", help="a line for the results file (e.g. what shared the machine)")
    return ap.parse_args(argv)


def make_plan(args) -> Plan:
    n = args.n if args.n is not None else (2 if args.quick else 5 if args.checked else 10)
    names = args.configs if args.configs is not None else ("auto" if args.checked else ",".join(("auto",) + BACKENDS))
    names = [b for b in names.split(",") if b]
    backends = [b for b in names if b != "auto"]
    n_backend = {}
    try:
        for part in (p for p in args.n_backend.split(",") if p and not (args.quick and args.n_backend == "3")):
            name, _, count = part.rpartition("=")
            for b in ([name] if name else BACKENDS):
                n_backend[b] = int(count)
    except ValueError:
        raise SystemExit(f"--n-backend: `{args.n_backend}` is not a count or backend=count list") from None
    for b in list(backends) + list(n_backend):
        if b not in BACKENDS:
            raise SystemExit(f"unknown backend `{b}` (choose from {', '.join(BACKENDS)})")
    datasets = [d for d in args.datasets.split(",") if d]
    for d in datasets:
        if d not in ("d2", "d3"):
            raise SystemExit(f"unknown dataset `{d}` (d2 or d3)")
    configs = ([("auto", args.timeout, n)] if "auto" in names else []) + \
        [(b, args.backend_timeout, n_backend.get(b, 2 if args.quick else 3)) for b in backends]
    if not configs:
        raise SystemExit("--configs: nothing to run")
    return Plan(configs, ["bnn", "relu"] if args.relu else ["bnn"], datasets,
                ((60, 70),) if args.quick else INTERVALS, args.checked)


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    out = args.out if args.out is not None else (None if args.quick else ROOT / "docs/results/porous_generation.md")
    prog = Path(sys.argv[0]).resolve()
    command = shlex.join(["python", str(prog.relative_to(ROOT)) if prog.is_relative_to(ROOT) else sys.argv[0],
                          *sys.argv[1:]])
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    total = sum(n for _, _, n in plan.configs) * len(plan.nets) * len(plan.datasets) * len(plan.intervals)
    print(f"{total} instances; code {CODE_ROOT}; specs {args.specs}", flush=True)
    problems = {}
    complete = False

    section = "checked" if plan.checked else "main"
    store = None if out is None else out.with_suffix(".json")
    if not args.fresh:
        load_store(store, section, plan)

    def save(done: bool) -> None:
        if out is not None:
            this_run = run_record(plan, command, started, time.perf_counter() - t0, args.note, done)
            write_section(out, section, report(plan, this_run))
            save_store(store, section, plan, this_run)

    try:
        for config, timeout, n in plan.configs:
            for net in plan.nets:
                for d in plan.datasets:
                    for iv in plan.intervals:
                        key = (net, d, iv)
                        if key not in problems:
                            problems[key] = pgen.compile_string(spec_text(args.specs, net, d, iv, plan.checked),
                                                                base_dir=args.specs, name=f"{d}_{net}_{iv[0]}_{iv[1]}")
                        for seed in range(1, n + 1):
                            inst = run_instance(problems[key], Instance(config, net, d, iv, seed), timeout)
                            plan.results.append(inst)
                            plan.loads.append(os.getloadavg()[0])
                            print(f"[{len(plan.loads)}/{total}] {describe(inst)}", flush=True)
                    save(False)  # partial figures survive a killed run
        complete = True
    except KeyboardInterrupt:
        print("interrupted: writing the figures so far", flush=True)
    finally:
        save(complete)
    for net in plan.nets:
        for config, timeout, n in plan.configs:
            for d in plan.datasets:
                f = figures(select(plan.results, config=config, net=net, dataset=d))
                if f["n"]:
                    print(f"{row_label(config, net, plan):14s} {d}: {count_cell(f):22s} median {_fmt(f['median'])} s, "
                          f"max {_fmt(f['max'])} s, MAE {_fmt(f['mae'], 1)}"
                          + (f", true in interval {f['true_in']}/{f['solved']}" if plan.checked else ""))
    if out is not None:
        print(f"wrote {out}")
    return 0 if complete else 130


if __name__ == "__main__":
    sys.exit(main())
