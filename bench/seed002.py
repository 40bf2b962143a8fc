"""Benchmark: seed 002's experiments on pgen's trained surrogates, beside the paper's figures.

    python bench/seed002.py                # the 4-ink gray ramp: 20 of the 901 targets with auto, 3 with HiGHS alone
    python bench/seed002.py --targets 5    # fewer targets (a smoke test)

Also: neural adjoint (surrogate/neural_adjoint.py) on all 901 gray targets x 50 restarts x up
to 2000 Adam steps (needs torch; skipped without it), and integer inversion of a network of
the photonic size (4 inputs, 100-100 ReLU, 200 outputs, random weights) over 8 levels per
input, timed as the whole `pgenc solve SPEC --json` command.

Spectral separation (seed 002 Sec. 4.1): for a flat gray target g, the CMYK coverages x in
[0, 1]^4 minimising ||ink(x) - g||_1 on specs/nets/cmyk_4x100.onnx (4 x 100 ReLU, trained
on surrogate/spectral.py's YNSN simulator). Each target is solved by `pgen.compile_string`
+ `Problem.solve` (auto: the portfolio, which certifies by input branch and bound; highs:
the MILP alone), in this process, timed end to end (the exact backend's worker start
included). `error` is the certified L1 objective (the paper's "error" on the surrogate);
`simulator L1` is the L1 distance of the simulator's spectrum at the design to the target.

Writes docs/results/seed002.md (or --out). Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import pgen
import pgen.core
from pgen.core.files import atomic_write_bytes
from pgen.surrogate import spectral

CODE_ROOT = Path(pgen.core.__file__).resolve().parent.parent
ROOT = Path(__file__).resolve().parent.parent
RAMP = ROOT / "specs" / "inverse" / "targets" / "gray_ramp_901.csv"
NET = CODE_ROOT / "specs" / "nets" / "cmyk_4x100.onnx"
PAPER = "seed 002 Sec. 4.1: MILP 256 s per target (Gurobi, 256-core cluster, up to 30 cores used) plus 331 s of bound precomputation once; NA 62 s per target on a Titan X"


def spec(gray: float) -> str:
    return (f"param gray = {gray!r}\nvar x : real[4] in [0, 1]\nnet ink = network \"{NET}\"\n"
            "minimize norm1(ink(x) - gray)\n")


def run(gray: float, backend: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    problem = pgen.compile_string(spec(gray), name=f"gray_{gray:.4f}")
    res = problem.solve(backend=backend, timeout=timeout, seed=1)
    wall = time.perf_counter() - t0
    out = {"gray": gray, "backend": backend, "termination": str(res.termination), "wall": wall,
           "member": res.backend, "objective": res.objective, "bound": res.bound, "verified": res.verified}
    if res.has_solution:
        x = np.asarray(res.solutions[0].values["x"], np.float64)
        out["x"] = x.round(6).tolist()
        out["simulator_l1"] = float(np.sum(np.abs(spectral.ynsn(x, spectral.CMYK) - gray)))
    return out


def run_na(ramp, certified: np.ndarray, certified_idx: list):
    try:
        import torch
    except ImportError:
        return None
    from pgen.compiler.nn.forward import plain_relu_layers
    from pgen.surrogate.neural_adjoint import neural_adjoint

    problem = pgen.compile_string(spec(0.5), name="na")
    layers = plain_relu_layers(problem.checked.nets["ink"])
    targets = np.repeat(ramp[:, None], 31, axis=1)
    r = neural_adjoint(layers, targets, np.zeros(4), np.ones(4), restarts=50, steps=2000, seed=0)
    excess = r["l1"][certified_idx] - certified if len(certified_idx) else np.zeros(1)
    print(f"neural adjoint: 901 targets in {r['seconds']:.1f} s on {r['device']}, mean error {r['l1'].mean():.4f}",
          flush=True)
    return {"seconds": r["seconds"], "device": r["device"], "threads": torch.get_num_threads(),
            "mean": float(r["l1"].mean()), "iterations": r["iterations"], "n_cert": len(certified_idx),
            "excess_mean": float(excess.mean()), "excess_max": float(excess.max()),
            "never_below": bool(np.all(excess >= -1e-4 * np.maximum(1, certified)))}


def run_photonic() -> dict:
    import itertools
    import json
    import tempfile

    from pgen.compiler.nn.session import run_batch
    from pgen.surrogate.export import relu_onnx

    rng = np.random.default_rng(2)
    sizes = (4, 100, 100, 200)
    Ws = [rng.normal(0, 1 / np.sqrt(a), (b, a)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "photonic.onnx"
        net.write_bytes(relu_onnx(Ws, bs, 4, names=("x", "y")))
        designs = np.array(list(itertools.product(range(8), repeat=4)), np.float64)
        target = run_batch(str(net), np.array([[3, 5, 1, 6]]) / 7)[0].astype(np.float64) + rng.normal(0, 0.05, 200)
        np.savetxt(Path(tmp) / "target.csv", target[None], delimiter=",")
        (Path(tmp) / "p.pgen").write_text('param target : real[200] = csv "target.csv"\nvar k : int[4] in [0, 7]\n'
                                          'net f = network "photonic.onnx"\nminimize norm1(f(k / 7) - target)\n')
        brute = float(np.min(np.sum(np.abs(run_batch(str(net), designs / 7).astype(np.float64) - target), axis=1)))
        t0 = time.perf_counter()
        out = subprocess.run(["pgenc", "solve", str(Path(tmp) / "p.pgen"), "--json"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
    res = json.loads(out.stdout)
    print(f"photonic-size integer inversion: {wall:.2f} s, {res.get('termination')}, {res.get('objective')} "
          f"(brute force {brute:.6f})", flush=True)
    return {"wall": wall, "termination": res.get("termination"), "backend": res.get("backend"),
            "objective": float(res.get("objective") or float("nan")), "brute": brute}


def _git(*args) -> str:
    try:
        return subprocess.run(["git", "-C", str(CODE_ROOT), *args], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=20, help="gray targets with auto (of the 901; evenly spaced)")
    ap.add_argument("--milp-targets", type=int, default=3, help="of those, how many also with HiGHS alone")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "seed002.md")
    args = ap.parse_args(argv)
    ramp = np.loadtxt(RAMP, comments="#")   # the 901 gray levels (= spectral.gray_ramp(901); a test checks)
    picks = np.unique(np.linspace(0, 900, args.targets).round().astype(int))
    milp = set(picks[np.unique(np.linspace(0, len(picks) - 1, args.milp_targets).round().astype(int))].tolist()) \
        if args.milp_targets else set()
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    rows = []
    for i in picks:
        for backend in ["auto"] + (["highs"] if int(i) in milp else []):
            r = run(float(ramp[i]), backend, args.timeout)
            r["index"] = int(i)
            rows.append(r)
            print(f"target {i:3d} gray {r['gray']:.4f} {backend:5s}: {r['termination']:8s} {r['wall']:6.2f} s "
                  f"({r['member']}) error {r['objective'] if r['objective'] is None else round(r['objective'], 5)} "
                  f"bound {r['bound'] if r['bound'] is None else round(r['bound'], 5)}", flush=True)
    auto = [r for r in rows if r["backend"] == "auto"]
    na = run_na(ramp, np.array([r["objective"] for r in auto if r["termination"] == "optimal"]),
                [r["index"] for r in auto if r["termination"] == "optimal"])
    photonic = run_photonic()
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    certified = [r for r in auto if r["termination"] == "optimal"]
    lines = ["# Seed 002 experiments on pgen's surrogates", "",
             f"Written by `bench/seed002.py`. Command: `python bench/seed002.py {' '.join(sys.argv[1:])}`".rstrip(),
             f"Date: {started}, {(time.perf_counter() - t0) / 60:.1f} min. Code: commit {commit}. "
             f"Machine: {_machine()}; one target at a time. The other Table 1 experiments (nano-photonics, "
             "contone, soft robot, robustness, bound precomputation): `seed002_table1.md`.", "",
             "## 4-ink spectral separation of the gray ramp (Sec. 4.1)", "",
             f"Network `specs/nets/cmyk_4x100.onnx` (4 x 100 ReLU, card `specs/nets/cmyk_4x100.md`); "
             f"{len(auto)} of the 901 flat gray targets (reflectance {ramp[0]:.2f}..{ramp[-1]:.2f}, evenly spaced); "
             f"time limit {args.timeout:g} s per target. Paper: {PAPER}. Certified = bound within "
             "1e-4 x max(1, |objective|) of the verified objective.", "",
             f"**auto**: {len(certified)}/{len(auto)} certified; time per target median "
             f"{statistics.median(r['wall'] for r in auto):.2f} s, max {max(r['wall'] for r in auto):.2f} s "
             f"(no bound precomputation: the input branch and bound needs none); mean error "
             f"{statistics.mean(r['objective'] for r in auto if r['objective'] is not None):.4f}.", "",
             "| target | gray | backend | termination | member | time s | error (L1, surrogate) | bound | simulator L1 | x (C, M, Y, K) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fmt = (lambda v: "-" if v is None else f"{v:.5f}")
        lines.append(f"| {r['index']} | {r['gray']:.4f} | {r['backend']} | {r['termination']} | {r['member']} | "
                     f"{r['wall']:.2f} | {fmt(r['objective'])} | {fmt(r['bound'])} | {fmt(r.get('simulator_l1'))} | "
                     f"{r.get('x', '-')} |")
    lines += ["", "### Neural adjoint on all 901 targets", ""]
    if na is None:
        lines.append("Skipped: PyTorch is not installed (`pip install -e '.[train]'`).")
    else:
        lines += [f"50 random starts per target, up to 2000 Adam steps (lr 0.01, stop after 10 steps without an "
                  f"improvement of 1e-6), L1 loss plus a boundary loss, on {na['device']} "
                  f"({na['threads']} threads): **{na['seconds']:.1f} s for all 901 targets** "
                  f"(paper: 62 s per target on a Titan X); mean error {na['mean']:.4f} "
                  f"(mean {na['iterations']:.0f} iterations per batch). On the {na['n_cert']} targets certified above: "
                  f"NA's error minus the certified optimum, mean {na['excess_mean']:.5f}, max {na['excess_max']:.5f} "
                  f"(never below 0: {na['never_below']})."]
    lines += ["", "## Integer inversion of a photonic-size network (Sec. 4.4.1 shape)", "",
              f"A random 4 -> 100 -> 100 -> 200 ReLU network, 4 inputs in {{0, 1, ..., 7}} (8^4 = 4096 designs), "
              f"`minimize norm1(net(k / 7) - target)`: `pgenc solve SPEC --json` took **{photonic['wall']:.2f} s** "
              f"wall for the whole command (target: under 10 s); termination `{photonic['termination']}` by "
              f"`{photonic['backend']}`; objective {photonic['objective']:.6f}, brute force over all 4096 designs "
              f"(onnxruntime here) {photonic['brute']:.6f}."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, ("\n".join(lines) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


def _machine() -> str:
    import os
    import platform
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    sys.exit(main())
