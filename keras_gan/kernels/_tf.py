"""Exact, faster TensorFlow forms of the DCGAN's stride-2 "same" convolutions, chosen by measurement.

Each stride-2 "same" convolution of a training step is three computations,
and TensorFlow's CPU kernels (oneDNN) are slow for some shapes of each,
differently on each CPU (measured: on AVX2-only kernels the filter gradient of
the 8x8 digits model's 4x4x64 -> 2x2x128 convolution ran 3.4x slower than as a
matrix product; on AVX-512 the same matrix product was 20% slower than the
stock kernel). Each computation has exact alternative forms:

* the convolution (also the input gradient of a transposed convolution):
  ``plain`` (``tf.nn.conv2d``) or ``gemm`` (one matrix product over
  ``extract_patches``);
* the transposed convolution (also the input gradient of a convolution):
  ``plain`` (``tf.nn.conv2d_transpose``) or ``subpixel`` (a stride-1
  convolution to ``4 * channels`` channels, then ``depth_to_space``; Shi et
  al. 2016);
* the filter gradient: ``op`` (``Conv2DBackpropFilter``) or ``gemm``
  (``patches^T @ dy``);
* each of the three as ``taps``, where the convolution's output has at most
  :data:`_MAX_TAPS_WINDOWS` pixels: one matrix product per output pixel over
  only the taps that fall inside the input. A "same" convolution of a small
  input spends much of its work on the padding: of the 4 x 25 taps of the
  digits discriminator's 4x4x64 -> 2x2x128 convolution (5x5 kernel), 49 fall
  inside the input, and the generator's transposed
  convolution back is the same sum. On a 2-core AMD EPYC Zen 4 at batch 32
  the three ``taps`` forms took 0.38, 0.40 and 0.43 ms against 0.62, 0.72 and
  0.84 ms for the stock kernels (forward, input gradient, filter gradient).

:func:`conv2d` and :func:`conv2d_transpose` carry their own gradients, so the
backward pass takes the chosen forms too (the input gradient of a convolution
is a transposed convolution and vice versa). All forms are exact
re-arrangements of the same sums (tests compare them with ``tf.nn.conv2d`` /
``tf.nn.conv2d_transpose`` to float32 round-off, second derivatives for
gradient penalties included).

**How a form is chosen** (environment variable ``KERAS_GAN_CONV_FORMS``):

* ``autotune`` (default): the first time a shape is traced, each form is run
  on random inputs of that shape on this machine, alternately, and the fastest
  is kept if it beats the stock kernel by 10% (else the stock kernel). Choices
  are kept for the process and in ``~/.cache/keras_gan/conv_forms.json``
  (``KERAS_GAN_CACHE_DIR`` moves it) under a key of the CPU model, its vector
  ISA (``ONEDNN_MAX_CPU_ISA`` included), TensorFlow's version and thread
  count, so later runs on the same machine class reuse them and take the same
  forms (a resumed run computes what an uninterrupted one did). A shape whose
  batch size is unknown (a symbolic build, an export signature) and any
  machine with a GPU or TPU takes the ``static`` choice.
* ``static``: a fixed rule, no timing: ``gemm`` for convolutions to at most
  4x4 pixels with a reduction at least 4096 deep, ``subpixel`` for
  transposed convolutions to at most 4 channels, the stock filter gradient.
  Deterministic on every machine (the test suite's setting).
* ``plain``: TensorFlow's own ops everywhere.

Hand-written because no TensorFlow or Keras API chooses a convolution
algorithm per shape on the CPU (cuDNN's autotuner does so on GPUs).
"""

import contextlib
import os
import threading
import time

import tensorflow as tf

from keras_gan.kernels import _forms as _conv_forms

MODES = _conv_forms.MODES

# The static rule (KERAS_GAN_CONV_FORMS=static), measured on one AVX-512 machine.
_MAX_SUBPIXEL_CHANNELS = 4  # transposed convolutions to at most this many channels go sub-pixel
_MAX_GEMM_OUTPUT_PIXELS = 16  # convolutions to at most this many output pixels ...
_MIN_GEMM_DEPTH = 4096  # ... and with a reduction (k * k * input channels) at least this deep: one matmul
_MAX_TAPS_WINDOWS = 16  # the taps forms (one matmul per output pixel) are timed for outputs of at most this many pixels

