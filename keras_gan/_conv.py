"""Exact, faster TensorFlow forms of the DCGAN's stride-2 "same" convolutions.

oneDNN (TensorFlow's CPU kernels) computes two shapes of the DCGAN step far
below its speed elsewhere (measured per op at batch 64, 64x64 DCGAN, base 64):

* a transposed convolution to <= 4 channels (the generator's RGB output, and
  the gradient into the discriminator's RGB input): 8.5 ms, because the
  channels are padded to a block of 16. The same result as a stride-1
  convolution to ``4 * channels`` channels followed by ``depth_to_space``
  (sub-pixel form; Shi et al. 2016) takes 4.3 ms.
* a convolution to a <= 4x4 output with a deep reduction (the discriminator's
  last layer, and the gradient into the generator's first transposed
  convolution): 8x8x256 -> 4x4x512 25.3 ms, as one matrix product over
  ``extract_patches`` 19.1 ms (8x8x512 -> 4x4x1024, figure 13.9's last layer:
  126.9 vs 65.3 ms). Shallower reductions are faster as they are
  (8x8x128 -> 4x4x256: 4.0 vs 6.3 ms; the 8x8 digits model lost 9%), hence
  the depth threshold.

:func:`conv2d` and :func:`conv2d_transpose` pick the faster form per shape and
carry their own gradients, so each backward pass also takes the faster form
(the input gradient of a convolution is a transposed convolution and vice
versa). Both are exact re-arrangements of the same sums (tests compare them
with ``tf.nn.conv2d`` / ``tf.nn.conv2d_transpose`` to float32 round-off,
including second derivatives for gradient penalties). Hand-written because
no TensorFlow or Keras API chooses the algorithm per shape on the CPU.
"""

import numpy as np
import tensorflow as tf

_MAX_SUBPIXEL_CHANNELS = 4  # transposed convolutions to at most this many channels go sub-pixel
_MAX_GEMM_OUTPUT_PIXELS = 16  # convolutions to at most this many output pixels ...
_MIN_GEMM_DEPTH = 4096  # ... and with a reduction (k * k * input channels) at least this deep: one matmul


