"""Benchmark: the rest of seed 002's Table 1 on pgen's trained surrogates, beside the paper.

    python bench/seed002_table1.py                          # every section
    python bench/seed002_table1.py --sections photonic,robustness   # only these; the others keep their rows

Sections (the 4-ink gray ramp and the neural adjoint on 901 targets are in bench/seed002.py):
- photonic: nano-photonics (Sec. 4.4.1) on specs/nets/nano4_100_50_100.onnx (multilayer Mie,
  surrogate/mie.py): the integer spec timed as the whole `pgenc solve SPEC --json` command
  and checked against brute force over the 4096 designs; the continuous spec; its optimum
  rounded to the grid (the paper's "Inversion (rounded)"); a reachable target (the network's
  own output at a continuous design, optimum 0) with --timeout 60.
- contone: integer layer counts of 11 inks summing to 30 (Sec. 4.4.2) on contone11_3x50: HiGHS
  without and with `pgenc bounds` (seed 002 Algorithm 1), and the rounded continuous answer.
- robot: the soft arm (Sec. 4.2) on robot_2x128, with obstacle.
- robustness: the worst L1 deviation in an eps-box (Sec. 3.5) on adm_4x500.
- bounds: `pgenc bounds` on the 4-ink network, then the MILP on one gray target with them.

Every solve is a `pgenc` command in a subprocess (timed end to end, start-up included), with
its own bound cache folder so no section reads another's bounds. Results are kept in
docs/results/seed002_table1.json (one entry per section, with its commit and date) and
rendered to docs/results/seed002_table1.md. Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs" / "inverse"
NETS = ROOT / "specs" / "nets"
STORE = ROOT / "docs" / "results" / "seed002_table1.json"
OUT = ROOT / "docs" / "results" / "seed002_table1.md"
SECTIONS = ("photonic", "contone", "robot", "robustness", "bounds")
PAPER = {
    "photonic": "integer 19.47 vs rounded 30.30 (error on the surrogate); times not given per design",
    "contone": "integer MILP 40 s plus 8 s of bounds; error 1.14 integer vs 1.72 rounded",
    "robot": "9.2 s per target plus 307 s of bounds once; error 0 (NA: 0.0308 in 84.5 s)",
    "robustness": "64 s per design plus 3.64 h of bounds",
    "bounds": "4-ink network: 331 s of bound precomputation (256-core cluster), then 256 s per target",
}


def pgenc(*args, cache: Path, timeout: float = 900) -> tuple[dict | None, float, str]:
    """(JSON result or None, wall seconds, stderr) of one `pgenc` command."""
    env = {**os.environ, "PGEN_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run(["pgenc", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    try:
        return json.loads(proc.stdout), wall, proc.stderr
    except ValueError:
        return None, wall, proc.stderr + proc.stdout


def brief(res: dict | None, wall: float) -> dict:
    if res is None:
        return {"termination": "error", "wall": round(wall, 2)}
    return {"termination": res.get("termination"), "objective": res.get("objective"), "bound": res.get("bound"),
            "gap": res.get("gap"), "backend": res.get("backend"), "incumbent": res.get("incumbent_source"),
            "wall": round(wall, 2), "values": res.get("values")}


def section_photonic(cache: Path) -> dict:
    from pgen.compiler.nn.session import run_batch
    from pgen.surrogate import mie

    net = str(NETS / "nano4_100_50_100.onnx")
    target = np.loadtxt(SPECS / "targets" / "photonic_target.csv", delimiter=",").reshape(-1)
    grid = np.array(list(itertools.product(range(0, 71, 10), repeat=4)), np.float64)
    l1 = lambda X: np.abs(run_batch(net, X).astype(np.float64) - target).sum(axis=1)
    brute = float(l1(grid).min())
    res, wall, _ = pgenc("solve", SPECS / "photonic_integer.pgen", "--json", cache=cache)
    integer = {**brief(res, wall), "brute_force": brute}
    res, wall, _ = pgenc("solve", SPECS / "photonic_continuous.pgen", "--json", "--timeout", 300, cache=cache)
    continuous = brief(res, wall)
    rows = {"integer": integer, "continuous": continuous}
    if res and res.get("values"):
        x = np.asarray(res["values"]["th"], np.float64).reshape(1, -1)
        rounded = np.clip(np.round(x / 10) * 10, 0, 70)
        xi = np.asarray(integer["values"]["th"], np.float64).reshape(1, -1)
        sim = lambda X: float(np.abs(mie.spectrum(X)[0] - target).sum())
        rows["rounded"] = {"x": rounded[0].tolist(), "net_l1": float(l1(rounded)[0]), "sim_l1": sim(rounded)}
        rows["integer"]["sim_l1"] = sim(xi)
        rows["continuous"]["sim_l1"] = sim(x)
    # a reachable target: the network's own spectrum at a continuous design (optimum 0)
    with tempfile.TemporaryDirectory() as tmp:
        reach = run_batch(net, np.array([[17.0, 44.0, 29.0, 61.0]]))[0]
        np.savetxt(Path(tmp) / "t.csv", reach[None].astype(np.float64), delimiter=",")
        (Path(tmp) / "r.pgen").write_text(f'param target : real[200] = csv "t.csv"\nvar th : real[4] in [0, 70]\n'
                                          f'net scatter = network "{net}"\nminimize norm1(scatter(th) - target)\n')
        res, wall, _ = pgenc("solve", Path(tmp) / "r.pgen", "--json", "--timeout", 60, cache=cache)
        rows["reachable"] = brief(res, wall)
    return rows


def section_contone(cache: Path, timeout: float) -> dict:
    spec = SPECS / "contone_integer_11ink.pgen"
    rows = {}
    res, wall, _ = pgenc("solve", spec, "--backend", "highs", "--json", "--timeout", timeout, cache=cache)
    rows["highs"] = brief(res, wall)
    res, wall, _ = pgenc("bounds", spec, "--json", "--time", 600, "--neuron-time", 1, cache=cache)
    rows["bounds"] = {"wall": round(wall, 2), "layers": (res or {}).get("layers")}
    res, wall, _ = pgenc("solve", spec, "--backend", "highs", "--json", "--timeout", timeout, cache=cache)
    rows["highs_after_bounds"] = brief(res, wall)
    # rounded: the continuous relaxation (real counts summing to 30), then largest remainders
    with tempfile.TemporaryDirectory() as tmp:
        text = spec.read_text().replace("var n : int[11] in 0..30", "var n : real[11] in [0, 30]")
        text = text.replace('csv "targets/', f'csv "{SPECS}/targets/').replace('network "../nets/', f'network "{NETS}/')
        (Path(tmp) / "c.pgen").write_text(text)
        res, wall, _ = pgenc("solve", Path(tmp) / "c.pgen", "--backend", "highs", "--json", "--timeout", timeout,
                             cache=cache)
        rows["continuous"] = brief(res, wall)
    if res and res.get("values"):
        from pgen.compiler.nn.session import run_batch

        x = np.asarray(res["values"]["n"], np.float64)
        r = np.floor(x)
        r[np.argsort(-(x - r))[: int(round(30 - r.sum()))]] += 1
        target = np.loadtxt(SPECS / "targets" / "contone11_target.csv", delimiter=",").reshape(-1)
        rows["rounded"] = {"n": r.tolist(), "net_l1": float(np.abs(run_batch(str(NETS / "contone11_3x50.onnx"),
                                                                             r[None])[0] - target).sum())}
    return rows


ROBOT_TARGETS = 20


def section_robot(cache: Path, timeout: float) -> dict:
    """The spec as shipped, then ROBOT_TARGETS more tips: the simulated tips of smooth random
    designs (surrogate/softarm.random_designs, seed 2) with the spec's obstacle kept; each
    answer's tip re-simulated (the simulator's error beside the surrogate's)."""
    import re

    from pgen.surrogate import softarm

    res, wall, _ = pgenc("solve", SPECS / "softrobot_obstacle.pgen", "--json", "--timeout", timeout, cache=cache)
    rows = {"auto": brief(res, wall), "targets": []}
    text = (SPECS / "softrobot_obstacle.pgen").read_text().replace('"../nets/', f'"{NETS}/')
    designs = softarm.random_designs(ROBOT_TARGETS, np.random.default_rng(2))
    tips = softarm.solve(designs)[:, 122:124]
    with tempfile.TemporaryDirectory() as tmp:
        for k, tip in enumerate(tips):
            spec = Path(tmp) / f"robot_{k}.pgen"
            spec.write_text(re.sub(r"param target = \[.*?\]", f"param target = [{tip[0]:.4f}, {tip[1]:.4f}]", text))
            res, wall, _ = pgenc("solve", spec, "--json", "--timeout", timeout, cache=cache)
            row = brief(res, wall)
            row["target"] = [round(float(v), 4) for v in tip]
            if row.get("values"):
                x = np.asarray(row["values"]["x"], np.float64)
                row["sim_l1"] = float(np.abs(softarm.solve(x)[0, 122:124] - np.round(tip, 4)).sum())
            row.pop("values", None)
            rows["targets"].append(row)
            print(f"robot target {k}: {row.get('termination')} {row.get('objective')} in {row['wall']} s", flush=True)
    return rows


