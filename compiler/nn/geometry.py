"""Index geometry of ONNX's spatial ops, in plain NumPy: which input cells each output cell
reads, and with which weight. The importer (`onnx_import.py`) turns these into exact linear
maps (Conv, ConvTranspose, AveragePool, Pad) or into the windows of a max (MaxPool).

Shapes are ONNX's (N, C, D1, ..., Dk) with N = 1; flat indices are row-major. Every function
follows the operator's text in the ONNX specification; the tests and `pgenc check
--net-check` compare the resulting maps with onnxruntime.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.sparse as sp


def _spatial_pads(attr_pads, auto_pad: str, size, kernel, stride, dilation, ceil_mode=False):
    """(begin, end) padding per spatial axis, and the output size, as Conv/Pool define them."""
    k = len(size)
    auto_pad = auto_pad or "NOTSET"
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [math.ceil(size[i] / stride[i]) for i in range(k)]
        total = [max(0, (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - size[i]) for i in range(k)]
        small = [t // 2 for t in total]
        begin = small if auto_pad == "SAME_UPPER" else [t - s for t, s in zip(total, small)]
        end = [t - b for t, b in zip(total, begin)]
        return begin, end, out
    if auto_pad == "VALID":
        begin, end = [0] * k, [0] * k
    else:
        pads = list(attr_pads) if attr_pads else [0] * (2 * k)
        begin, end = pads[:k], pads[k:]
    out = []
    for i in range(k):
        span = size[i] + begin[i] + end[i] - dilation[i] * (kernel[i] - 1) - 1
        n = (math.ceil(span / stride[i]) if ceil_mode else span // stride[i]) + 1
        # a last window that would start in the end padding is dropped (as onnxruntime and torch do)
        if ceil_mode and (n - 1) * stride[i] >= size[i] + begin[i]:
            n -= 1
        out.append(int(n))
    return begin, end, out


def _window_pairs(size, out, kernel, stride, dilation, begin):
    """Yield (kernel offset index, flat output positions, flat input positions) for every
    kernel offset, keeping only positions that fall inside the input (not in the padding)."""
    k = len(size)
    grids_o = np.indices(out).reshape(k, -1)            # (k, P_out)
    for kidx, offset in enumerate(itertools.product(*[range(kk) for kk in kernel])):
        pos = grids_o * np.array(stride)[:, None] + (np.array(offset) * np.array(dilation) - np.array(begin))[:, None]
        inside = np.all((pos >= 0) & (pos < np.array(size)[:, None]), axis=0)
        o_flat = np.ravel_multi_index(grids_o[:, inside], out) if k else np.zeros(1, np.int64)
        i_flat = np.ravel_multi_index(pos[:, inside], size) if k else np.zeros(1, np.int64)
        yield kidx, o_flat, i_flat


def conv_matrix(in_shape, weight, bias, pads, auto_pad, strides, dilations, group):
    """Conv as (sparse matrix [n_out, n_in], bias vector [n_out], output shape)."""
    _, C, *size = in_shape
    M, Cg, *kernel = weight.shape
    k = len(size)
    strides = list(strides or [1] * k)
    dilations = list(dilations or [1] * k)
    if C != Cg * group or M % group:
        raise ValueError(f"weight {list(weight.shape)} with group {group} does not fit {C} input channels")
    begin, _, out = _spatial_pads(pads, auto_pad, size, kernel, strides, dilations)
    if any(o <= 0 for o in out):
        raise ValueError(f"the output would be empty (spatial size {out})")
    P_in, P_out = int(np.prod(size)), int(np.prod(out))
    Mg = M // group
    m = np.arange(M)
    cin = (m // Mg)[:, None] * Cg + np.arange(Cg)[None, :]   # (M, Cg): input channel of each weight
    rows, cols, vals = [], [], []
    wflat = weight.reshape(M, Cg, -1).astype(np.float64)
    for kidx, o_flat, i_flat in _window_pairs(size, out, kernel, strides, dilations, begin):
        if not len(o_flat):
            continue
        shape = (M, Cg, len(o_flat))
        r = np.broadcast_to(m[:, None, None] * P_out + o_flat[None, None, :], shape)
        c = np.broadcast_to(cin[:, :, None] * P_in + i_flat[None, None, :], shape)
        v = np.broadcast_to(wflat[:, :, kidx][:, :, None], shape)
        rows.append(r.ravel()), cols.append(c.ravel()), vals.append(v.ravel())
    A = _coo(rows, cols, vals, (M * P_out, C * P_in))
    b = np.zeros(M * P_out) if bias is None else np.repeat(np.asarray(bias, np.float64), P_out)
    return A, b, (1, M, *out)


def conv_transpose_matrix(in_shape, weight, bias, pads, auto_pad, strides, dilations, group,
                          output_padding, output_shape):
    """ConvTranspose as (sparse matrix, bias vector, output shape): input cell i scatters
    weight[c, m, kappa] into output cell i * stride + kappa * dilation - pad_begin."""
    _, C, *size = in_shape
    Cw, Mg, *kernel = weight.shape
    k = len(size)
    strides = list(strides or [1] * k)
    dilations = list(dilations or [1] * k)
    output_padding = list(output_padding or [0] * k)
    if Cw != C or C % group:
        raise ValueError(f"weight {list(weight.shape)} with group {group} does not fit {C} input channels")
    M = Mg * group
    full = [strides[i] * (size[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(k)]
    if output_shape:
        out = list(output_shape)[-k:]
        total = [full[i] - out[i] for i in range(k)]
        if any(t < 0 for t in total):
            raise ValueError(f"output_shape {out} is larger than the full output {full}")
        if (auto_pad or "NOTSET") == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
    elif (auto_pad or "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        out = [size[i] * strides[i] for i in range(k)]
        total = [full[i] - out[i] for i in range(k)]
        # a kernel smaller than the stride: no negative padding; the output is the full one
        out = [full[i] if total[i] < 0 else out[i] for i in range(k)]
        total = [max(0, t) for t in total]
        begin = [t // 2 for t in total] if auto_pad == "SAME_UPPER" else [t - t // 2 for t in total]
    else:
        p = list(pads) if pads and (auto_pad or "NOTSET") == "NOTSET" else [0] * (2 * k)
        begin = p[:k]
        out = [full[i] - p[i] - p[k + i] for i in range(k)]
    if any(o <= 0 for o in out):
        raise ValueError(f"the output would be empty (spatial size {out})")
    P_in, P_out = int(np.prod(size)), int(np.prod(out))
    grids_i = np.indices(size).reshape(k, -1)
    Cg = C // group
    c = np.arange(C)
    mout = (c // Cg)[:, None] * Mg + np.arange(Mg)[None, :]     # (C, Mg): output channel
    wflat = weight.reshape(C, Mg, -1).astype(np.float64)
    rows, cols, vals = [], [], []
    for kidx, offset in enumerate(itertools.product(*[range(kk) for kk in kernel])):
        pos = grids_i * np.array(strides)[:, None] + (np.array(offset) * np.array(dilations) - np.array(begin))[:, None]
        inside = np.all((pos >= 0) & (pos < np.array(out)[:, None]), axis=0)
        if not inside.any():
            continue
        i_flat = np.ravel_multi_index(grids_i[:, inside], size)
        o_flat = np.ravel_multi_index(pos[:, inside], out)
        r = mout[:, :, None] * P_out + o_flat[None, None, :]
        cc = np.broadcast_to(c[:, None, None] * P_in + i_flat[None, None, :], r.shape)
        v = np.broadcast_to(wflat[:, :, kidx][:, :, None], r.shape)
        rows.append(r.ravel()), cols.append(cc.ravel()), vals.append(v.ravel())
    A = _coo(rows, cols, vals, (M * P_out, C * P_in))
    b = np.zeros(M * P_out) if bias is None else np.repeat(np.asarray(bias, np.float64), P_out)
    return A, b, (1, M, *out)


def pool_windows(in_shape, kernel, pads, auto_pad, strides, dilations, ceil_mode):
    """Pooling windows: (list per flat output cell of the flat input cells it covers, the
    number of cells of each window inside input + padding, output shape). Channels pool apart."""
    _, C, *size = in_shape
    k = len(size)
    strides = list(strides or [1] * k)
    dilations = list(dilations or [1] * k)
    begin, end, out = _spatial_pads(pads, auto_pad, size, kernel, strides, dilations, ceil_mode)
    if any(o <= 0 for o in out):
        raise ValueError(f"the output would be empty (spatial size {out})")
    P_in, P_out = int(np.prod(size)), int(np.prod(out))
    members = [[] for _ in range(P_out)]
    for _, o_flat, i_flat in _window_pairs(size, out, kernel, strides, dilations, begin):
        for o, i in zip(o_flat.tolist(), i_flat.tolist()):
            members[o].append(i)
    # cells of each window inside input + padding (AveragePool with count_include_pad)
    grids_o = np.indices(out).reshape(k, -1)
    padded = np.ones(P_out, np.int64)
    for a in range(k):
        start = grids_o[a] * strides[a] - begin[a]
        taps = np.arange(kernel[a])[None, :] * dilations[a] + start[:, None]
        padded *= ((taps >= -begin[a]) & (taps <= size[a] + end[a] - 1)).sum(axis=1)
    windows = [[c * P_in + i for i in members[o]] for c in range(C) for o in range(P_out)]
    counts = np.tile(padded, C)
    return windows, counts, (1, C, *out)


def average_pool_matrix(in_shape, kernel, pads, auto_pad, strides, dilations, ceil_mode, count_include_pad):
    windows, padded, out_shape = pool_windows(in_shape, kernel, pads, auto_pad, strides, dilations, ceil_mode)
    rows, cols, vals = [], [], []
    for r, (cells, n_pad) in enumerate(zip(windows, padded)):
        if not cells:
            continue
        div = n_pad if count_include_pad else len(cells)
        rows.append(np.full(len(cells), r)), cols.append(np.array(cells)), vals.append(np.full(len(cells), 1.0 / div))
    n_in = int(np.prod(in_shape))
    return _coo(rows, cols, vals, (len(windows), n_in)), out_shape


def pad_index(shape, pads, mode: str):
    """Pad as an index map: flat source cell per output cell, -1 where the constant goes."""
    k = len(shape)
    begin, end = list(pads[:k]), list(pads[k:])
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    # negative pads crop
    crop = tuple(slice(max(0, -b), shape[a] - max(0, -e)) for a, (b, e) in enumerate(zip(begin, end)))
    idx = idx[crop]
    width = [(max(0, b), max(0, e)) for b, e in zip(begin, end)]
    if mode == "constant":
        out = np.pad(idx, width, mode="constant", constant_values=-1)
    elif mode in ("reflect", "edge", "wrap"):
        if mode == "reflect" and any(w > s - 1 for (wb, we), s in zip(width, idx.shape) for w in (wb, we)):
            raise ValueError("reflect padding wider than the tensor minus one")
        out = np.pad(idx, width, mode=mode)
    else:
        raise ValueError(f"pad mode `{mode}`")
    return out.reshape(-1), out.shape


def _coo(rows, cols, vals, shape):
    if not rows:
        return sp.csr_matrix(shape)
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape).tocsr()
