"""Planar soft-arm kinematics for seed 002's soft-robot experiment (Sec. 4.2): 40 side-edge
stretches in, the 103 vertex positions (206 coordinates) of the arm at rest out.

**Geometry.** In its reference shape the arm stands on the x axis, WIDTH = 1 wide and
40 rows of ROW = 0.25 tall (length 10). Three columns of vertices:

- left rail  L_j at (-WIDTH/2, j ROW), j = 0..40: vertex j
- spine      S_k at (0, 2k ROW),      k = 0..20: vertex 41 + k
- right rail R_j at (+WIDTH/2, j ROW), j = 0..40: vertex 62 + j

The output is y = [x_0, y_0, x_1, y_1, ...] (206 numbers). `TIP` = (122, 123) are the
coordinates of S_20 (vertex 61), the centre of the tip (seed 002 counts its tip as
indices 123, 124, from 1). `BASE` = L_0, S_0, R_0 are fixed. `EXPOSED` are the rail vertices
at the cell corners above the base (L_2i, R_2i, i = 1..20): the outline an obstacle meets.

The arm is 20 cells; cell i spans rows 2i..2i+2 and has a left and a right half, each a
strip of three triangles (S_i, L_2i, L_2i+1), (S_i, L_2i+1, S_i+1), (S_i+1, L_2i+1, L_2i+2)
(mirrored on the right). The springs of a half: two rail segments (its side edge, split
by the mid-edge vertex L_2i+1), two diagonals S_i-L_2i+1 and L_2i+1-S_i+1, the half-rung
S_i+1-L_2i+2 at its top; with the spine S_i-S_i+1 the seven bars close three triangles,
so each half is rigid and so is the arm (11 bars a cell, 220 in all).

**Design.** x[i] (i = 0..19) is the stretch of the left side edge of cell i, bottom to
top, x[20 + i] the right one: a fractional change of rest length, in [-0.2, 0.2] (seed
002: Sun et al. 2021's limits).

**Actuation as growth.** An actuator stretches its half-cell along the arm: the half's
rest shape is the reference stretched by (1 + s) along the arm, so the rail segments rest
at ROW (1 + s), the diagonals at sqrt((WIDTH/2)^2 + (ROW (1 + s))^2) and the half-rung at
WIDTH/2. The spine belongs to both halves: it rests at 2 ROW (1 + (s_L + s_R) / 2) (one
spring from each half, each of half the stiffness, has the same minimisers).

**Mechanics.** The equilibrium shape minimises the elastic energy of bars,
E = sum_e k_e / (2 L_e) (l_e - L_e)^2 (axial stiffness EA = k_e, rest length L_e, length
l_e), over the 100 free vertices. Rails, spine and rungs have k = 1; the diagonals, a soft
shear web between stiff fibres, K_SHEAR. `solve` runs Newton's method on E for a batch of
designs at once (the bar Hessians with their geometric term clipped at zero so every
step descends; backtracking on E), started from `trapezoid_chain`, and stops when every
force is below GTOL; `solve_lsq` is the same minimum by scipy's least squares with the
analytic Jacobian, one design at a time (the check, and a fallback).

**What it must do** (tests/surrogate/test_softarm.py):

- x = 0 gives the reference shape (every bar at rest).
- The same stretch on both sides of every cell (any profile along the arm): each half's
  rest shape is the reference stretched along the arm, and the halves fit, so the arm
  stays straight, stress free, with length 2 ROW sum_i (1 + s_i) exactly.
- Rails and spine rest at lengths linear across the width (1 + s_L, 1 + mean, 1 + s_R),
  so with rigid rungs each cell is an isosceles trapezoid and a uniform one-sided stretch
  bends the arm away from the longer side into a circular arc of centre-line curvature
  kappa = |s_L - s_R| / (WIDTH (1 + (s_L + s_R) / 2)): the thin-face sandwich bilayer
  (Timoshenko's bimetal strip when the faces carry the axial stiffness), which is
  `trapezoid_chain` exactly. The diagonals want their own half's growth, not the linear
  interpolation across the width, and perturb this by O(K_SHEAR).
"""
from __future__ import annotations

