"""Benchmark: SliceGAN's learned density control (seed 001 Sec. IV.C) on the NMC-like targets.

    python bench/slicegan_densities.py                       # runs/baselines/slicegan_nmc, 20 volumes per side
    python bench/slicegan_densities.py --run RUN --run RUN2  # several runs side by side (e.g. density weight 0)
    python bench/slicegan_densities.py --train               # make the data and train the run first (long)

For each run folder (made by `pgenc baseline slicegan` / surrogate.slicegan.build) it loads
model.pt, samples N volumes of side 16 and 32 (noise from default seed 1, so not the run
folder's own samples) and measures them with surrogate.slicegan.score_volumes: the phase
fractions' deviation from the targets (mean and max |fraction - target| per phase), the
spread of S2 between the three axes (isotropy) and the time per volume. This is the
loss-based density control that pgen's exact, constraint-based phase fractions stand
beside (deviation 0 by construction). `slicegan_rows(...)` returns the table as dicts.
Not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "runs" / "baselines" / "slicegan_nmc"
DATA = ROOT / "data" / "nmc2d"
TARGETS = (0.25, 0.60, 0.15)
TRAIN = {"count": 2000, "size": 64, "blobiness": 1.0, "data_seed": 0, "seed": 0, "epochs": 150, "density_weight": 100.0}


def make_run(run=RUN, data=DATA, density_weight: float | None = None, epochs: int | None = None, log=print) -> dict:
    """Write the blob data (if missing) and train the run folder; returns the card."""
    from pgen.surrogate import phase_images as pi
    from pgen.surrogate import slicegan

    if not (Path(data) / "phases.npz").exists():
        pi.write(data, pi.generate(TRAIN["count"], TRAIN["size"], TARGETS, TRAIN["blobiness"], TRAIN["data_seed"]))
    return slicegan.build(data, run, epochs=epochs or TRAIN["epochs"], seed=TRAIN["seed"], samples=20, side=32,
                          fractions=TARGETS,
                          density_weight=TRAIN["density_weight"] if density_weight is None else density_weight,
                          log=log)


def slicegan_rows(run=RUN, volumes: int = 20, sides=(16, 32), seed: int = 1, train: bool = False,
                  training_images: int = 200) -> list[dict]:
    """One row per side: the deviation of SliceGAN's phase fractions from the targets."""
    from pgen.surrogate import phase_images as pi
    from pgen.surrogate import slicegan

    run = Path(run)
    if train or not (run / "model.pt").exists():
        if not train:
            raise FileNotFoundError(f"`{run}` has no model.pt; train it with `python {Path(__file__).name} --train` "
                                    f"or `pgenc baseline slicegan DATA --out {run}`")
        make_run(run)
    card = json.loads((run / "card.json").read_text())
    G, meta = slicegan.load(run)
    targets = list(card["targets"].values())
    names = list(card["targets"])
    try:
        training, _ = pi.load(card["data"]["folder"])
        training = training[:training_images]
    except (pi.PhaseDataError, KeyError):
        training = None
    rows = []
    for side in sides:
        t0 = time.perf_counter()
        vols = slicegan.sample(G, volumes, side, seed=seed)
        per = (time.perf_counter() - t0) / max(volumes, 1)
        sc = slicegan.score_volumes(vols, targets, training)
        rows.append({
            "method": "SliceGAN (loss-based density)", "run": str(run), "density_weight": card["density_weight"],
            "steps": card["steps"], "side": side, "volumes": volumes, "phases": names, "targets": targets,
            "fractions_mean": [round(x, 5) for x in sc["fractions_mean"]],
            "deviation_mean_abs": [round(x, 5) for x in sc["deviation_mean_abs"]],
            "deviation_max_abs": [round(x, 5) for x in sc["deviation_max_abs"]],
            "deviation_max": round(sc["deviation_max"], 5),
            "s2_anisotropy": round(sc["s2"]["anisotropy"], 5),
            "s2_rms_vs_training": [round(x, 5) for x in sc["s2"].get("rms_vs_training") or []],
            "seconds_per_volume": round(per, 4), "device": str(next(G.parameters()).device),
        })
    return rows


def table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)"
    names = rows[0]["phases"]
    head = ("| run | weight | side | vols | " + " | ".join(f"mean dev {n}" for n in names) + " | "
            + " | ".join(f"max dev {n}" for n in names) + " | max | S2 aniso | s/vol |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {Path(r['run']).name} | {r['density_weight']:g} | {r['side']} | {r['volumes']} | "
                     + " | ".join(f"{x:.4f}" for x in r["deviation_mean_abs"]) + " | "
                     + " | ".join(f"{x:.4f}" for x in r["deviation_max_abs"])
                     + f" | {r['deviation_max']:.4f} | {r['s2_anisotropy']:.4f} | {r['seconds_per_volume']:.3f} |")
    t = rows[0]["targets"]
    lines.append(f"\ntargets: {', '.join(f'{n} {x:g}' for n, x in zip(names, t))}; pgen's constraint-based "
                 "phase fractions meet them exactly (deviation 0 up to the voxel count's rounding)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", default=None, help=f"run folder (default {RUN.relative_to(ROOT)})")
    p.add_argument("--volumes", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train", action="store_true", help="make the data and train the (first) run first")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = []
    for i, run in enumerate(args.run or [RUN]):
        rows += slicegan_rows(run, args.volumes, seed=args.seed, train=args.train and i == 0)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
