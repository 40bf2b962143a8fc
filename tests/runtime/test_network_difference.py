"""Every exact solution carries the largest difference between the solver's network outputs
and onnxruntime's at the solver's own input values (`network vs onnxruntime` in the summary):
float-small for a correct encoding, the size of the error for a wrong one."""
from __future__ import annotations

import numpy as np

from pgen import netgen
from pgen.api import compile_string

SPEC = 'var x : real[3] in [-1, 1]\nnet f = network "f.onnx"\nmaximize f(x)[0] - f(x)[1]\n'


def test_exact_solution_reports_its_distance_to_onnxruntime(tmp_path):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=2))
    problem = compile_string(SPEC, base_dir=tmp_path, name="d.pgen")
    for backend in ("highs", "cbc"):
        result = problem.solve(backend=backend, timeout=30)
        assert result.verified
        diff = result.stats["network_max_difference"]
        assert 0 <= diff < 1e-5, (backend, diff)
        assert "network vs onnxruntime: " in result.summary()


def test_a_shifted_encoding_shows_in_the_figure(tmp_path, monkeypatch):
    from pgen.compiler.nn import encode

    real = encode.encode_network

    def shifted(net, x, model, label, origin, budget=None):
        out = real(net, x, model, label, origin, budget)
        return out.matmul(np.eye(out.size), np.full(out.size, 0.25))

    monkeypatch.setattr(encode, "encode_network", shifted)
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=2))
    problem = compile_string(SPEC, base_dir=tmp_path, name="d.pgen")
    result = problem.solve(backend="highs", timeout=30)
    assert abs(result.stats["network_max_difference"] - 0.25) < 1e-6


def test_porous_images_from_the_solver_carry_the_figure(tmp_path):
    """A solver-made image's record holds the solver's network output vs onnxruntime (the
    binarized layers are exact: float rounding of the last Gemm only)."""
    import pgen

    netgen.write(tmp_path / "g.onnx", netgen.bnn(25, [6, 4], seed=3, out_scale=10, out_bias=50))
    spec = tmp_path / "p.pgen"
    spec.write_text('image I : grid 5 x 5\ngrains 1 in I { seeds (2, 2); compact 1 }\nvoid I { border }\n'
                    'net g = network "g.onnx"\nrequire g(I) in [0, 1000)\nsolve backend cpsat timeout 30\n')
    run = pgen.load(spec).sample(2, seed=1, quick=False)
    assert run.made == 2
    for cell in run.cells:
        assert 0 <= cell.record["network_max_difference"] < 1e-4, cell.record
