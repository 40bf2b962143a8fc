"""Train a ReLU surrogate of a design dataset (surrogate/design_data.py) and export it with a
model card: `pgenc train data/cmyk --hidden 100,100,100,100 --out specs/nets/cmyk_4x100.onnx`.

The network maps a design x (as the spec writes it: coverages in [0, 1], layer counts
0..30) to the simulated spectrum y. Inputs are scaled by their training range for the
optimiser and the scale is folded exactly into the first layer's weights at export, so
the ONNX file takes x as it is. Loss: L1 (seed 002 measures errors in L1). Split 80/10/10
by a seeded permutation; the epoch with the best validation error is kept. The export is
checked: onnxruntime must reproduce PyTorch on the test designs (AGREE_TOL) or nothing is
written.

With `batchnorm`, every hidden Linear is followed by batch normalisation before its ReLU
(seed 002's robustness network); the export writes Gemm -> BatchNormalization (running
statistics) -> Relu, which the compiler's importer folds exactly into the Gemm's affine map.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from . import design_data
from .cards import make_folder, write_network
from .train import require_torch, split_indices

AGREE_TOL = 1e-4
CONVENTION = "input `x` float32 [1, k] = the design as the spec writes it; output `y` float32 [1, m] = the spectrum"


def train(arrays: dict, hidden, epochs: int = 200, seed: int = 0, lr: float = 2e-3, batch: int = 256,
          progress=None, batchnorm: bool = False) -> dict:
    require_torch()
    import torch
    from torch import nn

    torch.manual_seed(seed)
    x = arrays["x"].astype(np.float32)
    y = arrays["y"].astype(np.float32)
    scale = np.maximum(np.abs(x).max(axis=0), 1e-6).astype(np.float32)
    tr, va, te = split_indices(len(x), seed)
    sizes = [x.shape[1], *hidden, y.shape[1]]
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), *([nn.BatchNorm1d(b)] if batchnorm else []), nn.ReLU()]
    model = nn.Sequential(*(layers[:-2] if batchnorm else layers[:-1]))   # the output layer is plain Linear
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    X, Y = torch.tensor(x / scale), torch.tensor(y)
    best = (float("inf"), None, -1)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            if batchnorm and len(idx) < 2:   # batch statistics need two designs
                continue
            loss = torch.nn.functional.l1_loss(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            val = float(torch.mean(torch.abs(model(X[va]) - Y[va]))) if len(va) else float(loss)
        if val < best[0]:
            best = (val, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
        if progress:
            progress.update(1, f"val MAE {val:.4f}")
    model.load_state_dict(best[1])
    model.eval()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weights = [lin.weight.detach().numpy().astype(np.float64) for lin in linears]
    biases = [lin.bias.detach().numpy().astype(np.float64) for lin in linears]
    norms = [(m.weight.detach().numpy(), m.bias.detach().numpy(), m.running_mean.numpy(), m.running_var.numpy(), m.eps)
             for m in model if isinstance(m, nn.BatchNorm1d)] if batchnorm else None
    weights[0] = weights[0] / scale[None, :].astype(np.float64)   # x / scale folded into W0
    with torch.no_grad():
        pred_te = model(X[te]).numpy().astype(np.float64)
    return {"weights": weights, "biases": biases, "batchnorm": norms, "split": (tr, va, te), "best_epoch": best[2],
            "val_mae": best[0], "test_pred": pred_te, "seconds": time.perf_counter() - t0,
            "settings": {"hidden": list(hidden), "epochs": epochs, "seed": seed, "lr": lr, "batch": batch,
                         "optimizer": "Adam + cosine schedule", "loss": "L1", "input_scale": scale.tolist(),
                         "batchnorm": bool(batchnorm),
                         "torch": torch.__version__}}


def build(data_folder, hidden, out: str | Path, epochs: int = 200, seed: int = 0, lr: float | None = None,
          progress=None, batchnorm: bool = False) -> dict:
    from ..compiler.nn.session import model_session
    from . import export

    arrays, manifest = design_data.load(data_folder)
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"the output `{out}` must end in .onnx (the card goes beside it)")
    result = train(arrays, hidden, epochs=epochs, seed=seed, lr=lr if lr is not None else 2e-3, progress=progress,
                   batchnorm=batchnorm)
    onnx_bytes = export.relu_onnx(result["weights"], result["biases"], arrays["x"].shape[1],
                                  doc=f"pgen design surrogate ({manifest.get('kind')}); {CONVENTION}",
                                  names=("x", "y"), convention=CONVENTION, batchnorm=result["batchnorm"])
    _, _, te = result["split"]
    sess = model_session(onnx_bytes)
    x_te, y_te = arrays["x"][te].astype(np.float32), arrays["y"][te].astype(np.float64)
    ort = np.concatenate([sess.run(None, {"x": row[None, :]})[0] for row in x_te]) if len(te) else np.zeros((0, 1))
    diff = float(np.max(np.abs(ort - result["test_pred"]))) if len(te) else 0.0
    if diff > AGREE_TOL:
        raise RuntimeError(f"onnxruntime and PyTorch disagree on the test designs (max |difference| {diff:.3g}); "
                           "nothing written")
    l1 = np.sum(np.abs(ort - y_te), axis=1) if len(te) else np.zeros(0)
    sizes = [arrays["x"].shape[1], *hidden, arrays["y"].shape[1]]
    card = {
        "name": out.stem, "file": out.name, "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "architecture": "relu", "batchnorm": bool(batchnorm), "layers": " -> ".join(str(s) for s in sizes),
        "convention": CONVENTION,
        "data": {"folder": str(data_folder), "kind": manifest.get("kind"), "count": int(len(arrays["x"])),
                 "dataset_seed": manifest.get("seed"), "dataset_sha256": manifest.get("sha256"),
                 "simulator": manifest.get("simulator"),
                 "regenerate": f"pgenc dataset --kind {manifest.get('kind')} --count {manifest.get('count')} "
                               f"--seed {manifest.get('seed')} --out {data_folder}"},
        "split": {"train": int(len(result["split"][0])), "validation": int(len(result["split"][1])),
                  "test": int(len(te)), "rule": "seeded permutation 80/10/10 (training seed)"},
        "settings": result["settings"], "best_epoch": result["best_epoch"],
        "train_seconds": round(result["seconds"], 1),
        "error": {"validation_mae_per_band": round(result["val_mae"], 5),
                  "test_mae_per_band": round(float(np.mean(np.abs(ort - y_te))), 5) if len(te) else None,
                  "test_l1_per_spectrum_mean": round(float(l1.mean()), 4) if len(te) else None,
                  "test_l1_per_spectrum_max": round(float(l1.max()), 4) if len(te) else None},
        "onnxruntime_vs_torch_max_abs_diff": diff,
        "command": f"pgenc train {data_folder} --hidden {','.join(str(h) for h in hidden)} --epochs {epochs} "
                   f"--seed {seed}{' --batchnorm' if batchnorm else ''} --out {out}",
    }
    make_folder(out)
    write_network(out, onnx_bytes, card, markdown(card))
    return card


def markdown(card: dict) -> str:
    e, d = card["error"], card["data"]
    return "\n".join([
        f"# {card['name']}: design surrogate ({d['kind']})", "",
        f"- Layers: {card['layers']} ({'Linear -> batch norm -> ReLU' if card.get('batchnorm') else 'ReLU between'}, "
        f"linear output); file `{card['file']}`, sha256 `{card['sha256'][:16]}...`",
        f"- Convention: {card['convention']}",
        f"- Data: {d['count']} designs of `{d['kind']}` by {d['simulator']} (dataset seed {d['dataset_seed']}); "
        f"regenerate: `{d['regenerate']}`",
        f"- Split: {card['split']['train']}/{card['split']['validation']}/{card['split']['test']} ({card['split']['rule']})",
        f"- Training: {card['settings']['optimizer']}, loss {card['settings']['loss']}, "
        f"{card['settings']['epochs']} epochs, best epoch {card['best_epoch']}, {card['train_seconds']} s",
        f"- Test error: MAE per band {e['test_mae_per_band']}; L1 per spectrum mean {e['test_l1_per_spectrum_mean']}, "
        f"max {e['test_l1_per_spectrum_max']}",
        f"- onnxruntime vs PyTorch on the test designs: max |diff| {card['onnxruntime_vs_torch_max_abs_diff']:.3g}",
        f"- Made by: `{card['command']}`", ""])
