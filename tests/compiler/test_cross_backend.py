"""Cross-backend agreement on a corpus of generated specs.

Every backend that can take a spec must give the same verdict (optimal /
infeasible) and the same optimal objective within 1e-6 relative; every
solution is verified independently. CP-SAT must refuse real-valued models
with a clear message rather than answer.
"""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import compile_string
from pgen.core.errors import PgenError

BACKENDS = ["highs", "cbc", "z3", "cpsat"]
N_SPECS = 32


def _vec(v) -> str:
    return "[" + ", ".join(f"{float(a):.4f}" for a in v) + "]"


def make_spec(seed: int, folder) -> str:
    """A small random spec of one of eight shapes."""
    rng = np.random.default_rng(seed)
    kind = seed % 8
    if kind in (0, 1, 2):  # ReLU inverse design, real / integer inputs, optional linear side constraint
        n_in, n_out = int(rng.integers(2, 4)), int(rng.integers(1, 4))
        netgen.write(folder / "f.onnx", netgen.relu_mlp([n_in, 4, n_out], seed=seed))
        t = rng.uniform(-0.5, 0.5, n_out)
        if kind == 1:
            decl = f"var n : int[{n_in}] in 0..4\n"
            arg = "n / 4"
        else:
            decl = f"var x : real[{n_in}] in [0, 1]\n"
            arg = "x"
        side = f"require sum({arg}) <= {rng.uniform(0.5, 2):.3f}\n" if kind == 2 else ""
        return decl + 'net f = network "f.onnx"\n' + side + f"minimize norm1(f({arg}) - {_vec(t)})\n"
    if kind == 3:  # maximise one output with a bound on another (feasible or not)
        netgen.write(folder / "f.onnx", netgen.relu_mlp([3, 5, 2], seed=seed))
        c = rng.uniform(-1.5, 0.5)
        return f'var x : real[3] in [-1, 1]\nnet f = network "f.onnx"\nrequire f(x)[1] <= {c:.4f}\nmaximize f(x)[0]\n'
    if kind == 4:  # binarized network: fewest pixels on for an output in an interval
        netgen.write(folder / "g.onnx", netgen.bnn(10, [6, 4], seed=seed, out_scale=10, out_bias=50))
        lo = rng.uniform(40, 60)
        return (f'var p : bool[10]\nnet g = network "g.onnx"\nrequire g(p) in [{lo:.3f}, {lo + 8:.3f})\n'
                "minimize sum(p)\n")
    if kind == 5:  # a pure integer program: a knapsack with an implication and a set domain
        w = rng.integers(1, 9, 6)
        v = rng.integers(1, 9, 6)
        cap = int(w.sum() // 2)
        return ("var b : bool[6]\nvar k : int in {0, 3, ..., 12}\n"
                f"param w = {_vec(w)}\nparam v = {_vec(v)}\n"
                f"require sum(w[i] * b[i] for i in 0..5) + k <= {cap}\n"
                "require b[0] -> k >= 3\n"
                "maximize sum(v[i] * b[i] for i in 0..5) + k / 4\n")
    if kind == 6:  # selection and a maximised abs (exact encoding with binaries)
        return ("var x : real[5] in [-1, 2]\n"
                f"select at most 2 of x\nrequire sum(x) >= {rng.uniform(0, 2):.3f}\n"
                f"maximize abs(x[0] - {rng.uniform(-1, 1):.3f}) - max(x[1], x[2]) / 2\n")
    # kind 7: smoothness with abs, strict interval, min objective
    return ("var x : real[6] in [-1, 1]\n"
            "require abs(x[i + 1] - 2 * x[i] + x[i - 1]) <= 0.3 for i in 1..4\n"
            f"require x[0] in ({rng.uniform(-0.5, 0):.3f}, {rng.uniform(0, 0.5):.3f})\n"
            f"minimize norm1(x - {_vec(rng.uniform(-1, 1, 6))}) + max(x[5], -x[5])\n")


@pytest.mark.parametrize("seed", range(N_SPECS))
def test_backends_agree(tmp_path, seed):
    text = make_spec(seed, tmp_path)
    problem = compile_string(text, base_dir=tmp_path, name=f"gen{seed}.pgen")
    outcomes = {}
    for backend in BACKENDS:
        try:
            result = problem.solve(backend=backend, timeout=60)
        except PgenError as e:
            assert backend in ("cpsat", "z3") and e.code == "E030", (backend, e.render())
            continue
        assert result.termination in ("optimal", "infeasible"), (backend, result.termination, result.message, text)
        if result.termination == "optimal":
            assert result.verified, (backend, result.failures)
        outcomes[backend] = (result.termination, result.objective)
    assert len(outcomes) >= 2, outcomes
    verdicts = {t for t, _ in outcomes.values()}
    assert len(verdicts) == 1, (outcomes, text)
    objectives = [o for t, o in outcomes.values() if o is not None]
    if objectives:
        ref = objectives[0]
        for o in objectives[1:]:
            assert abs(o - ref) <= 1e-6 * max(1.0, abs(ref)), (outcomes, text)
