"""`pgenc score FOLDER`: how many images of a folder (pgen's or any model's) are valid under
seed 000's rules, why the others are not, and what they measure (surrogate/score.py).

Human output is a short table; `--json` prints one object (the summary and a record per
image); `--out FILE` writes that object atomically. Every bad input (a missing or empty
folder, mixed sizes, values that are not phases, contradictory options) is one `error:`
line on stderr and exit code 1."""
from __future__ import annotations

import json
import sys
from pathlib import Path

COMMANDS = ("score",)
SHOW_INVALID = 5            # invalid images named in the human output
PROGRESS_FROM = 200         # a progress bar on stderr for sets of at least this many images


def add_parsers(sub):
    c = sub.add_parser("score", help="validity and properties of a folder of images (.png black = solid, "
                                     ".npy 1 = solid), pgen's or any model's")
    c.add_argument("folder", help="folder of .png/.npy images (a pgen run folder works), or one file")
    c.add_argument("--grains", type=int, default=None, metavar="K",
                   help="valid images have exactly K 4-connected grains (6-connected in 3-D); "
                        "without it the grain count is reported, not checked")
    c.add_argument("--compact", type=int, default=None, metavar="S",
                   help="also require every grain to be compact with this s from some seed (seed 000 Sec. 4.2)")
    c.add_argument("--dag", choices=["manhattan"], default=None,
                   help="also require every grain to grow along this DAG from some seed")
    c.add_argument("--dxx", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="the asked interval [LO, HI) of true D_xx (e.g. 0.60 0.70): report the share inside")
    c.add_argument("--no-pde", action="store_true", help="skip the true D by the PDE (faster)")
    c.add_argument("--phases", type=int, default=2, metavar="N",
                   help="values are phases 0..N-1, phase 0 the pore (default 2: binary)")
    c.add_argument("--invert", action="store_true",
                   help=".npy/.npz arrays hold 1 = pore (PoreSpy's True = pore space); PNGs are read by "
                        "colour (black = solid) either way")
    c.add_argument("--json", action="store_true", help="print one JSON object: the summary and a record per image")
    c.add_argument("--out", default=None, metavar="FILE.json", help="write that JSON object to a file")


def run(args) -> int:
    from .core.errors import PgenError
    from .core.files import atomic_write_bytes
    from .core.progress import Progress
    from .surrogate.score import ScoreError, collect, score_images

    try:
        names, arrays, skipped = collect(args.folder, args.phases, args.invert)
        bar = Progress(len(arrays), "images", enabled=len(arrays) >= PROGRESS_FROM)
        scored = score_images(arrays, names, grains=args.grains, compact=args.compact, dag=args.dag,
                              dxx=args.dxx, pde=not args.no_pde, phases=args.phases, progress=bar)
        result = {"folder": args.folder, **scored, "skipped": skipped}
        text = json.dumps(result, indent=2, allow_nan=False) + "\n"
        if args.out:
            atomic_write_bytes(Path(args.out), text.encode())
    except ScoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except PgenError as e:          # --out cannot be written
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(text)
    else:
        print(table(result))
    if args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def table(r: dict) -> str:
    """The human summary: what valid means, the share, the reasons by frequency, grains,
    D and the interval, diversity."""
    n = r["count"]
    shape = " x ".join(map(str, r["shape"]))
    kind = "binary" if r["phases"] == 2 else f"{r['phases']} phases"
    lines = [f"{r['folder']}: {n} image{'s' * (n != 1)}, {shape} ({kind})",
             "valid means: " + "; ".join(r["rules"])]
    row = lambda k, v: lines.append(f"  {k:<20}{v}")  # noqa: E731
    row("valid", f"{r['valid_count']} / {n}  ({_pct(r['valid_share'])})")
    if r["reason_counts"]:
        row("invalid because", ", ".join(f"{k} {v}" for k, v in r["reason_counts"].items())
            + "  (images; one may have several reasons)")
    if r["grain_counts"]:
        row("grains: images", "  ".join(f"{k}: {v}" for k, v in r["grain_counts"].items())
            + f"   (touching diagonally in {_pct(r['touching_share'])})")
    row("porosity", f"{r['porosity_mean']:.4f} +- {r['porosity_std']:.4f}")
    if r["phases"] > 2 or len(r["shape"]) == 3:
        row("fractions", "  ".join(f"{p}: {f:.4f}" for p, f in enumerate(r["fractions_mean"])))
    if r["d"] and r["phases"] > 2:
        row("D by the PDE", r["d_conducts"])
    for key, s in (r["d"] or {}).items():
        name = key.replace("d_", "D_")
        undefined = f"   ({s['undefined']} undefined: all solid)" if s["undefined"] else ""
        if s["mean"] is None:
            row(name, "undefined for every image" + undefined)
        else:
            row(name, f"{s['mean']:.4f} +- {s['std']:.4f}  (min {s['min']:.4f}, max {s['max']:.4f}){undefined}")
    if r["interval"] is not None:
        lo, hi = r["interval"]
        row(f"D_xx in [{lo:g}, {hi:g})", f"{_pct(r['in_interval_share'])}  "
            f"(valid and inside: {_pct(r['valid_in_interval_share'])})")
    hamming = "" if r["mean_hamming"] is None else f", mean Hamming distance {r['mean_hamming']:.4f}"
    row("distinct", f"{r['distinct']} / {n}{hamming}")
    bad = [im for im in r["images"] if not im["valid"]][:SHOW_INVALID]
    for im in bad:
        lines.append(f"  {im['name']}: " + "; ".join(im["reasons"]))
    more = n - r["valid_count"] - len(bad)
    if more > 0:
        lines.append(f"  ... and {more} more invalid (--json lists every image)")
    return "\n".join(lines)


def _pct(share) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"
