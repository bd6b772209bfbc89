"""Strided convolutions and transposed convolutions on the JAX backend, in forms its fast kernels run.

Keras' JAX ``conv_transpose`` is ``lax.conv_transpose``: a convolution with lhs
(base) dilation. JAX differentiates it as a generic dilated convolution: its
kernel gradient becomes another lhs-dilated convolution whose window is the
whole output-gradient image. XLA's GPU convolution rewriter gives cuDNN only
convolutions it recognises as a forward, input-gradient or filter-gradient
pattern, so that one runs as a zero-stuffed forward convolution (jax-ml/jax
#31662, openxla/xla #34273); XLA's CPU convolutions are slow on it too (1.5-2.2 s
against 41-51 ms for the 64x64 DCGAN's layers at batch 64, ``benchmarks/jax_conv_forms.py``).
PyTorch's ``ConvTranspose2d`` instead runs the three computations of the
strided convolution it transposes. So do :func:`conv2d_transpose` and
:func:`conv2d`: with ``C(y, w)`` the strided convolution (TensorFlow's and
Keras' padding) and ``T = C_y^T`` its transpose in ``y``,

* ``T``'s input gradient is ``C``, ``C``'s input gradient is ``T``;
* both kernel gradients are ``C``'s filter gradient (JAX's own, the pattern
  XLA hands to cuDNN's filter-gradient kernel);
* ``T`` and ``C`` each run in one of several exact forms:

  - ``T``: ``lhs`` (JAX's linear transpose of ``C``: lhs-dilated, the kernel
    reversed right before the convolution, the pattern cuDNN's data-gradient
    kernel takes, jax-ml/jax #23783), ``subpixel`` (a stride-1 convolution to
    ``4 * channels`` then depth-to-space; Shi et al. 2016) or ``subgemm``
    (the same as one matrix product over 3x3 patches);
  - ``C``: ``plain`` (``lax.conv_general_dilated``) or ``gemm`` (one matrix
    product over the input patches).

All forms are re-arrangements of the same sums (tests compare forward, both
gradients and a gradient penalty's second derivative with Keras' stock ops in
float32 and bfloat16). The layers' weights and configs stay the stock layers',
so ``.keras`` files, export and the other backends are unchanged.

**How a form is chosen** (``KERAS_GAN_CONV_FORMS``, as on TensorFlow):
``autotune`` (default) times the candidate forms of each shape on this CPU
the first time it is traced (fastest kept if it beats the stock form by 10%)
and keeps the choice for the process and in ``~/.cache/keras_gan/conv_forms_jax.json``
under a key of the device, CPU and JAX version; ``static`` takes a fixed rule
(on CPU the forms measured fastest on the DCGAN's shapes); GPUs and TPUs always take
it, ``subpixel`` / ``plain`` (cuDNN's own convolutions, whose algorithms XLA autotunes; on an
H200 the sub-pixel forward beat ``lhs`` on the 64x64 DCGAN's layers in bfloat16 at batch 256
and 1024, up to 5x, ``docs/gpu.md``); ``plain`` is Keras' own ops.

Hand-written because neither Keras nor JAX ships a transposed convolution
with these gradients (Equinox reformulated its own the same way,
patrick-kidger/equinox PR #1259), and XLA chooses no algorithm per shape on a CPU.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from keras_gan.kernels import _forms as _conv_forms

_DIMS = ("NHWC", "HWIO", "NHWC")
_STOCK = {"transpose": "lhs", "conv": "plain"}
_CHOICES = {}  # key -> form, this process
_DISK = {"loaded": False, "entries": {}}


def mode():
    """The form-choice mode from ``KERAS_GAN_CONV_FORMS`` (default ``autotune``).

    Raises:
        ValueError: for a value other than ``autotune``, ``static`` or ``plain``.
    """
    return _conv_forms.mode()


def choices():
    """The forms chosen so far in this process: ``{key: form}``."""
    return dict(_CHOICES)


def applies(strides, padding, dilation_rate, data_format, groups=1, output_padding=None):
    """Whether :func:`conv2d` / :func:`conv2d_transpose` compute a Keras layer with these arguments.

    Returns:
        ``True`` for channels-last, undilated, ungrouped layers with ``"same"`` or ``"valid"``
        padding and no ``output_padding``.

    Example:

    >>> applies((2, 2), "same", (1, 1), "channels_last")
    True
    >>> applies((2, 2), "same", (1, 1), "channels_last", output_padding=(1, 1))
    False
    """
    return (
        padding in ("same", "valid")
        and tuple(dilation_rate) == (1, 1)
        and output_padding is None
        and data_format == "channels_last"
        and groups == 1
    )


def output_size(size, kernel, stride, padding):
    """Spatial size of a transposed convolution's output (Keras' rule with no ``output_padding``).

    Example:

    >>> output_size(4, 5, 2, "same"), output_size(4, 5, 2, "valid")
    (8, 11)
    """
    return size * stride if padding == "same" else (size - 1) * stride + max(kernel, stride)


# ------------------------------------------------------------------ the forms
def _pads(shape, kernel_hw, strides, padding):
    if padding == "valid":
        return (0, 0), (0, 0)
    return (_conv_forms.same_padding(shape[1], kernel_hw[0], strides[0]),
            _conv_forms.same_padding(shape[2], kernel_hw[1], strides[1]))


def _plain_conv(y, w, strides, padding):
    return lax.conv_general_dilated(y, w, strides, padding.upper(), dimension_numbers=_DIMS)


def _patches(x, kernel_hw, strides, pads):
    """``[batch, out_h, out_w, k_h * k_w * channels]``: each output pixel's input window, by strided slices."""
    (t, b), (left, right) = pads
    x = jnp.pad(x, ((0, 0), (t, b), (left, right), (0, 0)))
    (kh, kw), (sh, sw) = kernel_hw, strides
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    cols = [x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] for i in range(kh) for j in range(kw)]
    return jnp.stack(cols, axis=3).reshape(x.shape[0], oh, ow, kh * kw * x.shape[3])


