"""Train, export, check and document one porous surrogate: the ONNX file, its model card
(`NAME.md` for people, `NAME.json` for programs) and a predicted-vs-true plot.

Checks before anything is written: onnxruntime and the PyTorch model agree on every test
cell (max |difference| reported; a binarized net must agree exactly up to float32
rounding of the output affine map), and a binarized net's weights are exactly +-1.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..core.files import atomic_write_bytes
from . import dataset as ds
from . import train as tr
from .export import CONVENTION

AGREE_TOL = 1e-3  # float32 output, values 40..100: rounding differences are ~1e-5
TARGETS = {("bnn", 2): 4.2, ("bnn", 3): 5.1, ("relu", 2): 2.5}


class AgreementError(RuntimeError):
    pass


def onnx_predict(onnx_bytes: bytes, images: np.ndarray) -> np.ndarray:
    from ..compiler.nn.session import model_session

    sess = model_session(onnx_bytes)
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    return np.array([float(sess.run(None, {"cell": row[None, :]})[0][0, 0]) for row in flat])


def build(data_folder, arch: str, out: str | Path, epochs: int, seed: int = 0, lr: float | None = None,
          progress=None, plot: bool = True) -> dict:
    arrays, manifest = ds.load(data_folder)
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"the output `{out}` must end in .onnx (the card and plot go beside it)")
    lr = lr if lr is not None else (3e-3 if arch == "bnn" else 1e-3)
    result = tr.train(arrays, arch, epochs=epochs, seed=seed, lr=lr, progress=progress)
    return publish(result, arrays, manifest, data_folder, out,
                   f"pgenc train {data_folder} --arch {arch} --epochs {epochs} --seed {seed} --out {out}", plot)


def publish(result: dict, arrays: dict, manifest: dict, data_folder, out: str | Path, command: str,
            plot: bool = True, generated: dict | None = None) -> dict:
    """Export a training result (surrogate.train.train), check it, and write the network, its
    card and its plot. `generated`: what the card says about extra training images beyond the
    dataset (pgenc refine: {"images", "rounds", "repeat", "spec"})."""
    out = Path(out)
    arch = result["arch"]
    onnx_bytes = tr.to_onnx(result, doc=f"pgen porous surrogate ({arch}); {CONVENTION}")
    _, _, te = result["split"]
    test_images = arrays["images"][te]
    ort_pred = onnx_predict(onnx_bytes, test_images)
    diff = float(np.max(np.abs(ort_pred - result["test_pred"]))) if len(te) else 0.0
    if diff > AGREE_TOL:
        bad = int(np.sum(np.abs(ort_pred - result["test_pred"]) > AGREE_TOL))
        raise AgreementError(f"onnxruntime and PyTorch disagree on {bad} of {len(te)} test cells "
                             f"(max |difference| {diff:.3g}); nothing written")
    weights_pm1 = None
    if arch == "bnn":
        import onnx

        model = onnx.load_from_string(onnx_bytes)
        from onnx import numpy_helper
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        mats = [inits[n.input[1]] for n in model.graph.node if n.op_type == "MatMul"]
        weights_pm1 = all(bool(np.all((m == 1) | (m == -1))) for m in mats)
        if not weights_pm1:
            raise AgreementError("an exported binarized weight is not exactly +-1; nothing written")
    sha = hashlib.sha256(onnx_bytes).hexdigest()
    grains = manifest.get("grains")
    card = {
        "name": out.stem, "file": out.name, "sha256": sha, "architecture": arch,
        "layers": "256 -> 100 -> 100 -> 100 -> 1",
        "convention": CONVENTION,
        "data": {"folder": str(data_folder), "grains": grains, "count": int(len(arrays["label"])),
                 "dataset_seed": manifest.get("seed"), "dataset_sha256": manifest.get("sha256"),
                 "solver": manifest.get("solver"),
                 "regenerate": f"pgenc dataset --grains {grains} --count {manifest.get('count')} "
                               f"--seed {manifest.get('seed')} --out {data_folder}"},
        "split": {"train": int(len(result["split"][0])), "validation": int(len(result["split"][1])),
                  "test": int(len(te)), "rule": "seeded permutation 80/10/10 (training seed)"},
        "settings": result["settings"], "best_epoch": result["best_epoch"],
        "train_seconds": round(result["seconds"], 1),
        "mae": {"validation": round(result["val_mae"], 3), "test": round(result["test_mae"], 3),
                "onnx_test": round(float(np.mean(np.abs(ort_pred - result["test_true"]))), 3) if len(te) else None},
        "target_mae": TARGETS.get((arch, grains)),
        "onnxruntime_vs_torch_max_abs_diff": diff,
        "weights_exactly_pm1": weights_pm1,
        "command": command,
    }
    if generated:
        card["data"]["generated"] = generated
    make_folder(out)
    if plot:
        card["plot"] = _scatter(result["test_true"], ort_pred, out.with_name(out.stem + "_scatter.png"),
                                f"{out.stem}: test MAE {result['test_mae']:.2f}")
    write_network(out, onnx_bytes, card, markdown(card))
    return card


def make_folder(out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RuntimeError(f"cannot make the folder of `{out}`: {e.strerror}; choose a folder you can "
                           "write to with --out") from None


def write_network(out: Path, onnx_bytes: bytes, card: dict, card_markdown: str) -> None:
    """The network and its card (NAME.json, NAME.md) beside it, each written atomically."""
    atomic_write_bytes(out, onnx_bytes)
    atomic_write_bytes(out.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
    atomic_write_bytes(out.with_suffix(".md"), card_markdown.encode())


def markdown(card: dict) -> str:
    t = card["target_mae"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- File: `{card['file']}`, sha256 `{card['sha256']}`",
        f"- Architecture: {card['architecture']}, {card['layers']}"
        + (" (binary weights and activations, Sign, batch-norm; output +-1 weights, then a scale and bias)"
           if card["architecture"] == "bnn" else " (Gemm + ReLU)"),
        f"- I/O convention: {card['convention']}",
        f"- Data: D{card['data']['grains']}, {card['data']['count']} cells, dataset seed "
        f"{card['data']['dataset_seed']}, solver `{card['data']['solver']}`; regenerate with "
        f"`{card['data']['regenerate']}`",
        *_generated_line(card),
        f"- Split: {card['split']['train']} train / {card['split']['validation']} validation / "
        f"{card['split']['test']} test ({card['split']['rule']})",
        f"- Training: {json.dumps(card['settings'])}; best epoch {card['best_epoch']}; "
        f"{card['train_seconds']} s",
        f"- MAE (label units, 100 x D_xx): validation {card['mae']['validation']}, "
        f"**test {card['mae']['test']}** (onnxruntime on the test split: {card['mae']['onnx_test']})"
        + (f"; target (seed 000 Sec. 5) {t}" if t is not None else ""),
        f"- onnxruntime vs PyTorch on the test split: max |difference| "
        f"{card['onnxruntime_vs_torch_max_abs_diff']:.3g}",
    ]
    if card["weights_exactly_pm1"] is not None:
        lines.append(f"- Every MatMul weight exactly +-1: {card['weights_exactly_pm1']}")
    lines += [f"- Made by: `{card['command']}`", ""]
    return "\n".join(lines)


def _generated_line(card: dict) -> list:
    g = card["data"].get("generated")
    if not g:
        return []
    return [f"- Also trained on {g['images']} images generated by `{g['spec']}` in `pgenc refine` rounds "
            f"{g['rounds']} (each labelled by the PDE, repeated {g['repeat']} x, with the 8 symmetries; "
            "training split only: validation and test stay the dataset's)"]


def _scatter(true, pred, path: Path, title: str):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped: matplotlib is not installed (pip install 'pgen[train]')"
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(true, pred, s=4, alpha=0.4, color="#4477aa")
    ax.plot([40, 100], [40, 100], color="0.4", lw=0.8)
    ax.set_xlabel("true label (PDE)")
    ax.set_ylabel("predicted (onnxruntime)")
    ax.set_title(title)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name