_CHOICES = {}  # key -> form, this process
_DISK = {"loaded": False, "entries": {}}
_FORCED = threading.local()  # _forced_mode


def mode():
    """The form-choice mode from ``KERAS_GAN_CONV_FORMS`` (default ``autotune``).

    Raises:
        ValueError: for a value other than ``autotune``, ``static`` or ``plain``.
    """
    return _conv_forms.mode(getattr(_FORCED, "mode", None))


@contextlib.contextmanager
def _forced_mode(value):
    """Within the block, this thread's traces take ``value``'s forms whatever ``KERAS_GAN_CONV_FORMS`` says.

    Used by ``keras_gan.export.export_onnx``, which traces the stock ops (ONNX ``ConvTranspose`` / ``Conv``)
    and leaves the choice of form to its own ONNX Runtime rewrites.
    """
    if value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {value!r}.")
    previous, _FORCED.mode = getattr(_FORCED, "mode", None), value
    try:
        yield
    finally:
        _FORCED.mode = previous


@contextlib.contextmanager
def _forward_only():
    """Within the block, this thread's traces run each convolution's chosen forward form without a custom gradient.

    Used by ``keras_gan.export.export_saved_model``: a served generator is never differentiated, and a
    SavedModel whose functions carry custom gradients warns at every load that a gradient would fail.
    The forward computation is the one training runs; the backward forms are neither chosen nor timed.
    """
    previous, _FORCED.forward_only = getattr(_FORCED, "forward_only", False), True
    try:
        yield
    finally:
        _FORCED.forward_only = previous


def choices():
    """The forms chosen so far in this process: ``{key: form}`` (what the benchmark records)."""
    return dict(_CHOICES)


# ------------------------------------------------------------------ the forms
def _subpixel_transpose(x, w, like=None):
    """``conv2d_transpose(x, w, stride 2, SAME)`` as a stride-1 convolution plus ``depth_to_space``."""
    offsets, kernel = _subpixel_kernel(w, like)
    lo, hi = -offsets[0], offsets[-1]
    x = tf.pad(x, [[0, 0], [lo, hi], [lo, hi], [0, 0]])
    return tf.nn.depth_to_space(tf.nn.conv2d(x, kernel, 1, "VALID"), 2)


def _subpixel_kernel(w, like=None):
    """The window offsets and the stride-1 kernel ``[n, n, in, 4 * out]`` of the sub-pixel form of ``w`` ``[k, k, out, in]``.

    ``like`` (optional, the transposed convolution's output): its ``out`` is read from ``like``'s runtime shape
    (the same number), which gives ``like``'s op the control edge that :func:`conv2d` needs.

    Rebuilt from ``w`` at every call (the layer keeps the stock kernel): one ``[k*k, out, in] -> [k*k, in, out]``
    transpose, one gather of whole ``[in, out]`` taps (a zero tap appended for the taps no phase uses) and a
    transpose that moves ``out``-long runs. The previous one gathered twice and swapped ``out`` and ``in``
    inside a 6-d transpose: 67 against 26 ms for the 64x64 DCGAN's 5x5x256x512 kernel on a 2-core AMD EPYC
    with AVX2 (the same values, exactly).
    """
    k, out_ch, in_ch = w.shape[0], w.shape[2], w.shape[3]
    offsets, taps = _conv_forms.subpixel_taps(k)  # [n, n, 2, 2]: flat tap index, k * k for a zero tap
    n = len(offsets)
    w_t = tf.transpose(tf.reshape(w, (k * k, out_ch, in_ch)), (0, 2, 1))
    w_t = tf.pad(w_t, [[0, 1], [0, 0], [0, 0]])  # [k*k + 1, in, out]
    kernel = tf.transpose(tf.gather(w_t, taps, axis=0), (0, 1, 4, 2, 3, 5))  # [n, n, in, 2(ru), 2(rv), out]
    if like is None:
        shape = (n, n, in_ch, 4 * out_ch)
    else:  # the same numbers, 4 * out_ch read from like's runtime shape
        shape = tf.concat([[n, n, in_ch], 4 * _runtime_shape(like)[3:]], 0)
    return offsets, tf.reshape(kernel, shape)


