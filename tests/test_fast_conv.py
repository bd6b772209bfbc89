"""FastConv2D / FastConv2DTranspose: the same sums as TensorFlow's convolutions, in faster forms.

Checked against ``tf.nn.conv2d`` / ``tf.nn.conv2d_transpose`` and the Keras
layers: outputs, first derivatives, and the second derivatives that gradient
penalties (WGAN-GP, R1) take through the discriminator.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import networks
from keras_gan.kernels import _tf as _conv


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


# ------------------------------------------------------------- every form, and how one is chosen
def _force(monkeypatch, forms):
    """Makes ``_conv`` take ``forms[primitive]`` for every shape."""
    monkeypatch.setattr(_conv, "_choose", lambda primitive, x, w, out_hw=None: forms[primitive])


@pytest.mark.parametrize("conv", ["plain", "gemm", "taps"])
@pytest.mark.parametrize("transpose", ["plain", "subpixel", "taps"])
@pytest.mark.parametrize("filter_grad", ["op", "gemm", "taps"])
def test_every_combination_of_forms_equals_tf(monkeypatch, conv, transpose, filter_grad):
    _force(monkeypatch, {"conv": conv, "transpose": transpose, "filter_grad": filter_grad})
    rng = np.random.default_rng(7)
    x, w = _t(rng, 3, 8, 8, 6), _t(rng, 5, 5, 6, 10)
    got = _derivatives(_conv.conv2d, x, w)
    want = _derivatives(lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), x, w)
    for a, b in zip(got, want):
        assert _rel(a, b) < 1e-5
    xt, wt = _t(rng, 3, 4, 4, 10), _t(rng, 5, 5, 6, 10)
    got = _derivatives(lambda x, w: _conv.conv2d_transpose(x, w, (8, 8)), xt, wt)
    want = _derivatives(lambda x, w: tf.nn.conv2d_transpose(x, w, (3, 8, 8, 6), 2, "SAME"), xt, wt)
    for a, b in zip(got, want):
        assert _rel(a, b) < 1e-5


def test_gemm_filter_gradient_equals_the_kernel():
    rng = np.random.default_rng(3)
    for size in (4, 7, 8):
        x, w = _t(rng, 5, size, size, 9), _t(rng, 5, 5, 9, 12)
        out = -(-size // 2)
        dy = _t(rng, 5, out, out, 12)
        assert _rel(_conv._gemm_filter_grad(x, w, dy), _conv._filter_grad(x, w, dy)) < 1e-5


@pytest.mark.parametrize("size,k", [(4, 5), (7, 5), (8, 4), (3, 3), (4, 3), (2, 5), (1, 5), (5, 4)])
def test_taps_forms_equal_the_stock_ops(size, k):
    """One matrix product per output pixel over its in-bounds taps: the same sums as the stock kernels, for even
    and odd sizes and kernels (the window arithmetic is where such a form goes wrong)."""
    rng = np.random.default_rng(size * 10 + k)
    x, w = _t(rng, 3, size, size, 6), _t(rng, k, k, 6, 10)
    out = -(-size // 2)
    dy = _t(rng, 3, out, out, 10)
    assert _rel(_conv._taps_conv(x, w), tf.nn.conv2d(x, w, 2, "SAME")) < 1e-5
    assert _rel(_conv._taps_transpose(dy, w, (size, size)),
                tf.nn.conv2d_transpose(dy, w, (3, size, size, 6), 2, "SAME")) < 1e-5
    assert _rel(_conv._taps_filter_grad(x, w, dy), _conv._filter_grad(x, w, dy)) < 1e-5
    # every in-bounds tap is read exactly once: the windows' taps add up to the brute-force count
    pad = _conv._conv_forms.same_padding(size, k, 2)[0]
    inside = sum(1 for i in range(out) for a in range(k) if 0 <= 2 * i - pad + a < size) ** 2
    assert sum((a1 - a0) * (b1 - b0) for *_, (a0, a1, b0, b1), _ in _conv._taps_windows((size, size), k)) == inside


def test_taps_is_a_candidate_only_for_small_outputs():
    assert "taps" in _conv._candidates("conv", tf.TensorSpec((4, 8, 8, 1)), None)  # a 4x4 output: 16 products
    assert "taps" not in _conv._candidates("conv", tf.TensorSpec((4, 16, 16, 1)), None)  # 64
    assert "taps" in _conv._candidates("transpose", tf.TensorSpec((4, 2, 2, 128)), (4, 4))
    assert "taps" not in _conv._candidates("transpose", tf.TensorSpec((4, 8, 8, 64)), (16, 16))
    assert "taps" in _conv._candidates("filter_grad", tf.TensorSpec((4, 4, 4, 64)), None)


@pytest.fixture
def autotune(monkeypatch, tmp_path):
    """Autotune mode with an empty process cache and a private disk cache; yields the recorded timings."""
    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "autotune")
    monkeypatch.setenv("KERAS_GAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_conv, "_CHOICES", {})
    monkeypatch.setattr(_conv, "_DISK", {"loaded": False, "entries": {}})
    monkeypatch.setattr(_conv, "_has_accelerator", lambda: False)
    return tmp_path


def test_autotune_takes_the_measured_fastest_form_and_caches_it(autotune, monkeypatch):
    timed = []

    def fake_times(primitive, forms, x, w, out_hw):
        timed.append(primitive)
        table = {"conv": {"plain": 1.0, "gemm": 0.5, "taps": 0.7},
                 "filter_grad": {"op": 1.0, "gemm": 0.95, "taps": 0.96},
                 "transpose": {"plain": 2.0, "subpixel": 1.0, "taps": 1.9}}[primitive]
        return {f: table[f] for f in forms}

    monkeypatch.setattr(_conv, "_time_forms", fake_times)
    x = tf.TensorSpec((4, 8, 8, 16), tf.float32)
    w = tf.zeros((5, 5, 16, 32))
    assert _conv._choose("conv", x, w) == "gemm"  # half the stock kernel's time
    assert _conv._choose("filter_grad", x, w) == "op"  # 5% faster is within the margin: the stock kernel
    assert _conv._choose("transpose", tf.TensorSpec((4, 4, 4, 32)), w, (8, 8)) == "subpixel"
    assert _conv._choose("transpose", tf.TensorSpec((4, 4, 4, 32)), w, (7, 7)) == "plain"  # odd: no sub-pixel form
    assert timed == ["conv", "filter_grad", "transpose", "transpose"]
    assert _conv._choose("conv", x, w) == "gemm" and len(timed) == 4  # this process: not timed again
    with open(autotune / "conv_forms.json") as fh:
        on_disk = json.load(fh)
    assert list(on_disk) == [_conv._fingerprint()]
    assert sorted(on_disk[_conv._fingerprint()].values()) == ["gemm", "op", "plain", "subpixel"]

    # A new process (empty process cache) on the same machine class reads the choices instead of timing.
    monkeypatch.setattr(_conv, "_CHOICES", {})
    monkeypatch.setattr(_conv, "_DISK", {"loaded": False, "entries": {}})
    monkeypatch.setattr(_conv, "_time_forms", lambda *a: pytest.fail("timed although the choice was on disk"))
    assert _conv._choose("conv", x, w) == "gemm"


@pytest.mark.parametrize("content", ["[1, 2, 3]", '{"FP": "bogus"}', '{"FP": {"conv|old": "gemm"}', "null"])
def test_a_cache_file_of_another_shape_is_written_anew(autotune, monkeypatch, content):
    """A fault sweep: a conv_forms.json holding valid JSON of another shape (a list) ended the first training
    step in a traceback from the cache write. Any such file now reads as empty and is replaced by the choices."""
    monkeypatch.setattr(_conv, "_time_forms", lambda primitive, forms, *a: {f: 1.0 for f in forms})
    (autotune / "conv_forms.json").write_text(content.replace("FP", _conv._fingerprint()))
    x = tf.TensorSpec((4, 8, 8, 16), tf.float32)
    assert _conv._choose("conv", x, tf.zeros((5, 5, 16, 32))) == "plain"  # timed, a tie: the stock form
    with open(autotune / "conv_forms.json") as fh:
        on_disk = json.load(fh)
    assert isinstance(on_disk, dict) and list(on_disk) == [_conv._fingerprint()]
    assert list(on_disk[_conv._fingerprint()].values()) == ["plain"]


def test_sampling_chooses_only_forward_forms_and_a_grid_reuses_the_training_batch(autotune, monkeypatch):
    """A generator's samples are never differentiated: ``generate`` chooses (and times) only the transposed
    convolutions' forward forms, not the backward forms a training step needs; and at the training batch it
    takes the forms training chose, timing nothing new (the trainer's sample grid passes that batch)."""
    from keras_gan import models

    timed = []

    def fake_times(primitive, forms, x, w, out_hw):
        timed.append(f"{primitive}@{x.shape[0]}")
        return {f: 1.0 for f in forms}

    monkeypatch.setattr(_conv, "_time_forms", fake_times)
    keras.utils.set_random_seed(0)
    gan = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, num_upsamplings=2)
    samples = gan.generate(6, seed=1, batch_size=6)
    assert samples.shape == (6, 8, 8, 1)
    assert sorted(timed) == ["transpose@6", "transpose@6"], timed  # G's two stride-2 layers; no conv, no filter_grad
    gan.compile()
    gan.fit(np.zeros((8, 8, 8, 1), "float32"), batch_size=4, epochs=1, verbose=0, shuffle=False)
    trained = {k for k in timed if k.endswith("@4")}
    assert {"transpose@4", "conv@4", "filter_grad@4"} <= trained, timed
    before = len(timed)
    again = gan.generate(8, seed=1, batch_size=4)  # the training batch: every forward form is chosen already
    assert len(timed) == before, timed[before:]
    np.testing.assert_allclose(again[:6], gan.generate(6, seed=1, batch_size=6), atol=1e-5)  # same samples


