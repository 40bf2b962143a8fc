"""DCGAN baselines for 16 x 16 binary cells (seed 001 Sec. II; seed 000 Sec. 3).

- Generator: z (normal, `latent` = side / 2 as seed 001 chose) [+ one-hot interval] ->
  Linear -> 4w x (side/4)^2 -> norm -> ReLU -> ConvT 4/2 -> 2w -> norm -> ReLU -> ConvT 4/2
  -> w -> norm -> ReLU -> Conv 3 -> 1 channel -> sigmoid; w = 16 (64, 32, 16 channels: sized
  so a D2 run takes minutes on one CPU thread). `norm` is `batch` (seed 001's choice for
  batches above 16) or `instance` (affine).
- Discriminator: every layer spectrally normalised (torch.nn.utils.spectral_norm): Conv
  4/2 -> 2w -> LeakyReLU(0.2) -> Conv 4/2 -> 4w -> LeakyReLU -> Linear -> one logit. The
  conditional variant (`cgan`) sees the interval as six constant one-hot planes beside the
  image; its generator gets the one-hot beside z.
- Loss: the minimax cost of seed 001 eq. (1) as binary cross-entropy on logits, the
  generator's in the non-saturating form (maximise log D(G(z))). Adam 2e-4, betas (0.5, 0.999),
  batch 64 (seed 001 Sec. II D); one discriminator step per generator step.

Samples: the generator's sigmoid output thresholded at 0.5 (> 0.5 is solid), uint8
1 = solid, 0 = void. The generator samples in eval mode (batch norm's running statistics),
so an image depends on its own z only, never on the other images of the batch.
"""
from __future__ import annotations

import time

import numpy as np

from . import generative as gv

KINDS = ("gan", "cgan")
DEFAULTS = {"epochs": None, "batch": 64, "lr": 2e-4, "betas": (0.5, 0.999), "norm": "batch", "width": 16}
ARCHITECTURE = ("DCGAN: generator Linear -> 2 x ConvTranspose(4, stride 2) -> Conv 3 -> sigmoid, channels "
                "{c}, with {norm} normalisation; discriminator 2 x Conv(4, stride 2) -> Linear, channels {d}, "
                "spectral norm on every layer{cond}")


def architecture(settings: dict) -> str:
    cond = "; conditioned on the D_xx interval (one-hot beside z, one-hot planes beside the image)" \
        if settings.get("classes") else ""
    w = settings["width"]
    return ARCHITECTURE.format(norm=settings["norm"], cond=cond, c=f"{4 * w}/{2 * w}/{w}", d=f"{2 * w}/{4 * w}")


def _networks(side: int, latent: int, norm: str, classes: int, width: int = 16):
    import torch
    from torch import nn
    from torch.nn.utils import spectral_norm

    if norm not in ("batch", "instance"):
        raise ValueError(f"unknown norm `{norm}`: use batch or instance")
    if side % 4:
        raise ValueError(f"the DCGAN needs a side divisible by 4, got {side}")
    q, w = side // 4, int(width)

    def make_norm(ch):
        return nn.BatchNorm2d(ch) if norm == "batch" else nn.InstanceNorm2d(ch, affine=True)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(latent + classes, 4 * w * q * q)
            self.body = nn.Sequential(
                make_norm(4 * w), nn.ReLU(),
                nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), make_norm(2 * w), nn.ReLU(),
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1), make_norm(w), nn.ReLU(),
                nn.Conv2d(w, 1, 3, 1, 1))

        def forward(self, z, onehot=None):
            h = z if onehot is None else torch.cat([z, onehot], 1)
            return self.body(self.fc(h).view(len(z), 4 * w, q, q))  # logits; sigmoid outside

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                spectral_norm(nn.Conv2d(1 + classes, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
                spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2))
            self.out = spectral_norm(nn.Linear(4 * w * q * q, 1))

        def forward(self, x, onehot=None):
            if onehot is not None:
                x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], 1)
            return self.out(self.body(x).flatten(1)).squeeze(1)

    return Generator(), Discriminator()


def train(arrays: dict, kind: str = "gan", epochs: int | None = None, seed: int = 0, batch: int | None = None,
          lr: float | None = None, norm: str | None = None, latent: int | None = None,
          width: int | None = None, device: str | None = None, threads: int | None = 1, log=None) -> dict:
    """Train a `gan` or `cgan` on a dataset's arrays; returns the model dict (generative.py).
    `log(line)` gets one line per epoch (losses, mean D(real), mean D(fake), seconds)."""
    if kind not in KINDS:
        raise ValueError(f"unknown GAN kind `{kind}`: use {' or '.join(KINDS)}")
    with gv.session(seed, device, threads) as dev:
        return _train(arrays, kind, dev, epochs, seed, batch, lr, norm, latent, width, log)


