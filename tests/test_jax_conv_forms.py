"""keras_gan.kernels._jax: the JAX backend's convolution forms against Keras' own JAX ops.

Every form of the transposed convolution and of the strided convolution is checked against
``keras.src.backend.jax.nn.conv_transpose`` / ``conv`` (what ``keras.layers.Conv2DTranspose`` / ``Conv2D``
run on JAX): output, input gradient, kernel gradient and a gradient penalty's second derivative, in float32
and bfloat16; the kernel gradient is checked to be the filter-gradient pattern (no lhs-dilated
convolution), which is what makes it fast; the layers and a `.keras` file are checked on the JAX backend.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from keras.src.backend.jax import nn as keras_jax_nn  # noqa: E402

from keras_gan.kernels import _jax as _conv_jax  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (input size, in channels, out channels, kernel, stride, padding): the DCGAN's layers and the other cases
CASES = [(4, 16, 8, 5, 2, "same"), (2, 32, 8, 5, 2, "same"), (5, 8, 4, 4, 2, "same"), (4, 8, 4, 5, 2, "valid"),
         (3, 8, 4, 4, 3, "same"), (4, 6, 5, 3, 1, "same")]


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12))


def _derivatives(op, x, w):
    """Output, the gradients of sum(y^2/2 + y) w.r.t. x and w, and d||d sum(tanh y)/dx||^2 / dw."""

    def loss(x, w):
        y = op(x, w)
        return jnp.sum(0.5 * y * y + y)

    def penalty(w, x):
        gx = jax.grad(lambda x_: jnp.sum(jnp.tanh(op(x_, w))))(x)
        return jnp.sum(gx * gx)

    gx, gw = jax.grad(loss, (0, 1))(x, w)
    return op(x, w), gx, gw, jax.grad(penalty)(w, x)


def _inputs(seed, shape_x, shape_w, dtype="float32"):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal(shape_x), dtype), jnp.asarray(rng.standard_normal(shape_w), dtype))


def _transpose_forms(size, cin, cout, k, s, pad):
    out = _conv_jax.output_size(size, k, s, pad)
    forms = _conv_jax._candidates("transpose", (3, size, size, cin), (k, k, cout, cin), (s, s), pad, (out, out))
    return [(t, c) for t in forms for c in ("plain", "gemm")], (out, out)


@pytest.mark.parametrize("size,cin,cout,k,s,pad", CASES)
def test_transposed_convolution_forms_equal_keras(size, cin, cout, k, s, pad):
    x, w = _inputs(0, (3, size, size, cin), (k, k, cout, cin))
    reference = _derivatives(lambda x, w: keras_jax_nn.conv_transpose(x, w, s, padding=pad), x, w)
    forms, out_hw = _transpose_forms(size, cin, cout, k, s, pad)
    assert ("subpixel", "plain") in forms or (s, pad) != (2, "same")  # the sub-pixel forms are tried where they fit
    for t_form, c_form in forms:
        got = _derivatives(lambda x, w: _conv_jax._transpose(x, w, (s, s), pad, out_hw, t_form, c_form), x, w)
        errors = [_rel(a, b) for a, b in zip(got, reference)]
        assert max(errors[:3]) < 5e-6 and errors[3] < 5e-5, (t_form, c_form, errors)


@pytest.mark.parametrize("size,cin,cout,k,s,pad", CASES)
def test_convolution_forms_equal_keras(size, cin, cout, k, s, pad):
    y, w = _inputs(1, (3, 2 * size, 2 * size + 1, cout), (k, k, cout, cin))  # odd width: no sub-pixel input gradient
    reference = _derivatives(lambda y, w: keras_jax_nn.conv(y, w, s, padding=pad), y, w)
    out_hw = _conv_jax._plain_out_hw(y.shape, w.shape, (s, s), pad)
    for t_form in _conv_jax._candidates("transpose", (3, *out_hw, cin), w.shape, (s, s), pad, y.shape[1:3]):
        for c_form in ("plain", "gemm"):
            got = _derivatives(lambda y, w: _conv_jax._conv(y, w, (s, s), pad, c_form, t_form), y, w)
            errors = [_rel(a, b) for a, b in zip(got, reference)]
            assert max(errors[:3]) < 5e-6 and errors[3] < 5e-5, (t_form, c_form, errors)


def test_convolution_input_gradient_takes_the_subpixel_forms():
    y, w = _inputs(2, (2, 8, 8, 4), (5, 5, 4, 16))
    reference = jax.grad(lambda y: jnp.sum(keras_jax_nn.conv(y, w, 2, padding="same") ** 2))(y)
    for t_form in ("subpixel", "subgemm"):
        got = jax.grad(lambda y: jnp.sum(_conv_jax._conv(y, w, (2, 2), "same", "plain", t_form) ** 2))(y)
        assert _rel(got, reference) < 5e-6, t_form


@pytest.mark.parametrize("t_form", ["lhs", "subpixel", "subgemm"])
def test_bfloat16_forms_are_as_close_to_float32_as_keras_own(t_form):
    """In bfloat16 a form may differ from the float32 sums by bfloat16's rounding, as Keras' own op does:
    its error is at most twice the stock op's, or 2^-7 (two units of bfloat16's 8-bit mantissa) relative."""
    x, w = _inputs(3, (4, 4, 4, 64), (5, 5, 32, 64), "bfloat16")
    x32, w32 = x.astype(jnp.float32), w.astype(jnp.float32)
    exact = _derivatives(lambda x, w: keras_jax_nn.conv_transpose(x, w, 2, padding="same"), x32, w32)[:3]
    stock = _derivatives(lambda x, w: keras_jax_nn.conv_transpose(x, w, 2, padding="same"), x, w)[:3]
    got = _derivatives(lambda x, w: _conv_jax._transpose(x, w, (2, 2), "same", (8, 8), t_form, "plain"), x, w)[:3]
    for name, g, s, e in zip(("output", "input grad", "kernel grad"), got, stock, exact):
        assert g.dtype == jnp.bfloat16, name
        assert _rel(g, e) <= max(2 * _rel(s, e), 2.0 ** -7), (name, _rel(g, e), _rel(s, e))


def _conv_lhs_dilations(fn, *args):
    """The lhs (base) dilations of every convolution in ``fn``'s jaxpr, sub-jaxprs included."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "conv_general_dilated":
                found.append(tuple(eqn.params["lhs_dilation"]))
            for value in eqn.params.values():
                inner = getattr(value, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def test_kernel_gradient_is_the_filter_gradient_pattern():
    """The stock transposed convolution's kernel gradient is an lhs-dilated convolution (the slow lowering of
    jax-ml/jax #31662); keras-gan's backward pass is the strided convolution and its filter gradient, with no
    lhs dilation."""
    x, w = _inputs(4, (2, 4, 4, 8), (5, 5, 4, 8))
    g = jnp.ones((2, 8, 8, 4))

    def stock_kernel_grad(x, w, g):  # the op is linear in w: its transpose is exactly the kernel gradient
        return jax.linear_transpose(lambda w_: keras_jax_nn.conv_transpose(x, w_, 2, padding="same"), w)(g)

    stock = _conv_lhs_dilations(stock_kernel_grad, x, w, g)
    assert stock and any(d != (1, 1) for d in stock), stock
    for t_form in ("lhs", "subpixel"):
        ours = _conv_lhs_dilations(
            lambda x, w, g: _conv_jax._transpose_bwd((2, 2), "same", (8, 8), t_form, "plain", (x, w), g), x, w, g)
        assert ours and all(d == (1, 1) for d in ours), (t_form, ours)


def test_static_rule_and_candidates():
    assert _conv_jax._candidates("transpose", (64, 2, 2, 128), (5, 5, 64, 128), (2, 2), "same", (4, 4)) == [
        "lhs", "subpixel", "subgemm"]
    assert _conv_jax._candidates("transpose", (64, 2, 2, 128), (5, 5, 64, 128), (2, 2), "valid", (7, 7)) == ["lhs"]
    if jax.devices()[0].platform == "cpu":
        assert _conv_jax._static("transpose", (64, 2, 2, 128), (5, 5, 64, 128), (2, 2), "same", (4, 4)) == "subgemm"
        assert _conv_jax._static("transpose", (64, 4, 4, 512), (5, 5, 256, 512), (2, 2), "same", (8, 8)) == "subpixel"
        assert _conv_jax._static("conv", (64, 4, 4, 64), (5, 5, 64, 128), (2, 2), "same", None) == "gemm"
        assert _conv_jax._static("conv", (64, 64, 64, 3), (5, 5, 3, 64), (2, 2), "same", None) == "plain"


def test_mode_rejects_a_bad_value(monkeypatch):
    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "fastest")
    with pytest.raises(ValueError, match="KERAS_GAN_CONV_FORMS='fastest' is not allowed; expected one of autotune"):
        _conv_jax.mode()