def _gemm_conv(y, w, strides, padding):
    p = _patches(y, w.shape[:2], strides, _pads(y.shape, w.shape[:2], strides, padding))
    out = jnp.dot(p.reshape(-1, p.shape[-1]), w.reshape(-1, w.shape[-1]))
    return out.reshape(*p.shape[:3], w.shape[-1])


def _lhs_transpose(x, w, strides, padding, out_hw):
    out = jax.ShapeDtypeStruct((x.shape[0], *out_hw, w.shape[2]), x.dtype)
    (y,) = jax.linear_transpose(lambda u: _plain_conv(u, w, strides, padding), out)(x)
    return y


def _subpixel_kernel(w):
    """The ``[n, n, in, 4 * out]`` stride-1 kernel and the offsets of the sub-pixel form of ``w``."""
    k, out_ch, in_ch = w.shape[0], w.shape[2], w.shape[3]
    offsets, index = _conv_forms.subpixel_indices(k)
    w = jnp.pad(w, ((0, 1), (0, 1), (0, 0), (0, 0)))
    taps = w[index][:, :, index]  # [n, 2(row phase), n, 2(column phase), out, in]
    taps = jnp.transpose(taps, (0, 2, 5, 1, 3, 4))  # [n, n, in, row phase, column phase, out]
    n = len(offsets)
    return offsets, taps.reshape(n, n, in_ch, 4 * out_ch)


def _depth_to_space(y, channels):
    b, h, w, _ = y.shape
    y = y.reshape(b, h, w, 2, 2, channels).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, 2 * h, 2 * w, channels)


def _subpixel_transpose(x, w, strides, padding, out_hw, gemm=False):
    offsets, kernel = _subpixel_kernel(w)
    lo, hi = -offsets[0], offsets[-1]
    if gemm:
        p = _patches(x, kernel.shape[:2], (1, 1), ((lo, hi), (lo, hi)))
        y = jnp.dot(p.reshape(-1, p.shape[-1]), kernel.reshape(-1, kernel.shape[-1])).reshape(*p.shape[:3], -1)
    else:
        x = jnp.pad(x, ((0, 0), (lo, hi), (lo, hi), (0, 0)))
        y = lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=_DIMS)
    return _depth_to_space(y, w.shape[2])


_FORMS = {
    "transpose": {
        "lhs": _lhs_transpose,
        "subpixel": _subpixel_transpose,
        "subgemm": functools.partial(_subpixel_transpose, gemm=True),
    },
    "conv": {"plain": lambda y, w, strides, padding, out_hw=None: _plain_conv(y, w, strides, padding),
             "gemm": lambda y, w, strides, padding, out_hw=None: _gemm_conv(y, w, strides, padding)},
}


def _filter_grad(y, w, g, strides, padding):
    """``C``'s filter gradient at input ``y`` and output cotangent ``g`` (JAX's own: cuDNN's pattern)."""
    _, vjp = jax.vjp(lambda w_: _plain_conv(y, w_, strides, padding), w)
    return vjp(g)[0]


