"""FastConv2D / FastConv2DTranspose: the same sums as TensorFlow's convolutions, in faster forms.

Checked against ``tf.nn.conv2d`` / ``tf.nn.conv2d_transpose`` and the Keras
layers: outputs, first derivatives, and the second derivatives that gradient
penalties (WGAN-GP, R1) take through the discriminator.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import _conv, networks


def _t(rng, *shape):
    return tf.constant(rng.normal(size=shape).astype("float32"))


def _rel(a, b):
    return float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(b)) + 1e-12))


def _graph_ops(fn, *specs):
    return {op.type for op in tf.function(fn).get_concrete_function(*specs).graph.get_operations()}


def _derivatives(op, x, w):
    """Output, d(sum y^2)/d(x, w), and d(||d(sum y^2)/dx||^2)/dw (a gradient penalty's weight gradient)."""
    with tf.GradientTape() as outer:
        outer.watch(w)
        with tf.GradientTape() as inner:
            inner.watch([x, w])
            y = op(x, w)
            loss = tf.reduce_sum(y * y)
        gx, gw = inner.gradient(loss, [x, w])
        penalty = tf.reduce_sum(gx * gx)
    return y, gx, gw, outer.gradient(penalty, w)


def _assert_form(op, x, w, form):
    """The forward and input-gradient graph of ``op`` holds ``form``'s op (None: no fast form at all)."""

    def first_derivative(x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = op(x, w)
        return tape.gradient(y, x)

    ops = _graph_ops(first_derivative, tf.TensorSpec((None, *x.shape[1:])), tf.TensorSpec(w.shape))
    if form is None:
        assert not ops & {"ExtractImagePatches", "DepthToSpace", "IdentityN"}
    else:
        assert form in ops


# (batch, size, in channels, out channels, kernel, fast form expected)
CONV_CASES = [
    (3, 8, 192, 8, 5, "ExtractImagePatches"),  # 4x4 output, reduction 25 * 192 deep: one matmul
    (2, 7, 192, 4, 5, "ExtractImagePatches"),  # odd size
    (2, 8, 16, 8, 5, None),  # 4x4 output but a shallow reduction: plain tf.nn.conv2d
    (2, 16, 3, 8, 5, "DepthToSpace"),  # 3 input channels: sub-pixel input gradient
    (2, 7, 3, 8, 5, None),  # odd size: no sub-pixel form
    (2, 8, 2, 5, 4, "DepthToSpace"),
    (2, 16, 3, 4, 3, "DepthToSpace"),
    (2, 16, 16, 8, 5, None),  # neither
]


@pytest.mark.parametrize("n,size,cin,cout,k,form", CONV_CASES)
def test_conv2d_equals_tf(n, size, cin, cout, k, form):
    rng = np.random.default_rng(size + cin + k)
    x, w = _t(rng, n, size, size, cin), _t(rng, k, k, cin, cout)
    got = _derivatives(_conv.conv2d, x, w)
    want = _derivatives(lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), x, w)
    for a, b in zip(got, want):
        assert _rel(a, b) < 1e-5
    _assert_form(_conv.conv2d, x, w, form)


@pytest.mark.parametrize("n,size,cout,cin,k,form", [
    (2, 8, 3, 16, 5, "DepthToSpace"),  # to 3 channels: sub-pixel
    (2, 16, 1, 4, 5, "DepthToSpace"),
    (2, 8, 2, 5, 4, "DepthToSpace"),
    (2, 4, 192, 8, 5, "ExtractImagePatches"),  # from 4x4, 25 * 192 deep: the input gradient is one matmul
    (2, 4, 16, 8, 5, None),  # shallow: plain
    (2, 8, 16, 8, 3, None),
])
def test_conv2d_transpose_equals_tf(n, size, cout, cin, k, form):
    rng = np.random.default_rng(size + cin + k)
    x, w = _t(rng, n, size, size, cin), _t(rng, k, k, cout, cin)
    out = (2 * size, 2 * size)
    got = _derivatives(lambda x, w: _conv.conv2d_transpose(x, w, out), x, w)
    want = _derivatives(lambda x, w: tf.nn.conv2d_transpose(x, w, (n, *out, cout), 2, "SAME"), x, w)
    for a, b in zip(got, want):
        assert _rel(a, b) < 1e-5
    _assert_form(lambda x, w: _conv.conv2d_transpose(x, w, out), x, w, form)


def _copy_weights(src, dst):
    for a, b in zip(src.weights, dst.weights):
        b.assign(a)


@pytest.mark.parametrize("kwargs", [
    dict(filters=8, kernel_size=5, strides=2, padding="same", activation="relu"),
    dict(filters=8, kernel_size=3, strides=1, padding="valid"),  # not stride-2 "same": plain Keras
])
def test_layers_equal_keras_layers(kwargs):
    rng = np.random.default_rng(0)
    for fast_cls, keras_cls, shape in (
        (networks.FastConv2D, keras.layers.Conv2D, (4, 8, 8, 3)),
        (networks.FastConv2DTranspose, keras.layers.Conv2DTranspose, (4, 4, 4, 6)),
    ):
        args = dict(kwargs, filters=3) if fast_cls is networks.FastConv2DTranspose else kwargs
        fast, plain = fast_cls(**args), keras_cls(**args)
        fast.build(shape)
        plain.build(shape)
        _copy_weights(fast, plain)
        fast.bias.assign(rng.normal(size=fast.bias.shape))
        plain.bias.assign(fast.bias)
        x = _t(rng, *shape)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            yf, yp = fast(x), plain(x)
            lf, lp = tf.reduce_sum(yf**2), tf.reduce_sum(yp**2)
        assert _rel(yf, yp) < 1e-5
        for a, b in zip(tape.gradient(lf, [x, *fast.trainable_weights]), tape.gradient(lp, [x, *plain.trainable_weights])):
            assert _rel(a, b) < 1e-5
        back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fast))
        assert type(back) is fast_cls and back.get_config() == fast.get_config()


def test_dcgan_layers_take_the_fast_forms():
    g = networks.dcgan_generator((64, 64, 3), latent_dim=8, base_filters=32)
    d = networks.dcgan_discriminator((64, 64, 3), base_filters=64)  # last conv: 8x8x256 -> 4x4x512
    assert all(isinstance(l, networks.FastConv2DTranspose) for l in g.layers if isinstance(l, keras.layers.Conv2DTranspose))
    assert all(isinstance(l, networks.FastConv2D) for l in d.layers if isinstance(l, keras.layers.Conv2D))
    assert "DepthToSpace" in _graph_ops(lambda z: g(z), tf.TensorSpec((None, 8)))  # RGB output layer
    assert "ExtractImagePatches" in _graph_ops(lambda x: d(x), tf.TensorSpec((None, 64, 64, 3)))  # 8x8 -> 4x4


def test_bfloat16_layers():
    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        d = networks.dcgan_discriminator((8, 8, 1), base_filters=4, num_upsamplings=2)
        g = networks.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4, num_upsamplings=2)
        x = g(np.zeros((2, 4), "float32"), training=True)
        assert d(x).shape == (2, 1) and np.isfinite(d(x).numpy()).all()
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
