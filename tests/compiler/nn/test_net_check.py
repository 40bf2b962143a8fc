"""`pgenc check --net-check`: the imported layers against onnxruntime on random inputs. A
correct import passes with a float-small difference; a misread one (a weight changed after
import, as a wrong transpose or padding would) is an E024 naming the network, the output and
both values."""
from __future__ import annotations

import re

import pytest

from pgen import netgen
from pgen.cli import main
from pgen.compiler.nn.net_check import net_check
from pgen.compiler.nn.network import Dense
from pgen.compiler.nn.onnx_import import load_network
from pgen.core.errors import PgenError

def test_relu_and_binarized_networks_pass(tmp_path):
    netgen.write(tmp_path / "r.onnx", netgen.relu_mlp([5, 8, 3], seed=1))
    netgen.write(tmp_path / "b.onnx", netgen.bnn(12, [6, 4], seed=2, out_scale=10))
    relu = net_check(load_network(tmp_path / "r.onnx"))
    assert relu.samples == 192 and relu.inputs == "real" and relu.max_difference < 1e-5
    binarized = net_check(load_network(tmp_path / "b.onnx"))
    assert binarized.inputs == "0/1" and binarized.max_difference < 1e-5

def test_a_misread_network_is_an_error(tmp_path):
    netgen.write(tmp_path / "r.onnx", netgen.relu_mlp([5, 8, 3], seed=1))
    net = load_network(tmp_path / "r.onnx", display="nets/r.onnx")
    first = next(layer for layer in net.layers if isinstance(layer, Dense))
    first.W = first.W[:, ::-1].copy()   # the inputs read in the wrong order
    with pytest.raises(PgenError) as info:
        net_check(net)
    assert info.value.code == "E024"
    assert re.search(r"nets/r\.onnx: the network as pgen read it differs from onnxruntime: output \d+ on "
                     r"random input \d+ is \S+, onnxruntime says \S+", info.value.message), info.value.message

def test_check_net_check_on_the_command_line(tmp_path, capsys):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 4, 2], seed=0))
    spec = tmp_path / "s.pgen"
    spec.write_text('var x : real[3] in [-1, 1]\nnet f = network "f.onnx"\nminimize f(x)[0]\n')
    assert main(["check", str(spec), "--net-check"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"network f: matches onnxruntime on 192 random real inputs \(largest difference \S+, "
                     r"outputs up to \S+\)", out), out
    assert main(["check", str(spec)]) == 0
    assert "onnxruntime" not in capsys.readouterr().out