# ------------------------------------------------------- the differentiable ops
@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6))
def _transpose(x, w, strides, padding, out_hw, t_form, c_form):
    return _FORMS["transpose"][t_form](x, w, strides, padding, out_hw)


def _transpose_fwd(x, w, strides, padding, out_hw, t_form, c_form):
    return _transpose(x, w, strides, padding, out_hw, t_form, c_form), (x, w)


def _transpose_bwd(strides, padding, out_hw, t_form, c_form, residuals, g):
    x, w = residuals
    return _conv(g, w, strides, padding, c_form, t_form), _filter_grad(g, w, x, strides, padding)


_transpose.defvjp(_transpose_fwd, _transpose_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(y, w, strides, padding, c_form, t_form):
    return _FORMS["conv"][c_form](y, w, strides, padding)


def _conv_fwd(y, w, strides, padding, c_form, t_form):
    return _conv(y, w, strides, padding, c_form, t_form), (y, w)


def _conv_bwd(strides, padding, c_form, t_form, residuals, g):
    y, w = residuals
    dy = _transpose(g, w, strides, padding, tuple(y.shape[1:3]), t_form, c_form)
    return dy, _filter_grad(y, w, g, strides, padding)


_conv.defvjp(_conv_fwd, _conv_bwd)


# ------------------------------------------------------------- choosing forms
def _subpixel_fits(x_shape, w_shape, strides, padding, out_hw):
    return (tuple(strides) == (2, 2) and padding == "same" and w_shape[0] == w_shape[1] >= 2
            and tuple(out_hw) == (2 * x_shape[1], 2 * x_shape[2]))


def _candidates(primitive, x_shape, w_shape, strides, padding, out_hw):
    if primitive == "conv":
        return ["plain", "gemm"]
    if _subpixel_fits(x_shape, w_shape, strides, padding, out_hw):
        return ["lhs", "subpixel", "subgemm"]
    return ["lhs"]


def _platform():
    return jax.devices()[0].platform


def _static(primitive, x_shape, w_shape, strides, padding, out_hw):
    """The fixed rule: cuDNN's patterns on accelerators; on CPU the forms measured fastest on the DCGAN's shapes."""
    if _platform() != "cpu":  # H200, bf16, batch 256-1024: sub-pixel forwards 1.2-5x faster than lhs (docs/gpu.md)
        fits = primitive == "transpose" and _subpixel_fits(x_shape, w_shape, strides, padding, out_hw)
        return "subpixel" if fits else _STOCK[primitive]
    if primitive == "conv":
        out_h, out_w = _conv_forms.same_output_hw(x_shape[1:3], strides)
        return "gemm" if out_h * out_w <= 4 else "plain"
    if not _subpixel_fits(x_shape, w_shape, strides, padding, out_hw):
        return "lhs"
    if x_shape[1] * x_shape[2] <= 4:
        return "subgemm"
    return "lhs" if w_shape[2] <= 4 and x_shape[1] >= 16 else "subpixel"


def _fingerprint():
    """The machine class a timing holds for: device, CPU model and vector ISA, JAX version."""
    device = jax.devices()[0]
    return f"{device.platform}:{device.device_kind}|{_conv_forms.cpu_key()}|jax={jax.__version__}"


def _time_forms(primitive, forms, x_shape, w_shape, dtype, strides, padding, out_hw):
    """Seconds per call of each form (best of several rounds, run alternately), on random inputs."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(x_shape), dtype)
    w = jnp.asarray(0.02 * rng.standard_normal(w_shape), dtype)
    calls = {f: jax.jit(functools.partial(_FORMS[primitive][f], strides=strides, padding=padding, out_hw=out_hw))
             for f in forms}
    for f in forms:
        jax.block_until_ready(calls[f](x, w))
    best, spent, rounds = {f: float("inf") for f in forms}, 0.0, 0
    while rounds < 5 or (rounds < 15 and spent < 0.5):
        for f in forms:
            start = time.perf_counter()
            jax.block_until_ready(calls[f](x, w))
            took = time.perf_counter() - start
            best[f], spent = min(best[f], took), spent + took
        rounds += 1
    return best


def _choose(primitive, x_shape, w_shape, dtype, strides, padding, out_hw=None, symbolic=False):
    if symbolic:  # a functional model's shape inference: the form does not matter
        return _static(primitive, x_shape, w_shape, strides, padding, out_hw)
    key = (f"{primitive}|x={'x'.join(map(str, x_shape))}|w={'x'.join(map(str, w_shape))}|s={strides[0]}x"
           f"{strides[1]}|{padding}|out={'x'.join(map(str, out_hw or ()))}|{jnp.dtype(dtype).name}")
    # Accelerators: XLA autotunes cuDNN's algorithms. Several processes: each must trace the same program
    # (a form timed per process could differ between them), so the fixed rule.
    if mode() == "static" or _platform() != "cpu" or jax.process_count() > 1:
        _CHOICES[key] = _static(primitive, x_shape, w_shape, strides, padding, out_hw)
        return _CHOICES[key]
    if key in _CHOICES:
        return _CHOICES[key]
    forms = _candidates(primitive, x_shape, w_shape, strides, padding, out_hw)
    if len(forms) == 1:  # nothing to choose: no timing (the lhs form alone can take seconds on a CPU)
        _CHOICES[key] = forms[0]
        return forms[0]

    def time_forms():
        with jax.ensure_compile_time_eval():  # run now, on concrete inputs, not inside the trace in progress
            return _time_forms(primitive, forms, x_shape, w_shape, dtype, strides, padding, out_hw)

    return _conv_forms.pick(key, forms, _STOCK[primitive], time_forms, _CHOICES, _DISK, "conv_forms_jax.json",
                            _fingerprint)


def _in_symbolic_build():
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    return in_symbolic_scope()


def conv2d(y, w, strides, padding):
    """A Keras ``Conv2D`` (NHWC, kernel ``[k_h, k_w, in, out]``, no bias) whose input gradient takes a fast form.

    Args:
        y: ``[batch, height, width, in]``.
        w: ``[k_h, k_w, in, out]``, same dtype as ``y``.
        strides: ``(s_h, s_w)``.
        padding: ``"same"`` or ``"valid"``.

    Returns:
        Equal to ``keras.ops.conv(y, w, strides, padding)`` to round-off.

    Example:

    >>> conv2d(jnp.ones((2, 8, 8, 3)), jnp.ones((5, 5, 3, 4)), (2, 2), "same").shape
    (2, 4, 4, 4)
    """
    strides = tuple(int(s) for s in strides)
    symbolic = _in_symbolic_build()
    out_hw = tuple(y.shape[1:3])
    c_form = _choose("conv", y.shape, w.shape, y.dtype, strides, padding, symbolic=symbolic)
    g_shape = (y.shape[0], *_plain_out_hw(y.shape, w.shape, strides, padding), w.shape[3])
    t_form = _choose("transpose", g_shape, w.shape, y.dtype, strides, padding, out_hw, symbolic=symbolic)
    return _conv(y, w, strides, padding, c_form, t_form)


def _plain_out_hw(shape, w_shape, strides, padding):
    if padding == "same":
        return _conv_forms.same_output_hw(shape[1:3], strides)
    return (shape[1] - w_shape[0]) // strides[0] + 1, (shape[2] - w_shape[1]) // strides[1] + 1


def conv2d_transpose(x, w, strides, padding):
    """A Keras ``Conv2DTranspose`` (NHWC, kernel ``[k_h, k_w, out, in]``, no bias) with fast-kernel gradients.

    Args:
        x: ``[batch, height, width, in]``.
        w: the layer's kernel, ``[k_h, k_w, out, in]``, same dtype as ``x``.
        strides: ``(s_h, s_w)``.
        padding: ``"same"`` or ``"valid"`` (no ``output_padding``).

    Returns:
        ``[batch, out_h, out_w, out]``, equal to ``keras.ops.conv_transpose`` to round-off.

    Example:

    >>> conv2d_transpose(jnp.ones((2, 4, 4, 8)), jnp.ones((5, 5, 3, 8)), (2, 2), "same").shape
    (2, 8, 8, 3)
    """
    strides = tuple(int(s) for s in strides)
    out_hw = (output_size(x.shape[1], w.shape[0], strides[0], padding),
              output_size(x.shape[2], w.shape[1], strides[1], padding))
    symbolic = _in_symbolic_build()
    t_form = _choose("transpose", x.shape, w.shape, x.dtype, strides, padding, out_hw, symbolic=symbolic)
    y_shape = (x.shape[0], *out_hw, w.shape[2])
    c_form = _choose("conv", y_shape, w.shape, x.dtype, strides, padding, symbolic=symbolic)
    return _transpose(x, w, strides, padding, out_hw, t_form, c_form)
