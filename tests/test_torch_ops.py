"""keras_gan.kernels._torch: the torch backend's channels-last convolutions and batch norm against Keras' torch ops.

Each op is compared with what the stock Keras layer runs on torch (``keras.src.backend.torch.nn.conv`` /
``conv_transpose``, Keras' batch-norm arithmetic): output, input gradient, kernel gradient and, for the
convolutions, a gradient penalty's second derivative, in float32; the convolution also against a brute-force
loop; the layers on the torch backend against the stock layers: forward, gradients and moving statistics.
torch runs in a subprocess (it cannot share a process with TensorFlow here), once for the module.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (input size, in channels, out channels, kernel, stride, padding): the DCGAN's layers and the other cases
CASES = [(4, 16, 8, 5, 2, "same"), (2, 32, 8, 5, 2, "same"), (5, 8, 4, 4, 2, "same"), (4, 8, 4, 5, 2, "valid"),
         (3, 8, 4, 4, 3, "same"), (4, 6, 5, 3, 1, "same"), (5, 6, 5, 2, 3, "valid"), (7, 3, 4, 5, 1, "valid")]

_OPS = r"""
import json, sys
import numpy as np
import torch
from keras.src.backend.torch import nn as keras_torch_nn
from keras_gan.kernels import _torch as _torch_ops

CASES = json.loads(sys.argv[1])


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12))


def derivatives(op, x, w):
    # output, gradients of sum(y^2/2 + y) w.r.t. x and w, and d||d sum(tanh y)/dx||^2 / dw
    x, w = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    y = op(x, w)
    gx, gw = torch.autograd.grad((0.5 * y * y + y).sum(), (x, w))
    (px,) = torch.autograd.grad(torch.tanh(op(x, w)).sum(), x, create_graph=True)
    (pw,) = torch.autograd.grad((px * px).sum(), w)
    return [t.detach().double().numpy() for t in (y, gx, gw, pw)]


def inputs(seed, shape_x, shape_w):
    rng = np.random.default_rng(seed)
    return (torch.tensor(rng.standard_normal(shape_x), dtype=torch.float32),
            torch.tensor(rng.standard_normal(shape_w), dtype=torch.float32))


report = {"transpose": [], "conv": []}
for size, cin, cout, k, s, pad in CASES:
    x, w = inputs(0, (3, size, size + 1, cin), (k, k, cout, cin))
    want = derivatives(lambda x, w: keras_torch_nn.conv_transpose(x, w, s, padding=pad), x, w)
    got = derivatives(lambda x, w: _torch_ops.conv2d_transpose(x, w, (s, s), pad), x, w)
    report["transpose"].append({"shapes": [list(got[0].shape), list(want[0].shape)],
                                "errors": [rel(a, b) for a, b in zip(got, want)]})
    y, w = inputs(1, (3, 2 * size, 2 * size + 1, cin), (k, k, cin, cout))  # odd width: asymmetric padding
    want = derivatives(lambda y, w: keras_torch_nn.conv(y, w, s, padding=pad), y, w)
    got = derivatives(lambda y, w: _torch_ops.conv2d(y, w, (s, s), pad), y, w)
    report["conv"].append({"shapes": [list(got[0].shape), list(want[0].shape)],
                           "errors": [rel(a, b) for a, b in zip(got, want)]})

y, w = inputs(2, (2, 6, 7, 3), (4, 4, 3, 2))
report["brute"] = {"y": y.tolist(), "w": w.tolist(), "got": _torch_ops.conv2d(y, w, (2, 2), "same").tolist()}

rng = np.random.default_rng(3)
x = torch.tensor(rng.standard_normal((4, 3, 5, 6)) * 3 + 2, dtype=torch.float32, requires_grad=True)
gamma = torch.tensor(rng.standard_normal(6), dtype=torch.float32, requires_grad=True)
beta = torch.tensor(rng.standard_normal(6), dtype=torch.float32, requires_grad=True)
upstream = torch.tensor(rng.standard_normal((4, 3, 5, 6)), dtype=torch.float32)
outs = []
for training in (True, False):
    y, mean, var = _torch_ops.batch_norm(x, gamma, beta, torch.tensor(rng.standard_normal(6), dtype=torch.float32),
                                         torch.rand(6) + 0.5, 1e-3, training)
    grads = torch.autograd.grad((y * upstream).sum(), (x, gamma, beta))
    outs.append({"y": y.tolist(), "grads": [g.tolist() for g in grads],
                 "mean": None if mean is None else mean.tolist(), "var": None if var is None else var.tolist()})