def _patches(x, k):
    """The stride-2 SAME input patches of ``x``: ``[batch, out_h, out_w, k * k * channels]``."""
    (top, bottom), (left, right) = (_conv_forms.same_padding(x.shape[1], k, 2),
                                    _conv_forms.same_padding(x.shape[2], k, 2))
    x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    return tf.image.extract_patches(x, [1, k, k, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")


def _gemm_conv(x, w):
    """``conv2d(x, w, stride 2, SAME)`` as one matrix product over the input patches."""
    k, in_ch, out_ch = w.shape[0], w.shape[2], w.shape[3]
    patches = _patches(x, k)
    shape = tf.concat([tf.shape(patches)[:3], [out_ch]], 0)
    y = tf.matmul(tf.reshape(patches, (-1, k * k * in_ch)), tf.reshape(w, (k * k * in_ch, out_ch)))
    return tf.reshape(y, shape)


def _plain_conv(x, w):
    return tf.nn.conv2d(x, w, 2, "SAME")


def _runtime_shape(x):
    """A ``Shape`` op on ``x`` even where its shape is static (``tf.shape`` then gives a constant).

    Grappler folds it into a constant with a control edge from ``x``'s op, as it folds the ``ShapeN`` of
    TensorFlow's own Conv2D gradient, and that edge keeps its remapper off a bug (TensorFlow 2.21): in its second
    pass it fuses a LeakyRelu into the ``_FusedConv2D`` before it (Conv2D + BiasAdd, fused in the first pass)
    although the gradient's LeakyReluGrad still reads that node, and prints "remapper failed: ...
    Mutation::Apply error: fanout ... exist for missing node .../BiasAdd" at every trace (also reported with stock
    Keras layers: jrayzhang6/CFR-RL#7). A LeakyRelu with a control edge is not fused. Used where a LeakyRelu's
    output is read by something whose gradient has no ``Shape`` of it: :func:`conv2d`'s custom gradient and
    :class:`keras_gan.networks.Flatten`.
    """
    return tf.raw_ops.Shape(input=x)


def _plain_transpose(x, w, out_hw, like=None):
    if like is None:
        shape = tf.stack([tf.shape(x)[0], out_hw[0], out_hw[1], w.shape[2]])
    else:  # the input gradient of a convolution whose input is `like`: see conv2d
        shape = _runtime_shape(like)
    return tf.nn.conv2d_transpose(x, w, shape, 2, "SAME")


def _filter_grad(x, w, dy):
    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, 2, 2, 1], padding="SAME"
    )


def _gemm_filter_grad(x, w, dy):
    """The filter gradient of ``conv2d(x, w)`` as one matrix product: ``patches(x)^T @ dy``."""
    k, in_ch, out_ch = w.shape[0], w.shape[2], w.shape[3]
    patches = tf.reshape(_patches(x, k), (-1, k * k * in_ch))
    g = tf.matmul(patches, tf.reshape(dy, (-1, out_ch)), transpose_a=True)
    return tf.reshape(g, (k, k, in_ch, out_ch))


def _taps_windows(in_hw, k):
    """Each output pixel of a stride-2 SAME convolution of an ``in_hw`` input with a ``k x k`` kernel.

    Yields ``(i, j, (a0, a1, b0, b1), (p0, p1, q0, q1))``: output pixel ``(i, j)`` reads input rows ``a0:a1`` and
    columns ``b0:b1`` with kernel rows ``p0:p1`` and columns ``q0:q1``, the taps that fall inside the input.

    Example:

    >>> [w for w in _taps_windows((4, 4), 5)][0]   # the 2x2 output's first pixel: kernel rows 1-4 on input rows 0-3
    (0, 0, (0, 4, 0, 4), (1, 5, 1, 5))
    """
    (top, _), (left, _) = _conv_forms.same_padding(in_hw[0], k, 2), _conv_forms.same_padding(in_hw[1], k, 2)
    out_h, out_w = _conv_forms.same_output_hw(in_hw)
    for i in range(out_h):
        r0 = 2 * i - top
        a0, a1 = max(r0, 0), min(r0 + k, in_hw[0])
        for j in range(out_w):
            c0 = 2 * j - left
            b0, b1 = max(c0, 0), min(c0 + k, in_hw[1])
            yield i, j, (a0, a1, b0, b1), (a0 - r0, a1 - r0, b0 - c0, b1 - c0)