def _train(arrays, kind, dev, epochs, seed, batch, lr, norm, latent, width, log) -> dict:
    import torch
    import torch.nn.functional as F

    epochs = gv.default_epochs(len(arrays["images"])) if epochs is None else int(epochs)
    batch = batch or DEFAULTS["batch"]
    lr = lr or DEFAULTS["lr"]
    norm = norm or DEFAULTS["norm"]
    side = int(arrays["images"].shape[1])
    latent = latent or side // 2
    width = width or DEFAULTS["width"]
    conditional = kind == "cgan"
    classes = gv.N_CLASSES if conditional else 0
    data = gv.TrainingData(arrays, conditional, dev)
    G, D = _networks(side, latent, norm, classes, width)
    G, D = G.to(dev), D.to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=DEFAULTS["betas"])
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=DEFAULTS["betas"])
    gen = torch.Generator().manual_seed(seed)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        G.train()
        D.train()
        sums = np.zeros(4)
        steps = 0
        for idx in gv.epoch_batches(data.n, batch, gen):
            real, cls = data.batch(idx.to(dev), gen)
            onehot = F.one_hot(cls, classes).float() if conditional else None
            z = torch.randn(len(idx), latent, device=dev)
            fake = G(z, onehot).sigmoid()
            d_real, d_fake = D(real, onehot), D(fake.detach(), onehot)
            loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            d_gen = D(fake, onehot)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            sums += [loss_d.item(), loss_g.item(), torch.sigmoid(d_real).mean().item(),
                     torch.sigmoid(d_fake).mean().item()]
            steps += 1
        losses = dict(zip(("loss_d", "loss_g", "d_real", "d_fake"), (sums / max(steps, 1)).tolist()))
        history.append({"epoch": epoch, "losses": losses, "seconds": round(time.perf_counter() - t0, 2)})
        if log:
            log(gv.epoch_line(kind, epoch, epochs, losses, t0))
    seconds = time.perf_counter() - t0
    settings = {"seed": seed, "epochs": epochs, "batch": batch, "lr": lr, "betas": list(DEFAULTS["betas"]),
                "norm": norm, "latent": latent, "width": width, "side": side, "classes": classes,
                "cells": data.n, "augmentation": data.describe(),
                "loss": "BCE on logits (seed 001 eq. 1), non-saturating generator loss",
                "binarise": "sigmoid(generator) > 0.5 is solid (1), else void (0); generator in eval mode"}
    state = {"generator": {k: v.detach().cpu() for k, v in G.state_dict().items()},
             "discriminator": {k: v.detach().cpu() for k, v in D.state_dict().items()}}
    return {"kind": kind, "settings": settings, "state": state, "history": history, "seconds": seconds,
            "runtime": gv.runtime_note(dev)}


def generator(model: dict):
    """The trained generator (on the CPU, eval mode) of a model dict."""
    gv.require_torch()
    s = model["settings"]
    G, _ = _networks(s["side"], s["latent"], s["norm"], s["classes"], s["width"])
    G.load_state_dict(model["state"]["generator"])
    return G.eval()


def probabilities(model: dict, n: int, seed: int = 0, interval: int | None = None, net=None) -> np.ndarray:
    """The generator's sigmoid output float32 [n, side, side] for `n` latent vectors drawn
    with `seed` on the CPU; a `cgan` needs `interval` (0..5, dataset.INTERVALS)."""
    import torch

    G = net if net is not None else generator(model)
    z, onehot = gv.latents(model, n, seed, interval, "GAN")
    with torch.no_grad():
        return G(z, onehot).sigmoid()[:, 0].numpy()


def sample(model: dict, n: int, seed: int = 0, interval: int | None = None, net=None) -> np.ndarray:
    """`n` binary images uint8 [n, side, side] (1 = solid where the probability is above 0.5).
    Same model, seed, n and interval: the same images, bit for bit; image k depends only on
    the k-th latent vector (a prefix of a larger sample is the smaller sample)."""
    return (probabilities(model, n, seed, interval, net) > 0.5).astype(np.uint8)
