"""The one onnxruntime session module: batched runs agree with single runs, for graphs
with a free batch dimension and for graphs fixed to a batch of 1."""
from __future__ import annotations

import numpy as np

from pgen import netgen
from pgen.compiler.nn.session import model_session, run_batch, run_network, takes_batches


def _free_batch(model_bytes: bytes) -> bytes:
    """The model with a named (free) batch dimension instead of netgen's fixed 1."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    for vi in list(model.graph.input) + list(model.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    return model.SerializeToString()


def test_run_batch_matches_run_network_row_by_row(tmp_path):
    model = netgen.relu_mlp([3, 6, 2], seed=4)
    free = netgen.write(tmp_path / "free.onnx", _free_batch(model))
    fixed = netgen.write(tmp_path / "fixed.onnx", model)
    X = np.random.default_rng(0).uniform(-1, 1, (7, 3))
    want = np.stack([run_network(str(free), x) for x in X])
    assert takes_batches(str(free)) and not takes_batches(str(fixed))
    for path in (free, fixed):
        got = run_batch(str(path), X)
        assert got.shape == (7, 2) and got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    assert run_batch(str(free), X[:0]).shape == (0, 2)


def test_sessions_on_model_bytes_are_cached_and_agree_with_the_file(tmp_path):
    model = netgen.relu_mlp([3, 5, 1], seed=2)
    path = netgen.write(tmp_path / "n.onnx", model)
    sess = model_session(model)
    assert model_session(model) is sess and model_session(model, optimise=False) is not sess
    x = np.array([[0.3, -0.2, 0.9]], np.float32)
    name = sess.get_inputs()[0].name
    np.testing.assert_array_equal(sess.run(None, {name: x})[0].reshape(-1), run_network(str(path), x[0]))
