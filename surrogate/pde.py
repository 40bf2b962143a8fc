"""Effective diffusion coefficient of a periodic binary unit cell (homogenisation cell problem).

Void (0) conducts, solid (1) does not. With chi periodic on the void,

    div(grad chi + e_x) = 0 in the void,   no flux through solid faces,
    D_xx = (1/|Y|) * integral over the void of (1 + d chi/dx),

discretised by two-point finite volumes on the pixel grid with periodic wrap:
one unknown per void pixel, conductance 1 between 4-neighbouring void pixels,
0 across solid faces. The system is singular once per connected void
component (chi is defined up to a constant there), so one pixel of each is
pinned to 0. Then D_xx = (1/N) * sum over void-void x-faces (1 + chi_right - chi_left),
the mean flux, which is the same through every x-plane. D_yy is D_xx of the
transpose. Arrays are row-major: axis 0 is y (rows), axis 1 is x (columns).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

SOLVER_VERSION = "pde-2d-tpfa-1"


class CellError(ValueError):
    """A cell that is not a 2-D binary image (the message says what is wrong)."""


def _check(img) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim not in (2, 3) or min(a.shape) < 1:
        raise CellError(f"a cell must be a 2-D image (or a 3-D volume), got shape {list(a.shape)}")
    if not np.all((a == 0) | (a == 1)):
        bad = a[(a != 0) & (a != 1)].reshape(-1)[0]
        raise CellError(f"a cell must be binary (0 = void, 1 = solid), found the value {float(bad):g}")
    if np.all(a == 1):
        # no void: the cell problem has no unknowns and D_xx = porosity x (1/tortuosity) is 0/0
        raise CellError("the cell is all solid (no void pixel): there is nothing to diffuse "
                        "through, so D_xx is undefined; give a cell with at least one void (0) pixel")
    return a.astype(bool)


def _faces(void: np.ndarray) -> list:
    """Void-void faces with periodic wrap along every axis: [(from index, to index)] per
    axis; the last axis is x."""
    idx = np.arange(void.size).reshape(void.shape)
    v = void.reshape(-1)
    out = []
    for axis in range(void.ndim):
        nxt = np.roll(idx, -1, axis=axis).reshape(-1)
        f = v & v[nxt]
        a, b = idx.reshape(-1)[f], nxt[f]
        if void.shape[axis] == 1:  # a face from a pixel to itself carries nothing
            a, b = a[:0], b[:0]
        out.append((a, b))
    return out


def solve_chi(img) -> tuple[np.ndarray, tuple]:
    """The cell-problem solution chi (NaN on solid pixels) and the x-faces used.

    2-D: sparse direct solve. 3-D: conjugate gradients with a Jacobi preconditioner
    (the pinned system is symmetric positive definite)."""
    solid = _check(img)
    void = ~solid
    n = void.size
    faces = _faces(void)
    ax, bx = faces[-1]
    a = np.concatenate([f[0] for f in faces])
    b = np.concatenate([f[1] for f in faces])
    # graph Laplacian over all pixels; solid pixels are isolated and fixed below
    W = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    W = W + W.T
    deg = np.asarray(W.sum(axis=1)).reshape(-1)
    L = (sp.diags(deg) - W).tocsr()
    # conservation at pixel i of g_ab = chi_b - chi_a + [x-face] over its faces gives
    # (L chi)_i = (x-faces leaving i to the right) - (x-faces entering i from the left)
    rhs = np.zeros(n)
    np.add.at(rhs, ax, 1.0)
    np.add.at(rhs, bx, -1.0)
    # pin: every solid pixel, and one pixel per connected void component
    _, labels = connected_components(W, directed=False)
    v = void.reshape(-1)
    pinned = ~v.copy()
    vi = np.flatnonzero(v)
    _, first = np.unique(labels[vi], return_index=True)
    pinned[vi[first]] = True
    keep = np.flatnonzero(~pinned)
    chi = np.zeros(n)
    if len(keep):
        A = L[keep][:, keep].tocsc()
        if void.ndim == 2:
            chi[keep] = spsolve(A, rhs[keep])
        else:
            chi[keep] = _cg(A, rhs[keep])
    chi[~v] = np.nan
    return chi.reshape(void.shape), (ax, bx)


CG_RTOL = 1e-10


def _cg(A, rhs) -> np.ndarray:
    from scipy.sparse.linalg import cg

    # Jacobi (diagonal) preconditioner: symmetric, as CG needs (an incomplete LU is not,
    # and stalled on extruded random cells)
    inv_diag = 1.0 / A.diagonal()
    M = sp.diags(inv_diag)
    x, info = cg(A, rhs, rtol=CG_RTOL, atol=0.0, M=M, maxiter=20 * A.shape[0])
    if info != 0:
        raise RuntimeError(f"conjugate gradients did not converge ({info} iterations)")
    return x


def d_xx(img) -> float:
    """Effective diffusion coefficient along x (axis 1), in [0, porosity]."""
    chi, (ax, bx) = solve_chi(img)
    n = chi.size
    flat = chi.reshape(-1)
    value = float(np.sum(1.0 + flat[bx] - flat[ax]) / n)
    return 0.0 if abs(value) < 1e-12 else value  # a blocked cell sums to 0 up to rounding


def d_yy(img) -> float:
    """Along y (the second-to-last axis): D_xx of the cell with x and y swapped."""
    return d_xx(np.swapaxes(np.asarray(img), -1, -2))


def d_zz(volume) -> float:
    """Along z (axis 0) of a 3-D volume."""
    a = np.asarray(volume)
    if a.ndim != 3:
        raise CellError(f"D_zz needs a 3-D volume, got shape {list(a.shape)}")
    return d_xx(np.swapaxes(a, -1, 0))


def plane_fluxes(img) -> np.ndarray:
    """Total x-flux through each vertical plane between columns j and j+1 (periodic)."""
    chi, (ax, bx) = solve_chi(img)
    nx = chi.shape[-1]
    flat = chi.reshape(-1)
    q = 1.0 + flat[bx] - flat[ax]
    cols = ax % nx
    return np.bincount(cols, weights=q, minlength=nx)


def d_xx_batch(images, workers: int = 1) -> np.ndarray:
    """D_xx of many cells (a process pool when workers > 1)."""
    images = list(images)
    if workers <= 1:
        return np.array([d_xx(im) for im in images])
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return np.array(list(pool.map(d_xx, images, chunksize=64)))
