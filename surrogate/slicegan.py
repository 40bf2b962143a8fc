"""SliceGAN baseline (seed 001 Sec. IV; Kench and Cooper 2021): a 3-D generator trained
from 2-D images, with the phase densities steered through the loss.

- Generator: noise [B, nz, z, z, z] -> four 3-D transpose convolutions (kernel 4,
  stride 2, padding 2, 2, 2, 3; batch-norm + ReLU between) -> softmax over the n phases.
  These (k, s, p) keep SliceGAN's uniform information density (s < k, k % s == 0,
  p >= k - s: every output voxel gets the full kernel overlap) and give a cube of side
  16 (z - 2): z = 3 -> 16^3, z = 4 -> 32^3, so the side is chosen by the noise size.
- Critic: a 2-D network (kernel 4, stride 2, padding 1, three times, LeakyReLU, then one
  convolution to a score) that sees slices of the generated volume along x, y and z and,
  as many, random crops of the one-hot training images. One critic for the three axes
  (an isotropic material, as the NMC electrode of Sec. IV.B.1).
- Loss: Wasserstein with a gradient penalty (WGAN-GP, weight 10), as SliceGAN and as
  seed 001 ("a standard Wasserstein loss"): the baseline should be the method it names,
  and the penalty keeps the critic Lipschitz without the batch statistics a batch-norm
  critic would mix across real and sliced fake batches. The generator's batch is twice
  the critic's (m_G = 2 m_D, Sec. IV.A), the critic takes 5 steps per generator step.
  The generator loss adds the density term of Sec. IV.C:
      lambda_density * mean over volumes of sum_k (mean phase-k probability - target_k)^2.
  Departures for a CPU budget of minutes, said in every card: each step slices `slices`
  random planes per axis and volume (SliceGAN takes all of them; over the steps every
  plane and path through the generator is trained); the generator is trained on 16^3
  volumes and the critic on 16 x 16 crops (SliceGAN: 64; the convolutional generator
  then makes 32^3 or larger from larger noise, as SliceGAN makes large volumes); small
  channel counts; Adam lr 4e-4, betas (0.5, 0.9) (SliceGAN: 1e-4, (0.9, 0.99)), which
  learned the blob images in a few hundred steps where SliceGAN's settings had not.

Sampling: the generator in eval mode, noise of the chosen side, argmax over phases ->
uint8 volumes of phase indices. Same seed, same weights and same samples on CPU (torch's
generators are seeded; crops come from default_rng(seed)). torch is imported inside
the functions; the GPU is used when there is one.
"""
from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from . import phase_images as pi

FORMAT = "pgen-slicegan-1"
DENSITY_WEIGHT = 100.0
EPOCHS = 150  # 1350 generator steps on 2000 images: about 15 min on one shared CPU thread
CONFIG = {"nz": 16, "gen_channels": [128, 64, 32], "critic_channels": [32, 64, 128],
          "batch_critic": 2, "batch_gen": 4, "slices": 8, "critic_steps": 5, "gp_weight": 10.0,
          "lr": 4e-4, "betas": [0.5, 0.9], "train_side": 16}
GEN_PADDING = (2, 2, 2, 3)


def require_torch():
    from .train import require_torch as need

    need()


def noise_size(side: int) -> int:
    """Spatial size of the noise that gives a cube of side `side` (a multiple of 16)."""
    if side < 16 or side % 16:
        raise ValueError(f"volume side must be a multiple of 16 (16, 32, 48, ...), got {side}")
    return side // 16 + 2


def _nets(n: int, cfg: dict, side: int):
    import torch
    from torch import nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            ch = [cfg["nz"], *cfg["gen_channels"], n]
            layers = []
            for i, p in enumerate(GEN_PADDING):
                layers.append(nn.ConvTranspose3d(ch[i], ch[i + 1], 4, 2, p, bias=False))
                if i < len(GEN_PADDING) - 1:
                    layers += [nn.BatchNorm3d(ch[i + 1]), nn.ReLU()]
            self.body = nn.Sequential(*layers)

        def forward(self, z):
            return torch.softmax(self.body(z), dim=1)

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            ch = [n, *cfg["critic_channels"]]
            layers = []
            for i in range(len(ch) - 1):
                layers += [nn.Conv2d(ch[i], ch[i + 1], 4, 2, 1), nn.LeakyReLU(0.2)]
            last = side // 2 ** (len(ch) - 1)
            layers.append(nn.Conv2d(ch[-1], 1, last, 1, 0))
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x).flatten()

    return Generator(), Critic()


