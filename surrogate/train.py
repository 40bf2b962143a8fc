"""Training porous surrogates with PyTorch (an optional extra: pip install 'pgen[train]').

Two architectures of seed 000 Sec. 5, both three hidden blocks of 100 and one output:

- `bnn`: binary weights and activations. h0 = 2x - 1; each block Linear (weights
  sign(w) in {-1, +1}, no bias) -> BatchNorm -> Sign; output Linear with +-1 weights,
  then a learned scale and bias. Straight-through estimators: the weight gradient passes
  where |w| <= 1 (latent weights are clipped to [-1, 1]), the activation gradient is
  hardtanh's. Sign(0) = 0 in PyTorch and ONNX alike.
- `relu`: Linear -> ReLU blocks, Linear output.

Loss: mean absolute error on the quantised label (seed 000 trains on MAE). The data is
augmented with the cell's symmetries, which leave D_xx unchanged (mirror in x, mirror in
y) or swap it with D_yy (transpose: label quantise(d_yy)). Split: a seeded permutation,
80 % train, 10 % validation (chooses the epoch), 10 % test (reported, never trained on).

Extra training images (`extra`: pgenc refine's generated cells, labelled by the PDE) join the
training split only, with the same symmetries, each repeated `extra_repeat` times; the
validation and test splits stay the dataset's. `init`: a state to start from (fine-tuning;
`state_from_onnx` turns an exported network back into one).
"""
from __future__ import annotations

import time

import numpy as np

from .dataset import quantise

SPLIT = (0.8, 0.1)


def require_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RuntimeError("training needs PyTorch: pip install 'pgen[train]' "
                           "(on these machines torch==2.13.0 installs a local CPU build)") from None


def split_indices(n: int, seed: int):
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(n * SPLIT[0]), int(n * (SPLIT[0] + SPLIT[1]))
    if n >= 10:
        a, b = max(a, 1), max(b, a + 1)
    return perm[:a], perm[a:b], perm[b:]


def augment(images: np.ndarray, d_xx: np.ndarray, d_yy: np.ndarray | None):
    """The eight symmetries of the square: mirrors keep D_xx; a transpose swaps in D_yy."""
    xs, ys = [], []
    for flip_x in (False, True):
        for flip_y in (False, True):
            im = images[:, :, ::-1] if flip_x else images
            im = im[:, ::-1, :] if flip_y else im
            xs.append(im)
            ys.append(quantise(d_xx))
            if d_yy is not None:
                xs.append(np.transpose(im, (0, 2, 1)))
                ys.append(quantise(d_yy))
    return np.concatenate(xs), np.concatenate(ys)


def _models():
    import torch
    from torch import nn

    class SignSTE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sign(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x.abs() <= 1).to(g.dtype)

    class BinLinear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n_out, n_in).uniform_(-1, 1))

        def binary_weight(self):
            return torch.where(self.weight >= 0, 1.0, -1.0)

        def forward(self, x):
            w = self.weight
            wb = w + (self.binary_weight() - w).detach()  # forward +-1, backward identity
            return x @ wb.t()

    class BNN(nn.Module):
        def __init__(self, n_in, hidden):
            super().__init__()
            sizes = [n_in, *hidden]
            self.linears = nn.ModuleList(BinLinear(a, b) for a, b in zip(sizes, sizes[1:]))
            self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in hidden)
            self.out = BinLinear(sizes[-1], 1)
            self.scale = nn.Parameter(torch.tensor(0.5))
            self.bias = nn.Parameter(torch.tensor(70.0))

        def forward(self, x):
            h = 2 * x - 1
            for lin, bn in zip(self.linears, self.norms):
                h = SignSTE.apply(bn(lin(h)))
            return self.out(h).squeeze(1) * self.scale + self.bias

        def clip(self):
            with torch.no_grad():
                for lin in [*self.linears, self.out]:
                    lin.weight.clamp_(-1, 1)

    class ReLUNet(nn.Module):
        def __init__(self, n_in, hidden):
            super().__init__()
            sizes = [n_in, *hidden, 1]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            with torch.no_grad():
                self.layers[-1].bias.fill_(70.0)

        def forward(self, x):
            for lin in self.layers[:-1]:
                x = torch.relu(lin(x))
            return self.layers[-1](x).squeeze(1)

        def clip(self):
            pass

    return BNN, ReLUNet


