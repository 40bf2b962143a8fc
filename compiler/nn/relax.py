"""Linear relaxations of plain ReLU networks over batches of input boxes (CROWN).

Bounds on a box come from backward linear relaxation: every unstable ReLU is replaced by a
linear lower and upper bound and linear functions of the output are propagated back to the
input box, layer by layer, with the hidden layers' own bounds computed the same way.

Hidden-layer bounds (`layer_bounds`): forward linear bounds for every neuron, backward
passes only for the neurons those leave unstable, each with three choices of the unstable
ReLUs' lower slopes (any slope in [0, 1] gives a valid bound: the best per neuron is kept),
intersected with bounds known to hold already (a parent box's). `optimised_slope_bound`
optimises the lower slopes of a final bound by projected gradient ascent (alpha-CROWN for
the final bound: it approaches the triangle-relaxation LP over the same hidden bounds).
Everything is NumPy over a leading box axis.

Used by the input branch and bound (runtime/input_bab.py) and for the MILP encoder's big-M
bounds (encode.py). Float64 relaxation of the float32 network: callers widen by a margin.
"""
from __future__ import annotations

import numpy as np

# lower slopes of unstable ReLUs tried for hidden bounds and for the final bound; each is a
# valid relaxation, none dominates (measured on ACAS Xu 3_3 property 2: with all three for
# the hidden bounds and all four for the final bound, 4.9x fewer boxes at depth 25 of a
# breadth-first search than with "adaptive" alone)
HIDDEN_MODES = ("adaptive", "zero", "one")
FINAL_MODES = ("adaptive", "zero", "one", "parallel")
SLOPE_STEPS = 20  # projected gradient steps on a final bound's slopes