import numpy as np

N_CELLS = 20
N_ROWS = 2 * N_CELLS + 1            # rail vertices per side
WIDTH = 1.0                         # 1 wide, 10 long: seed 002's obstacle (r = 0.9) is to scale
ROW = 0.25
STRETCH = 0.2                       # the design box, [-STRETCH, STRETCH]
N_DESIGN = 2 * N_CELLS
N_VERTICES = 2 * N_ROWS + N_CELLS + 1
N_OUT = 2 * N_VERTICES
K_SHEAR = 0.1                       # diagonals: a soft web between stiff fibres (module doc)
GTOL = 1e-10                        # largest force on a free vertex at a solution
CHUNK = 512                         # designs per batched Newton solve


def left(j):
    return j


def spine(k):
    return N_ROWS + k


def right(j):
    return N_ROWS + N_CELLS + 1 + j


TIP_VERTEX = spine(N_CELLS)
TIP = (2 * TIP_VERTEX, 2 * TIP_VERTEX + 1)
BASE = (left(0), spine(0), right(0))
EXPOSED = tuple(v for i in range(1, N_CELLS + 1) for v in (left(2 * i), right(2 * i)))
# free vertices row by row (L_j, S_j/2 on even rows, R_j): bars then join vertices at most
# five apart, so the Hessian is banded
FREE = np.array([v for j in range(N_ROWS) for v in (left(j), *((spine(j // 2),) if j % 2 == 0 else ()), right(j))
                 if v not in BASE])


class SoftArmError(ValueError):
    """A design the soft-arm simulator cannot take (the message says why)."""


def _springs():
    """(i, j, kind, actuators, stiffness) of every bar; kind 0 rail, 1 diagonal, 2 rung, 3 spine.
    A bar rests at its kind's length for the mean stretch of its two actuators (the same one
    twice except for the spine, which both halves of its cell grow)."""
    rows = []
    for c in range(N_CELLS):
        for side, rail in ((0, left), (1, right)):
            a = side * N_CELLS + c
            lo, mid, hi = rail(2 * c), rail(2 * c + 1), rail(2 * c + 2)
            rows += [(lo, mid, 0, a, a, 1.0), (mid, hi, 0, a, a, 1.0),
                     (spine(c), mid, 1, a, a, K_SHEAR), (mid, spine(c + 1), 1, a, a, K_SHEAR),
                     (spine(c + 1), hi, 2, a, a, 1.0)]
        rows.append((spine(c), spine(c + 1), 3, c, N_CELLS + c, 1.0))
    i, j, kind, a1, a2, k = (np.array(col) for col in zip(*rows))
    return i, j, kind, a1, a2, k.astype(np.float64)


SPRING_I, SPRING_J, SPRING_KIND, SPRING_A1, SPRING_A2, SPRING_K = _springs()


def reference() -> np.ndarray:
    """(206,) the unactuated arm."""
    p = np.zeros((N_VERTICES, 2))
    j = np.arange(N_ROWS)
    p[left(j)] = np.c_[np.full(N_ROWS, -WIDTH / 2), j * ROW]
    p[right(j)] = np.c_[np.full(N_ROWS, WIDTH / 2), j * ROW]
    k = np.arange(N_CELLS + 1)
    p[spine(k)] = np.c_[np.zeros(N_CELLS + 1), 2 * k * ROW]
    return p.reshape(-1)


def check_designs(x) -> np.ndarray:
    """x as a float array [B, 40] (one design [40] becomes [1, 40]), or a SoftArmError."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != N_DESIGN:
        raise SoftArmError(f"a soft-arm design is {N_DESIGN} stretches (20 left, 20 right), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise SoftArmError(f"design {int(np.argwhere(~np.isfinite(x))[0][0])} has a stretch that is not finite")
    if np.any(np.abs(x) > 0.5):
        # beyond +-50 % a bar model of an elastomer arm means nothing (the box is +-20 %)
        raise SoftArmError(f"stretches must lie in [-0.5, 0.5] (the design box is [-{STRETCH}, {STRETCH}]); "
                           f"got {float(x[np.unravel_index(np.argmax(np.abs(x)), x.shape)]):.3g}")
    return x


def rest_lengths(x: np.ndarray) -> np.ndarray:
    """(B, n_springs) rest lengths for designs x [B, 40] (actuation as growth, module doc)."""
    grown = ROW * (1.0 + (x[:, SPRING_A1] + x[:, SPRING_A2]) / 2)
    return np.select([SPRING_KIND == 0, SPRING_KIND == 1, SPRING_KIND == 2],
                     [grown, np.hypot(WIDTH / 2, grown), np.full_like(grown, WIDTH / 2)], 2 * grown)


def trapezoid_chain(x) -> np.ndarray:
    """(B, 206): the arm when rails, spine and rungs are rigid (K_SHEAR -> 0), in closed form.

    Cell i is the isosceles trapezoid with side edges 2 ROW (1 + s_L), 2 ROW (1 + s_R) and
    rungs WIDTH: its top rung turns by -2 asin(ROW (s_L - s_R) / WIDTH) and the spine chord,
    2 ROW (1 + (s_L + s_R) / 2), points along the mean of the two rung normals. The mid-edge
    vertices sit at the middle of their side edges."""
    x = check_designs(x)
    sl, sr = x[:, :N_CELLS], x[:, N_CELLS:]
    turn = -2.0 * np.arcsin(ROW * (sl - sr) / WIDTH)
    theta = np.concatenate([np.zeros((len(x), 1)), np.cumsum(turn, axis=1)], axis=1)   # rung angles
    chord = 2 * ROW * (1 + (sl + sr) / 2)
    mid = theta[:, :-1] + turn / 2
    step = chord[..., None] * np.stack([-np.sin(mid), np.cos(mid)], axis=-1)
    centre = np.concatenate([np.zeros((len(x), 1, 2)), np.cumsum(step, axis=1)], axis=1)   # S_0..S_20
    across = (WIDTH / 2) * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    p = np.zeros((len(x), N_VERTICES, 2))
    even = 2 * np.arange(N_CELLS + 1)
    p[:, spine(np.arange(N_CELLS + 1))] = centre
    p[:, left(even)] = centre - across
    p[:, right(even)] = centre + across
    for rail in (left, right):
        p[:, rail(even[:-1] + 1)] = (p[:, rail(even[:-1])] + p[:, rail(even[1:])]) / 2
    return p.reshape(len(x), -1)


def energy(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(B,) elastic energy of shapes y [B, 206] under designs x [B, 40]."""
    p = y.reshape(len(y), N_VERTICES, 2)
    rest = rest_lengths(x)
    length = np.linalg.norm(p[:, SPRING_I] - p[:, SPRING_J], axis=-1)
    return np.sum(SPRING_K / (2 * rest) * (length - rest) ** 2, axis=1)


def _bars(y: np.ndarray, x: np.ndarray):
    p = y.reshape(len(y), N_VERTICES, 2)
    d = p[:, SPRING_I] - p[:, SPRING_J]
    length = np.linalg.norm(d, axis=-1)
    return d / length[..., None], length, rest_lengths(x)


def gradient(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(B, 206) dE/dy (the forces on the vertices, negated), fixed vertices included."""
    u, length, rest = _bars(y, x)
    f = (SPRING_K / rest * (length - rest))[..., None] * u
    return np.stack([f[..., 0] @ _INCIDENCE, f[..., 1] @ _INCIDENCE], axis=-1).reshape(len(y), -1)


def _incidence() -> np.ndarray:
    """(n_springs, 103): +1 at a spring's first vertex, -1 at its second."""
    inc = np.zeros((len(SPRING_I), N_VERTICES))
    inc[np.arange(len(SPRING_I)), SPRING_I] = 1.0
    inc[np.arange(len(SPRING_J)), SPRING_J] = -1.0
    return inc


def _assembly():
    """(band, sparse map): the springs' 2 x 2 blocks (flattened) to the lower band of the
    free-coordinate Hessian in scipy's `solveh_banded` layout, ab[r - c, c] = H[r, c]."""
    from scipy.sparse import csr_matrix

    free_of = np.full(N_VERTICES, -1)
    free_of[FREE] = np.arange(len(FREE))
    n = 2 * len(FREE)
    both = (free_of[SPRING_I] >= 0) & (free_of[SPRING_J] >= 0)
    band = int(2 * np.max(np.abs(free_of[SPRING_I] - free_of[SPRING_J])[both]) + 1)
    rows, cols, vals = [], [], []
    for e, (i, j) in enumerate(zip(SPRING_I, SPRING_J)):
        for a, b, sign in ((i, i, 1.0), (j, j, 1.0), (i, j, -1.0), (j, i, -1.0)):
            fa, fb = free_of[a], free_of[b]
            if fa < 0 or fb < 0:
                continue
            for r in range(2):
                for c in range(2):
                    row, col = 2 * fa + r, 2 * fb + c
                    if row >= col:
                        rows.append((row - col) * n + col)
                        cols.append(4 * e + 2 * r + c)
                        vals.append(sign)
    return band, csr_matrix((vals, (cols, rows)), shape=(4 * len(SPRING_I), (band + 1) * n))


_INCIDENCE = _incidence()
BAND, _ASSEMBLE = _assembly()
_FREE_DOF = np.stack([2 * FREE, 2 * FREE + 1], axis=1).reshape(-1)


def hessian(y: np.ndarray, x: np.ndarray, clip: bool = False) -> np.ndarray:
    """(B, BAND + 1, 200): the lower band of the Hessian of E over the free coordinates
    (`_FREE_DOF` order; `solveh_banded` layout). With `clip` each bar's geometric term
    (1 - L/l)(I - u u^T) is clipped at zero: positive definite, so always a descent step."""
    u, length, rest = _bars(y, x)
    c = SPRING_K / rest
    uu = u[..., :, None] * u[..., None, :]
    geo = 1.0 - rest / length
    geo = (np.maximum(0.0, geo) if clip else geo)[..., None, None] * (np.eye(2) - uu)
    blocks = (c[..., None, None] * (uu + geo)).reshape(len(y), -1)
    return np.asarray(blocks @ _ASSEMBLE).reshape(len(y), BAND + 1, len(_FREE_DOF))


def _newton_steps(y: np.ndarray, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Newton steps -H^-1 g, one banded Cholesky per design; the clipped Hessian where the
    exact one is not positive definite (far from a minimum)."""
    from scipy.linalg import LinAlgError, solveh_banded

    band = hessian(y, x)
    step = np.empty_like(g)
    for b in range(len(g)):
        try:
            step[b] = solveh_banded(band[b], -g[b], lower=True, check_finite=False)
        except LinAlgError:
            step[b] = solveh_banded(hessian(y[b:b + 1], x[b:b + 1], clip=True)[0], -g[b], lower=True,
                                    check_finite=False)
    return step


def _newton(x: np.ndarray, max_iter: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(shapes, converged) for designs x [B, 40] by batched Newton from the trapezoid chain."""
    y = trapezoid_chain(x)
    done = np.zeros(len(x), dtype=bool)
    for _ in range(max_iter):
        g = gradient(y, x)[:, _FREE_DOF]
        done = np.max(np.abs(g), axis=1) <= GTOL
        act = np.flatnonzero(~done)
        if not len(act):
            break
        ya, xa, ga = y[act], x[act], g[act]
        step = _newton_steps(ya, xa, ga)
        e0 = energy(ya, xa)
        alpha = np.ones(len(act))
        for _ in range(30):   # backtrack where the full step raises the energy (beyond rounding)
            trial = ya.copy()
            trial[:, _FREE_DOF] += alpha[:, None] * step
            worse = energy(trial, xa) > e0 + 1e-12 * (e0 + 1e-12)
            if not worse.any():
                break
            alpha[worse] /= 2
        y[act] = trial
    return y, done


def solve_lsq(x) -> np.ndarray:
    """(B, 206) by scipy's least squares (Levenberg-Marquardt, analytic Jacobian), one design
    at a time: the residual of bar e is sqrt(k_e / L_e) (l_e - L_e), so 0.5 |r|^2 = E."""
    from scipy.optimize import least_squares

    x = check_designs(x)
    out = trapezoid_chain(x)
    rows = np.arange(len(SPRING_I))
    for b in range(len(x)):
        xb = x[b:b + 1]
        scale = np.sqrt(SPRING_K / rest_lengths(xb)[0])
        full = out[b].copy()

        def residual(free, full=full, xb=xb, scale=scale):
            full[_FREE_DOF] = free
            _, length, rest = _bars(full[None], xb)
            return scale * (length[0] - rest[0])

        def jacobian(free, full=full, xb=xb, scale=scale):
            full[_FREE_DOF] = free
            u, _, _ = _bars(full[None], xb)
            jac = np.zeros((len(SPRING_I), N_OUT))
            for r in range(2):
                jac[rows, 2 * SPRING_I + r] = scale * u[0, :, r]
                jac[rows, 2 * SPRING_J + r] = -scale * u[0, :, r]
            return jac[:, _FREE_DOF]

        fit = least_squares(residual, out[b, _FREE_DOF], jac=jacobian, method="lm", xtol=1e-15, ftol=1e-15,
                            gtol=1e-15)
        out[b, _FREE_DOF] = fit.x
    return out


def solve(x) -> np.ndarray:
    """(B, 206) equilibrium shapes of designs x [B, 40] (or one design [40] -> [1, 206])."""
    x = check_designs(x)
    out = np.empty((len(x), N_OUT))
    for k in range(0, len(x), CHUNK):
        y, done = _newton(x[k:k + CHUNK])
        if not done.all():   # not met in practice; least squares is slower but sure
            y[~done] = solve_lsq(x[k:k + CHUNK][~done])
        out[k:k + CHUNK] = y
    return out


def smoothness(x) -> np.ndarray:
    """(B,) the largest |x[i+1] - 2 x[i] + x[i-1]| within a side (seed 002 eq. 12: the end
    edges of each side are not centres)."""
    x = check_designs(x)
    sides = x.reshape(len(x), 2, N_CELLS)
    return np.max(np.abs(sides[..., 2:] - 2 * sides[..., 1:-1] + sides[..., :-2]), axis=(1, 2))


def random_designs(count: int, rng: np.random.Generator, features: int = 16) -> np.ndarray:
    """(count, 40) smooth random stretch profiles: per side a stationary Gaussian process
    along the arm (squared-exponential kernel by random Fourier features, length scale
    log-uniform in [1.5, 10] cells, standard deviation uniform in [0.05, 0.3], mean uniform in
    [-0.15, 0.15]) clipped to the box. Smooth, so most satisfy seed 002's smoothness rule
    (eq. 12 with l_d = 0.2: 88 % of draws; the rest lie just past it, where a solver
    may still look); the clipping puts whole runs of edges on the box's faces."""
    shape = (count, 2, 1)
    scale = np.exp(rng.uniform(np.log(1.5), np.log(10.0), shape))
    omega = rng.standard_normal((count, 2, features)) / scale
    phase = rng.uniform(0, 2 * np.pi, (count, 2, features))
    i = np.arange(N_CELLS)
    field = np.sqrt(2.0 / features) * np.cos(omega[..., None] * i + phase[..., None]).sum(axis=2)
    x = rng.uniform(-0.15, 0.15, shape) + rng.uniform(0.05, 0.3, shape) * field
    return np.clip(x, -STRETCH, STRETCH).reshape(count, N_DESIGN)