def section_robustness(cache: Path, timeout: float) -> dict:
    res, wall, _ = pgenc("solve", SPECS / "robustness.pgen", "--json", "--timeout", timeout, cache=cache)
    rows = {"auto": brief(res, wall)}
    res, wall, _ = pgenc("solve", SPECS / "robustness.pgen", "--backend", "highs", "--json", "--timeout", timeout,
                         cache=cache)
    rows["highs"] = brief(res, wall)
    return rows


def section_bounds(cache: Path, timeout: float) -> dict:
    spec = SPECS / "spectral_gray_4ink.pgen"
    res, wall, _ = pgenc("bounds", spec, "--json", "--time", 600, "--neuron-time", 0.5, cache=cache)
    rows = {"bounds": {"wall": round(wall, 2), "layers": (res or {}).get("layers")}}
    res, wall, _ = pgenc("solve", spec, "--backend", "highs", "--json", "--timeout", timeout, cache=cache)
    rows["highs_after_bounds"] = brief(res, wall)
    return rows


def _git(*args) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _f(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, (int, float)) else str(v)


def _solve_cell(r: dict) -> str:
    if not r:
        return "-"
    text = f"{r.get('termination')} in {r.get('wall')} s"
    if r.get("objective") is not None:
        text += f", objective {_f(r['objective'])}"
    if r.get("bound") is not None:
        text += f", bound {_f(r['bound'])}"
    if r.get("backend"):
        text += f" ({r['backend']}" + (f"; incumbent {r['incumbent']}" if r.get("incumbent") not in (None, r.get("backend")) else "") + ")"
    return text