def density_term(probs, target):
    """mean over volumes of sum_k (mean phase-k probability of the volume - target_k)^2;
    `probs` [B, n, D, H, W] (softmax output), `target` [n]. Zero exactly at the target."""
    import torch

    t = torch.as_tensor(target, dtype=probs.dtype, device=probs.device)
    frac = probs.mean(dim=tuple(range(2, probs.dim())))
    return ((frac - t) ** 2).sum(dim=1).mean()


def _slices(vol, axis: int, idx):
    """Planes `idx` of [B, n, L, L, L] across `axis` (0, 1, 2) as [B * len(idx), n, L, L]."""
    v = vol.index_select(axis + 2, idx)
    v = v.movedim(axis + 2, 1)
    return v.reshape(-1, vol.shape[1], vol.shape[-1], vol.shape[-1])


class _Crops:
    """Random one-hot crops of the training images, each under a random symmetry of the
    square (the material is isotropic), from default_rng(seed)."""

    def __init__(self, phases: np.ndarray, n: int, side: int, seed: int):
        self.phases, self.n, self.side = phases, n, side
        self.rng = np.random.default_rng(seed)

    def take(self, count: int) -> np.ndarray:
        s, r = self.side, self.rng
        img = r.integers(0, len(self.phases), count)
        top = r.integers(0, self.phases.shape[1] - s + 1, count)
        left = r.integers(0, self.phases.shape[2] - s + 1, count)
        sym = r.integers(0, 8, count)
        out = np.empty((count, s, s), np.uint8)
        for j in range(count):
            c = self.phases[img[j], top[j]:top[j] + s, left[j]:left[j] + s]
            c = np.rot90(c, sym[j] % 4)
            out[j] = c.T if sym[j] >= 4 else c
        return (np.arange(self.n)[None, :, None, None] == out[:, None]).astype(np.float32)


def _device(device):
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(phases: np.ndarray, fractions, *, epochs: int = EPOCHS, seed: int = 0,
          density_weight: float = DENSITY_WEIGHT, steps: int | None = None, config: dict | None = None,
          device=None, progress=None, log=None, log_every: int = 50) -> dict:
    """Train on 2-D phase images uint8 [N, S, S]; returns the generator, critic, history, settings.

    One epoch is ceil(N / (crops per generator step)) generator steps, so the critic sees
    about as many real crops as there are images; `steps` overrides epochs."""
    require_torch()
    import torch

    target = pi.check_fractions(fractions)
    n = target.size
    if int(phases.max()) >= n:
        raise ValueError(f"the images hold phase {int(phases.max())} but only {n} target fractions are given")
    cfg = {**CONFIG, **(config or {})}
    side = min(cfg["train_side"], phases.shape[1] // 16 * 16)
    if side < 16:
        raise ValueError(f"training images must be at least 16x16, got {phases.shape[1]}x{phases.shape[2]}")
    cfg["train_side"] = side
    crops_per_step = 3 * cfg["batch_critic"] * cfg["slices"] * cfg["critic_steps"]
    per_epoch = math.ceil(len(phases) / crops_per_step)
    total = int(steps) if steps is not None else epochs * per_epoch
    dev = _device(device)
    torch.manual_seed(seed)
    G, D = _nets(n, cfg, side)
    G.to(dev)
    D.to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    gen = torch.Generator().manual_seed(seed)
    crops = _Crops(phases, n, side, seed)
    z, ns, t_target = noise_size(side), cfg["slices"], torch.tensor(target, dtype=torch.float32, device=dev)

    def noise(b):
        return torch.randn(b, cfg["nz"], z, z, z, generator=gen).to(dev)

    def planes():
        return torch.randperm(side, generator=gen)[:ns].to(dev)

    history, t0 = [], time.perf_counter()
    for step in range(total):
        for _ in range(cfg["critic_steps"]):
            with torch.no_grad():
                fake = G(noise(cfg["batch_critic"]))
            loss_d = 0.0
            for axis in range(3):
                f = _slices(fake, axis, planes())
                r = torch.from_numpy(crops.take(len(f))).to(dev)
                eps = torch.rand(len(f), 1, 1, 1, generator=gen).to(dev)
                mix = (eps * r + (1 - eps) * f).requires_grad_(True)
                grad = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)[0]
                gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                loss_d = loss_d + D(f).mean() - D(r).mean() + cfg["gp_weight"] * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        fake = G(noise(cfg["batch_gen"]))
        wass = sum(-D(_slices(fake, axis, planes())).mean() for axis in range(3))
        dens = density_term(fake, t_target)
        loss_g = wass + density_weight * dens
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % log_every == 0 or step == total - 1:
            with torch.no_grad():
                hard = fake.argmax(1)
                fr = [float((hard == k).float().mean()) for k in range(n)]
            rec = {"step": step, "seconds": round(time.perf_counter() - t0, 1),
                   "critic_loss": round(loss_d.item(), 4), "wasserstein_g": round(wass.item(), 4),
                   "density": dens.item(), "fractions": [round(x, 4) for x in fr]}
            history.append(rec)
            if log:
                log(json.dumps(rec))
        if progress:
            progress.update(1, f"critic {loss_d.item():.3g}")
    G.eval()
    return {"generator": G, "critic": D, "history": history, "seconds": time.perf_counter() - t0,
            "steps": total, "steps_per_epoch": per_epoch, "device": str(dev),
            "settings": {**cfg, "phases": n, "targets": target.tolist(), "density_weight": float(density_weight),
                         "seed": seed, "epochs": epochs if steps is None else None, "steps": total,
                         "torch": str(torch.__version__), "threads": torch.get_num_threads(),
                         "loss": "WGAN-GP (one 2-D critic, slices along x, y, z) + density term",
                         "departures": f"{ns} random planes per axis and volume per step (SliceGAN: all); "
                                       f"training side {side} (SliceGAN: 64); small channel counts; "
                                       f"Adam lr {cfg['lr']:g}, betas {tuple(cfg['betas'])} "
                                       "(SliceGAN: 1e-4, (0.9, 0.99))"}}


