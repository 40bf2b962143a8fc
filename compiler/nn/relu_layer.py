"""One Dense + Relu layer assembled from several piecewise-linear ops at once.

Every piecewise-linear op the importer reads is written with ReLUs, exactly:

    relu(v)              LeakyRelu / PRelu:  relu(v) - a relu(-v)
    Abs:  relu(v) + relu(-v)                 Clip:  lo + relu(v - lo) - relu(v - hi)
    max(a, b) = b + relu(a - b)              min(a, b) = a - relu(a - b)

A tensor that is still needed after the layer (a branch, a residual, the `b` of a max) is
carried through it: v = relu(v) - relu(-v), or relu(v) alone where v >= 0 is known (the
layer's inputs are ReLU or Boolean outputs and v's weights and offset are >= 0). The encoder
gives such a unit no binary, since its bounds show it stably active.

Units are rows over the current basis (the previous layer's outputs); what the ops want
afterwards is a `Combo`: a sparse combination of the units' outputs plus a constant.
Identical units are merged when the layer is finished.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Combo:
    """k values, each sum_j coef * unit_j + const (triplets row, unit, coef)."""
    k: int
    rows: np.ndarray
    units: np.ndarray
    coefs: np.ndarray
    const: np.ndarray

    @staticmethod
    def constant(values) -> "Combo":
        values = np.asarray(values, np.float64)
        empty = np.zeros(0, np.int64)
        return Combo(len(values), empty, empty, np.zeros(0), values.copy())

    def __add__(self, other: "Combo") -> "Combo":
        assert self.k == other.k
        return Combo(self.k, np.concatenate([self.rows, other.rows]), np.concatenate([self.units, other.units]),
                     np.concatenate([self.coefs, other.coefs]), self.const + other.const)

    def scaled(self, s) -> "Combo":
        """Row r times s[r] (or a scalar)."""
        s = np.broadcast_to(np.asarray(s, np.float64), (self.k,))
        return Combo(self.k, self.rows, self.units, self.coefs * s[self.rows], self.const * s)

    def __neg__(self) -> "Combo":
        return self.scaled(-1.0)

    def __sub__(self, other: "Combo") -> "Combo":
        return self + (-other)


class ReluLayer:
    def __init__(self, basis: int, basis_nonneg: bool):
        self.basis = basis
        self.basis_nonneg = basis_nonneg  # the layer's inputs are all >= 0 (ReLU or Boolean outputs)
        self._W: list = []
        self._b: list = []
        self.m = 0

    def relu(self, W: np.ndarray, b: np.ndarray) -> Combo:
        """relu(W u + b), one unit per row."""
        k = W.shape[0]
        start = self.m
        self._W.append(np.asarray(W, np.float64))
        self._b.append(np.asarray(b, np.float64))
        self.m += k
        rows = np.arange(k)
        return Combo(k, rows, start + rows, np.ones(k), np.zeros(k))

    def carry(self, W: np.ndarray, b: np.ndarray) -> Combo:
        """W u + b itself, through the layer."""
        W = np.asarray(W, np.float64)
        b = np.asarray(b, np.float64)
        k = W.shape[0]
        nonzero = np.any(W != 0, axis=1)
        const = np.where(nonzero, 0.0, b)
        if self.basis_nonneg:
            pos = nonzero & np.all(W >= 0, axis=1) & (b >= 0)
            neg = nonzero & ~pos & np.all(W <= 0, axis=1) & (b <= 0)
        else:
            pos = neg = np.zeros(k, bool)
        both = nonzero & ~pos & ~neg
        out = Combo.constant(const)
        for mask, sign, two in ((pos, 1.0, False), (neg, -1.0, False), (both, 1.0, True)):
            idx = np.nonzero(mask)[0]
            if not len(idx):
                continue
            part = self.relu(sign * W[idx], sign * b[idx])
            terms = [(part, sign)]
            if two:
                terms.append((self.relu(-W[idx], -b[idx]), -1.0))
            for combo, coef in terms:
                out = out + Combo(k, idx[combo.rows], combo.units, coef * combo.coefs, np.zeros(k))
        return out

    def finish(self):
        """(W, b) of the layer's merged units, and the [m, units] 0/1 matrix merging them."""
        if not self.m:
            W = np.zeros((0, self.basis))
            return W, np.zeros(0), sp.csr_matrix((0, 0))
        W = np.vstack(self._W)
        b = np.concatenate(self._b)
        keys = np.hstack([W, b[:, None]])
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        # keep the units in the order they were asked for (readable names, stable layers)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        merge = sp.csr_matrix((np.ones(self.m), (np.arange(self.m), rank[inverse.reshape(-1)])),
                              shape=(self.m, len(order)))
        kept = first[order]
        return W[kept], b[kept], merge

    @staticmethod
    def dense(combo: Combo, merge) -> tuple:
        """(W, b) of a combination over the merged units."""
        n_units = merge.shape[1]
        C = sp.csr_matrix((combo.coefs, (combo.rows, combo.units)), shape=(combo.k, merge.shape[0]))
        W = (C @ merge).toarray() if n_units else np.zeros((combo.k, 0))
        return W, combo.const.copy()