def test_timing_forms_inside_the_first_trace_does_not_make_fit_trace_the_step_twice(autotune, monkeypatch):
    """The forms are timed while ``fit`` traces the training step. Their random inputs came from a
    ``tf.random.Generator``, a variable, and a variable made during a ``tf.function``'s first trace makes it
    trace the function again: on an empty form cache the digits default traced its step twice (1.1 s more
    on a 2-core AMD EPYC Zen 4). The inputs are stateless draws now."""
    from keras_gan import models

    timed, traces = [], []
    real_time_forms = _conv._time_forms
    monkeypatch.setattr(_conv, "_time_forms", lambda *a: timed.append(a[0]) or real_time_forms(*a))
    keras.utils.set_random_seed(0)
    gan = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, num_upsamplings=2)
    step = gan._train_step
    monkeypatch.setattr(gan, "_train_step", lambda data: traces.append(1) or step(data))
    gan.compile(steps_per_execution=2)
    gan.fit(np.zeros((16, 8, 8, 1), "float32"), batch_size=4, epochs=2, verbose=0, shuffle=False)
    assert {"conv", "transpose", "filter_grad"} <= set(timed), timed  # the forms were timed inside the trace
    assert len(traces) == 1


def test_autotune_times_real_forms_and_unknown_batches_take_the_static_rule(autotune):
    x = tf.TensorSpec((8, 4, 4, 64), tf.float32)
    w = tf.zeros((5, 5, 64, 128))
    seconds = _conv._time_forms("filter_grad", ["op", "gemm"], x, w, None)
    assert set(seconds) == {"op", "gemm"} and all(0 < s < 10 for s in seconds.values())
    assert _conv._choose("filter_grad", x, w) in ("op", "gemm")
    assert _conv._choose("conv", tf.TensorSpec((None, 8, 8, 256)), tf.zeros((5, 5, 256, 512))) == "gemm"
    assert not any(k.startswith("conv|x=None") for k in _conv.choices())


