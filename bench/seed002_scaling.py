"""Benchmark: seed 002 Sec. 4.7 (Fig. 10), the time to a certified optimum as the network grows.

    python bench/seed002_scaling.py              # 8 networks x 10 targets x (auto, highs), 60 s per solve
    python bench/seed002_scaling.py --quick      # a smoke run: 2 targets, 20 s per solve
    python bench/seed002_scaling.py --nets ink8_6x50,ink8_1x100 --targets 3   # only these; the others keep their rows

Spectral separation (Sec. 4.1) on eight 8-ink surrogates, each made by one `pgenc train` on
data/ink8 (cards in specs/nets/): depth: 6, 8, 10 and 12 hidden layers of 50 ReLUs (Fig. 10a);
width: one hidden layer of 100, 200, 300 and 400 ReLUs (Fig. 10b).

Targets: flat grays, as in the case study the paper builds on (Sec. 4.1's gray ramp,
surrogate/spectral.py `gray_ramp(901)`, reflectance 0.03..0.80): `--targets n` takes n evenly
spaced on the ramp (bench/seed002.py's picks). Not the simulator's spectra of random 8-ink
designs: coverages uniform in [0, 1]^8 print near-black (the training data's mean reflectance
is 0.013), and such a target is nearly reachable, so the relaxation's bound sits at 0 (HiGHS
on ink8_1x100 left it at 0 for 60 s on two of them): no network would certify and the trend
would not show. The light grays lie where the data are thin (all 8 coverages low), so the
optimum there says little about printing; it is still an exact problem on the surrogate.

Each (network, target) is `minimize norm1(ink(x) - gray)` over x : real[8] in [0, 1], compiled
by `pgen.compile_string` and solved by `Problem.solve` with `auto` (the portfolio: neural
adjoint starts, input branch and bound `input-min`, the MILP beside it) and with `highs`
(the MILP alone), one solve at a time in this process, timed end to end (compile, the
lowering's bound tightening and the worker's start included). Certified = termination
`optimal`: the bound within 1e-4 x max(1, |objective|) of the verified objective (the paper
runs to a duality gap of 0).

Results are kept in docs/results/seed002_scaling.json (one entry per network, with its
command, commit, date and machine) and rendered to docs/results/seed002_scaling.md. Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import pgen
from pgen.core.files import atomic_write_bytes
from pgen.surrogate import spectral

ROOT = Path(__file__).resolve().parent.parent
NETS = ROOT / "specs" / "nets"
OUT = ROOT / "docs" / "results" / "seed002_scaling.md"
DEPTH = ("ink8_6x50", "ink8_8x50", "ink8_10x50", "ink8_12x50")
WIDTH = ("ink8_1x100", "ink8_1x200", "ink8_1x300", "ink8_1x400")
BACKENDS = ("auto", "highs")
RAMP = 901
FULL = {"targets": 10, "timeout": 60.0}
QUICK = {"targets": 2, "timeout": 20.0}
PAPER = ("seed 002 Fig. 10 (Gurobi, 256-core cluster; numbers only in the figure): the time to a duality gap "
         "of 0, averaged over 10 target spectra, grows with depth (6 to 12 hidden layers of 50) and with width "
         "(one hidden layer of 100 to 400): each unstable ReLU adds a binary variable and its constraints "
         "(Eq. 5). The 12 x 50 network was solved to global optimality in under a minute (Sec. 5)")


def targets(n: int) -> list[tuple[int, float]]:
    """n flat gray targets evenly spaced on the 901-step ramp: (ramp index, reflectance)."""
    ramp = spectral.gray_ramp(RAMP)[:, 0]
    return [(int(i), float(ramp[i])) for i in np.unique(np.linspace(0, RAMP - 1, n).round().astype(int))]


def spec(net: str, gray: float) -> str:
    return (f"param gray = {gray!r}\nvar x : real[8] in [0, 1]\nnet ink = network \"{net}.onnx\"\n"
            "minimize norm1(ink(x) - gray)\n")


def run(net: str, index: int, gray: float, backend: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    problem = pgen.compile_string(spec(net, gray), base_dir=NETS, name=f"{net}_gray{index}")
    res = problem.solve(backend=backend, timeout=timeout, seed=1)
    wall = time.perf_counter() - t0
    out = {"target": index, "gray": gray, "backend": backend, "termination": str(res.termination),
           "wall": round(wall, 3), "solve": round(res.wall, 3), "member": res.backend,
           "objective": res.objective, "bound": res.bound, "gap": res.gap, "binaries": res.stats.get("bool")}
    if res.has_solution:
        out["x"] = np.asarray(res.values["x"], np.float64).round(6).tolist()
    return out


def train_command(net: str) -> str:
    depth, width = map(int, net.split("_")[1].split("x"))
    return (f"pgenc train data/ink8 --hidden {','.join([str(width)] * depth)} --epochs 200 --seed 0 "
            f"--out specs/nets/{net}.onnx")


def card(net: str) -> dict:
    c = json.loads((NETS / f"{net}.json").read_text())
    return {"layers": c["layers"], "relus": sum(c["settings"]["hidden"]),
            "test_mae_per_band": c["error"]["test_mae_per_band"]}


def measure(nets, n_targets: int, timeout: float, backends, command: str, store: dict, out: Path) -> None:
    from seed002 import _git, _machine   # bench/ is on the path (this script's folder)

    grays = targets(n_targets)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    smoke = n_targets < FULL["targets"] or timeout < FULL["timeout"]
    # untimed warm-up: the first solve of a process pays the imports and the worker's first start
    warmup = pgen.compile_string(spec(nets[0], grays[0][1]), base_dir=NETS, name="warmup")
    for b in backends:
        warmup.solve(backend=b, timeout=2, seed=1)
    for net in nets:
        t0 = time.perf_counter()
        load = os.getloadavg()[0]   # a shared machine: how busy it was as this network began
        rows = []
        for i, gray in grays:
            for b in backends:
                r = run(net, i, gray, b, timeout)
                rows.append(r)
                print(f"{net:11s} gray {gray:.4f} {b:5s}: {r['termination']:8s} {r['wall']:6.2f} s ({r['member']}) "
                      f"objective {_f(r['objective'])} bound {_f(r['bound'])}", flush=True)
        store[net] = {**card(net), "rows": rows, "targets": n_targets, "timeout": timeout,
                      "backends": list(backends), "smoke": smoke, "command": command, "started": started, "load": load,
                      "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": _machine(),
                      "commit": _git("rev-parse", "--short", "HEAD") or "unknown",
                      "seconds": round(time.perf_counter() - t0, 1)}
        atomic_write_bytes(out.with_suffix(".json"), (json.dumps(store, indent=1, default=float) + "\n").encode())
        atomic_write_bytes(out, (render(store) + "\n").encode())


def _short(layers: str) -> str:
    """'8 -> 50 -> 50 -> 50 -> 31' as '8 -> 3 x 50 -> 31'."""
    sizes = layers.split(" -> ")
    hidden = sizes[1:-1]
    if len(hidden) > 1 and len(set(hidden)) == 1:
        return f"{sizes[0]} -> {len(hidden)} x {hidden[0]} -> {sizes[-1]}"
    return layers


def _f(v, digits: int = 5) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def summary(entry: dict, backend: str) -> list[str]:
    """The cells of one (network, backend) row of a summary table."""
    rows = [r for r in entry["rows"] if r["backend"] == backend]
    done = [r["wall"] for r in rows if r["termination"] == "optimal"]
    left = [r for r in rows if r["termination"] != "optimal"]
    both = [r for r in left if r["objective"] is not None and r["bound"] is not None]
    gaps = [r["objective"] - r["bound"] for r in both]
    rel = max((g / max(1.0, abs(r["objective"])) for g, r in zip(gaps, both)), default=0.0)
    parts = [f"gap median {statistics.median(gaps):.5f}, max {max(gaps):.5f} ({100 * rel:.3g} %)"] if gaps else []
    parts += [f"{len(left) - len(gaps)} without an incumbent"] if len(gaps) < len(left) else []
    unfinished = f"{len(left)}: {'; '.join(parts)}" if left else "-"
    times = ([f"{statistics.mean(done):.2f}", f"{statistics.median(done):.2f}", f"{max(done):.2f}"]
             if done else ["-"] * 3)
    # the unfinished counted at the time they ran: a lower bound on the mean time to certify all
    every = statistics.mean(r["wall"] for r in rows) if rows else None
    every = "-" if every is None else (f"{every:.2f}" if not left else f">= {every:.2f}")
    return [f"{len(done)}/{len(rows)}", *times, every, unfinished]


def render(store: dict) -> str:
    smoke = [n for n in DEPTH + WIDTH if n in store and store[n]["smoke"]]
    lines = ["# Seed 002 Sec. 4.7: scalability of neural inverse design with depth and width", ""]
    if smoke:
        which = "every network" if len(smoke) == len(store) else ", ".join(smoke)
        lines += [f"**Smoke run** for {which}: fewer targets or a shorter time limit than the "
                  f"measurement ({FULL['targets']} targets, {FULL['timeout']:g} s per solve); it checks the bench "
                  "and the format, not the trend. The measurement: `python bench/seed002_scaling.py`.", ""]
    lines += ["Written by `bench/seed002_scaling.py` from `seed002_scaling.json` beside it. Paper: " + PAPER +
              ". Ours: HiGHS through python-mip (one thread, in a worker process) and pgen's portfolio, on the "
              "machine below: the comparison is the trend, not the seconds.", ""]
    runs: dict = {}
    for name in [n for n in DEPTH + WIDTH if n in store]:
        e = store[name]
        runs.setdefault((e["started"], e["command"], e["machine"], e["targets"], e["timeout"]), []).append(name)
    for (started, command, machine, n_targets, timeout), names in sorted(runs.items()):
        commits: dict = {}
        for name in names:
            commits.setdefault(store[name]["commit"], []).append(name)
        code = (f"commit {next(iter(commits))}" if len(commits) == 1 else "commits " + ", ".join(
            f"{c} ({', '.join(ns)})" for c, ns in commits.items()))
        loads = [store[n]["load"] for n in names if "load" in store[n]]
        span = f"{min(loads):.1f}" + (f"..{max(loads):.1f}" if max(loads) > min(loads) else "") if loads else ""
        load = f" (load average {span} as each network began)" if loads else ""
        lines.append(f"Measured from {started}, {code}, {machine}{load}, one solve at a time: `{command}` "
                     f"({', '.join(names)}; {n_targets} target{'s' * (n_targets > 1)}, {timeout:g} s per solve).")
    lines += ["", f"Targets: flat grays evenly spaced on seed 002 Sec. 4.1's ramp (`spectral.gray_ramp({RAMP})`, "
              "reflectance 0.03..0.80; n targets: ramp indices `linspace(0, 900, n)`, as in `seed002.md`); the "
              "spec for each network and gray:", "", "```", spec("NET", 0.5).replace("0.5", "GRAY").rstrip(), "```",
              "",
              "Certified = termination `optimal`: the bound within 1e-4 x max(1, |objective|) of the verified "
              "objective. Times are wall seconds per target, compile included; `mean s, all` counts an unfinished "
              "target at the time it ran (a lower bound, marked >=). Gap = verified objective minus bound (L1 on "
              "the surrogate; the % is the largest gap over max(1, |objective|)). MILP binaries = the unstable "
              "ReLUs left after the lowering's bound tightening.", ""]
    head = ["| network | layers | test MAE/band (card) | ReLUs | MILP binaries | backend | certified | mean s | "
            "median s | max s | mean s, all | unfinished: gap |", "|" + "---|" * 12]
    for title, series in (("Depth: hidden layers of 50 (Fig. 10a)", DEPTH),
                          ("Width: one hidden layer (Fig. 10b)", WIDTH)):
        have = [n for n in series if n in store]
        if not have:
            continue
        lines += [f"## {title}", "", *head]
        for n in have:
            e = store[n]
            binaries = next((str(r["binaries"]) for r in e["rows"] if r.get("binaries") is not None), "-")
            net = [n, _short(e["layers"]), f"{e['test_mae_per_band']:.5f}", str(e["relus"]), binaries]
            for b in e["backends"]:
                lines.append("| " + " | ".join([*net, b, *summary(e, b)]) + " |")
        lines.append("")
    lines += ["## Every solve", "", "| network | ramp index | gray | backend | termination | member | time s | "
              "objective | bound | gap |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n in [n for n in DEPTH + WIDTH if n in store]:
        for r in store[n]["rows"]:
            gap = (r["objective"] - r["bound"]) if r["objective"] is not None and r["bound"] is not None else None
            gap = 0.0 if gap is not None and abs(gap) < 5e-6 else gap   # no "-0.00000" at a certified optimum
            lines.append(f"| {n} | {r['target']} | {r['gray']:.4f} | {r['backend']} | {r['termination']} | "
                         f"{r['member']} | {r['wall']:.2f} | {_f(r['objective'])} | {_f(r['bound'])} | {_f(gap)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=None, help=f"targets per network (default {FULL['targets']})")
    ap.add_argument("--timeout", type=float, default=None, help=f"seconds per solve (default {FULL['timeout']:g})")
    ap.add_argument("--nets", default=",".join(DEPTH + WIDTH), help="comma-separated, of: " + ", ".join(DEPTH + WIDTH))
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, of: auto, highs")
    ap.add_argument("--quick", action="store_true",
                    help=f"a smoke run: {QUICK['targets']} targets, {QUICK['timeout']:g} s (unless given)")
    ap.add_argument("--out", type=Path, default=OUT, help="markdown to write; its .json beside it keeps the rows")
    args = ap.parse_args(argv)
    base = QUICK if args.quick else FULL
    n_targets = args.targets if args.targets is not None else base["targets"]
    timeout = args.timeout if args.timeout is not None else base["timeout"]
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    known = DEPTH + WIDTH
    problems = [f"unknown network `{n}` (choose from {', '.join(known)})" for n in nets if n not in known]
    problems += [f"unknown backend `{b}` (choose from {', '.join(BACKENDS)})" for b in backends if b not in BACKENDS]
    problems += [f"--targets {n_targets}: give 1..{RAMP}"] if not 1 <= n_targets <= RAMP else []
    problems += [f"--timeout {timeout:g}: give a positive number of seconds"] if timeout <= 0 else []
    problems += [f"{n} is not in specs/nets: `{train_command(n)}`" for n in nets
                 if n in known and not (NETS / f"{n}.onnx").exists()]
    if not nets or not backends:
        problems.append("--nets and --backends need at least one name each")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return 2
    store_path = args.out.with_suffix(".json")
    store = json.loads(store_path.read_text()) if store_path.exists() else {}
    sys.path.insert(0, str(ROOT / "bench"))
    command = f"python bench/seed002_scaling.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip()
    t0 = time.perf_counter()
    measure(nets, n_targets, timeout, backends, command, store, args.out)
    print(f"wrote {args.out} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
