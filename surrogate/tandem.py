"""Tandem inverse network (Liu et al. 2018; Shi et al. 2018; seed 002 Sec. 4.1's fastest
baseline): a network g that maps a spectrum t straight to a design, trained through the
frozen forward surrogate f with the loss ||f(g(t)) - t||_1, so that g never has to choose
between the many designs that print the same spectrum (it is scored on what its design
prints, not on which design the data used).

g is Linear -> ReLU blocks and a Linear output squashed into the design box:
x = lo + (hi - lo) * sigmoid(z), then clipped to [lo, hi] against rounding, so every design
g returns is valid. The training spectra are a dataset's spectra (surrogate/design_data.py),
split 80/10/10 by the seeded permutation of surrogate/train.py; the epoch with the best
validation loss is kept. Querying is one batched forward pass in float64 NumPy (no torch
needed once trained). Uncertified and usually far from the optimum on targets outside the
data (seed 002 Fig. 2: the gray ramp), which is what it is measured for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..compiler.nn.forward import forward
from .train import require_torch, split_indices

HIDDEN = (256, 256, 256)


@dataclass
class Tandem:
    """A trained inverse network: `design(targets)` gives designs inside [lo, hi]."""
    weights: list          # [W [out, in]] float64, input the spectrum
    biases: list
    lo: np.ndarray
    hi: np.ndarray
    record: dict = field(default_factory=dict)   # losses per epoch, best epoch, seconds, settings

    def design(self, targets) -> np.ndarray:
        """Designs [T, n] for spectra [T, m] (one batch), always inside the box."""
        z = forward(list(zip(self.weights, self.biases)), np.atleast_2d(np.asarray(targets, np.float64)))
        s = 0.5 * (1.0 + np.tanh(0.5 * z))      # sigmoid without overflow for large |z|
        return np.clip(self.lo + (self.hi - self.lo) * s, self.lo, self.hi)

    def query(self, layers, targets) -> dict:
        """{"x": designs [T, n], "l1": ||f(x) - t||_1 [T] on the surrogate `layers`, "seconds"}:
        the designs timed as one batch, then scored."""
        targets = np.atleast_2d(np.asarray(targets, np.float64))
        t0 = time.perf_counter()
        x = self.design(targets)
        seconds = time.perf_counter() - t0
        return {"x": x, "l1": np.sum(np.abs(forward(layers, x) - targets), axis=1), "seconds": seconds}


def train(layers, spectra, lo, hi, hidden=HIDDEN, epochs: int = 100, batch: int = 256, lr: float = 1e-3,
          seed: int = 0, device: str | None = None, progress=None) -> Tandem:
    """The inverse network of the frozen surrogate `layers` ([(W [out, in], b [out])], plain
    ReLU, e.g. neural_adjoint.relu_layers) over the box lo, hi [n], trained on `spectra`
    [N, m]. Adam with a cosine schedule; the same seed gives the same network (on one device)."""
    require_torch()
    import torch
    from torch import nn

    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    spectra = np.asarray(spectra, np.float32)
    n, m = layers[0][0].shape[1], layers[-1][0].shape[0]
    if spectra.ndim != 2 or spectra.shape[1] != m:
        raise ValueError(f"the spectra must be [N, {m}] (the surrogate's output), got {list(spectra.shape)}")
    if lo.shape != (n,) or hi.shape != (n,) or np.any(lo > hi):
        raise ValueError(f"the box must be lo <= hi, both [{n}] (the surrogate's input)")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    fW = [torch.tensor(np.asarray(W), dtype=torch.float32, device=dev) for W, _ in layers]
    fb = [torch.tensor(np.asarray(b), dtype=torch.float32, device=dev) for _, b in layers]

    def f(x):   # the frozen surrogate: plain tensors, never trained
        for k, (W, b) in enumerate(zip(fW, fb)):
            x = x @ W.T + b
            if k < len(fW) - 1:
                x = torch.relu(x)
        return x

    sizes = [m, *hidden, n]
    blocks = []
    for a, b in zip(sizes, sizes[1:]):
        blocks += [nn.Linear(a, b), nn.ReLU()]
    g = nn.Sequential(*blocks[:-1]).to(dev)
    lo_t = torch.tensor(lo, dtype=torch.float32, device=dev)
    hi_t = torch.tensor(hi, dtype=torch.float32, device=dev)

    def loss_of(t):   # mean over spectra of ||f(g(t)) - t||_1
        return (f(lo_t + (hi_t - lo_t) * torch.sigmoid(g(t))) - t).abs().sum(dim=1).mean()

    tr, va, te = split_indices(len(spectra), seed)
    va = va if len(va) else tr
    T = torch.tensor(spectra, device=dev)
    opt = torch.optim.Adam(g.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)

    def evaluate(idx) -> float:
        with torch.no_grad():
            return float(loss_of(T[idx])) if len(idx) else float("nan")

    initial = evaluate(va)
    best = (initial, {k: v.clone() for k, v in g.state_dict().items()}, -1)
    train_loss, val_loss = [], []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        g.train()
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        total = 0.0
        for k in range(0, len(order), batch):
            loss = loss_of(T[order[k:k + batch]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(order[k:k + batch])
        sched.step()
        train_loss.append(total / max(len(order), 1))
        val_loss.append(evaluate(va))
        if val_loss[-1] < best[0]:
            best = (val_loss[-1], {k: v.clone() for k, v in g.state_dict().items()}, epoch)
        if progress:
            progress.update(1, f"val L1 {val_loss[-1]:.4f}")
    g.load_state_dict(best[1])
    seconds = time.perf_counter() - t0
    linears = [mod for mod in g if isinstance(mod, nn.Linear)]
    record = {"initial_val_l1": initial, "train_l1": train_loss, "val_l1": val_loss, "best_epoch": best[2],
              "best_val_l1": best[0], "test_l1": evaluate(te), "seconds": seconds, "device": str(dev),
              "split": [len(tr), len(va), len(te)],
              "settings": {"hidden": list(hidden), "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
                           "optimizer": "Adam + cosine schedule", "loss": "||f(g(t)) - t||_1, f frozen",
                           "torch": torch.__version__}}
    return Tandem([lin.weight.detach().cpu().numpy().astype(np.float64) for lin in linears],
                  [lin.bias.detach().cpu().numpy().astype(np.float64) for lin in linears], lo, hi, record)