def sample(G, count: int, side: int, seed: int = 0, nz: int | None = None, batch: int = 4) -> np.ndarray:
    """`count` volumes uint8 [count, side, side, side] of phase indices (argmax), volume i
    from noise drawn in order from a generator seeded with `seed` (on the CPU, so the
    noise is the same on any device)."""
    import torch

    z = noise_size(side)
    nz = nz or G.body[0].in_channels
    dev = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, nz, z, z, z, generator=gen)
    G.eval()
    out = []
    with torch.no_grad():
        for k in range(0, count, batch):
            out.append(G(noise[k:k + batch].to(dev)).argmax(1).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, side, side, side), np.uint8)


def save(result: dict, path: Path, meta: dict) -> None:
    import io

    import torch

    from ..core.files import atomic_write_bytes

    buf = io.BytesIO()
    torch.save({"format": FORMAT, "settings": result["settings"], **meta,
                "generator": {k: v.cpu() for k, v in result["generator"].state_dict().items()},
                "critic": {k: v.cpu() for k, v in result["critic"].state_dict().items()}}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load(path, device=None):
    """(generator in eval mode, the saved record without weights) of a model.pt."""
    require_torch()
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.exists():
        raise FileNotFoundError(f"`{path}` does not exist; train one with `pgenc baseline slicegan DATA --out RUN`")
    rec = torch.load(path, map_location="cpu", weights_only=True)
    if rec.get("format") != FORMAT:
        raise ValueError(f"`{path}` is not a pgen SliceGAN model (format {rec.get('format')!r})")
    s = rec["settings"]
    G, _ = _nets(s["phases"], s, s["train_side"])
    G.load_state_dict(rec["generator"])
    G.to(_device(device)).eval()
    return G, {k: v for k, v in rec.items() if k not in ("generator", "critic")}


def _score_module():
    try:
        from . import score
    except ImportError:  # another part of pgen; the fallback below computes the same measures
        return None
    return score


def _measures(arrays: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(fractions [N, n], S2 [n, axes, lags 0..side // 2] averaged over the arrays, source):
    by pgen's scorer (surrogate/score.py) when it is there, else by phase_images; both
    periodic (S2 by FFT there), so a generated volume's S2 wraps at its faces."""
    mod = _score_module()
    if mod is None:
        a = np.asarray(arrays)
        return (pi.fractions_of(a, n), pi.two_point(a, n, a.shape[1] // 2, periodic=True),
                "surrogate/phase_images.py (periodic S2)")
    s = mod.score_images(list(arrays), phases=n, pde=False)
    if "fractions" in s["images"][0]:
        fr = np.array([r["fractions"] for r in s["images"]])
    else:  # 2-D images of two phases carry no fractions in their records
        fr = pi.fractions_of(np.asarray(arrays), n)
    axes = list(s["s2"][0])
    s2 = np.array([[s["s2"][k][ax] for ax in axes] for k in range(n)])
    return fr, s2, "surrogate/score.py score_images (periodic S2 by FFT)"


def score_volumes(volumes: np.ndarray, fractions, training: np.ndarray | None = None) -> dict:
    """Phase fractions of each volume and their deviation from the targets, S2 per phase
    along each axis and its spread between axes (isotropy, Sec. IV.B.1), and S2's RMS
    difference from the 2-D training images' (lags 0..side // 2)."""
    t = pi.check_fractions(fractions)
    n = t.size
    v = np.asarray(volumes)
    fr, s2, source = _measures(v, n)
    dev = fr - t
    out = {
        "volumes": int(len(v)), "side": int(v.shape[1]), "targets": t.tolist(),
        "fractions": fr.round(6).tolist(), "fractions_mean": fr.mean(0).tolist(),
        "deviation_mean_abs": np.abs(dev).mean(0).tolist(), "deviation_max_abs": np.abs(dev).max(0).tolist(),
        "deviation_max": float(np.abs(dev).max()), "deviation_mean_signed": dev.mean(0).tolist(),
        "s2": {"r": list(range(s2.shape[2])), "per_phase_axis": s2.round(6).tolist(),
               "anisotropy": pi.anisotropy(s2), "source": source,
               "rule": "S2(r) = P(voxels r apart along z, y, x both in phase k); anisotropy: the largest "
                       "spread between axes over phases and lags"},
    }
    if training is not None:
        _, s2_t, _ = _measures(np.asarray(training), n)
        r = min(s2.shape[2], s2_t.shape[2])
        s2_t = s2_t.mean(1)[:, :r]
        out["s2"]["training_2d"] = s2_t.round(6).tolist()
        out["s2"]["rms_vs_training"] = np.sqrt(((s2.mean(1)[:, :r] - s2_t) ** 2).mean(1)).tolist()
    return out


def slices_picture(volumes: np.ndarray, training: np.ndarray, count: int = 4) -> bytes:
    """PNG: the x, y and z mid-slices of the first `count` volumes, one row each, and a
    row of training crops of the same side, phases in distinct colours."""
    rows, labels = [], []
    for i, v in enumerate(volumes[:count]):
        m = v.shape[0] // 2
        rows.append([v[m, :, :], v[:, m, :], v[:, :, m]])
        labels.append(f"vol {i + 1}")
    s = volumes.shape[1]
    rows.append([c[:s, :s] for c in training[:3]])
    labels.append("training")
    return pi.montage(rows, scale=max(1, 128 // s), labels=labels,
                      titles=["mid-slice across axis 0", "across axis 1", "across axis 2"])


def build(data, out, *, epochs: int = EPOCHS, seed: int = 0, samples: int = 20, side: int = 32,
          fractions=None, density_weight: float = DENSITY_WEIGHT, steps: int | None = None,
          config: dict | None = None, device=None, progress=None, log=None) -> dict:
    """Train on a phase-image folder and write the run folder `out`: model.pt, card.json,
    card.md, samples/0001.npy..., slices.png, score.json. Returns the card."""
    from ..core.files import atomic_folder

    phases, manifest = pi.load(data)
    fractions = pi.check_fractions(fractions if fractions is not None else manifest["fractions"])
    noise_size(side)
    t0 = time.perf_counter()
    result = train(phases, fractions, epochs=epochs, seed=seed, density_weight=density_weight, steps=steps,
                   config=config, device=device, progress=progress, log=log)
    t1 = time.perf_counter()
    vols = sample(result["generator"], samples, side, seed=seed)
    per_volume = (time.perf_counter() - t1) / max(samples, 1)
    score = score_volumes(vols, fractions, phases[:200])
    score["seconds_per_volume"] = per_volume
    names = manifest.get("names", [f"phase{k}" for k in range(len(fractions))])
    frac_text = ",".join(f"{x:g}" for x in fractions)
    card = {
        "name": Path(out).name, "model": "SliceGAN (seed 001 Sec. IV): 3-D generator, 2-D critic on slices",
        "data": {"folder": str(data), "format": manifest.get("format"), "count": int(len(phases)),
                 "size": int(phases.shape[1]), "names": names, "data_fractions": manifest.get("measured_fractions"),
                 "seed": manifest.get("seed"), "generator": manifest.get("generator"),
                 "regenerate": manifest.get("command"),
                 "note": "synthetic: no real micrograph can be downloaded here"},
        "targets": dict(zip(names, fractions.tolist())), "density_weight": float(density_weight),
        "seed": seed, "epochs": result["settings"]["epochs"], "steps": result["steps"],
        "steps_per_epoch": result["steps_per_epoch"], "train_seconds": round(result["seconds"], 1),
        "total_seconds": round(time.perf_counter() - t0, 1), "device": result["device"],
        "torch": result["settings"]["torch"], "python": platform.python_version(),
        "settings": result["settings"], "history": result["history"],
        "samples": {"count": int(samples), "side": int(side), "folder": "samples", "dtype": "uint8 phase indices",
                    "seconds_per_volume": round(per_volume, 4)},
        "score": {k: score[k] for k in ("fractions_mean", "deviation_mean_abs", "deviation_max_abs", "deviation_max")}
        | {"s2_anisotropy": score["s2"]["anisotropy"], "s2_rms_vs_training": score["s2"].get("rms_vs_training")},
        "command": f"pgenc baseline slicegan {data} --out {out} --epochs {epochs} --seed {seed} --samples {samples} "
                   f"--side {side} --fractions {frac_text} --density-weight {density_weight:g}"
                   + (f" (Python: steps={steps})" if steps is not None else ""),
    }
    with atomic_folder(out, "run folder") as tmp:
        save(result, tmp / "model.pt", {"names": names, "data": str(data)})
        (tmp / "samples").mkdir()
        for i, v in enumerate(vols):
            np.save(tmp / "samples" / f"{i + 1:04d}.npy", v)
        (tmp / "slices.png").write_bytes(slices_picture(vols, phases))
        (tmp / "score.json").write_text(json.dumps(score, indent=1) + "\n")
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (tmp / "card.md").write_text(markdown(card))
    return card


def markdown(card: dict) -> str:
    d, s, sc = card["data"], card["settings"], card["score"]
    names = list(card["targets"])

    def per_phase(vals):
        return ", ".join(f"{n} {v:.4f}" for n, v in zip(names, vals))

    return "\n".join([
        f"# Model card: {card['name']}",
        "",
        f"- Model: {card['model']}; generator channels {s['nz']} -> {' -> '.join(map(str, s['gen_channels']))} "
        f"-> {s['phases']} (softmax), critic {s['phases']} -> {' -> '.join(map(str, s['critic_channels']))} -> 1",
        f"- Loss: {s['loss']}; gradient-penalty weight {s['gp_weight']}; "
        f"density weight {card['density_weight']:g}",
        f"- Targets: {per_phase(card['targets'].values())}",
        f"- Data: {d['count']} images {d['size']}x{d['size']} ({d['format']}, {d['note']}); "
        f"fractions in the data {per_phase(d['data_fractions'] or [])}; regenerate with `{d['regenerate']}`",
        f"- Training: seed {card['seed']}, {card['steps']} generator steps ({card['epochs']} epochs of "
        f"{card['steps_per_epoch']}), critic {s['critic_steps']} steps each, batches critic {s['batch_critic']} / "
        f"generator {s['batch_gen']} volumes of {s['train_side']}^3, Adam lr {s['lr']} betas {s['betas']}; "
        f"{card['train_seconds']} s on {card['device']} (threads: {s['threads']}), torch {card['torch']}",
        f"- Departures from SliceGAN: {s['departures']}",
        f"- Samples: {card['samples']['count']} volumes {card['samples']['side']}^3 in `samples/` "
        f"({card['samples']['seconds_per_volume']} s each); picture `slices.png`; full score `score.json`",
        f"- Phase fractions (argmax), mean: {per_phase(sc['fractions_mean'])}",
        f"- |fraction - target|: mean {per_phase(sc['deviation_mean_abs'])}; max {per_phase(sc['deviation_max_abs'])}",
        f"- S2 spread between axes (isotropy): {sc['s2_anisotropy']:.4f}; S2 RMS vs training images: "
        + (per_phase(sc["s2_rms_vs_training"]) if sc["s2_rms_vs_training"] else "n/a"),
        f"- Made by: `{card['command']}`",
        "",
    ])