def _taps_conv(x, w):
    """``conv2d(x, w, stride 2, SAME)`` as one matrix product per output pixel over its in-bounds taps."""
    k, in_ch, out_ch = w.shape[0], w.shape[2], w.shape[3]
    in_hw = (x.shape[1], x.shape[2])
    pixels = {}
    for i, j, (a0, a1, b0, b1), (p0, p1, q0, q1) in _taps_windows(in_hw, k):
        patch = tf.reshape(x[:, a0:a1, b0:b1, :], (-1, (a1 - a0) * (b1 - b0) * in_ch))
        pixels[i, j] = tf.matmul(patch, tf.reshape(w[p0:p1, q0:q1], (-1, out_ch)))
    out_h, out_w = _conv_forms.same_output_hw(in_hw)
    return tf.stack([tf.stack([pixels[i, j] for j in range(out_w)], 1) for i in range(out_h)], 1)


def _taps_transpose(x, w, out_hw, like=None):
    """``conv2d_transpose(x, w, stride 2, SAME)`` to ``out_hw``: the adjoint of :func:`_taps_conv`, each input
    pixel's matrix product with its in-bounds taps added into the window it came from."""
    k, out_ch = w.shape[0], w.shape[2]
    total = []
    for i, j, (a0, a1, b0, b1), (p0, p1, q0, q1) in _taps_windows(out_hw, k):
        part = tf.matmul(x[:, i, j, :], tf.reshape(w[p0:p1, q0:q1], (-1, w.shape[3])), transpose_b=True)
        if like is None or total:
            part = tf.reshape(part, (-1, a1 - a0, b1 - b0, out_ch))
        else:  # out_ch read from like's runtime shape (the same number): the control edge conv2d needs
            part = tf.reshape(part, tf.concat([[-1, a1 - a0, b1 - b0], _runtime_shape(like)[3:]], 0))
        total.append(tf.pad(part, [[0, 0], [a0, out_hw[0] - a1], [b0, out_hw[1] - b1], [0, 0]]))
    return tf.add_n(total)


def _taps_filter_grad(x, w, dy):
    """The filter gradient of ``conv2d(x, w)`` as one matrix product per output pixel, each padded to the kernel."""
    k, in_ch, out_ch = w.shape[0], w.shape[2], w.shape[3]
    parts = []
    for i, j, (a0, a1, b0, b1), (p0, p1, q0, q1) in _taps_windows((x.shape[1], x.shape[2]), k):
        patch = tf.reshape(x[:, a0:a1, b0:b1, :], (-1, (a1 - a0) * (b1 - b0) * in_ch))
        g = tf.reshape(tf.matmul(patch, dy[:, i, j, :], transpose_a=True), (p1 - p0, q1 - q0, in_ch, out_ch))
        parts.append(tf.pad(g, [[p0, k - p1], [q0, k - q1], [0, 0], [0, 0]]))
    return tf.add_n(parts)


_FORMS = {
    "conv": {"plain": _plain_conv, "gemm": _gemm_conv, "taps": _taps_conv},
    "transpose": {"plain": _plain_transpose,
                  "subpixel": lambda x, w, out_hw, like=None: _subpixel_transpose(x, w, like),
                  "taps": _taps_transpose},
    "filter_grad": {"op": _filter_grad, "gemm": _gemm_filter_grad, "taps": _taps_filter_grad},
}
_STOCK = {"conv": "plain", "transpose": "plain", "filter_grad": "op"}


# ------------------------------------------------------------- choosing a form
def _static(primitive, x, w, out_hw=None):
    if primitive == "conv":
        out_pixels = _output_pixels(x)
        deep = w.shape[0] * w.shape[1] * w.shape[2] >= _MIN_GEMM_DEPTH
        return "gemm" if out_pixels <= _MAX_GEMM_OUTPUT_PIXELS and deep else "plain"
    if primitive == "transpose":
        return "subpixel" if w.shape[2] <= _MAX_SUBPIXEL_CHANNELS and _subpixel_fits(x, out_hw) else "plain"
    return "op"


