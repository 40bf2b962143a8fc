"""Plain ReLU networks in float64 NumPy: the layers, a batched forward pass, its input
gradient and interval bounds.

A plain ReLU network is Dense (Relu Dense)*, given as [(W, b), ...]: every layer but the
last is followed by a ReLU. These are float64 copies of the graph's float32 numbers; the
reference semantics stay onnxruntime's (`session.run_network`), and anything found with
these functions is checked there.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .network import Dense, Relu


def plain_relu_layers(net) -> Optional[list]:
    """[(W, b), ...] when the network is Dense (Relu Dense)*, else None."""
    out = []
    expect_dense = True
    for layer in net.layers:
        if expect_dense and isinstance(layer, Dense):
            out.append((layer.W, layer.b))
            expect_dense = False
        elif not expect_dense and isinstance(layer, Relu):
            expect_dense = True
        else:
            return None
    return out if out and not expect_dense else None


def forward(layers, x: np.ndarray) -> np.ndarray:
    """The network's outputs [P, n_y] on the points x [P, n_x]."""
    h = x
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def forward_masks(layers, x: np.ndarray):
    """(y [P, n_y], masks): the outputs at x [P, n_x] and, per hidden layer, which ReLUs are
    active there (for `input_gradient`)."""
    h, masks = x, []
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            masks.append(h > 0)
            h = np.maximum(h, 0.0)
    return h, masks


def input_gradient(layers, masks: list, C: np.ndarray) -> np.ndarray:
    """[P, n_x]: the gradient of C[p] . y with respect to x at each point (C [P, n_y], one row
    per point; `masks` from `forward_masks` there), through the ReLUs active there (one at
    exactly 0 counts as inactive: a one-sided derivative)."""
    g = C
    for i in range(len(layers) - 1, -1, -1):
        g = g @ layers[i][0]
        if i > 0:
            g = g * masks[i - 1]
    return g


def interval_bounds(layers, lo: np.ndarray, hi: np.ndarray) -> list:
    """[(l [B, n_k], u [B, n_k])] of every hidden pre-activation over B boxes lo, hi [B, n_x],
    by interval arithmetic (exact for one layer, loose for deeper ones)."""
    bounds = []
    l_h, u_h = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    for W, b in layers[:-1]:
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        l = l_h @ Wp.T + u_h @ Wn.T + b
        u = u_h @ Wp.T + l_h @ Wn.T + b
        bounds.append((l, u))
        l_h, u_h = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return bounds