def _layers(layers) -> str:
    if not layers:
        return "-"
    return "; ".join(f"{l['layer'].split('.')[-1]}: " + " -> ".join(f"{k} {v}" for k, v in l["unstable"].items())
                     + f" ({l['seconds']:.1f} s{', cached' if l.get('cached') else ''})" for l in layers)


def render(store: dict) -> str:
    lines = ["# Seed 002 Table 1 on pgen's trained surrogates (beyond the gray ramp)", "",
             "Written by `bench/seed002_table1.py` from `docs/results/seed002_table1.json`; each section names the "
             "command, commit, date and machine it was measured with. The gray ramp (Sec. 4.1) and the neural "
             "adjoint on 901 targets are in `seed002.md`. Paper figures are seed 002's (Gurobi on a 256-core "
             "cluster, different simulators): a comparison, not a pass mark. Certified = bound within "
             "1e-4 x max(1, |objective|) of the verified objective (`termination: optimal`).", ""]
    titles = {"photonic": "Nano-photonics, integer and rounded (Sec. 4.4.1): nano4_100_50_100",
              "contone": "Contoning, integer layers (Sec. 4.4.2): contone11_3x50",
              "robot": "Soft robot with obstacle (Sec. 4.2): robot_2x128",
              "robustness": "Design robustness (Sec. 3.5): adm_4x500, eps = 1e-3",
              "bounds": "Bound precomputation (Algorithm 1) on the 4-ink network cmyk_4x100"}
    for name in SECTIONS:
        if name not in store:
            continue
        s, r = store[name], store[name]["rows"]
        lines += [f"## {titles[name]}", "", f"Paper: {PAPER[name]}.", "",
                  f"Measured {s['date']}, commit {s['commit']}, {s['machine']}: `{s['command']}`.", ""]
        if name == "photonic":
            lines += ["| case | result | surrogate L1 | simulator L1 |", "|---|---|---|---|",
                      f"| integer `photonic_integer.pgen` (whole command) | {_solve_cell(r['integer'])}; brute force "
                      f"{_f(r['integer']['brute_force'])} | {_f(r['integer'].get('objective'))} | "
                      f"{_f(r['integer'].get('sim_l1'))} |",
                      f"| continuous `photonic_continuous.pgen` | {_solve_cell(r['continuous'])} | "
                      f"{_f(r['continuous'].get('objective'))} | {_f(r['continuous'].get('sim_l1'))} |"]
            if "rounded" in r:
                lines.append(f"| continuous optimum rounded to the grid {r['rounded']['x']} | - | "
                             f"{_f(r['rounded']['net_l1'])} | {_f(r['rounded']['sim_l1'])} |")
            lines.append(f"| reachable target (optimum 0), --timeout 60 | {_solve_cell(r['reachable'])} | "
                         f"{_f(r['reachable'].get('objective'))} | - |")
        elif name == "contone":
            lines += ["| case | result |", "|---|---|",
                      f"| HiGHS, no precomputed bounds | {_solve_cell(r['highs'])} |",
                      f"| `pgenc bounds` (neuron time 1 s) | {r['bounds']['wall']} s: {_layers(r['bounds']['layers'])} |",
                      f"| HiGHS with the cached bounds | {_solve_cell(r['highs_after_bounds'])} |",
                      f"| continuous relaxation (HiGHS) | {_solve_cell(r['continuous'])} |"]
            if "rounded" in r:
                lines.append(f"| its answer rounded (largest remainders) {r['rounded']['n']} | surrogate L1 "
                             f"{_f(r['rounded']['net_l1'])} |")
        elif name in ("robot", "robustness"):
            lines += ["| case | result |", "|---|---|", f"| auto | {_solve_cell(r['auto'])} |"]
            if r.get("highs"):
                lines.append(f"| HiGHS alone | {_solve_cell(r['highs'])} |")
            if r.get("targets"):
                t = r["targets"]
                walls = sorted(x["wall"] for x in t)
                done = [x for x in t if x.get("termination") == "optimal"]
                errs = [x["objective"] for x in t if x.get("objective") is not None]
                sims = [x["sim_l1"] for x in t if x.get("sim_l1") is not None]
                lines += ["", f"{len(t)} more targets (simulated tips of smooth random designs, seed 2; same obstacle): "
                          f"**{len(done)}/{len(t)} certified**; whole command median {walls[len(walls) // 2]:.1f} s, "
                          f"max {walls[-1]:.1f} s; surrogate error mean {np.mean(errs) if errs else float('nan'):.2e}; "
                          f"simulator tip error (L1, re-simulated) mean {np.mean(sims) if sims else float('nan'):.4f}.", "",
                          "| target tip | result | simulator L1 |", "|---|---|---|"]
                lines += [f"| {x['target']} | {_solve_cell(x)} | {_f(x.get('sim_l1'))} |" for x in t]
        elif name == "bounds":
            lines += ["| case | result |", "|---|---|",
                      f"| `pgenc bounds spectral_gray_4ink.pgen --neuron-time 0.5` | {r['bounds']['wall']} s: "
                      f"{_layers(r['bounds']['layers'])} |",
                      f"| HiGHS on the 50 % gray target with them | {_solve_cell(r['highs_after_bounds'])} |"]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per MILP solve")
    args = ap.parse_args(argv)
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    from pgen.core.files import atomic_write_bytes

    sys.path.insert(0, str(ROOT / "bench"))
    from seed002 import _machine

    for name in wanted:
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            fn = globals()[f"section_{name}"]
            rows = fn(Path(cache)) if name == "photonic" else fn(Path(cache), args.timeout)
        store[name] = {"rows": rows, "commit": _git("rev-parse", "--short", "HEAD") or "unknown",
                       "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": _machine(),
                       "command": f"python bench/seed002_table1.py --sections {name} --timeout {args.timeout:g}",
                       "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        atomic_write_bytes(STORE, (json.dumps(store, indent=1, default=float) + "\n").encode())
        atomic_write_bytes(OUT, (render(store) + "\n").encode())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