def relu_relaxation(l, u, mode: str = "adaptive"):
    """Lower slope, upper slope and upper intercept of relu on [l, u] (elementwise).

    The upper bound is the chord; the lower bound of an unstable ReLU is s*z for a slope s
    in [0, 1]: "adaptive" 1 where u > -l else 0 (CROWN's choice), "zero", "one", or
    "parallel" to the chord."""
    active = l >= 0
    unstable = (l < 0) & (u > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(unstable, u / np.where(unstable, u - l, 1.0), 0.0)
    up_s = np.where(active, 1.0, s)
    up_c = np.where(unstable, -s * l, 0.0)
    if mode == "adaptive":
        lo_s = np.where(active | (unstable & (u > -l)), 1.0, 0.0)
    elif mode == "zero":
        lo_s = np.where(active, 1.0, 0.0)
    elif mode == "one":
        lo_s = np.where(active | unstable, 1.0, 0.0)
    elif mode == "parallel":
        lo_s = up_s
    else:
        raise ValueError(f"unknown slope choice {mode!r}")
    return lo_s, up_s, up_c


def backward_bound(C, layers, k, pre, lo, hi, C_x=None, mode: str = "adaptive"):
    """Lower bounds [B, m] of C @ z_k (+ C_x @ x) over B boxes; z_k the k-th affine output.

    C is [m, n_k] (the same rows for every box) or [B, m, n_k] (rows per box); C_x [m, n_x].
    Also returns the input coefficients [B, m, n_x] of the bound. `mode`: the lower slopes
    (see `relu_relaxation`)."""
    W, b = layers[k]
    B = lo.shape[0]
    const = np.broadcast_to(C @ b, (B, C.shape[-2])).copy()
    lam = np.broadcast_to(C @ W, (B, C.shape[-2], W.shape[1]))
    for j in range(k - 1, -1, -1):
        lo_s, up_s, up_c = (a[:, None, :] for a in relu_relaxation(*pre[j], mode))
        pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
        const += np.sum(neg * up_c, axis=2)
        lam_z = pos * lo_s + neg * up_s
        Wj, bj = layers[j]
        const += lam_z @ bj
        lam = lam_z @ Wj
    if C_x is not None:
        lam = lam + C_x
    low = const + np.sum(np.maximum(lam, 0.0) * lo[:, None, :] + np.minimum(lam, 0.0) * hi[:, None, :], axis=2)
    return low, lam


def layer_bounds(layers, lo, hi, carried=None) -> list:
    """[(l [B, n_k], u [B, n_k])] of every hidden pre-activation over B boxes.

    `carried`: ([B, N], [B, N]) bounds of all N hidden neurons known to hold on each box
    (its parent's), intersected with the new ones before they are used.

    Forward linear bounds in the input (symbolic intervals: each neuron's bounds as linear
    functions of x, cheap for few inputs) for every neuron, then backward passes (CROWN)
    only for the neurons still unstable in some box of the batch: forward bounds alone
    are far looser in deep layers (measured on ACAS Xu: 9x wider at layer 6), backward
    passes for every neuron cost 9x the time. Layer by layer, so each layer's forward
    bounds use the tightened relaxations of the layers before it."""
    B, n_x = lo.shape
    a_lo = a_up = np.broadcast_to(np.eye(n_x), (B, n_x, n_x))
    c_lo = c_up = np.zeros((B, n_x))
    mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
    bounds = []
    offset = 0
    for k, (W, b) in enumerate(layers[:-1]):
        n = W.shape[0]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        z_up_a = Wp @ a_up + Wn @ a_lo
        z_up_c = c_up @ Wp.T + c_lo @ Wn.T + b
        z_lo_a = Wp @ a_lo + Wn @ a_up
        z_lo_c = c_lo @ Wp.T + c_up @ Wn.T + b
        u = np.einsum("bnk,bk->bn", z_up_a, mid) + np.einsum("bnk,bk->bn", np.abs(z_up_a), rad) + z_up_c
        l = np.einsum("bnk,bk->bn", z_lo_a, mid) - np.einsum("bnk,bk->bn", np.abs(z_lo_a), rad) + z_lo_c
        if carried is not None:
            l = np.maximum(l, carried[0][:, offset:offset + n])
            u = np.minimum(u, carried[1][:, offset:offset + n])
        if k > 0:
            rows = np.flatnonzero(np.any((l < 0) & (u > 0), axis=0))
            if len(rows):
                eye = np.eye(n)[rows]
                r = len(rows)
                for mode in HIDDEN_MODES:
                    low, _ = backward_bound(np.concatenate([eye, -eye]), layers, k, bounds, lo, hi, mode=mode)
                    l[:, rows] = np.maximum(l[:, rows], low[:, :r])
                    u[:, rows] = np.minimum(u[:, rows], -low[:, r:])
        bounds.append((l, u))
        offset += n
        lo_s, up_s, up_c = relu_relaxation(l, u)
        a_up, c_up = up_s[:, :, None] * z_up_a, up_s * z_up_c + up_c
        a_lo, c_lo = lo_s[:, :, None] * z_lo_a, lo_s * z_lo_c
    return bounds


def optimised_slope_bound(c_y, c_x, c0, layers, pre, lo, hi, slopes, steps: int = SLOPE_STEPS):
    """The best lower bound [B] of c_y.y + c_x.x + c0 (one row per box: c_y [B, n_y],
    c_x [B, n_x], c0 [B]) over `steps` rounds of projected gradient ascent on the unstable
    ReLUs' lower slopes, starting from `slopes` ([B, n_k] per hidden layer).

    Every slope vector in [0, 1] gives a valid bound, so the best one seen is valid. The
    bound is piecewise linear in the slopes; the gradient is taken in reverse through the
    backward pass (a supergradient where a coefficient changes sign), steps are normalised
    per box and shrink by 0.9 each round."""
    K = len(layers) - 1
    relaxed = [relu_relaxation(l, u) for l, u in pre]
    unstable = [(l < 0) & (u > 0) for l, u in pre]
    slopes = [np.where(m, s, r[0]) for s, m, r in zip(slopes, unstable, relaxed)]
    best = np.full(lo.shape[0], -np.inf)
    step = 0.5
    W_out, b_out = layers[K]
    for it in range(steps):
        const = c_y @ b_out + c0
        lam = c_y @ W_out
        seen = []
        for j in range(K - 1, -1, -1):
            _, up_s, up_c = relaxed[j]
            pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
            lam_z = pos * slopes[j] + neg * up_s
            const = const + np.sum(neg * up_c, axis=1) + lam_z @ layers[j][1]
            seen.append((j, lam))
            lam = lam_z @ layers[j][0]
        lam = lam + c_x
        best = np.maximum(best, const + np.sum(np.maximum(lam, 0.0) * lo + np.minimum(lam, 0.0) * hi, axis=1))
        if it == steps - 1:
            break
        g = np.where(lam > 0, lo, hi)  # d bound / d (input coefficients)
        grads = [None] * K
        for j, lam_j in reversed(seen):  # from the input side back towards the output
            _, up_s, up_c = relaxed[j]
            g_z = g @ layers[j][0].T + layers[j][1]  # d bound / d lam_z
            grads[j] = np.where(unstable[j], np.maximum(lam_j, 0.0) * g_z, 0.0)
            g = np.where(lam_j > 0, slopes[j], up_s) * g_z + np.where(lam_j < 0, up_c, 0.0)
        norm = np.max(np.stack([np.max(np.abs(gr), axis=1) for gr in grads]), axis=0)
        scale = (step / np.maximum(norm, 1e-300))[:, None]
        slopes = [np.where(m, np.clip(s + scale * gr, 0.0, 1.0), s) for s, m, gr in zip(slopes, unstable, grads)]
        step *= 0.9
    return best