def _output_pixels(x):
    """Pixels of the output of a stride-2 SAME convolution of ``x`` (NHWC)."""
    out_h, out_w = _conv_forms.same_output_hw(x.shape[1:3])
    return out_h * out_w


def _subpixel_fits(x, out_hw):
    return tuple(out_hw) == (2 * x.shape[1], 2 * x.shape[2])


def _candidates(primitive, x, out_hw):
    forms = list(_FORMS[primitive])
    if primitive == "transpose" and not _subpixel_fits(x, out_hw):
        forms.remove("subpixel")
    # the convolution's output pixels: x's for a transposed convolution (its input), half x's size otherwise
    windows = x.shape[1] * x.shape[2] if primitive == "transpose" else _output_pixels(x)
    if windows > _MAX_TAPS_WINDOWS:
        forms.remove("taps")
    return forms


def _has_accelerator():
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def intra_op_threads():
    """Threads one TensorFlow op may use in this process.

    ``tf.config.threading`` reports 0 unless the Python API set a count, also when
    ``TF_NUM_INTRAOP_THREADS`` did; then the variable, then one per core.
    """
    return (tf.config.threading.get_intra_op_parallelism_threads()
            or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or os.cpu_count())


def _fingerprint():
    """The machine class a timing holds for: CPU model, vector ISA, TensorFlow version and threads."""
    threads = intra_op_threads()
    return (f"{_conv_forms.cpu_key()}|isa={os.environ.get('ONEDNN_MAX_CPU_ISA', '')}|"
            f"onednn={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '')}|tf={tf.__version__}|threads={threads}")


def _time_forms(primitive, forms, x, w, out_hw):
    """Seconds per call of each form on random inputs of these shapes (best of several, run alternately)."""
    # Stateless draws: a tf.random.Generator is a variable, and a variable made while tf.function traces its
    # first call (the training step, whose trace runs this) makes tf.function trace the whole step again.
    dtype = x.dtype
    xs = tf.cast(tf.random.stateless_normal(x.shape, seed=(0, 1)), dtype)
    ws = tf.cast(tf.random.stateless_normal(w.shape, seed=(0, 2)), dtype)
    if primitive == "filter_grad":
        out_shape = (x.shape[0], *_conv_forms.same_output_hw(x.shape[1:3]), w.shape[3])
        args = (xs, ws, tf.cast(tf.random.stateless_normal(out_shape, seed=(0, 3)), dtype))
    else:
        args = (xs, ws)
    extra = (out_hw,) if primitive == "transpose" else ()
    # Each form as a graph, as it runs in a training step: timed eagerly, a several-op form would pay
    # per-op dispatch that the step does not (measured: enough to hide a 33% faster filter gradient).
    # One element comes back, so no form pays for copying its whole output.
    calls = {f: tf.function(lambda *a, fn=_FORMS[primitive][f]: tf.reshape(fn(*a, *extra), [-1])[0], autograph=False)
             for f in forms}
    calls = {f: (lambda fn=fn: fn(*args)) for f, fn in calls.items()}
    best = {f: float("inf") for f in forms}
    spent, rounds = 0.0, 0
    for f in forms:  # warm up: first calls create oneDNN primitives
        calls[f]().numpy()
    while not _timing_done(best, rounds, spent):
        for f in forms:
            start = time.perf_counter()
            calls[f]().numpy()
            took = time.perf_counter() - start
            best[f] = min(best[f], took)
            spent += took
        rounds += 1
    return best


_CLEAR_LEAD = 0.9  # after the first rounds, a form whose best time is this fraction of every other's has won


def _timing_done(best, rounds, spent):
    """Whether :func:`_time_forms` has timed enough: ``best`` maps each form to its best seconds so far, after
    ``rounds`` rounds that took ``spent`` seconds in all.

    At least 5 rounds; then it stops as soon as one form is clearly the fastest (:data:`_CLEAR_LEAD`), and a
    close call goes on to 15 rounds or half a second. On an empty cache the default run's 6 shapes took 0.875 s
    to time against 0.96 s with 15 rounds each (2-core AMD EPYC); tracing the forms and their first calls is
    most of the rest.

    Example:

    >>> _timing_done({"plain": 1.0e-3, "taps": 0.7e-3}, 5, 0.01)
    True
    >>> _timing_done({"plain": 1.0e-3, "taps": 0.95e-3}, 5, 0.01)
    False
    """
    if rounds < 5:
        return False
    if rounds >= 15 or spent >= 0.5:
        return True
    times = sorted(best.values())
    return len(times) < 2 or times[0] <= _CLEAR_LEAD * times[1]


