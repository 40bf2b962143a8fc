"""A network application `f(x)`: the flat output vector of the network declared as `f`.

Keyed `NETWORK` in the table (its name in the spec is the user's). Lowered exactly by the
network encoder, once per (network, input); or, for the input-space strategies, left opaque:
fresh real outputs and a `NetCall` saying which network maps which rows to them.
"""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from .. import ir
from ..affine import Aff
from ..nn.session import run_network
from .base import Atom, CallSite, NetCall, size_of

NETWORK = "net(...)"  # not a name a spec can declare


def _shape(site: CallSite, shapes: list) -> tuple:
    net = site.net
    if len(shapes) != 1:
        raise PgenError("E014", f"network `{site.func}` takes one input", site.span)
    if size_of(shapes[0]) != net.n_in:
        raise PgenError("E022", f"network `{site.func}` ({net.display}) takes {net.n_in} inputs "
                        f"(shape {list(net.input_shape)}), but is applied to a value of shape {list(shapes[0])}",
                        site.arg_spans[0], hint="index the argument to the network's input size")
    return (net.n_out,)


def _evaluate(site: CallSite, args: list) -> np.ndarray:
    x = np.asarray(args[0], dtype=np.float64).reshape(-1)
    return run_network(site.net.path, x).astype(np.float64).reshape(-1)


def _lower(ctx, site: CallSite, args: list, pol: int):
    x = ctx.aff(args[0])
    if x.is_constant():
        return _evaluate(site, [x.c])
    x = x.reshape((x.size,))
    key = (site.func, x.A.indptr.tobytes(), x.A.indices.tobytes(), x.A.data.tobytes(), x.c.tobytes())
    if key not in ctx.net_cache:
        label = f"{site.func}#{len(ctx.net_cache)}"
        if ctx.opaque_networks:
            ctx.net_cache[key] = _opaque(ctx, site, x, label)
        else:
            ctx.net_cache[key] = _encoded(ctx, site, x, label)
    return ctx.net_cache[key]


def _encoded(ctx, site: CallSite, x: Aff, label: str) -> Aff:
    from ..nn.encode import encode_network  # here: the checker reads this table and never encodes

    try:
        out = encode_network(site.net, x, ctx.model, label, ctx.origin(site.span), ctx.budget)
    except PgenError as err:
        if err.span.line == 0:
            err.span = site.span
        raise
    ctx.model.net_records.append(ir.NetRecord(label, str(site.net.path), x.lins(), out.lins()))
    return out


def _opaque(ctx, site: CallSite, x: Aff, label: str) -> Aff:
    """Free real outputs; the call itself is recorded for whoever evaluates the network."""
    origin = ctx.origin(site.span)
    outputs = [ctx.model.add_var(f"{label}.out[{k}]", ir.REAL, -np.inf, np.inf, origin)
               for k in range(site.net.n_out)]
    ctx.net_calls.append(NetCall(site.func, x.lins(), outputs, site.span))
    return Aff.of_vars(outputs[0], (len(outputs),), ctx.ncols()) if outputs else Aff.of_const(np.zeros(0), ctx.ncols())


APPLY = Atom("network", _shape, _lower, _evaluate, monotone=False)