def _same_padding(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _subpixel_indices(kernel):
    """For the stride-2 SAME transposed convolution: the kernel tap feeding each (window offset, phase).

    Output row ``2m + r`` sums input rows ``m + d`` times kernel row
    ``a = r + p - 2d`` (``p`` = the forward convolution's top padding). Returns
    the window offsets ``d`` and an index array ``[len(d), 2]`` into the
    kernel rows, where ``kernel`` (one past the last row) means zero.
    """
    p = max(kernel - 2, 0) // 2  # SAME, stride 2, even size: total padding kernel - 2, the smaller half on top
    offsets = sorted({(r + p - a) // 2 for r in (0, 1) for a in range(kernel) if (r + p - a) % 2 == 0})
    index = np.full((len(offsets), 2), kernel, dtype=np.int32)
    for i, d in enumerate(offsets):
        for r in (0, 1):
            a = r + p - 2 * d
            if 0 <= a < kernel:
                index[i, r] = a
    return offsets, index


def _subpixel_transpose(x, w):
    """``conv2d_transpose(x, w, stride 2, SAME)`` as a stride-1 convolution plus ``depth_to_space``."""
    k, out_ch, in_ch = w.shape[0], w.shape[2], w.shape[3]
    offsets, index = _subpixel_indices(k)
    zero = tf.zeros_like(w[:1])
    w_pad = tf.concat([w, zero], 0)
    w_pad = tf.concat([w_pad, tf.zeros_like(w_pad[:, :1])], 1)  # [k+1, k+1, out, in]
    rows = tf.gather(w_pad, index, axis=0)  # [t, 2(ru), k+1, out, in]
    taps = tf.gather(rows, index, axis=2)  # [t, 2(ru), t, 2(rv), out, in]
    taps = tf.transpose(taps, (0, 2, 5, 1, 3, 4))  # [t, t, in, ru, rv, out]
    n = len(offsets)
    sub_kernel = tf.reshape(taps, (n, n, in_ch, 4 * out_ch))
    lo, hi = -offsets[0], offsets[-1]
    x = tf.pad(x, [[0, 0], [lo, hi], [lo, hi], [0, 0]])
    return tf.nn.depth_to_space(tf.nn.conv2d(x, sub_kernel, 1, "VALID"), 2)


def _gemm_conv(x, w):
    """``conv2d(x, w, stride 2, SAME)`` as one matrix product over the input patches."""
    k, in_ch, out_ch = w.shape[0], w.shape[2], w.shape[3]
    (top, bottom), (left, right) = _same_padding(x.shape[1], k, 2), _same_padding(x.shape[2], k, 2)
    x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    patches = tf.image.extract_patches(x, [1, k, k, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    shape = tf.concat([tf.shape(patches)[:3], [out_ch]], 0)
    y = tf.matmul(tf.reshape(patches, (-1, k * k * in_ch)), tf.reshape(w, (k * k * in_ch, out_ch)))
    return tf.reshape(y, shape)


def _plain_conv(x, w):
    return tf.nn.conv2d(x, w, 2, "SAME")


def _plain_transpose(x, w, out_hw):
    shape = tf.stack([tf.shape(x)[0], out_hw[0], out_hw[1], w.shape[2]])
    return tf.nn.conv2d_transpose(x, w, shape, 2, "SAME")


def _gemm_pays(out_pixels, w):
    """Whether a convolution with kernel ``w`` ``[k, k, in, out]`` to ``out_pixels`` pixels is faster as one matmul."""
    return out_pixels <= _MAX_GEMM_OUTPUT_PIXELS and w.shape[0] * w.shape[1] * w.shape[2] >= _MIN_GEMM_DEPTH


def _transpose_is_subpixel(w):
    return w.shape[2] <= _MAX_SUBPIXEL_CHANNELS


def _filter_grad(x, w, dy):
    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, 2, 2, 1], padding="SAME"
    )


def conv2d(x, w):
    """Stride-2 SAME convolution of NHWC ``x`` with ``w`` ``[k, k, in, out]``; same result as ``tf.nn.conv2d``."""
    gemm = _gemm_pays(-(-x.shape[1] // 2) * -(-x.shape[2] // 2), w)  # output pixels: ceil(size / 2) squared
    # the input gradient is a transposed convolution to w.shape[2] channels and x's (even) size
    subpixel_grad = _transpose_is_subpixel(w) and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0
    if not (gemm or subpixel_grad):
        return _plain_conv(x, w)
    in_hw = (x.shape[1], x.shape[2])

    @tf.custom_gradient
    def op(x, w):
        y = _gemm_conv(x, w) if gemm else _plain_conv(x, w)

        def grad(dy):
            return conv2d_transpose(dy, w, in_hw), _filter_grad(x, w, dy)

        return y, grad

    return op(x, w)


def conv2d_transpose(x, w, out_hw):
    """Stride-2 SAME transposed convolution of NHWC ``x`` with ``w`` ``[k, k, out, in]`` to spatial size ``out_hw``.

    Same result as ``tf.nn.conv2d_transpose``.
    """
    out_hw = tuple(int(s) for s in out_hw)
    subpixel = _transpose_is_subpixel(w) and out_hw == (2 * x.shape[1], 2 * x.shape[2])
    gemm_grad = _gemm_pays(x.shape[1] * x.shape[2], w)  # the input gradient: a convolution to x's size
    if not (subpixel or gemm_grad):
        return _plain_transpose(x, w, out_hw)

    @tf.custom_gradient
    def op(x, w):
        y = _subpixel_transpose(x, w) if subpixel else _plain_transpose(x, w, out_hw)

        def grad(dy):
            return conv2d(dy, w), _filter_grad(dy, w, x)

        return y, grad

    return op(x, w)
