"""`pgenc refine`: generate -> PDE-label -> retrain for K rounds (pgen/refine.py).

Every bad input (a spec without a network on an image, a missing dataset folder, rounds
below 1, an output folder in use, PyTorch not installed) is one `error:` line and exit 1
(errors located in the spec's text are rendered by pgen/cli.py, as for every command)."""
from __future__ import annotations

import sys

COMMANDS = ("refine",)


def add_parsers(sub):
    c = sub.add_parser("refine", help="retrain a porous spec's surrogate on the images it makes the solver generate "
                                      "(generate, label with the PDE, retrain; K rounds) and measure its error on "
                                      "each round's new images")
    c.add_argument("spec", help="porous spec whose network (on an image) is the round-0 surrogate; never overwritten")
    c.add_argument("--data", required=True, help="dataset folder the surrogate was trained on (`pgenc dataset`)")
    c.add_argument("--rounds", type=int, default=3, help="retrainings (default 3); a last generation measures the last")
    c.add_argument("--per-round", type=int, default=20, help="images generated per round (default 20)")
    c.add_argument("--out", required=True, help="new folder: refine.json/.md/.png, generated.npz, round_R/")
    c.add_argument("--seed", type=int, default=0, help="round R draws its images with seed S + R; training seed S")
    c.add_argument("--epochs", type=int, default=20, help="training epochs per round (default 20)")
    c.add_argument("--fine-tune", action="store_true",
                   help="start each training from the current weights (default: from scratch)")
    c.add_argument("--repeat", type=int, default=10,
                   help="times each generated image is repeated in the training split (default 10)")
    c.add_argument("--lr", type=float, default=None, help="learning rate (default: surrogate/train.py's)")
    c.add_argument("--timeout", type=float, default=None, help="seconds per draw (default: the spec's)")
    c.add_argument("--control", action="store_true",
                   help="in rounds 1..K also generate with round 0's surrogate on the same draws (the paired baseline)")
    c.add_argument("--quick", action="store_true",
                   help="let the grown-image search answer draws too (default: the exact solver's images only)")


def run(args) -> int:
    from .refine import RefineError, refine
    from .surrogate.dataset import DatasetError

    if args.timeout is not None and not args.timeout > 0:
        print(f"error: --timeout must be positive, not {args.timeout:g}", file=sys.stderr)
        return 1
    try:
        records = refine(args.spec, args.data, rounds=args.rounds, per_round=args.per_round, out=args.out,
                         seed=args.seed, epochs=args.epochs, fine_tune=args.fine_tune, repeat=args.repeat,
                         quick=args.quick, timeout=args.timeout, lr=args.lr, control=args.control,
                         progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except (RefineError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # no torch; onnxruntime and PyTorch disagree on the export
        print(f"error: {e}", file=sys.stderr)
        return 1
    for r in records:
        print(f"round {r.round}: {r.images} new images, MAE {_fmt(r.mae)}, signed error {_fmt(r.signed_error)}, "
              f"optimistic {_fmt(r.optimistic_share)}, rejected by a PDE check {_fmt(r.rejected_share)}"
              + (f"; round 0's surrogate on these draws: MAE {_fmt(r.control_mae)}" if r.control_seconds is not None
                 else ""))
    first, last = records[0], records[-1]
    if first.mae and last.mae is not None:
        print(f"MAE after {last.round} rounds / before: {last.mae:.2f} / {first.mae:.2f} = {last.mae / first.mae:.2f}")
    print(f"wrote {args.out}/refine.json, refine.md, refine.png", file=sys.stderr)
    return 0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"
