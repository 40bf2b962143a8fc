"""Neural adjoint at the paper's scale on one device: 901 gray targets x 50 restarts x up to
2000 Adam steps (seed 002 Sec. 4.1) on the 4-, 8- and 44-ink networks, timed on the CPU here or
on a GPU where one is lent; writes `docs/results/na_device.md` from the JSON records.

    python bench/na_device.py --device cpu --record docs/results/na_device.json     # here
    python bench/na_device.py --device cuda --record $OUT/na_cuda.json             # GPU machine
    python bench/na_device.py --merge docs/results/na_device.json na_cuda.json     # the table

The same code (surrogate/neural_adjoint.py) runs on both; only `device` differs. The GPU
figure excludes CUDA's start-up (one small warm-up run first) and includes moving the answers
back to the host. Runs without installing pgen: the package is assembled from the checkout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETS = {"cmyk_4x100": 4, "ink8_4x150": 8, "ink44_2x50": 44}
PAPER = {"cmyk_4x100": "62 s per target (Titan X)", "ink44_2x50": "99 s per target (Titan X)",
         "ink8_4x150": "-"}


def _import_pgen():
    """`pgen.surrogate.neural_adjoint`, from the installed package or, on a bare machine, from
    a package folder of links into this checkout (pyproject's package-dir mapping)."""
    try:
        from pgen.surrogate import neural_adjoint
        return neural_adjoint
    except ImportError:
        pass
    shim = Path(tempfile.mkdtemp()) / "pgen"
    shim.mkdir()
    for f in (ROOT / "pgen").glob("*.py"):
        (shim / f.name).symlink_to(f)
    for sub in ("core", "dsl", "compiler", "runtime", "surrogate"):
        (shim / sub).symlink_to(ROOT / sub)
    sys.path.insert(0, str(shim.parent))
    for name in [m for m in sys.modules if m == "pgen" or m.startswith("pgen.")]:
        del sys.modules[name]
    from pgen.surrogate import neural_adjoint
    return neural_adjoint


def measure(device: str, restarts: int, steps: int, targets: int) -> dict:
    import torch

    na = _import_pgen()
    ramp = np.linspace(0.03, 0.80, targets)
    record = {"device": device, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": _machine(device), "date": time.strftime("%Y-%m-%d %H:%M"),
              "commit": _git("rev-parse", "--short", "HEAD"), "restarts": restarts, "steps": steps,
              "targets": targets, "nets": {}}
    for name, k in NETS.items():
        layers = na.relu_layers(str(ROOT / "specs" / "nets" / f"{name}.onnx"))
        m = len(np.asarray(layers[-1][1]))
        grays = np.repeat(ramp[:, None], m, axis=1)
        # warm-up: CUDA context, kernels, allocator (not part of the figure)
        na.neural_adjoint(layers, grays[:2], np.zeros(k), np.ones(k), restarts=4, steps=20, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = na.neural_adjoint(layers, grays, np.zeros(k), np.ones(k), restarts=restarts, steps=steps,
                              seed=0, device=device)
        wall = time.perf_counter() - t0
        record["nets"][name] = {"inputs": k, "seconds": wall, "mean_l1": float(r["l1"].mean()),
                                "max_l1": float(r["l1"].max()), "iterations": r["iterations"]}
        print(f"{name}: {targets} targets x {restarts} restarts on {device}: {wall:.2f} s, "
              f"mean L1 {r['l1'].mean():.4f}", flush=True)
    return record


def _machine(device: str) -> str:
    if device.startswith("cuda"):
        import torch
        return f"{torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores"
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def write_table(records: list[dict], out: Path) -> None:
    lines = ["# Neural adjoint at the paper's scale, CPU and GPU", "",
             "Written by `bench/na_device.py --merge` from the JSON records beside it. Each record was made by "
             "`python bench/na_device.py --device DEVICE --record FILE`; the same code "
             "(`surrogate/neural_adjoint.py`) on both. Flat gray targets 0.03..0.80, L1 loss plus the boundary "
             "loss, Adam lr 0.01, a run stops after 10 steps without an improvement of 1e-6. Time: all targets "
             "together, after a warm-up run; paper: seed 002 Sec. 4.1 (per target).", ""]
    for rec in records:
        lines += [f"- {rec['device']}: {rec['machine']}, torch {rec['torch']} ({rec['threads']} threads), "
                  f"{rec['date']}, commit {rec['commit']}"]
    lines += ["", "| network | inputs | targets x restarts x steps | " +
              " | ".join(f"{r['device']} s" for r in records) + " | mean L1 (" +
              " / ".join(r["device"] for r in records) + ") | paper |",
              "|---|---|---|" + "---|" * len(records) + "---|---|"]
    for name in NETS:
        have = [r for r in records if name in r["nets"]]
        if not have:
            continue
        first = have[0]
        lines.append(f"| {name} | {first['nets'][name]['inputs']} | {first['targets']} x {first['restarts']} x "
                     f"{first['steps']} | " + " | ".join(f"{r['nets'][name]['seconds']:.2f}" if name in r['nets']
                                                         else "-" for r in records)
                     + " | " + " / ".join(f"{r['nets'][name]['mean_l1']:.4f}" for r in have) + f" | {PAPER[name]} |")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--record", type=Path, help="write this run's JSON record here")
    ap.add_argument("--merge", nargs="+", type=Path, help="JSON records to tabulate (no run)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "na_device.md")
    ap.add_argument("--targets", type=int, default=901)
    ap.add_argument("--restarts", type=int, default=50)
    ap.add_argument("--steps", type=int, default=2000)
    a = ap.parse_args(argv)
    if a.merge:
        write_table([json.loads(p.read_text()) for p in a.merge], a.out)
        return 0
    rec = measure(a.device, a.restarts, a.steps, a.targets)
    if a.record:
        a.record.parent.mkdir(parents=True, exist_ok=True)
        a.record.write_text(json.dumps(rec, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