def train(arrays: dict, arch: str, epochs: int = 150, seed: int = 0, lr: float = 3e-3,
          batch: int = 128, hidden=(100, 100, 100), progress=None, extra: dict | None = None,
          extra_repeat: int = 1, init: dict | None = None, select: str = "validation") -> dict:
    """Train on a dataset's arrays; returns the model, metrics and the split. `extra`
    ({"images", "d_xx", "d_yy"}): more training cells (training split only), each repeated
    `extra_repeat` times; `init`: a state dict to start from; `select`: the epoch kept,
    "validation" (the best validation MAE) or "last"."""
    require_torch()
    import torch

    if arch not in ("bnn", "relu"):
        raise ValueError(f"unknown architecture `{arch}`: use bnn or relu")
    if select not in ("validation", "last"):
        raise ValueError(f"unknown epoch selection `{select}`: use validation or last")
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    images = arrays["images"].astype(np.float32)
    n, h, w = images.shape
    label = arrays["label"].astype(np.float32)
    d_xx = arrays.get("d_xx", label / 100.0)
    d_yy = arrays.get("d_yy")
    tr, va, te = split_indices(n, seed)
    x_tr, y_tr = augment(images[tr], d_xx[tr], None if d_yy is None else d_yy[tr])
    n_extra = 0
    if extra is not None and len(extra["images"]):
        x_ex, y_ex = augment(np.asarray(extra["images"], np.float32), np.asarray(extra["d_xx"]),
                             None if d_yy is None else np.asarray(extra["d_yy"]))
        n_extra = len(extra["images"])
        x_tr = np.concatenate([x_tr, *[x_ex] * max(1, int(extra_repeat))])
        y_tr = np.concatenate([y_tr, *[y_ex] * max(1, int(extra_repeat))])
    x_tr = torch.tensor(x_tr.reshape(len(x_tr), -1).copy())
    y_tr = torch.tensor(y_tr.astype(np.float32))
    x_va = torch.tensor(images[va].reshape(len(va), -1))
    y_va = torch.tensor(label[va])
    BNN, ReLUNet = _models()
    model = (BNN if arch == "bnn" else ReLUNet)(h * w, list(hidden))
    if init is not None:
        model.load_state_dict({k: torch.as_tensor(v) for k, v in init.items()})
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    best = (float("inf"), None, -1)
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            if len(idx) < 2:
                continue  # batch-norm needs two samples
            loss = torch.nn.functional.l1_loss(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clip()
            total += loss.item() * len(idx)
        sched.step()
        model.eval()
        with torch.no_grad():
            val = float(torch.mean(torch.abs(model(x_va) - y_va))) if len(va) else total / len(x_tr)
        history.append((epoch, total / len(x_tr), val))
        if val < best[0] or select == "last":
            best = (val, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
        if progress:
            progress.update(1, f"train MAE {total / len(x_tr):.2f} val MAE {val:.2f}")
    seconds = time.perf_counter() - t0
    model.load_state_dict(best[1])
    model.eval()
    pred_te = predict_torch(model, images[te])
    return {"model": model, "arch": arch, "split": (tr, va, te), "best_epoch": best[2],
            "val_mae": best[0], "test_mae": float(np.mean(np.abs(pred_te - label[te]))),
            "test_pred": pred_te, "test_true": label[te], "seconds": seconds, "history": history,
            "settings": {"epochs": epochs, "seed": seed, "lr": lr, "batch": batch,
                         "hidden": list(hidden), "optimizer": "Adam + cosine schedule",
                         "loss": "L1 (MAE)", "augmentation": "8 symmetries of the square"
                         + ("" if d_yy is not None else " (mirrors only: no d_yy)"),
                         "torch": torch.__version__, "threads": torch.get_num_threads(),
                         **({"extra_images": n_extra, "extra_repeat": int(extra_repeat)} if n_extra else {}),
                         **({"start": "given weights (fine-tuning)"} if init is not None else {}),
                         **({"epoch_selection": "last"} if select == "last" else {})}}


def predict_torch(model, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.tensor(np.asarray(images, np.float32).reshape(len(images), -1))
        return model(x).numpy().astype(np.float64)


def to_onnx(result: dict, doc: str = "") -> bytes:
    from . import export

    model = result["model"]
    n_in = model.linears[0].weight.shape[1] if result["arch"] == "bnn" else model.layers[0].weight.shape[1]
    if result["arch"] == "bnn":
        blocks = []
        for lin, bn in zip(model.linears, model.norms):
            blocks.append((lin.binary_weight().detach().numpy().T, bn.weight.detach().numpy(),
                           bn.bias.detach().numpy(), bn.running_mean.numpy(), bn.running_var.numpy(), bn.eps))
        return export.bnn_onnx(blocks, model.out.binary_weight().detach().numpy().T,
                               model.scale.item(), model.bias.item(), n_in, doc)
    return export.relu_onnx([lin.weight.detach().numpy() for lin in model.layers],
                            [lin.bias.detach().numpy() for lin in model.layers], n_in, doc)


def state_from_onnx(onnx_bytes: bytes, arch: str, latent: float = 0.1) -> dict:
    """A state dict of `arch` that computes what an exported network computes: the inverse of
    `to_onnx`, to fine-tune a network whose PyTorch state is gone. A binarized weight's latent
    value is `latent` x its sign (small, so that training can flip it); batch-norm statistics,
    the output scale and bias are read back exactly."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in model.graph.initializer}
    state = {}
    if arch == "bnn":
        k = 0
        while f"W{k}" in inits:
            state[f"linears.{k}.weight"] = latent * inits[f"W{k}"].T
            for ours, theirs in (("weight", "scale"), ("bias", "bias"), ("running_mean", "mean"),
                                 ("running_var", "var")):
                state[f"norms.{k}.{ours}"] = inits[f"bn{k}_{theirs}"]
            state[f"norms.{k}.num_batches_tracked"] = np.array(0, np.int64)
            k += 1
        if not k or "W_out" not in inits:
            raise ValueError("not a binarized network exported by pgen (no W0 / W_out initializers)")
        state["out.weight"] = latent * inits["W_out"].T
        state["scale"] = np.float32(inits["out_scale"]).reshape(())
        state["bias"] = np.float32(inits["out_bias"]).reshape(())
        return state
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    if not gemms:
        raise ValueError("not a ReLU network exported by pgen (no Gemm nodes)")
    for k, node in enumerate(gemms):
        state[f"layers.{k}.weight"] = inits[node.input[1]]
        state[f"layers.{k}.bias"] = inits[node.input[2]]
    return state


def hidden_sizes(state: dict, arch: str) -> list:
    """The hidden layer sizes of a state dict (to build the model it fits)."""
    if arch == "bnn":
        return [int(np.shape(state[f"linears.{k}.weight"])[0]) for k in range(len(
            [key for key in state if key.startswith("linears.")]))]
    n = len([key for key in state if key.startswith("layers.") and key.endswith(".weight")])
    return [int(np.shape(state[f"layers.{k}.weight"])[0]) for k in range(n - 1)]
