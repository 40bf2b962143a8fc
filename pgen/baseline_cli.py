"""`pgenc baseline KIND DATA --out RUN`: train a learned baseline (seeded) on a porous dataset,
sample it and score the samples against seed 000's rules (surrogate/score.py).

Kinds: surrogate/baselines.py BASELINES (gan, cgan, vae, cvae; a new one is an entry there).
A conditional kind samples N images per interval (all six, or `--interval LO HI`); an
unconditional one samples N images, and `--interval` only says which interval to report.

RUN holds `model.pt`, `card.json`, `card.md` (written when it trains), `samples/` (a pgen
image run folder: NNNN.png black = solid, NNNN.npy grain labels, NNNN.json the image's
score record, contact_sheet.png, summary.json), `contact_sheet.png` (ten images of each
interval) and `score.json` (settings, timing, the score of each group of samples and a
record per image). `--from RUN0` samples a saved model again without training.

Every bad input (a missing dataset, a bad interval or count, a model of another kind, no
PyTorch) is one `error:` line and exit code 1.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

COMMANDS = ("baseline",)
SHEET_PER_GROUP = 10


class CommandError(Exception):
    pass


def add_parsers(sub):
    from .surrogate.baselines import BASELINES

    c = sub.add_parser("baseline", help="train a learned baseline (DCGAN, VAE, or their conditional variants) "
                                        "on a porous dataset, sample it and score the samples")
    c.add_argument("kind", choices=list(BASELINES) + ["slicegan"],
                   help="gan, cgan (conditioned on the D_xx interval), vae, cvae; slicegan: 3-D volumes from "
                        "2-D n-phase images (surrogate/slicegan.py)")
    c.add_argument("data", help="dataset folder made by `pgenc dataset` (D2: --grains 2, D3: --grains 3); "
                                "slicegan: also a phase-image folder (python -m pgen.surrogate.phase_images --out DIR)")
    c.add_argument("--out", required=True, help="run folder to write (model.pt, card, samples/, score.json)")
    c.add_argument("--epochs", type=int, default=None,
                   help="default: enough to show 300,000 cells (30 on D2, 60 on D3)")
    c.add_argument("--seed", type=int, default=0, help="training and sampling seed (default 0)")
    c.add_argument("--samples", type=int, default=200,
                   help="images to sample (per interval for a conditional kind; default 200; 0: train only)")
    c.add_argument("--norm", choices=["batch", "instance"], default=None,
                   help="GAN generator normalisation (default batch, seed 001 Sec. II D)")
    c.add_argument("--interval", nargs=2, default=None, metavar=("LO", "HI"),
                   help="an interval of 100 x D_xx, one of 40 50, 50 60, ..., 90 100: the one a conditional "
                        "kind samples (default: all six) and the one reported")
    c.add_argument("--grains", type=int, default=None,
                   help="valid images have exactly this many grains (default: the dataset's)")
    c.add_argument("--compact", type=int, default=None,
                   help="valid grains are compact with this s from some seed (default: the dataset's largest s)")
    c.add_argument("--dag", choices=["manhattan", "none"], default="manhattan",
                   help="valid grains grow along the manhattan DAG from some seed (default; none: not checked)")
    c.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when torch sees one")
    c.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    c.add_argument("--batch", type=int, default=None, help="batch size (default 64)")
    c.add_argument("--lr", type=float, default=None, help="learning rate (default 2e-4 GAN, 1e-3 VAE)")
    c.add_argument("--from", dest="from_run", default=None, metavar="RUN",
                   help="sample the model saved in RUN (its model.pt) instead of training")
    c.add_argument("--no-score", action="store_true", help="sample without scoring")
    c.add_argument("--side", type=int, default=32, help="slicegan: volume side, a multiple of 16 (default 32)")
    c.add_argument("--fractions", default=None,
                   help="slicegan: target phase fractions, e.g. 0.25,0.60,0.15 (default: the data's)")
    c.add_argument("--density-weight", type=float, default=None,
                   help="slicegan: weight of the density term in the generator loss (default 100; 0: none)")


def run(args) -> int:
    from .core.errors import PgenError
    from .surrogate.dataset import DatasetError
    from .surrogate.image_folder import ScoreError

    try:
        return cmd_baseline(args)
    except (CommandError, DatasetError, ScoreError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except PgenError as e:          # a file or folder that cannot be written
        print(f"error: {e.message}", file=sys.stderr)
        return 1


def parse_interval(values) -> int:
    """The interval index (0..5) of `--interval LO HI`."""
    from .surrogate.generative import class_of_interval

    try:
        lo, hi = (float(v) for v in values)
    except ValueError:
        raise CommandError(f"--interval {' '.join(values)}: give two numbers, e.g. --interval 60 70") from None
    try:
        return class_of_interval(lo, hi)
    except ValueError as e:
        raise CommandError(f"--interval: {e}") from None


def _check(args) -> None:
    for name, value, least in (("--samples", args.samples, 0), ("--epochs", args.epochs, 1),
                               ("--threads", args.threads, 1), ("--batch", args.batch, 2),
                               ("--grains", args.grains, 0), ("--compact", args.compact, 1)):
        if value is not None and value < least:
            raise CommandError(f"{name} must be at least {least}, not {value}")
    if args.samples > 9999:
        raise CommandError(f"--samples must be at most 9999 (4-digit names), not {args.samples}")
    if args.lr is not None and not args.lr > 0:
        raise CommandError(f"--lr must be positive, not {args.lr:g}")
    if args.from_run and any(v is not None for v in (args.epochs, args.norm, args.batch, args.lr)):
        raise CommandError("--from samples a saved model: leave out --epochs, --norm, --batch and --lr")
    if args.norm is not None and args.kind not in ("gan", "cgan"):
        raise CommandError(f"--norm is the GAN generator's choice; `{args.kind}` has no normalisation layers")


def cmd_baseline(args) -> int:
    from .surrogate import baselines, dataset

    if args.kind == "slicegan":
        return cmd_slicegan(args)
    _check(args)
    interval = parse_interval(args.interval) if args.interval is not None else None
    arrays, manifest = dataset.load(args.data)
    out = Path(args.out)
    if args.from_run:
        model = baselines.load(args.from_run)
        if model["kind"] != args.kind:
            raise CommandError(f"`{args.from_run}` holds a {model['kind']}, not a {args.kind}")
        card = None
        print(f"loaded {args.from_run}/model.pt: {model['kind']}, {model['settings']['epochs']} epochs, "
              f"trained in {model['seconds']:.1f} s", file=sys.stderr)
    else:
        options = {"epochs": args.epochs, "seed": args.seed, "batch": args.batch, "lr": args.lr,
                   "norm": args.norm, "device": args.device, "threads": args.threads,
                   "log": lambda line: print(line, file=sys.stderr, flush=True)}
        model = baselines.train(args.kind, arrays, **options)
        card = baselines.save(out, model, args.data, manifest, _command(args))
        print(f"wrote {out}/model.pt and card.md: {model['kind']}, {model['settings']['epochs']} epochs in "
              f"{model['seconds']:.1f} s on {model['runtime']['device']}", file=sys.stderr)
    if args.samples == 0:
        return 0
    n_groups = 1 if not model["settings"].get("classes") or interval is not None else 6
    if args.samples * n_groups > 9999:
        raise CommandError(f"--samples {args.samples} for each of {n_groups} intervals makes more than 9999 "
                           "images (4-digit names): ask for fewer, or one --interval")
    groups = sample_groups(model, args.samples, args.seed, interval)
    rules = scoring_rules(args, manifest)
    scored = None if args.no_score else score_groups(groups, rules, interval, model)
    write_run(out, model, groups, scored, rules, args, card)
    print(summary_text(model, groups, scored, rules))
    print(f"wrote {out}/samples, {out}/contact_sheet.png" + ("" if scored is None else f", {out}/score.json"),
          file=sys.stderr)
    return 0


def cmd_slicegan(args) -> int:
    """`pgenc baseline slicegan DATA --out RUN`: surrogate/slicegan.py's build (its run folder)."""
    import torch

    from .surrogate import phase_images, slicegan

    if args.from_run or args.norm or args.interval or args.batch or args.lr or args.no_score:
        raise CommandError("slicegan takes --epochs, --seed, --samples, --side, --fractions, --density-weight, "
                           "--device and --threads only")
    if args.samples < 1 or (args.epochs is not None and args.epochs < 1) or args.threads < 1:
        raise CommandError("--samples, --epochs and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    fractions = None if args.fractions is None else phase_images.parse_fractions(args.fractions)
    weight = slicegan.DENSITY_WEIGHT if args.density_weight is None else args.density_weight
    card = slicegan.build(args.data, args.out, epochs=args.epochs or slicegan.EPOCHS, seed=args.seed,
                          samples=args.samples, side=args.side, device=args.device, fractions=fractions,
                          density_weight=weight, log=lambda line: print(line, file=sys.stderr, flush=True))
    sc = card["score"]
    print(f"slicegan: {card['steps']} steps in {card['train_seconds']} s on {card['device']}; "
          f"{card['samples']['count']} volumes {args.side}^3; |fraction - target| mean "
          + ", ".join(f"{n} {x:.4f}" for n, x in zip(card["targets"], sc["deviation_mean_abs"]))
          + f"; max {sc['deviation_max']:.4f}; S2 anisotropy {sc['s2_anisotropy']:.4f}")
    print(f"wrote {args.out}: model.pt, card.md, card.json, samples/, slices.png, score.json", file=sys.stderr)
    return 0


def _command(args) -> str:
    parts = ["pgenc", "baseline", args.kind, args.data, "--out", args.out, "--seed", str(args.seed)]
    for flag, value in (("--epochs", args.epochs), ("--norm", args.norm), ("--batch", args.batch),
                        ("--lr", args.lr), ("--device", args.device)):
        if value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


def sample_groups(model, n: int, seed: int, interval: int | None) -> list[dict]:
    """[{"interval": k or None, "images", "seconds"}]: one group per interval of a conditional
    model (the same latent vectors, drawn with `seed`, for each), one group otherwise."""
    from .surrogate.baselines import is_conditional, sampler

    sample = sampler(model)
    if not is_conditional(model):
        images, seconds = sample(n, seed)
        return [{"interval": None, "images": images, "seconds": seconds}]
    ks = [interval] if interval is not None else list(range(6))
    groups = []
    for k in ks:
        images, seconds = sample(n, seed, k)
        groups.append({"interval": k, "images": images, "seconds": seconds})
    return groups


def scoring_rules(args, manifest: dict) -> dict:
    s_choices = (manifest.get("generator") or {}).get("s_choices")
    return {"grains": args.grains if args.grains is not None else manifest.get("grains"),
            "compact": args.compact if args.compact is not None else (max(s_choices) if s_choices else None),
            "dag": None if args.dag == "none" else args.dag}


def score_groups(groups, rules: dict, interval: int | None, model) -> list[dict]:
    """score_images for each group, against its own interval (a conditional group) or the
    reported one; unconditional groups also get the share of samples in each interval."""
    from .core.progress import Progress
    from .surrogate.dataset import INTERVAL_NAMES, INTERVALS
    from .surrogate.generative import interval_class
    from .surrogate.score import score_images

    total = sum(len(g["images"]) for g in groups)
    bar = Progress(total, "scoring", enabled=total >= 100)
    out = []
    for g in groups:
        k = g["interval"] if g["interval"] is not None else interval
        dxx = None if k is None else (INTERVALS[k][0] / 100.0, INTERVALS[k][1] / 100.0)
        names = [f"{_prefix(g)}{i + 1:04d}" for i in range(len(g["images"]))]
        s = score_images(list(g["images"]), names, dxx=dxx, progress=bar, **rules)
        cls = interval_class([100 * r["d_xx"] if r["d_xx"] is not None else -1 for r in s["images"]])
        valid = [r["valid"] for r in s["images"]]
        s["interval_shares"] = {name: round(float((cls == j).mean()), 6) for j, name in enumerate(INTERVAL_NAMES)}
        s["valid_interval_shares"] = {name: round(float(((cls == j) & valid).mean()), 6)
                                      for j, name in enumerate(INTERVAL_NAMES)}
        s["sample_seconds"] = round(g["seconds"], 6)
        s["seconds_per_valid"] = g["seconds"] / s["valid_count"] if s["valid_count"] else None
        s["train_seconds_per_valid"] = model["seconds"] / s["valid_count"] if s["valid_count"] else None
        out.append(s)
    bar.close()
    return out


def _prefix(group) -> str:
    from .surrogate.dataset import INTERVALS

    k = group["interval"]
    return "" if k is None else f"{INTERVALS[k][0]}_{min(INTERVALS[k][1], 100)}_"


def write_run(out: Path, model, groups, scored, rules, args, card) -> None:
    """samples/ (a pgen image run folder), contact_sheet.png, score.json."""
    import numpy as np
    from scipy import ndimage

    from .core.files import atomic_write_bytes
    from .runtime.cell_output import contact_sheet, write_cells
    from .surrogate.dataset import INTERVAL_NAMES

    cells, tiles = [], []
    for gi, g in enumerate(groups):
        recs = scored[gi]["images"] if scored else [None] * len(g["images"])
        for i, (image, rec) in enumerate(zip(g["images"], recs)):
            labels = ndimage.label(image, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])[0].astype(np.int16)
            record = {"kind": model["kind"], "index": i + 1, "sample_seed": args.seed,
                      "interval": None if g["interval"] is None else INTERVAL_NAMES[g["interval"]],
                      **({"score": rec} if rec else {})}
            caption = f"{i + 1:04d}" if rec is None else (
                f"{rec['grains']}g {'ok' if rec['valid'] else 'x'}"
                + (f" {100 * rec['d_xx']:.0f}" if rec["d_xx"] is not None else ""))
            if g["interval"] is not None:
                caption = f"{INTERVAL_NAMES[g['interval']]} " + caption
            cells.append({"image": image, "labels": labels, "record": record, "caption": caption})
            if i < SHEET_PER_GROUP:
                tiles.append((labels, caption))
    summary = {"kind": model["kind"], "data": str(args.data), "seed": args.seed,
               "samples_per_group": args.samples, "rules": rules,
               "groups": [None if g["interval"] is None else INTERVAL_NAMES[g["interval"]] for g in groups]}
    write_cells(out / "samples", cells, summary)
    buf = _png_bytes(contact_sheet(tiles))
    atomic_write_bytes(out / "contact_sheet.png", buf)
    if scored is None:
        return
    result = {"kind": model["kind"], "data": str(args.data), "model": str(Path(args.from_run or out) / "model.pt"),
              "seed": args.seed, "samples_per_group": args.samples, "rules": rules,
              "train_seconds": round(model["seconds"], 2), "runtime": model["runtime"],
              "settings": model["settings"],
              "groups": [{"sampled_for": None if g["interval"] is None else INTERVAL_NAMES[g["interval"]],
                          **{k: v for k, v in s.items() if k != "images"}} for g, s in zip(groups, scored)],
              "images": [r for s in scored for r in s["images"]]}
    atomic_write_bytes(out / "score.json", (json.dumps(result, indent=2, allow_nan=False) + "\n").encode())


