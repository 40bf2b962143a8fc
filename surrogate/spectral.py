"""Spectral printing simulators for seed 002's printing experiments (Sec. 4.1, 4.3, 4.4.2, 4.5).

31 bands, 400-700 nm in 10 nm steps. Reflectances are fractions in [0, 1].

**Inks** come from a documented parametric family (no measured data ships with pgen): an
ink's transmittance through one full film is Beer-Lambert over Gaussian absorption bands,

    T(l) = exp(-(base + sum_b strength_b * exp(-((l - centre_b) / width_b)^2 / 2)))

`CMYK` (4 inks), `EIGHT_INKS` (CMYK plus orange, green, violet and a light black) and
`library(44)` (seeded: each ink one or two bands, centres 410-690 nm, widths 20-70 nm,
strengths 0.6-3.0, a small flat base) are fixed by this file: the same on every machine.

**Halftone printing** (`ynsn`): the Yule-Nielsen modified spectral Neugebauer model with
Demichel weights. A Neugebauer primary is the paper seen through the inks of a subset S,
`R_S = R_paper * prod_{i in S} T_i^2` (light crosses the ink twice; "the Neugebauer
primaries are computed using the multiplication of library ink transmittances", seed 002
Sec. 4.3); for area coverages a in [0, 1]^k the Demichel weight of S is
`prod_{i in S} a_i prod_{i not in S} (1 - a_i)`, and

    R(a) = (sum_S w_S(a) R_S^(1/n))^n,   n = YULE_NIELSEN_N

Because the primaries and weights are products over inks, the 2^k-term sum factorises
exactly: `R(a) = R_paper * prod_i (1 - a_i + a_i T_i^(2/n))^n` -- what `ynsn` computes for
any k (44 inks included); `ynsn_by_primaries` sums the 2^k terms and is the check.

**Contone layering** (`contone`): layers of ink stacked on the paper, each layer a
LAYER_FRACTION of a full film: `R(x) = R_paper * prod_i T_i^(2 * LAYER_FRACTION * x_i)` for
layer counts x (Beer-Lambert: stacks multiply). Seed 002 Sec. 4.4.2 prints 30 layers of 11
inks; `CONTONE_INKS` are 10 coloured inks and a clear one (transmittance 1), so a 30-layer
stack can hold less colour.

**Gray ramp** (`gray_ramp`): seed 002 Sec. 4.1's perfect gray targets, flat spectra from
dark to light.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WAVELENGTHS = np.arange(400, 701, 10, dtype=np.float64)   # 31 bands
YULE_NIELSEN_N = 2.0
LAYER_FRACTION = 0.1     # one contone layer = a tenth of a full ink film
CONTONE_LAYERS = 30


@dataclass(frozen=True)
class Ink:
    name: str
    bands: tuple = ()          # ((centre nm, width nm, strength), ...)
    base: float = 0.0          # flat absorbance (black inks)

    def absorbance(self) -> np.ndarray:
        a = np.full_like(WAVELENGTHS, self.base)
        for centre, width, strength in self.bands:
            a += strength * np.exp(-0.5 * ((WAVELENGTHS - centre) / width) ** 2)
        return a

    def transmittance(self) -> np.ndarray:
        return np.exp(-self.absorbance())


@dataclass(frozen=True)
class InkSet:
    name: str
    inks: tuple
    paper: np.ndarray = field(default_factory=lambda: paper_white(), compare=False)

    @property
    def k(self) -> int:
        return len(self.inks)

    def transmittances(self) -> np.ndarray:
        """(k, 31): one full film of each ink."""
        return np.stack([ink.transmittance() for ink in self.inks])


def paper_white() -> np.ndarray:
    """A bright paper: 0.88 with a gentle fall towards the blue end."""
    return 0.88 - 0.08 * np.exp(-0.5 * ((WAVELENGTHS - 400) / 30) ** 2)


CYAN = Ink("cyan", ((620, 55, 2.2), (690, 40, 0.6)))
MAGENTA = Ink("magenta", ((540, 40, 2.3),))
YELLOW = Ink("yellow", ((440, 35, 2.6),))
BLACK = Ink("black", (), 2.4)
CMYK = InkSet("cmyk", (CYAN, MAGENTA, YELLOW, BLACK))
EIGHT_INKS = InkSet("ink8", (CYAN, MAGENTA, YELLOW, BLACK,
                             Ink("orange", ((480, 40, 2.0), (520, 30, 0.8))),
                             Ink("green", ((450, 40, 1.6), (640, 45, 1.8))),
                             Ink("violet", ((560, 45, 2.0), (600, 40, 1.0))),
                             Ink("light black", (), 0.7)))


def library(k: int = 44, seed: int = 44) -> InkSet:
    """A seeded ink library: k inks of one or two absorption bands (see the module text)."""
    rng = np.random.default_rng(seed)
    inks = []
    for i in range(k):
        n_bands = 1 + int(rng.random() < 0.35)
        bands = tuple((float(rng.uniform(410, 690)), float(rng.uniform(20, 70)), float(rng.uniform(0.6, 3.0)))
                      for _ in range(n_bands))
        inks.append(Ink(f"ink{i + 1:02d}", bands, float(rng.uniform(0.0, 0.15))))
    return InkSet(f"ink{k}", tuple(inks))


CONTONE_INKS = InkSet("contone11", library(10, seed=11).inks + (Ink("clear"),))

INK_SETS = {"cmyk": CMYK, "ink8": EIGHT_INKS, "ink44": library(44), "contone11": CONTONE_INKS}


def _coverages(a, k: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape[-1] != k:
        raise ValueError(f"expected {k} ink values per design, got shape {list(a.shape)}")
    return a


def ynsn(a, inks: InkSet, n: float = YULE_NIELSEN_N) -> np.ndarray:
    """Reflectance (..., 31) of halftone coverages a (..., k) in [0, 1] (product form)."""
    a = _coverages(a, inks.k)[..., None]                       # (..., k, 1)
    t = inks.transmittances() ** (2.0 / n)                     # (k, 31)
    return inks.paper * np.prod(1.0 - a + a * t, axis=-2) ** n


def ynsn_by_primaries(a, inks: InkSet, n: float = YULE_NIELSEN_N) -> np.ndarray:
    """The same by summing all 2^k Neugebauer primaries with Demichel weights (k <= 12)."""
    a = _coverages(a, inks.k)
    if inks.k > 12:
        raise ValueError(f"{inks.k} inks make 2^{inks.k} primaries: use ynsn")
    T = inks.transmittances()
    total = np.zeros(a.shape[:-1] + (len(WAVELENGTHS),))
    for mask in range(2 ** inks.k):
        members = [(mask >> i) & 1 for i in range(inks.k)]
        primary = inks.paper * np.prod([T[i] ** 2 for i in range(inks.k) if members[i]] or [np.ones_like(WAVELENGTHS)],
                                       axis=0)
        weight = np.prod([a[..., i] if members[i] else 1.0 - a[..., i] for i in range(inks.k)], axis=0)
        total = total + np.asarray(weight)[..., None] * primary ** (1.0 / n)
    return total ** n


def contone(x, inks: InkSet = CONTONE_INKS) -> np.ndarray:
    """Reflectance (..., 31) of a stack of x (..., k) layers per ink (any real x >= 0)."""
    x = _coverages(x, inks.k)[..., None]
    return inks.paper * np.prod(inks.transmittances() ** (2.0 * LAYER_FRACTION * x), axis=-2)


def gray_ramp(count: int = 901, darkest: float = 0.03, lightest: float = 0.80) -> np.ndarray:
    """(count, 31) flat spectra, reflectance `darkest` .. `lightest` (seed 002: 901 grays)."""
    return np.repeat(np.linspace(darkest, lightest, count)[:, None], len(WAVELENGTHS), axis=1)
