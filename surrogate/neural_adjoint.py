"""Neural adjoint (Ren et al. 2020; seed 002 Sec. 4.1's baseline): gradient descent on the
design through the trained surrogate, batched over targets x restarts in PyTorch (on a GPU
when one is present).

For each target t and each of `restarts` random starts x0 in the box: Adam on
`||f(x) - t||_1 + BOUNDARY_WEIGHT * (distance of x outside the box)_1` (the boundary loss
keeps the search near valid designs), up to `steps` iterations; a run stops when its loss
has not improved by `threshold` in `patience` consecutive iterations (seed 002: 2000
iterations, 10). The answer per target is the best run after clipping to the box,
scored on the clipped design. Uncertified: a local method, the baseline the exact
members are measured against.
"""
from __future__ import annotations

import time

import numpy as np

from .train import require_torch

BOUNDARY_WEIGHT = 10.0
BETAS = (0.9, 0.999)   # Adam's
COMPACT_EVERY = 25     # iterations between dropping the finished runs from the batch


def relu_layers(path: str) -> list:
    """[(W, b), ...] of the plain ReLU network in the ONNX file `path`, for `neural_adjoint`;
    a network with any other layer (binarized steps, a batch-norm binarization of the
    inputs) is refused with the file and the layer named: the descent needs a gradient."""
    from ..compiler.nn.forward import plain_relu_layers
    from ..compiler.nn.network import Dense, Relu
    from ..compiler.nn.onnx_import import load_network
    from ..core.errors import PgenError

    net = load_network(path)
    layers = plain_relu_layers(net)
    if layers is None:
        odd = next((layer for layer in net.layers if not isinstance(layer, (Dense, Relu))), None)
        what = (f"its layer {type(odd).__name__}" + (f" (node `{odd.node}`)" if getattr(odd, "node", "") else "")
                if odd is not None else "its layers are not Dense (Relu Dense)*")
        raise PgenError("E021", f"the neural adjoint runs on plain ReLU networks only, and {what} is not one",
                        hint="use the exact members (`pgenc solve --backend auto`) for binarized networks",
                        filename=str(path))
    return layers


def neural_adjoint(layers, targets, lo, hi, restarts: int = 50, steps: int = 2000, lr: float = 0.01,
                   patience: int = 10, threshold: float = 1e-6, seed: int = 0, device: str | None = None,
                   chunk: int = 65536, time_limit: float | None = None) -> dict:
    """layers: [(W [out, in], b [out])] of a plain ReLU network (compiler.nn.forward.plain_relu_layers);
    targets [T, m]; the box lo, hi [n]. `time_limit`: seconds after which the runs stop where
    they are (checked every COMPACT_EVERY iterations). Returns {"x": [T, n], "l1": [T],
    "iterations": mean iterations run, "seconds", "device"}."""
    require_torch()
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    Ws = [torch.tensor(np.asarray(W), dtype=torch.float32, device=dev) for W, _ in layers]
    bs = [torch.tensor(np.asarray(b), dtype=torch.float32, device=dev) for _, b in layers]

    def f(x):
        for k, (W, b) in enumerate(zip(Ws, bs)):
            x = x @ W.T + b
            if k < len(Ws) - 1:
                x = torch.relu(x)
        return x

    targets = np.atleast_2d(np.asarray(targets, np.float64))
    T, n = len(targets), len(lo)
    lo_t = torch.tensor(np.asarray(lo), dtype=torch.float32, device=dev)
    hi_t = torch.tensor(np.asarray(hi), dtype=torch.float32, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    best_x = np.zeros((T, n))
    best_l1 = np.full(T, np.inf)
    iterations = []
    t0 = time.perf_counter()
    per_chunk = max(1, chunk // restarts)
    for a in range(0, T, per_chunk):
        tt = torch.tensor(targets[a:a + per_chunk], dtype=torch.float32, device=dev)
        k = len(tt)
        t_rep = tt.repeat_interleave(restarts, dim=0)
        x0 = torch.rand((k * restarts, n), generator=gen).to(dev) * (hi_t - lo_t) + lo_t
        # Adam by hand, so that finished runs can be dropped from the batch (COMPACT_EVERY)
        x, idx = x0.clone(), torch.arange(k * restarts, device=dev)
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        best_loss = torch.full((k * restarts,), float("inf"), device=dev)
        stale = torch.zeros(k * restarts, dtype=torch.int64, device=dev)
        final = x0.clone()
        it = 0
        for it in range(steps):
            x.requires_grad_(True)
            loss = (f(x) - t_rep[idx]).abs().sum(dim=1) + BOUNDARY_WEIGHT * (
                torch.relu(x - hi_t) + torch.relu(lo_t - x)).sum(dim=1)
            (g,) = torch.autograd.grad(loss.sum(), x)
            with torch.no_grad():
                x = x.detach()
                m.mul_(BETAS[0]).add_(g, alpha=1 - BETAS[0])
                v.mul_(BETAS[1]).addcmul_(g, g, value=1 - BETAS[1])
                m_hat = m / (1 - BETAS[0] ** (it + 1))
                v_hat = v / (1 - BETAS[1] ** (it + 1))
                x = x - lr * m_hat / (v_hat.sqrt() + 1e-8)
                improved = loss < best_loss[idx] - threshold
                best_loss[idx] = torch.where(improved, loss, best_loss[idx])
                stale[idx] = torch.where(improved, torch.zeros_like(stale[idx]), stale[idx] + 1)
                active = stale[idx] < patience
                final[idx] = x
                if not bool(active.any()):
                    break
                if (it + 1) % COMPACT_EVERY == 0:
                    if time_limit is not None and time.perf_counter() - t0 > time_limit:
                        break
                    if not bool(active.all()):
                        x, m, v, idx = x[active], m[active], v[active], idx[active]
        iterations.append(it + 1)
        with torch.no_grad():
            xc = torch.clamp(final, lo_t, hi_t)
            l1 = (f(xc) - t_rep).abs().sum(dim=1).view(k, restarts)
            j = torch.argmin(l1, dim=1)
            best_l1[a:a + k] = l1[torch.arange(k), j].cpu().numpy()
            best_x[a:a + k] = xc.view(k, restarts, n)[torch.arange(k), j].cpu().numpy()
    return {"x": best_x, "l1": best_l1, "iterations": float(np.mean(iterations)),
            "seconds": time.perf_counter() - t0, "device": str(dev)}