@pytest.mark.parametrize("times, expected_rounds", [
    ({"plain": 1.0, "taps": 0.7, "gemm": 1.2}, 5),   # a clear winner: the first 5 rounds
    ({"plain": 1.0, "taps": 0.95, "gemm": 1.2}, 15),  # a close call: all 15
    ({"plain": 1.0, "taps": 1.0}, 15),                # a tie: all 15
    ({"op": 1.0}, 5),                                 # one form: the minimum
])
def test_form_timing_stops_early_only_on_a_clear_winner(times, expected_rounds):
    """_timing_done, driven as _time_forms drives it, with each round's calls costing times[f] ms."""
    best, rounds, spent = {f: float("inf") for f in times}, 0, 0.0
    while not _conv._timing_done(best, rounds, spent):
        for f, ms in times.items():
            best[f] = min(best[f], ms / 1e3)
            spent += ms / 1e3
        rounds += 1
    assert rounds == expected_rounds
    # slow forms stop at half a second whatever the margin
    assert _conv._timing_done({"plain": 0.1, "taps": 0.1}, 5, 0.5)


def test_plain_mode_and_bad_mode(monkeypatch):
    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "plain")
    rng = np.random.default_rng(0)
    x, w = _t(rng, 2, 8, 8, 192), _t(rng, 5, 5, 192, 8)
    _assert_form(_conv.conv2d, x, w, None)
    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "fastest")
    with pytest.raises(ValueError, match="KERAS_GAN_CONV_FORMS='fastest' is not allowed; expected one of autotune"):
        _conv.conv2d(x, w)


