"""Benchmark: 3-D volumes by constraints (pgen) beside SliceGAN's loss-based density control.

    python bench/volumes_3d.py                        # 20 volumes per side, sides 16 and 32
    python bench/volumes_3d.py --volumes 5 --no-exact

Writes docs/results/volumes_3d.md. Rows:
- pgen, three phases at the NMC-like targets of seed 001 Sec. IV (pore 0.25, active 0.60,
  binder 0.15; counts rounded to whole voxels, the rest to binder), `touch active binder`,
  `open pore`: phase-fraction deviation, S2 isotropy, seconds per verified volume (whole
  `sample` call, verification and the PDE record included);
- the exact solver alone on the same phase spec (CP-SAT, no quick search) at side 16;
- pgen `specs/porous3d/cube16.pgen` (two grains, 16^3): seconds per verified volume;
- SliceGAN (runs/baselines/slicegan_nmc, bench/slicegan_densities.slicegan_rows), if trained.
Not a test.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "volumes_3d.md"
TARGETS = (0.25, 0.60, 0.15)
NAMES = ("pore", "active", "binder")


def phase_spec(side: int) -> str:
    n = side ** 3
    pore, active = round(TARGETS[0] * n), round(TARGETS[1] * n)
    return (f"image E : grid {side} x {side} x {side}\n"
            f"phases E {{ pore {pore} cells; active {active} cells; binder {n - pore - active} cells; "
            "touch active binder; open pore }\n")


def pgen_rows(volumes: int, sides, exact: bool) -> list[dict]:
    import pgen
    from pgen.surrogate import slicegan

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            modes = [("pgen (quick search + exact backend)", True)] + ([("pgen, CP-SAT alone", False)]
                                                                      if exact and side <= 16 else [])
            for label, quick in modes:
                path = Path(tmp) / f"nmc_{side}.pgen"
                path.write_text(phase_spec(side))
                want = volumes if quick else 1
                t0 = time.perf_counter()
                run = pgen.load(path).sample(want, seed=1, timeout=120, backend="cpsat", quick=quick,
                                             max_draws=None if quick else 1)
                wall = time.perf_counter() - t0
                row = {"method": label, "side": side, "volumes": run.made, "asked": want,
                       "seconds_per_volume": round(wall / max(run.made, 1), 3) if run.made else None,
                       "wall": round(wall, 1)}
                if run.made:
                    vols = np.stack([c.image for c in run.cells])
                    sc = slicegan.score_volumes(vols, TARGETS)
                    row.update(deviation_max=round(sc["deviation_max"], 6),
                               deviation_mean_abs=[round(x, 6) for x in sc["deviation_mean_abs"]],
                               s2_anisotropy=round(sc["s2"]["anisotropy"], 5))
                rows.append(row)
                print(row, file=sys.stderr)
    return rows


def cube_row(volumes: int) -> dict:
    import pgen

    t0 = time.perf_counter()
    run = pgen.load(ROOT / "specs" / "porous3d" / "cube16.pgen").sample(volumes, seed=1, timeout=120)
    wall = time.perf_counter() - t0
    areas = [sum(g["area"] for g in c.record["images"]["V"]["grains"]) for c in run.cells]
    return {"method": "pgen cube16 (2 grains)", "side": 16, "volumes": run.made, "asked": volumes,
            "seconds_per_volume": round(wall / max(run.made, 1), 3), "wall": round(wall, 1),
            "solid_voxels_median": float(np.median(areas)) if areas else None,
            "draws": run.draws, "infeasible": run.infeasible}


def machine() -> str:
    sys.path.insert(0, str(ROOT / "bench"))
    from porous_generation import machine as describe

    return describe()


def markdown(rows: list[dict], cube: dict, sg: list[dict], args) -> str:
    lines = ["# Volumes by constraints beside SliceGAN (issue 12)", "",
             f"Command: `python bench/volumes_3d.py --volumes {args.volumes}"
             + (" --no-exact" if args.no_exact else "") + "`", "",
             f"Machine: {machine()} "
             "(shared with training jobs during this run: times are upper bounds).", "",
             "Targets (seed 001 Sec. IV, NMC-like): pore 0.25, active 0.60, binder 0.15. pgen states them "
             "as whole voxel counts (pore exact; active and binder rounded to the nearest voxel), plus "
             "`touch active binder` and `open pore`; every volume is verified (counts, contact, 6-connected "
             "pore components reaching a face).", "",
             "| method | side | volumes | max abs deviation | mean abs deviation (pore, active, binder) | "
             "S2 anisotropy | s / volume |", "|---|---|---|---|---|---|---|"]
    for r in rows + sg:
        dev = r.get("deviation_mean_abs")
        lines.append(f"| {r['method']} | {r['side']} | {r['volumes']}/{r.get('asked', r['volumes'])} | "
                     f"{r.get('deviation_max', '-')} | {', '.join(f'{x:.5f}' for x in dev) if dev else '-'} | "
                     f"{r.get('s2_anisotropy', '-')} | {r.get('seconds_per_volume') or 'no volume in 120 s'} |")
    lines += ["", f"Two grains in 16^3 (`specs/porous3d/cube16.pgen`): {cube['volumes']}/{cube['asked']} verified "
              f"volumes, {cube['seconds_per_volume']} s each ({cube['draws']} draws, {cube['infeasible']} proved "
              f"infeasible), median solid {cube['solid_voxels_median']} voxels.", "",
              "pgen's deviation is the rounding of the targets to whole voxels (at most 0.5 / side^3); "
              "SliceGAN's comes from the loss (density weight in its card) and varies per volume."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--volumes", type=int, default=20)
    p.add_argument("--sides", type=int, nargs="+", default=[16, 32])
    p.add_argument("--no-exact", action="store_true", help="skip the CP-SAT-alone row")
    p.add_argument("--run", default=str(ROOT / "runs" / "baselines" / "slicegan_nmc"))
    args = p.parse_args(argv)
    rows = pgen_rows(args.volumes, args.sides, not args.no_exact)
    cube = cube_row(args.volumes)
    sg = []
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from slicegan_densities import slicegan_rows

        sg = [dict(r, method=f"SliceGAN (density weight {r['density_weight']:g})", asked=r["volumes"])
              for r in slicegan_rows(args.run, volumes=args.volumes, sides=tuple(args.sides))]
    except (FileNotFoundError, ImportError) as e:
        print(f"SliceGAN rows skipped: {e}", file=sys.stderr)
    text = markdown(rows, cube, sg, args)
    OUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