def test_autotune_times_the_candidates_and_caches_the_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "autotune")
    monkeypatch.setenv("KERAS_GAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_conv_jax, "_CHOICES", {})
    monkeypatch.setattr(_conv_jax, "_DISK", {"loaded": False, "entries": {}})
    timed = []
    real = _conv_jax._time_forms

    def spy(primitive, forms, *args):
        timed.append((primitive, tuple(forms)))
        return real(primitive, forms, *args)

    monkeypatch.setattr(_conv_jax, "_time_forms", spy)
    x, w = _inputs(5, (4, 2, 2, 32), (5, 5, 8, 32))
    y = jax.jit(lambda x, w: _conv_jax.conv2d_transpose(x, w, (2, 2), "same"))(x, w)  # chosen while tracing
    assert _rel(y, keras_jax_nn.conv_transpose(x, w, 2, padding="same")) < 5e-6
    assert ("transpose", ("lhs", "subpixel", "subgemm")) in timed and ("conv", ("plain", "gemm")) in timed
    saved = json.load(open(tmp_path / "conv_forms_jax.json"))
    (entries,) = saved.values()
    assert set(entries.values()) <= {"lhs", "subpixel", "subgemm", "plain", "gemm"} and len(entries) == 2
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    # a new process (emptied memory) takes the saved choices without timing again
    monkeypatch.setattr(_conv_jax, "_CHOICES", {})
    monkeypatch.setattr(_conv_jax, "_DISK", {"loaded": False, "entries": {}})
    timed.clear()
    jax.jit(lambda x, w: _conv_jax.conv2d_transpose(x, w, (2, 2), "same"))(x, w)
    assert timed == []


_LAYER_SCRIPT = r"""
import os, sys, json
import numpy as np, keras
from keras_gan import networks, models
x = np.random.default_rng(0).standard_normal((3, 4, 4, 16)).astype("float32")
out = {}
for args in ((8, 5, 2, "same"), (8, 4, 2, "valid"), (8, 3, 3, "same")):
    fast = networks.FastConv2DTranspose(*args[:2], strides=args[2], padding=args[3], use_bias=True)
    stock = keras.layers.Conv2DTranspose(*args[:2], strides=args[2], padding=args[3], use_bias=True)
    fast.build(x.shape); stock.build(x.shape)
    stock.set_weights([w + 0.1 for w in fast.get_weights()]); fast.set_weights(stock.get_weights())
    a, b = np.asarray(fast(x)), np.asarray(stock(x))
    conv_f = networks.FastConv2D(8, args[1], strides=args[2], padding=args[3])
    conv_s = keras.layers.Conv2D(8, args[1], strides=args[2], padding=args[3])
    conv_f.build(x.shape); conv_s.build(x.shape); conv_s.set_weights(conv_f.get_weights())
    out[str(args)] = [float(np.abs(a - b).max() / np.abs(b).max()),
                      float(np.abs(np.asarray(conv_f(x)) - np.asarray(conv_s(x))).max())]
if sys.argv[1] == "save":
    keras.utils.set_random_seed(1)
    gan = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8)
    gan.compile()
    gan.save(sys.argv[2])
z = np.random.default_rng(1).uniform(-1, 1, (5, 8)).astype("float32")
gan = keras.saving.load_model(sys.argv[2])
out["samples"] = np.asarray(gan.generator(z, training=False)).tolist()
print(json.dumps(out))
"""


@pytest.mark.slow  # two JAX subprocesses (about 34 s on 2 cores); the forms themselves are checked above
def test_layers_and_a_keras_file_on_the_jax_backend(tmp_path):
    """On JAX the fast layers equal the stock ones, and a `.keras` written with Keras' own ops
    (KERAS_GAN_CONV_FORMS=plain, as before this change) samples the same with the forms."""
    path = str(tmp_path / "gan.keras")

    def run(action, forms):
        env = dict(os.environ, KERAS_BACKEND="jax", KERAS_GAN_CONV_FORMS=forms, TF_CPP_MIN_LOG_LEVEL="3",
                   KERAS_GAN_CACHE_DIR=str(tmp_path))
        out = subprocess.run([sys.executable, "-c", _LAYER_SCRIPT, action, path], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    before = run("save", "plain")
    after = run("load", "autotune")
    for key in [k for k in after if k != "samples"]:
        transpose_err, conv_err = after[key]
        assert transpose_err < 5e-6 and conv_err < 5e-5, (key, after[key])
    np.testing.assert_allclose(after["samples"], before["samples"], rtol=0, atol=5e-6)