def test_thread_count_set_by_the_environment_reaches_the_cache_key():
    # tf.config.threading reports 0 when TF_NUM_INTRAOP_THREADS set the count; the forms timed at one
    # thread per op must not be cached under the machine's default count.
    import subprocess
    import sys

    code = ("from keras_gan.kernels import _tf as _conv; import tensorflow as tf; tf.constant(1.0) + 1.0; "
            "print(_conv.intra_op_threads(), _conv._fingerprint().rsplit('|', 1)[-1])")
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-2:] == ["1", "threads=1"]


_REMAPPER_SCRIPT = r"""
import sys
import numpy as np
import tensorflow as tf
from keras_gan import networks
from keras_gan.kernels import _tf as _conv

# Every shape takes the given forms (the AVX2 machines time the matrix-product filter gradient and the sub-pixel
# input gradient fastest for the digits discriminator's second convolution): its gradient goes through conv2d's
# custom gradient.
forms = {"conv": "plain", "transpose": sys.argv[1], "filter_grad": sys.argv[2]}
_conv._choose = lambda primitive, x, w, out_hw=None: forms[primitive]
if sys.argv[3] == "vae_encoder":  # stock Conv2D + LeakyReLU, then Flatten
    from keras_gan.models import vae
    d = vae.vae_encoder((8, 8, 1), latent_dim=4)
else:  # "batch_norm" or "no_batch_norm" (then conv2 has a bias and LeakyReLU, then Flatten)
    d = networks.dcgan_discriminator((8, 8, 1), base_filters=8, num_upsamplings=2,
                                     batch_norm=sys.argv[3] == "batch_norm")
rng = np.random.default_rng(0)
real, fake = (tf.constant(rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")) for _ in range(2))

@tf.function
def step(real, fake):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.softplus(-d(real, training=True)) + tf.nn.softplus(d(fake, training=True)))
    grads = tape.gradient(loss, d.trainable_variables)
    for v, g in zip(d.trainable_variables, grads):
        v.assign_sub(0.01 * g)
    return loss

print("loss", float(step(real, fake)))
"""


@pytest.mark.parametrize("transpose,filter_grad,model", [
    ("plain", "gemm", "batch_norm"), ("subpixel", "op", "batch_norm"), ("plain", "op", "batch_norm"),
    ("plain", "op", "no_batch_norm"), ("plain", "op", "vae_encoder"), ("taps", "taps", "batch_norm"),
])
def test_custom_gradient_forms_keep_grappler_remapper_quiet(transpose, filter_grad, model):
    """A training step prints no "remapper failed" (grappler's second remapper pass fused a LeakyRelu into the
    convolution before it although the LeakyRelu's gradient still read the fused node): a discriminator whose
    second convolution runs conv2d's custom gradient (see conv2d in keras_gan/kernels/_tf.py; the stock forms
    never printed it), and a convolution with bias and LeakyReLU before Flatten, in a discriminator without batch
    norm and in the VAE's encoder (see keras_gan.networks.Flatten)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the line is a C++ ERROR log
    out = subprocess.run([sys.executable, "-c", _REMAPPER_SCRIPT, transpose, filter_grad, model],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "loss" in out.stdout
    assert "remapper failed" not in out.stderr, out.stderr[-2000:]


def test_flatten_equals_keras_flatten_and_round_trips():
    """networks.Flatten: Keras' values in training and inference, and its config makes the same layer."""
    x = tf.constant(np.random.default_rng(2).normal(size=(3, 4, 4, 5)).astype("float32"))
    layer = networks.Flatten(name="f")
    want = keras.layers.Flatten()(x)
    for training in (True, False):
        np.testing.assert_array_equal(layer(x, training=training), want)
    ops_in = _graph_ops(lambda t: layer(t, training=True), tf.TensorSpec((3, 4, 4, 5)))
    assert "Shape" in ops_in  # the batch size read at run time (what gives the LeakyRelu its control edge)
    again = networks.Flatten.from_config(layer.get_config())
    assert isinstance(again, networks.Flatten) and again.name == "f"