report["batch_norm"] = {"x": x.tolist(), "gamma": gamma.tolist(), "beta": beta.tolist(),
                        "upstream": upstream.tolist(), "outs": outs}
import doctest
result = doctest.testmod(_torch_ops, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
report["doctest"] = [result.attempted, result.failed]
print(json.dumps(report))
"""


def _run(script, *args):
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ops_report():
    return _run(_OPS, json.dumps(CASES))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[str(c) for c in CASES])
def test_transposed_convolution_equals_keras(ops_report, index):
    r = ops_report["transpose"][index]
    assert r["shapes"][0] == r["shapes"][1]
    assert len(r["errors"]) == 4 and max(r["errors"]) < 5e-6, r["errors"]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[str(c) for c in CASES])
def test_convolution_equals_keras(ops_report, index):
    r = ops_report["conv"][index]
    assert r["shapes"][0] == r["shapes"][1]
    assert len(r["errors"]) == 4 and max(r["errors"]) < 5e-6, r["errors"]


def test_convolution_against_a_brute_force_loop(ops_report):
    """Keras' "same" rule itself (TensorFlow's: the smaller half of the padding before), summed by hand."""
    b = ops_report["brute"]
    yn, wn = np.asarray(b["y"], np.float64), np.asarray(b["w"], np.float64)
    out = np.zeros((2, 3, 4, 2))
    for i in range(3):
        for j in range(4):
            for a in range(4):
                for c in range(4):
                    r, col = 2 * i - 1 + a, 2 * j - 1 + c  # 6 -> 3: total padding 2, 1 before; 7 -> 4: 3, 1 before
                    if 0 <= r < 6 and 0 <= col < 7:
                        out[:, i, j] += yn[:, r, col] @ wn[a, c]
    np.testing.assert_allclose(b["got"], out, rtol=1e-5, atol=1e-5)


def test_docstring_examples(ops_report):
    attempted, failed = ops_report["doctest"]
    assert attempted > 0 and failed == 0, ops_report["doctest"]


def test_batch_norm_equals_keras_arithmetic(ops_report):
    """Training: batch statistics (biased variance) and the three gradients, against numpy's closed forms."""
    b = ops_report["batch_norm"]
    x, gamma, beta, g = (np.asarray(b[k], np.float64) for k in ("x", "gamma", "beta", "upstream"))
    eps, n = 1e-3, x.size // x.shape[-1]
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    xhat = (x - mean) / np.sqrt(var + eps)
    train = b["outs"][0]
    np.testing.assert_allclose(train["y"], xhat * gamma + beta, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(train["mean"], mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(train["var"], var, rtol=1e-5, atol=1e-5)
    dxhat = g * gamma
    dx = (dxhat - dxhat.mean((0, 1, 2)) - xhat * (dxhat * xhat).mean((0, 1, 2))) / np.sqrt(var + eps)
    for got, want in zip(train["grads"], (dx, (g * xhat).sum((0, 1, 2)), g.sum((0, 1, 2)))):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert b["outs"][1]["mean"] is None  # inference: the moving statistics, not the batch's
    assert np.abs(np.asarray(b["outs"][1]["y"]) - train["y"]).max() > 1e-2


_LAYERS = r"""
import json, sys
import numpy as np
import keras, torch
from keras_gan import networks

rng = np.random.default_rng(0)
cases = [
    (lambda cls: cls(6, 5, strides=2, padding="same"), networks.FastConv2D, keras.layers.Conv2D, (3, 8, 9, 4)),
    (lambda cls: cls(6, 5, strides=2, padding="same", activation="tanh"), networks.FastConv2DTranspose,
     keras.layers.Conv2DTranspose, (3, 4, 4, 5)),
    (lambda cls: cls(momentum=0.9, epsilon=1e-5), networks.FusedBatchNormalization, keras.layers.BatchNormalization,
     (4, 4, 4, 5)),
]
report = []
for make, fast_cls, stock_cls, shape in cases:
    x = rng.standard_normal(shape).astype("float32") * 2 + 1
    fast, stock = make(fast_cls), make(stock_cls)
    fast.build(shape), stock.build(shape)
    for v in fast.weights:
        v.assign(rng.standard_normal(v.shape).astype("float32") * 0.5 + (1.0 if "variance" in v.path else 0.0))
    for a, b in zip(stock.weights, fast.weights):
        a.assign(b)
    errors = {}
    outs = []
    upstream = None
    for layer in (fast, stock):
        xt = torch.tensor(x, requires_grad=True)
        y = layer(xt, training=True)
        if upstream is None:  # a random upstream gradient (sum(y^2) is degenerate under batch norm)
            upstream = torch.tensor(rng.standard_normal(tuple(y.shape)), dtype=torch.float32)
        grads = torch.autograd.grad((y * upstream).sum(), [xt] + [v.value for v in layer.trainable_weights])
        outs.append([y.detach().numpy()] + [g.numpy() for g in grads] + [keras.ops.convert_to_numpy(v) for v in layer.non_trainable_weights]
                    + [keras.ops.convert_to_numpy(layer(x, training=False))])
    rel = [float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12)) for a, b in zip(*outs)]
    entry = {"layer": fast_cls.__name__, "errors": rel, "n": len(rel)}
    if hasattr(fast, "kernel"):  # the kernel's memory: the channels-last weight torch's op takes, stock: not
        entry["channels_last"] = [l.kernel.value.permute(3, 2, 0, 1).is_contiguous(memory_format=torch.channels_last)
                                  for l in (fast, stock)]
    report.append(entry)
print(json.dumps(report))
"""

_KERNEL_FILE = r"""
import json, os, sys, tempfile
import numpy as np
import keras, torch
from keras_gan import networks

# A kernel written by a model built on this backend loads back with the same values and keeps its layout;
# its values, read out as numpy arrays, give stock layers the same outputs.
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
def model(conv, deconv):
    inp = keras.Input((8, 8, 3))
    hidden = conv(4, 5, strides=2, padding="same", name="conv")(inp)
    return keras.Model(inp, deconv(3, 5, strides=2, padding="same", name="deconv")(hidden))
fast = model(networks.FastConv2D, networks.FastConv2DTranspose)
for v in fast.weights:
    v.assign(rng.standard_normal(v.shape).astype("float32"))
path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
fast.save_weights(path)
again = model(networks.FastConv2D, networks.FastConv2DTranspose)
again.load_weights(path)
stock = model(keras.layers.Conv2D, keras.layers.Conv2DTranspose)
stock.set_weights(again.get_weights())  # the values as numpy reads them out of the re-strided memory
kernels = [v for v in again.weights if v.value.dim() == 4]
print(json.dumps({
    "values_equal": all(np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                        for a, b in zip(fast.weights, again.weights)),
    "layout_kept": [v.value.permute(3, 2, 0, 1).is_contiguous(memory_format=torch.channels_last) for v in kernels],
    "output_vs_stock": float(np.abs(keras.ops.convert_to_numpy(again(x)) - keras.ops.convert_to_numpy(stock(x))).max()),
}))
"""


def test_layers_equal_stock_layers_on_torch_backend():
    report = _run(_LAYERS)
    assert [r["layer"] for r in report] == ["FastConv2D", "FastConv2DTranspose", "FusedBatchNormalization"]
    for r in report:
        assert r["n"] >= 4 and max(r["errors"]) < 2e-5, r
    assert [r["channels_last"] for r in report[:2]] == [[True, False], [True, False]]


def test_kernel_layout_survives_a_weights_file_and_reads_out_as_the_stock_layers_values():
    report = _run(_KERNEL_FILE)
    assert report["values_equal"], report
    assert report["layout_kept"] == [True, True], report
    assert report["output_vs_stock"] < 1e-5, report
