"""`pgenc dataset`, `pgenc train`, `pgenc property`: the surrogate toolchain's commands.

Every bad input (missing or empty dataset folder, non-binary or wrongly shaped cell,
an all-solid cell, PyTorch not installed) is one `error:` line and exit code 1."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .core.progress import Progress


COMMANDS = ("dataset", "train", "property")


class CommandError(Exception):
    pass


def add_parsers(sub):
    c = sub.add_parser("dataset", help="make a dataset: porous cells labelled by the PDE (D2/D3), or designs and "
                                       "their simulated spectra or shapes "
                                       "(--kind cmyk|ink8|ink44|contone11|softarm|nano4|adm)")
    c.add_argument("--kind", default="porous",
                   help="porous (default) or a design kind: cmyk, ink8, ink44, contone11, softarm, nano4, adm")
    c.add_argument("--grains", type=int, default=None, help="porous: grains per cell (2 for D2, 3 for D3)")
    c.add_argument("--count", type=int, required=True, help="number of cells or designs (D2: 10000, D3: 5000)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--size", type=int, default=16, help="cell side in pixels (default 16)")
    c.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    c.add_argument("--out", required=True, help="folder to write (dataset.npz, manifest.json, histogram.png)")
    c.add_argument("--no-plot", action="store_true", help="do not write histogram.png")

    c = sub.add_parser("train", help="train a surrogate (porous: bnn or relu; design data: relu of --hidden sizes) "
                                     "and export it to ONNX with a model card")
    c.add_argument("data", help="dataset folder made by `pgenc dataset`")
    c.add_argument("--arch", choices=["bnn", "relu"], default=None, help="porous data: bnn or relu")
    c.add_argument("--hidden", default=None, help="design data: hidden layer sizes, e.g. 100,100,100,100")
    c.add_argument("--batchnorm", action="store_true",
                   help="design data: batch normalisation after each hidden layer, before its ReLU")
    c.add_argument("--out", required=True, help="ONNX file to write; NAME.md, NAME.json and NAME_scatter.png go beside it")
    c.add_argument("--epochs", type=int, default=None, help="default: 100 (bnn), 60 (relu)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--lr", type=float, default=None)
    c.add_argument("--no-plot", action="store_true")

    c = sub.add_parser("property", help="D_xx, D_yy and the label of a cell (.npy, .csv/.txt of 0/1, or .png black = solid)")
    c.add_argument("cell")
    c.add_argument("--net", default=None, help="also run this porous surrogate (ONNX) on the cell")
    c.add_argument("--json", action="store_true")


def run(args) -> int:
    from .surrogate.dataset import DatasetError
    from .surrogate.design_data import DesignDataError
    from .surrogate.pde import CellError

    try:
        return {"dataset": cmd_dataset, "train": cmd_train, "property": cmd_property}[args.cmd](args)
    except (CommandError, DatasetError, DesignDataError, CellError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # no torch, train/export disagreement: said plainly
        print(f"error: {e}", file=sys.stderr)
        return 1


def cmd_dataset(args) -> int:
    from .surrogate import dataset, design_data

    if args.kind != "porous":
        if args.kind not in design_data.KINDS:
            raise CommandError(f"unknown --kind `{args.kind}`; choose from porous, {', '.join(design_data.KINDS)}")
        data = design_data.generate(args.kind, args.count, seed=args.seed)
        design_data.write(args.out, data)
        m = data["manifest"]
        print(f"wrote {args.out}: {m['count']} {m['kind']} designs x {m['x']['shape'][1]} -> "
              f"{m['y']['shape'][1]} outputs in {m['seconds']} s ({m['simulator']})")
        return 0
    if args.grains is None:
        raise CommandError("porous cells need --grains (2 for D2, 3 for D3); or give --kind for a design dataset")
    if args.workers < 1:
        raise CommandError(f"--workers must be at least 1, not {args.workers}")
    data = dataset.generate(args.count, args.grains, seed=args.seed, size=args.size, workers=args.workers,
                            progress=Progress(args.count, f"D{args.grains} cells"))
    dataset.write(args.out, data, plot=not args.no_plot)
    m = data["manifest"]
    print(f"wrote {args.out}: {m['count']} cells with {m['grains']} grains in {m['seconds']} s "
          f"({m['generator']['redrawn_below_min']} redrawn with D_xx < {m['generator']['min_d_xx']})")
    width = max(m["histogram"].values())
    for name, n in m["histogram"].items():
        print(f"  {name:>9} {n:6d} {'#' * int(40 * n / max(width, 1))}")
    empty = [k for k, v in m["histogram"].items() if v == 0]
    if empty:
        print(f"warning: no cells in {', '.join(empty)}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from .surrogate import cards, dataset, design_data

    if design_data.is_design_dataset(args.data):
        return _train_design(args)
    if args.batchnorm:
        raise CommandError("--batchnorm is for design data (a folder made by `pgenc dataset --kind ...`)")
    if args.arch is None:
        raise CommandError("porous data needs --arch bnn or --arch relu")
    dataset.load(args.data)  # a clear error before importing torch
    epochs = args.epochs if args.epochs is not None else (100 if args.arch == "bnn" else 60)
    if epochs < 1:
        raise CommandError(f"--epochs must be at least 1, not {epochs}")
    card = cards.build(args.data, args.arch, args.out, epochs=epochs, seed=args.seed, lr=args.lr,
                       progress=Progress(epochs, f"{args.arch} epochs"), plot=not args.no_plot)
    target = f" (target {card['target_mae']})" if card["target_mae"] is not None else ""
    print(f"wrote {args.out}: test MAE {card['mae']['test']}{target}, best epoch {card['best_epoch']}, "
          f"{card['train_seconds']} s; onnxruntime vs PyTorch max |diff| "
          f"{card['onnxruntime_vs_torch_max_abs_diff']:.3g}; card {Path(args.out).with_suffix('.md')}")
    return 0


def _train_design(args) -> int:
    from .surrogate import design_data, design_train

    design_data.load(args.data)  # a clear error before importing torch
    try:
        hidden = [int(h) for h in (args.hidden or "100,100").split(",")]
    except ValueError:
        raise CommandError(f"--hidden `{args.hidden}`: give layer sizes like 100,100,100,100") from None
    if not hidden or min(hidden) < 1:
        raise CommandError(f"--hidden `{args.hidden}`: every layer needs at least one neuron")
    epochs = args.epochs if args.epochs is not None else 200
    if epochs < 1:
        raise CommandError(f"--epochs must be at least 1, not {epochs}")
    card = design_train.build(args.data, hidden, args.out, epochs=epochs, seed=args.seed, lr=args.lr,
                              progress=Progress(epochs, "epochs"), batchnorm=args.batchnorm)
    e = card["error"]
    print(f"wrote {args.out}: {card['layers']}, test MAE per band {e['test_mae_per_band']}, L1 per spectrum "
          f"{e['test_l1_per_spectrum_mean']} (max {e['test_l1_per_spectrum_max']}), {card['train_seconds']} s; "
          f"onnxruntime vs PyTorch max |diff| {card['onnxruntime_vs_torch_max_abs_diff']:.3g}; "
          f"card {Path(args.out).with_suffix('.md')}")
    return 0


def read_cell(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise CommandError(f"`{path}` does not exist")
    try:
        if p.suffix == ".npy":
            a = np.load(p)
        elif p.suffix in (".csv", ".txt"):
            a = np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
        elif p.suffix == ".png":
            from PIL import Image

            g = np.asarray(Image.open(p).convert("L"))
            if not np.all((g == 0) | (g == 255)):
                raise CommandError(f"`{path}`: a cell PNG must be pure black (solid) and white (void); "
                                   f"found gray level {int(g[(g != 0) & (g != 255)][0])}")
            a = (g == 0).astype(np.uint8)
        else:
            raise CommandError(f"`{path}`: unknown cell format `{p.suffix}`; use .npy, .csv, .txt or .png")
    except (ValueError, OSError) as e:
        raise CommandError(f"`{path}` cannot be read: {e}") from None
    a = np.asarray(a)
    flat_row = a.ndim == 2 and a.shape[0] == 1 and a.size >= 4
    if a.ndim != 2 or flat_row:  # [256], [1, 256] (the surrogates' input), [1, 1, 16, 16]
        n = a.size
        side = int(round(np.sqrt(n)))
        if side * side != n or a.squeeze().ndim not in (1, 2):
            raise CommandError(f"`{path}`: a cell must be a 2-D image (or a flat square one), got shape {list(a.shape)}")
        a = a.reshape(side, side)
    return a


def cmd_property(args) -> int:
    from scipy import ndimage

    from .surrogate import pde
    from .surrogate.dataset import quantise
    from .surrogate.geometry import FOUR

    cell = read_cell(args.cell)
    dxx, dyy = pde.d_xx(cell), pde.d_yy(cell)
    solid = cell.astype(bool)
    out = {"cell": args.cell, "shape": list(cell.shape), "porosity": float(1 - solid.mean()),
           "d_xx": dxx, "d_yy": dyy, "label": int(quantise(dxx)) if dxx >= 0.395 else None,
           "grains": int(ndimage.label(solid, structure=FOUR)[1]),
           "void_components": int(ndimage.label(~solid, structure=FOUR)[1]),
           "void_border": bool(not solid[0].any() and not solid[-1].any() and not solid[:, 0].any()
                               and not solid[:, -1].any())}
    if args.net:
        from .compiler.nn.session import run_network

        pred = float(run_network(args.net, cell.astype(np.float32).reshape(-1))[0])
        out.update({"net": args.net, "surrogate": pred, "true": 100 * dxx, "error": pred - 100 * dxx})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.cell}: {cell.shape[0]}x{cell.shape[1]}, porosity {out['porosity']:.4f}, "
          f"{out['grains']} grains, {out['void_components']} void component(s), "
          f"void border: {'yes' if out['void_border'] else 'no'}")
    print(f"D_xx = {dxx:.6f}   D_yy = {dyy:.6f}   label = "
          f"{out['label'] if out['label'] is not None else 'below 40 (outside the label range)'}")
    if args.net:
        print(f"surrogate {args.net}: {out['surrogate']:.4f}   true 100 x D_xx: {out['true']:.4f}   "
              f"error {out['error']:+.4f}")
    return 0
