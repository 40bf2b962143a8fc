"""Convolutional VAE baselines for binary cells (seed 001 Sec. III), plain (`vae`) or
conditioned on the D_xx interval (`cvae`).

- Encoder: [image, six one-hot planes if conditional] -> Conv 4/2 -> w -> LeakyReLU(0.2)
  -> Conv 4/2 -> 2w -> LeakyReLU -> Linear -> (mu, log sigma^2) of `latent` dimensions.
- Decoder: [z, one-hot] -> Linear -> 2w x (side/4)^2 -> ReLU -> ConvT 4/2 -> w -> ReLU ->
  ConvT 4/2 -> one channel of Bernoulli logits.
- Loss: seed 001 eq. (6), the negative ELBO: Bernoulli reconstruction (binary
  cross-entropy on logits, summed over the pixels) + KL(q(z|x) || N(0, I)), averaged over
  the batch. Adam 1e-3, batch 64.

Samples: z ~ N(0, I) drawn with the seed on the CPU, decoded; the Bernoulli mean
(sigmoid of the logits) thresholded at 0.5 (> 0.5 is solid), uint8 1 = solid, 0 = void.
Thresholding the mean instead of drawing each pixel keeps salt-and-pepper noise out.
"""
from __future__ import annotations

import time

import numpy as np

from . import generative as gv

KINDS = ("vae", "cvae")
DEFAULTS = {"epochs": None, "batch": 64, "lr": 1e-3, "latent": 16, "width": 32}


def architecture(settings: dict) -> str:
    cond = "; conditioned on the D_xx interval (one-hot planes beside the image, one-hot beside z)" \
        if settings.get("classes") else ""
    w = settings["width"]
    return (f"VAE: encoder 2 x Conv(4, stride 2) (channels {w}/{2 * w}) -> Linear -> (mu, log var); decoder "
            f"Linear -> 2 x ConvTranspose(4, stride 2) (channels {w}/1) -> Bernoulli logits; loss BCE (summed) + KL"
            + cond)


def _networks(side: int, latent: int, classes: int, width: int):
    import torch
    from torch import nn

    if side % 4:
        raise ValueError(f"the VAE needs a side divisible by 4, got {side}")
    q, w = side // 4, int(width)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(
                nn.Conv2d(1 + classes, w, 4, 2, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                nn.Linear(2 * w * q * q, 2 * latent))
            self.fc = nn.Linear(latent + classes, 2 * w * q * q)
            self.dec = nn.Sequential(
                nn.ReLU(), nn.Unflatten(1, (2 * w, q, q)),
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.ReLU(),
                nn.ConvTranspose2d(w, 1, 4, 2, 1))

        def encode(self, x, onehot=None):
            if onehot is not None:
                x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], 1)
            mu, logvar = self.enc(x).chunk(2, dim=1)
            return mu, logvar

        def decode(self, z, onehot=None):
            return self.dec(self.fc(z if onehot is None else torch.cat([z, onehot], 1)))  # logits

    return VAE()


def train(arrays: dict, kind: str = "vae", epochs: int | None = None, seed: int = 0, batch: int | None = None,
          lr: float | None = None, latent: int | None = None, width: int | None = None,
          device: str | None = None, threads: int | None = 1, log=None, norm=None) -> dict:
    """Train a `vae` or `cvae` on a dataset's arrays; returns the model dict (generative.py).
    `log(line)` gets one line per epoch (loss, reconstruction, KL per cell, seconds). `norm`
    is accepted for a uniform call and must be None: the VAE has no normalisation layers."""
    if kind not in KINDS:
        raise ValueError(f"unknown VAE kind `{kind}`: use {' or '.join(KINDS)}")
    if norm is not None:
        raise ValueError("--norm is the GAN generator's choice; the VAE has no normalisation layers")
    with gv.session(seed, device, threads) as dev:
        return _train(arrays, kind, dev, epochs, seed, batch, lr, latent, width, log)


def _train(arrays, kind, dev, epochs, seed, batch, lr, latent, width, log) -> dict:
    import torch
    import torch.nn.functional as F

    epochs = gv.default_epochs(len(arrays["images"])) if epochs is None else int(epochs)
    batch = batch or DEFAULTS["batch"]
    lr = lr or DEFAULTS["lr"]
    latent = latent or DEFAULTS["latent"]
    width = width or DEFAULTS["width"]
    side = int(arrays["images"].shape[1])
    conditional = kind == "cvae"
    classes = gv.N_CLASSES if conditional else 0
    data = gv.TrainingData(arrays, conditional, dev)
    net = _networks(side, latent, classes, width).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        sums = np.zeros(3)
        cells = 0
        for idx in gv.epoch_batches(data.n, batch, gen):
            x, cls = data.batch(idx.to(dev), gen)
            onehot = F.one_hot(cls, classes).float() if conditional else None
            mu, logvar = net.encode(x, onehot)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            recon = F.binary_cross_entropy_with_logits(net.decode(z, onehot), x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
            loss = recon + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums += np.array([loss.item(), recon.item(), kl.item()]) * len(x)
            cells += len(x)
        losses = dict(zip(("loss", "reconstruction", "kl"), (sums / max(cells, 1)).tolist()))
        history.append({"epoch": epoch, "losses": losses, "seconds": round(time.perf_counter() - t0, 2)})
        if log:
            log(gv.epoch_line(kind, epoch, epochs, losses, t0))
    seconds = time.perf_counter() - t0
    settings = {"seed": seed, "epochs": epochs, "batch": batch, "lr": lr, "latent": latent, "width": width,
                "side": side, "classes": classes, "cells": data.n, "augmentation": data.describe(),
                "loss": "negative ELBO: BCE on logits summed over pixels + KL to N(0, I) (seed 001 eq. 6)",
                "binarise": "sigmoid(decoder logits) > 0.5 is solid (1), else void (0); z ~ N(0, I)"}
    state = {"vae": {k: v.detach().cpu() for k, v in net.state_dict().items()}}
    return {"kind": kind, "settings": settings, "state": state, "history": history, "seconds": seconds,
            "runtime": gv.runtime_note(dev)}


def generator(model: dict):
    """The trained VAE (on the CPU, eval mode) of a model dict."""
    gv.require_torch()
    s = model["settings"]
    net = _networks(s["side"], s["latent"], s["classes"], s["width"])
    net.load_state_dict(model["state"]["vae"])
    return net.eval()


def probabilities(model: dict, n: int, seed: int = 0, interval: int | None = None, net=None) -> np.ndarray:
    """The decoder's Bernoulli means float32 [n, side, side] for z ~ N(0, I) drawn with
    `seed` on the CPU; a `cvae` needs `interval` (0..5)."""
    import torch

    net = net if net is not None else generator(model)
    z, onehot = gv.latents(model, n, seed, interval, "VAE")
    with torch.no_grad():
        return net.decode(z, onehot).sigmoid()[:, 0].numpy()


def sample(model: dict, n: int, seed: int = 0, interval: int | None = None, net=None) -> np.ndarray:
    """`n` binary images uint8 [n, side, side] (1 = solid where the mean is above 0.5);
    reproducible bit for bit, image k depending only on the k-th latent vector."""
    return (probabilities(model, n, seed, interval, net) > 0.5).astype(np.uint8)
