"""`pgenc refine`: a surrogate that learns from the images the solver makes with it.

The solver finds the images on which a surrogate is most wrong (seed 000 Sec. 5: a mean
error of about 10 on generated images, where the test MAE is 4.2), because it searches for
inputs the network maps into the interval, and the network's errors are such inputs. A
refine run closes the loop for K rounds:

  round r = 0..K: generate N images with the spec, its network replaced by the current
    surrogate (OUT/round_r/spec.pgen: the user's text, file paths rewritten); label each
    with the PDE; measure the surrogate against the truth on these *new* images (MAE, mean
    signed error, share optimistic, share a PDE check rejects); then, for r < K, add them
    to the training set and train round r + 1's surrogate (surrogate/train.py's recipe on
    the dataset plus every generated image so far, from scratch or fine-tuned from the
    current weights) and export it with its card (OUT/round_{r+1}/net.onnx).

So round K's figures are those of the surrogate retrained K times, on images it generated
itself and was never trained on (an image already in the training set is not counted).
Round r draws its images with seed `seed + r` (fresh grain seeds and `s`).

OUT/refine.json (the records), OUT/refine.md (a table), OUT/refine.png (error per round),
OUT/generated.npz (every generated image, its PDE values and round), OUT/round_r/images/
(the run folder of `pgenc solve --out`). This lives beside pgen/api.py: it drives the
runtime (generation) and the surrogate toolchain (training), which do not import each other.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .core.files import atomic_write_bytes


class RefineError(ValueError):
    """A refine run that cannot start (the message says why and what to do)."""


@dataclass
class RoundRecord:
    """One round: the images its surrogate generated and how wrong the surrogate was on them.
    Errors are in the network's units (100 x D_xx); signed error = surrogate - true, so a
    positive value (optimistic) promises more diffusion than the PDE finds."""
    round: int
    network: str                 # the surrogate that generated this round's images
    sha256: str
    asked: int
    images: int                  # new images measured (generated, not already trained on)
    repeats: int                 # generated images already in the training set (not measured)
    draws: int
    mae: Optional[float]
    signed_error: Optional[float]
    optimistic_share: Optional[float]
    rejected_share: Optional[float]  # candidates whose true value misses an interval (a PDE check's rejects)
    generate_seconds: float
    trained_on_generated: int    # generated images this round's network was trained on (0: the user's)
    train_seconds: Optional[float]
    dataset_test_mae: Optional[float]  # the network's MAE on the dataset's test split (its card)
    dataset_in_interval_mae: Optional[float]  # ... on the test cells it puts in the spec's interval
    dataset_in_interval_cells: int
    folder: str
    # --control: round 0's surrogate on this round's draws (same seed), the paired baseline
    control_images: int = 0
    control_mae: Optional[float] = None
    control_signed_error: Optional[float] = None
    control_optimistic_share: Optional[float] = None
    control_rejected_share: Optional[float] = None
    control_seconds: Optional[float] = None


@dataclass
class Setup:
    """What a run needs, checked before anything is made."""
    problem: object               # the user's spec, loaded (pgen.api.Problem)
    net_name: str
    net_path: Path
    arch: str
    arrays: dict
    manifest: dict


def refine(spec: str | Path, data: str | Path, rounds: int = 3, per_round: int = 20, out: str | Path = "runs/refine",
           seed: int = 0, epochs: int = 20, fine_tune: bool = False, repeat: int = 10, quick: bool = False,
           timeout: Optional[float] = None, lr: Optional[float] = None, control: bool = False,
           progress: Optional[Callable[[str], None]] = None) -> list[RoundRecord]:
    """Run `rounds` rounds of generate -> PDE-label -> retrain, then a last generation that
    measures the last surrogate; returns one RoundRecord per generation (rounds + 1).
    `repeat`: how often each generated image is repeated in the training split (each with
    its 8 symmetries); `quick`: let the grown-image search answer draws too (default: the
    exact solver's images only, where the surrogate errs most); `timeout`: seconds per draw
    (default: the spec's); `control`: in rounds 1..K also generate with round 0's surrogate
    on the same draws (how hard a round's draws are differs much more between seeds than
    the retrained surrogates differ: measured, docs/results/refine_d2.md)."""
    say = progress or (lambda msg: None)
    setup = _setup(spec, data, rounds, per_round, epochs, repeat)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RefineError(f"the output folder `{out}` exists and is not empty; choose a new one")
    out.mkdir(parents=True, exist_ok=True)
    round0 = out / "round_0"
    round0.mkdir()
    net = round0 / "net.onnx"
    shutil.copyfile(setup.net_path, net)
    for ext in (".json", ".md"):  # the card: it says the units (terms._units reads it)
        if setup.net_path.with_suffix(ext).exists():
            shutil.copyfile(setup.net_path.with_suffix(ext), net.with_suffix(ext))
    pool = {"images": np.zeros((0, *setup.arrays["images"].shape[1:]), np.uint8), "d_xx": np.zeros(0),
            "d_yy": np.zeros(0), "round": np.zeros(0, np.int16)}
    seen = set()
    records: list[RoundRecord] = []
    state, train_info = None, _user_card(setup.net_path)
    settings = {"spec": str(spec), "data": str(data), "rounds": rounds, "per_round": per_round, "seed": seed,
                "epochs": epochs, "start": "fine-tune" if fine_tune else "scratch", "repeat": repeat,
                "images_from": "grown-image search and solver" if quick else "the exact solver only",
                "lr": lr, "control": control, "units": "100 x D_xx; signed error = surrogate - true (> 0: optimistic)"}
    for r in range(rounds + 1):
        folder = out / f"round_{r}"
        problem = _round_problem(setup.problem, setup.net_name, net, folder / "spec.pgen")
        say(f"round {r}: generating {per_round} images with {net} (seed {seed + r})")
        t0 = time.perf_counter()
        run = problem.sample(per_round, seed=seed + r, timeout=timeout, quick=quick,
                             on_cell=lambda cell, run: say(f"  {_cell_line(cell)}"))
        gen_seconds = time.perf_counter() - t0
        new = [c for c in run.cells if c.image.tobytes() not in seen]
        _write_images(folder / "images", problem, run, seed + r)
        rec = _measure(r, net, run, new, gen_seconds, folder, train_info,
                       _in_interval_error(net, problem, setup, train_info.get("seed", seed)))
        if r == 0:
            problem0 = problem  # round 0's surrogate, for --control
        elif control:
            _control(rec, problem0, per_round, seed + r, timeout, quick, seen, folder / "control", say)
        records.append(rec)
        pool = _grow_pool(pool, new, r)
        seen.update(c.image.tobytes() for c in new)
        _write_outputs(out, records, pool, settings)
        say(f"round {r}: {rec.images} new images, MAE {_fmt(rec.mae)}, signed {_fmt(rec.signed_error)}, "
            f"optimistic {_fmt(rec.optimistic_share)}, rejected by a PDE check {_fmt(rec.rejected_share)} "
            f"({gen_seconds:.0f} s)" + (f"; round 0's surrogate on these draws: MAE {_fmt(rec.control_mae)}"
                                        if rec.control_seconds is not None else ""))
        if r == rounds:
            break
        net = out / f"round_{r + 1}" / "net.onnx"
        net.parent.mkdir()
        if fine_tune and state is None:
            from .surrogate.train import state_from_onnx

            state = state_from_onnx((folder / "net.onnx").read_bytes(), setup.arch)
        say(f"round {r}: training {net} on the dataset + {len(pool['images'])} generated images "
            f"({'fine-tuning' if fine_tune else 'from scratch'}, {epochs} epochs)")
        card, state = _train(setup, pool, net, state, lr, r, settings)
        train_info = {"seconds": card["train_seconds"], "test_mae": card["mae"]["test"], "seed": seed,
                      "images": int(len(pool["images"]))}
        say(f"round {r}: wrote {net}: dataset test MAE {card['mae']['test']}, {card['train_seconds']} s")
    _plot(out / "refine.png", records)
    return records


# ---------------------------------------------------------------- checks


def _setup(spec, data, rounds: int, per_round: int, epochs: int, repeat: int) -> Setup:
    from .api import load
    from .runtime.terms import surrogate_terms
    from .surrogate import dataset as ds
    from .surrogate.train import require_torch

    for name, value in (("rounds", rounds), ("images per round", per_round), ("epochs", epochs),
                        ("repeat", repeat)):
        if value < 1:
            raise RefineError(f"{name} must be at least 1, not {value}")
    problem = load(spec)
    checked = problem.checked
    terms = surrogate_terms(checked)
    if not checked.grids or not terms:
        raise RefineError(f"`{spec}` bounds no network applied to an image (`require net(I) in [a, b]`): "
                          "refine retrains the surrogate of a porous spec")
    names = sorted({t[1].func for t in terms})
    if len(names) > 1:
        raise RefineError(f"`{spec}` bounds {len(names)} networks on images ({', '.join(names)}); "
                          "refine retrains one surrogate")
    if any(t[5] != 100.0 for t in terms):
        raise RefineError(f"network `{names[0]}`: its model card does not say `100 x D_xx` units; refine "
                          "trains on the porous convention (surrogate/export.py CONVENTION)")
    arrays, manifest = ds.load(data)
    require_torch()  # before the first round's images, not after them
    grid = next(iter(checked.grids.values())).shape
    if tuple(arrays["images"].shape[1:]) != tuple(grid):
        raise RefineError(f"`{data}` holds {arrays['images'].shape[1]}x{arrays['images'].shape[2]} cells; "
                          f"the spec's image is {grid[0]}x{grid[1]}")
    net_path = Path(checked.nets[names[0]].path)
    return Setup(problem, names[0], net_path, _arch(net_path), arrays, manifest)


def _user_card(net: Path) -> dict:
    """What the user's network's card says of it (its dataset test MAE), for round 0's record."""
    try:
        card = json.loads(net.with_suffix(".json").read_text())
        return {"test_mae": card["mae"]["test"], "seed": int(card["settings"]["seed"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _arch(path: Path) -> str:
    import onnx

    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    if "Sign" in ops:
        return "bnn"
    if "Relu" in ops and "Gemm" in ops:
        return "relu"
    raise RefineError(f"`{path}` is neither a binarized (Sign) nor a ReLU (Gemm + Relu) porous surrogate "
                      "exported by `pgenc train`")


# ---------------------------------------------------------------- one round's spec


def _round_problem(user, net_name: str, net: Path, path: Path):
    """The user's spec text with the network's path replaced by `net` (and every other file
    path made relative to the round folder), written to `path` and loaded from there: the
    round can be solved again with `pgenc solve OUT/round_r/spec.pgen`."""
    from .api import load
    from .dsl import ast as A

    text, base = user.text, Path(user.path).parent
    edits = []  # (start, end, new path) over the text, each inside its statement's span
    for stmt in user.spec.stmts:
        files = []
        if isinstance(stmt, A.NetDecl):
            files.append((stmt.path, net if stmt.name == net_name else base / stmt.path))
        elif isinstance(stmt, A.ImageDecl) and stmt.mask:
            files.append((stmt.mask, base / stmt.mask))
        elif isinstance(stmt, A.ParamDecl) and isinstance(stmt.source, (A.CsvSource, A.NpySource)):
            files.append((stmt.source.path, base / stmt.source.path))
        elif isinstance(stmt, A.VnnlibRequire):
            files.append((stmt.path, base / stmt.path))
        for old, target in files:
            at = text.find(f'"{old}"', stmt.span.start_pos, stmt.span.end_pos)
            if at < 0:
                raise RefineError(f"cannot find the file name \"{old}\" in the spec's text to rewrite it")
            edits.append((at + 1, at + 1 + len(old), os.path.relpath(Path(target).resolve(), path.parent.resolve())))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode())
    return load(path)


def _cell_line(cell) -> str:
    s = cell.record.get("surrogate", [])
    parts = [f"{cell.index:04d}"] + [f"{t['term']} = {t['value']:.4g} (true {t['true']:.4g})" for t in s]
    return "  ".join(parts + [f"{cell.record['time_seconds']:.2f} s", cell.record["solver"]])


def _write_images(folder: Path, problem, run, seed: int) -> None:
    from .runtime.cell_output import cells_for_output, write_cells

    if run.cells:
        write_cells(folder, cells_for_output(run), {**run.summary(), "spec": str(problem.path), "seed": seed})


# ---------------------------------------------------------------- measuring and labelling


def _in_interval_error(net: Path, problem, setup: Setup, seed: int) -> tuple:
    """The network's MAE on the dataset's test cells (the split of training seed `seed`) that it
    puts inside the spec's first surrogate interval, and how many: the error an unbiased
    choice among the images it accepts would have; the generated images' MAE above it is
    what the solver's choice adds."""
    from .runtime.terms import surrogate_terms
    from .surrogate.cards import onnx_predict
    from .surrogate.train import split_indices

    from .runtime.verify import Evaluator

    text, expr, image, axis, interval, scale = surrogate_terms(problem.checked)[0]
    ev = Evaluator(problem.checked, {})
    lo, hi = float(ev.eval(interval.lo, {})), float(ev.eval(interval.hi, {}))
    _, _, te = split_indices(len(setup.arrays["label"]), seed)
    images = setup.arrays["images"][te]
    true = setup.arrays["d_xx"][te] if "d_xx" in setup.arrays else setup.arrays["label"][te] / 100.0
    if axis == "y":
        images, true = np.transpose(images, (0, 2, 1)), setup.arrays.get("d_yy", true)[te]
    pred = onnx_predict(net.read_bytes(), images)
    inside = (pred >= lo if interval.lo_closed else pred > lo) & (pred <= hi if interval.hi_closed else pred < hi)
    if not inside.any():
        return None, 0
    return _round(np.mean(np.abs(pred[inside] - scale * true[inside]))), int(inside.sum())


def _errors(run, new: list) -> dict:
    """The surrogate against the PDE on the images `new` (the run's cells not trained on)."""
    terms = [t for c in new for t in c.record.get("surrogate", [])]
    err = np.array([t["value"] - t["true"] for t in terms])
    outside = sum(not all(t["true_in_interval"] for t in c.record.get("surrogate", [])) for c in new)
    candidates = len(new) + run.rejected
    return {"images": len(new),
            "mae": _round(np.mean(np.abs(err))) if len(err) else None,
            "signed_error": _round(np.mean(err)) if len(err) else None,
            "optimistic_share": _round(np.mean(err > 0)) if len(err) else None,
            "rejected_share": _round((outside + run.rejected) / candidates) if candidates else None}


def _measure(r: int, net: Path, run, new: list, seconds: float, folder: Path, train_info: dict,
             in_interval: tuple) -> RoundRecord:
    return RoundRecord(
        round=r, network=str(net), sha256=hashlib.sha256(net.read_bytes()).hexdigest(), asked=run.asked,
        repeats=len(run.cells) - len(new), draws=run.draws, **_errors(run, new),
        generate_seconds=round(seconds, 1), trained_on_generated=train_info.get("images", 0),
        train_seconds=train_info.get("seconds"), dataset_test_mae=train_info.get("test_mae"),
        dataset_in_interval_mae=in_interval[0], dataset_in_interval_cells=in_interval[1], folder=str(folder))


def _control(rec: RoundRecord, problem0, count: int, seed: int, timeout, quick: bool, seen: set, folder: Path,
             say) -> None:
    """Round 0's surrogate on the round's draws (the same seed): the paired baseline."""
    say(f"round {rec.round}: control: generating {count} images with round 0's surrogate (seed {seed})")
    t0 = time.perf_counter()
    run = problem0.sample(count, seed=seed, timeout=timeout, quick=quick)
    rec.control_seconds = round(time.perf_counter() - t0, 1)
    _write_images(folder, problem0, run, seed)
    for key, value in _errors(run, [c for c in run.cells if c.image.tobytes() not in seen]).items():
        setattr(rec, f"control_{key}", value)


def label(images) -> dict:
    """The PDE's values of each image (surrogate/pde.py): what the generated images are trained on."""
    from .surrogate import pde

    images = list(images)
    return {"d_xx": np.array([pde.d_xx(im) for im in images], np.float64),
            "d_yy": np.array([pde.d_yy(im) for im in images], np.float64)}


def _grow_pool(pool: dict, cells: list, r: int) -> dict:
    if not cells:
        return pool
    images = np.array([c.image for c in cells], np.uint8)
    values = label(images)
    return {"images": np.concatenate([pool["images"], images]),
            "d_xx": np.concatenate([pool["d_xx"], values["d_xx"]]),
            "d_yy": np.concatenate([pool["d_yy"], values["d_yy"]]),
            "round": np.concatenate([pool["round"], np.full(len(images), r, np.int16)])}


# ---------------------------------------------------------------- training


def _train(setup: Setup, pool: dict, out: Path, state, lr: Optional[float], r: int,
           settings: dict) -> tuple[dict, dict]:
    from .core.progress import Progress
    from .surrogate import cards, train as tr

    arch, epochs, seed, repeat = setup.arch, settings["epochs"], settings["seed"], settings["repeat"]
    fine_tune = settings["start"] == "fine-tune"
    lr = lr if lr is not None else (3e-3 if arch == "bnn" else 1e-3)
    kw = {"hidden": tr.hidden_sizes(state, arch), "init": state, "select": "last"} if fine_tune else {}
    result = tr.train(setup.arrays, arch, epochs=epochs, seed=seed, lr=lr, extra=pool, extra_repeat=repeat,
                      progress=Progress(epochs, f"round {r + 1} {arch} training"), **kw)
    spec, data = settings["spec"], settings["data"]
    command = (f"pgenc refine {spec} --data {data} --rounds {settings['rounds']} --per-round {settings['per_round']} "
               f"--epochs {epochs} --seed {seed} --repeat {repeat} --lr {lr:g}" + (" --fine-tune" if fine_tune else "")
               + ("" if settings["images_from"] == "the exact solver only" else " --quick")
               + f"  (round {r + 1}'s network)")
    generated = {"images": int(len(pool["images"])), "rounds": f"0..{r}", "repeat": int(repeat), "spec": str(spec)}
    card = cards.publish(result, setup.arrays, setup.manifest, data, out, command, plot=True, generated=generated)
    new_state = {k: v.detach().clone().numpy() for k, v in result["model"].state_dict().items()}
    return card, new_state


# ---------------------------------------------------------------- outputs


FIELDS = ("round", "images", "mae", "signed_error", "optimistic_share", "rejected_share", "trained_on_generated",
          "dataset_test_mae", "dataset_in_interval_mae", "generate_seconds", "train_seconds")
CONTROL_FIELDS = ("control_images", "control_mae", "control_signed_error", "control_optimistic_share",
                  "control_rejected_share")


def _write_outputs(out: Path, records: list, pool: dict, settings: dict) -> None:
    import io

    doc = {"settings": settings, "rounds": [asdict(r) for r in records]}
    atomic_write_bytes(out / "refine.json", (json.dumps(doc, indent=2) + "\n").encode())
    atomic_write_bytes(out / "refine.md", markdown(records, settings).encode())
    buf = io.BytesIO()
    np.savez_compressed(buf, **pool)
    atomic_write_bytes(out / "generated.npz", buf.getvalue())


def markdown(records: list, settings: dict) -> str:
    control = any(r.control_seconds is not None for r in records)
    fields = FIELDS + (CONTROL_FIELDS if control else ())
    head = ["round", "new images", "MAE", "signed error", "optimistic", "rejected by a PDE check",
            "trained on generated", "dataset test MAE", "... of test cells in the interval", "generate s", "train s"]
    head += ["round 0's surrogate, same draws: images", "MAE", "signed", "optimistic", "rejected"] if control else []
    lines = [f"# pgenc refine: {settings['spec']}", "",
             f"Settings: {json.dumps(settings)}", "",
             "Errors on each round's newly generated images (100 x D_xx), surrogate - true.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        lines.append("| " + " | ".join(_fmt(getattr(r, f), 1 if f.endswith("seconds") else 3) for f in fields) + " |")
    if len(records) > 1 and records[0].mae and records[-1].mae is not None:
        lines += ["", f"MAE round {records[-1].round} / round 0: {records[-1].mae / records[0].mae:.2f}"]
        if records[-1].control_mae:
            lines += [f"MAE round {records[-1].round} / round 0's surrogate on the same draws: "
                      f"{records[-1].mae / records[-1].control_mae:.2f}"]
    return "\n".join(lines) + "\n"


def _plot(path: Path, records: list) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import io

    rs = [r.round for r in records if r.mae is not None]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(rs, [r.mae for r in records if r.mae is not None], "o-", label="MAE")
    ax.plot(rs, [r.signed_error for r in records if r.mae is not None], "s--", label="signed (surrogate - true)")
    floor = [(r.round, r.dataset_in_interval_mae) for r in records if r.dataset_in_interval_mae is not None]
    if floor:
        ax.plot(*zip(*floor), "^:", color="0.4", label="dataset test cells in the interval (MAE)")
    ctrl = [(r.round, r.control_mae) for r in records if r.control_mae is not None]
    if ctrl and records[0].mae is not None:
        ax.plot(*zip((0, records[0].mae), *ctrl), "d-", color="#ccbb44", label="round 0's surrogate, same draws (MAE)")
    if records[0].mae:
        ax.axhline(records[0].mae / 2, color="#aa3377", lw=0.8, ls="-.", label="half of round 0's MAE")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(rs)
    ax.set_xlabel("round (surrogate retrained r times)")
    ax.set_ylabel("error on its generated images (100 x D_xx)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def _round(x) -> float:
    return round(float(x), 4)


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