def _png_bytes(image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def summary_text(model, groups, scored, rules) -> str:
    from .surrogate.dataset import INTERVAL_NAMES

    n = sum(len(g["images"]) for g in groups)
    t = sum(g["seconds"] for g in groups)
    lines = [f"{model['kind']}: {n} samples in {t:.3f} s (training {model['seconds']:.1f} s)"]
    if scored is None:
        return lines[0]
    lines.append("valid means: " + "; ".join(scored[0]["rules"]))
    for g, s in zip(groups, scored):
        where = "all samples" if g["interval"] is None else f"asked {INTERVAL_NAMES[g['interval']]}"
        grains = "  ".join(f"{k}: {v}" for k, v in s["grain_counts"].items())
        line = (f"  {where}: valid {s['valid_count']}/{s['count']} ({100 * s['valid_share']:.1f} %); "
                f"grains {grains}")
        if s["interval"] is not None:
            lo, hi = s["interval"]
            line += (f"; true D_xx in [{lo:g}, {min(hi, 1.0):g}{']' if hi > 1 else ')'}: "
                     f"{100 * s['in_interval_share']:.1f} % (valid and inside {100 * s['valid_in_interval_share']:.1f} %)")
        line += f"; distinct {s['distinct']}, mean Hamming {s['mean_hamming'] or 0:.3f}"
        per = s["seconds_per_valid"]
        line += ("; no valid image" if per is None else
                 f"; {1000 * per:.2f} ms per valid image ({s['train_seconds_per_valid']:.2f} s with training)")
        lines.append(line)
        if g["interval"] is None:
            lines.append("    true D_xx by interval: " + "  ".join(
                f"{k} {100 * v:.0f} %" for k, v in s["interval_shares"].items()))
    return "\n".join(lines)
