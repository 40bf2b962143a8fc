"""Affine arrays: an array of linear expressions `A @ x + c`, shaped like the spec's values.

Lowering evaluates spec expressions to either a NumPy array (a constant) or
an `Aff`. Rows of `A` are the array's elements in row-major order; columns
are IR variables (the column count grows as the model does, so operands are
padded to a common width when combined).
"""
from __future__ import annotations

import numpy as np

from . import ir


def _sp():
    """scipy.sparse, imported on first use: importing the compiler (`pgenc check`, which
    builds no affine array) must not pay SciPy's ~0.2 s start-up."""
    import scipy.sparse

    return scipy.sparse


def _pad(A, ncols: int):
    if A.shape[1] == ncols:
        return A
    return _sp().csr_matrix((A.data, A.indices, A.indptr), shape=(A.shape[0], ncols))


class Aff:
    __slots__ = ("A", "c", "shape")

    def __init__(self, A, c: np.ndarray, shape: tuple):
        self.A = _sp().csr_matrix(A)
        self.c = np.asarray(c, dtype=np.float64).reshape(-1)
        self.shape = tuple(shape)

    # -- construction
    @staticmethod
    def of_vars(first: int, shape: tuple, ncols: int) -> "Aff":
        n = int(np.prod(shape)) if shape else 1
        A = _sp().csr_matrix((np.ones(n), np.arange(first, first + n), np.arange(n + 1)), shape=(n, ncols))
        return Aff(A, np.zeros(n), shape)

    @staticmethod
    def of_const(value, ncols: int) -> "Aff":
        arr = np.asarray(value, dtype=np.float64)
        return Aff(_sp().csr_matrix((arr.size, ncols)), arr.reshape(-1), arr.shape)

    @staticmethod
    def of_lins(lins: list, shape: tuple, ncols: int) -> "Aff":
        rows, cols, vals = [], [], []
        for r, lin in enumerate(lins):
            rows.extend([r] * len(lin.idx))
            cols.extend(lin.idx.tolist())
            vals.extend(lin.coef.tolist())
        A = _sp().csr_matrix((vals, (rows, cols)), shape=(len(lins), ncols))
        return Aff(A, np.array([lin.const for lin in lins]), shape)

    @property
    def size(self) -> int:
        return self.A.shape[0]

    # -- arithmetic (constants are NumPy arrays, broadcast NumPy-style)
    def _broadcast(self, shape: tuple) -> "Aff":
        if shape == self.shape:
            return self
        pos = np.broadcast_to(np.arange(self.size).reshape(self.shape), shape)
        return self.take(pos)

    def take(self, positions: np.ndarray) -> "Aff":
        rows = np.asarray(positions).reshape(-1)
        return Aff(self.A[rows], self.c[rows], np.asarray(positions).shape)

    def add(self, other, sign: float = 1.0) -> "Aff":
        if isinstance(other, Aff):
            shape = np.broadcast_shapes(self.shape, other.shape)
            a, b = self._broadcast(shape), other._broadcast(shape)
            ncols = max(a.A.shape[1], b.A.shape[1])
            return Aff(_pad(a.A, ncols) + sign * _pad(b.A, ncols), a.c + sign * b.c, shape)
        arr = np.asarray(other, dtype=np.float64)
        shape = np.broadcast_shapes(self.shape, arr.shape)
        a = self._broadcast(shape)
        return Aff(a.A, a.c + sign * np.broadcast_to(arr, shape).reshape(-1), shape)

    def scale(self, factor) -> "Aff":
        arr = np.asarray(factor, dtype=np.float64)
        shape = np.broadcast_shapes(self.shape, arr.shape)
        a = self._broadcast(shape)
        f = np.broadcast_to(arr, shape).reshape(-1)
        return Aff(_sp().diags(f) @ a.A, a.c * f, shape)

    def neg(self) -> "Aff":
        return Aff(-self.A, -self.c, self.shape)

    def total(self) -> "Aff":
        return Aff(_sp().csr_matrix(self.A.sum(axis=0)), np.array([self.c.sum()]), ())

    def matmul(self, W: np.ndarray, b: np.ndarray) -> "Aff":
        """W @ self + b, self taken as a flat vector."""
        A = _sp().csr_matrix(W) @ self.A if W.shape[0] * W.shape[1] > 0 else _sp().csr_matrix((W.shape[0], self.A.shape[1]))
        return Aff(_sp().csr_matrix(A), W @ self.c + b, (W.shape[0],))

    def reshape(self, shape: tuple) -> "Aff":
        return Aff(self.A, self.c, shape)

    @staticmethod
    def stack(items: list, ncols: int) -> "Aff":
        parts = [_pad(i.A, ncols) for i in items]
        shape = (len(items),) + items[0].shape
        return Aff(_sp().vstack(parts, format="csr"), np.concatenate([i.c for i in items]), shape)

    # -- reading back
    def lin(self, row: int) -> ir.Lin:
        start, end = self.A.indptr[row], self.A.indptr[row + 1]
        idx = self.A.indices[start:end].astype(np.int64)
        coef = self.A.data[start:end].astype(np.float64)
        keep = coef != 0.0
        return ir.Lin(idx[keep], coef[keep], float(self.c[row]))

    def lins(self) -> list:
        A = self.A.tocsr()
        A.sum_duplicates()
        self.A = A
        return [self.lin(r) for r in range(self.size)]

    def bounds(self, lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interval-arithmetic lower and upper bounds of every element."""
        A = _pad(self.A, len(lb))
        pos = A.maximum(0)
        neg = A.minimum(0)
        with np.errstate(invalid="ignore"):
            lo = self.c + pos @ lb + neg @ ub
            hi = self.c + pos @ ub + neg @ lb
        return lo, hi

    def is_constant(self) -> bool:
        return self.A.nnz == 0 or not np.any(self.A.data)