def _choose(primitive, x, w, out_hw=None):
    """The form of ``primitive`` (``conv``, ``transpose`` or ``filter_grad``) for these shapes."""
    how = mode()
    if how == "plain":
        return _STOCK[primitive]
    if how == "static" or x.shape[0] is None or _has_accelerator():
        return _static(primitive, x, w, out_hw)
    forms = _candidates(primitive, x, out_hw)
    # the candidates are part of the key: a release that adds a form times each shape again, once
    key = (f"{primitive}|x={'x'.join(map(str, x.shape))}|w={'x'.join(map(str, w.shape))}"
           f"|out={'x'.join(map(str, out_hw or ()))}|{x.dtype.name}|{'+'.join(forms)}")

    def time_forms():
        with tf.init_scope():  # outside any trace in progress: the forms run now, on concrete inputs
            return _time_forms(primitive, forms, x, w, out_hw)

    return _conv_forms.pick(key, forms, _STOCK[primitive], time_forms, _CHOICES, _DISK, "conv_forms.json",
                            _fingerprint)


# --------------------------------------------------------------------- the ops
def conv2d(x, w):
    """Stride-2 SAME convolution of NHWC ``x`` with ``w`` ``[k, k, in, out]``; same result as ``tf.nn.conv2d``."""
    in_hw = (x.shape[1], x.shape[2])
    forward = _choose("conv", x, w)
    if getattr(_FORCED, "forward_only", False):
        return _FORMS["conv"][forward](x, w)
    # the input gradient is a transposed convolution of dy (x's batch, ceil(size / 2), out channels) to x's size
    dy_like = tf.TensorSpec((x.shape[0], *_conv_forms.same_output_hw(in_hw), w.shape[3]), x.dtype)
    backward = _choose("transpose", dy_like, w, in_hw)
    filter_grad = _choose("filter_grad", x, w)
    if (forward, backward, filter_grad) == ("plain", "plain", "op"):
        return _plain_conv(x, w)

    @tf.custom_gradient
    def op(x, w):
        y = _FORMS["conv"][forward](x, w)

        def grad(dy):
            # The input gradient reads a size from x's runtime shape (_runtime_shape), as TensorFlow's own Conv2D
            # gradient does: the plain form its output shape, the sub-pixel form its kernel's channels (the same
            # numbers). Without it, a discriminator whose second convolution took a non-stock form (the AVX2
            # machines' choice) printed grappler's "remapper failed" in every run.
            return conv2d_transpose(dy, w, in_hw, like=x), _FORMS["filter_grad"][filter_grad](x, w, dy)

        return y, grad

    return op(x, w)


def conv2d_transpose(x, w, out_hw, like=None):
    """Stride-2 SAME transposed convolution of NHWC ``x`` with ``w`` ``[k, k, out, in]`` to spatial size ``out_hw``.

    Same result as ``tf.nn.conv2d_transpose``. ``like`` (optional): a tensor of the output's shape (the input
    of the convolution whose input gradient this is), whose runtime shape every form reads (:func:`_runtime_shape`).
    """
    out_hw = tuple(int(s) for s in out_hw)
    forward = _choose("transpose", x, w, out_hw)
    if getattr(_FORCED, "forward_only", False):
        return _FORMS["transpose"][forward](x, w, out_hw)
    y_like = tf.TensorSpec((x.shape[0], *out_hw, w.shape[2]), x.dtype)  # the input of the equivalent convolution
    backward = _choose("conv", y_like, w)
    filter_grad = _choose("filter_grad", y_like, w)
    if (forward, backward, filter_grad) == ("plain", "plain", "op"):
        return _plain_transpose(x, w, out_hw, like)

    @tf.custom_gradient
    def op(x, w):
        y = _FORMS["transpose"][forward](x, w, out_hw, like)

        def grad(dy):
            return conv2d(dy, w), _FORMS["filter_grad"][filter_grad](dy, w, x)

        return y, grad

    return op(x, w)
