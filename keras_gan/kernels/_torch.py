"""Convolutions and batch norm on the torch backend, called on channels-last tensors without layout copies.

Keras' torch backend runs a channels-last ``Conv2D`` as: permute to NCHW and
copy (``.contiguous()``), copy again to the channels-last memory format, pad
with ``F.pad`` (a third copy) for an asymmetric "same" padding, then
``torch.conv2d``; ``Conv2DTranspose`` permutes and copies, computes the full
``(H - 1) s + k`` output and crops it; ``BatchNormalization`` is nine separate
ops (moments, subtract, multiply, add) and their gradients. PyTorch itself
takes an ``NHWC`` tensor as an NCHW tensor in the channels-last *memory
format* (a permuted view, no copy) and runs its oneDNN / cuDNN kernels on it
directly, and batch norm as one ``native_batch_norm`` op. So do these
functions, which :class:`~keras_gan.networks.FastConv2D`,
:class:`~keras_gan.networks.FastConv2DTranspose` and
:class:`~keras_gan.networks.FusedBatchNormalization` call on torch:

* a "same" padding is symmetric or one larger after (``same_padding``): the
  op's own symmetric ``padding`` takes the smaller half, ``F.pad`` only the
  one extra row and column after (one copy, in the same memory format);
* a transposed convolution is ``conv_transpose2d`` with the padding before
  and, where the kernel and stride leave one row more, that last row cropped;
* batch norm is ``torch.native_batch_norm`` with Keras' moving-statistics rule
  (the biased batch variance, recovered from the op's saved inverse standard
  deviation);
* a kernel variable keeps its Keras shape ``[kh, kw, a, b]`` but its memory
  in the order ``[b, kh, kw, a]`` (``channels_last_kernel``), so that the
  ``[b, a, kh, kw]`` view torch's op takes is a channels-last weight, the
  layout oneDNN runs a channels-last convolution with (as PyTorch's
  ``Module.to(memory_format=torch.channels_last)`` re-strides its weights),
  instead of one reordered inside every call and its gradient.

Each is the same sum as Keras' op (tests compare forward and both gradients
with the stock layers on the torch backend). Hand-written because Keras'
torch ops copy to change layout and PyTorch has no channels-last functional
entry point.
"""

import keras
import torch
import torch.nn.functional as F

from keras_gan.kernels import _forms as _conv_forms


def applies(strides, padding, dilation_rate, data_format, groups=1, output_padding=None):
    """Whether :func:`conv2d` / :func:`conv2d_transpose` compute a Keras layer with these arguments.

    Returns:
        ``True`` for channels-last, undilated, ungrouped layers with ``"same"`` or ``"valid"``
        padding and no ``output_padding``.

    Example:

    >>> applies((2, 2), "same", (1, 1), "channels_last")
    True
    >>> applies((1, 1), "same", (1, 1), "channels_first")
    False
    """
    return (
        padding in ("same", "valid")
        and tuple(dilation_rate) == (1, 1)
        and output_padding is None
        and data_format == "channels_last"
        and groups == 1
    )


def channels_last_kernel(variable):
    """Re-strides a Keras convolution kernel variable in place for :func:`conv2d` / :func:`conv2d_transpose`.

    The variable keeps its shape, values, identity and everything Keras does with it (``assign`` copies into
    the same memory, saving reads the values); only the order of its elements in memory changes, to the
    channels-last layout of the ``permute(3, 2, 0, 1)`` view the convolution takes. A no-op for a variable
    that is not a 4-d torch parameter.

    Args:
        variable: a built layer's ``kernel`` (a ``keras.Variable``).

    Example:

    >>> import keras
    >>> v = keras.Variable(keras.ops.ones((5, 5, 3, 8)))
    >>> channels_last_kernel(v)
    >>> v.value.permute(3, 2, 0, 1).is_contiguous(memory_format=torch.channels_last)
    True
    """
    value = getattr(variable, "_value", None)
    if not isinstance(value, torch.Tensor) or value.dim() != 4 or value.device.type == "meta":
        return
    with torch.no_grad():
        value.data = value.data.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0)


def _nchw(x):
    return x.permute(0, 3, 1, 2)  # NHWC storage seen as NCHW in the channels-last memory format


def _nhwc(y):
    return y.permute(0, 2, 3, 1)


def conv2d(x, kernel, strides, padding, bias=None):
    """Keras' ``Conv2D`` (channels-last) as one ``torch.conv2d`` on the same memory.

    Args:
        x: ``[batch, height, width, channels]`` tensor.
        kernel: Keras kernel ``[kh, kw, in, out]``.
        strides: ``(sh, sw)``.
        padding: ``"same"`` or ``"valid"``.
        bias: ``[out]`` added to every output (in the op), or ``None``.

    Returns:
        ``[batch, out_height, out_width, out]``, as ``keras.ops.conv`` (plus ``bias``).

    Example:

    >>> y = conv2d(torch.ones(2, 8, 8, 3), torch.ones(5, 5, 3, 4), (2, 2), "same")
    >>> tuple(y.shape)
    (2, 4, 4, 4)
    """
    x, pads = _nchw(x), (0, 0)
    if padding == "same":
        (top, bottom), (left, right) = (_conv_forms.same_padding(x.shape[2], kernel.shape[0], strides[0]),
                                        _conv_forms.same_padding(x.shape[3], kernel.shape[1], strides[1]))
        pads = (top, left)
        if (top, left) != (bottom, right):  # one row (column) more after: that row explicitly, the rest in the op
            x = F.pad(x, (0, right - left, 0, bottom - top))
    y = torch.conv2d(x, kernel.permute(3, 2, 0, 1), bias, stride=tuple(strides), padding=pads)
    return _nhwc(y)


def conv2d_transpose(x, kernel, strides, padding, bias=None):
    """Keras' ``Conv2DTranspose`` (channels-last, no ``output_padding``) as one ``torch.conv_transpose2d``.

    Args:
        x: ``[batch, height, width, channels]`` tensor.
        kernel: Keras kernel ``[kh, kw, out, in]``.
        strides: ``(sh, sw)``.
        padding: ``"same"`` or ``"valid"``.
        bias: ``[out]`` added to every output (in the op), or ``None``.

    Returns:
        ``[batch, out_height, out_width, out]``, as ``keras.ops.conv_transpose`` (plus ``bias``).

    Example:

    >>> y = conv2d_transpose(torch.ones(2, 4, 4, 8), torch.ones(5, 5, 3, 8), (2, 2), "same")
    >>> tuple(y.shape)
    (2, 8, 8, 3)
    """
    pads, extra, out = [], [], []
    for i in range(2):
        size, k, s = x.shape[1 + i], kernel.shape[i], strides[i]
        target = size * s if padding == "same" else (size - 1) * s + max(k, s)
        before = _conv_forms.same_padding(target, k, s)[0] if padding == "same" else 0
        natural = (size - 1) * s - 2 * before + k
        pads.append(before)
        extra.append(max(target - natural, 0))
        out.append(target)
    y = torch.conv_transpose2d(_nchw(x), kernel.permute(3, 2, 0, 1), bias, stride=tuple(strides),
                               padding=tuple(pads), output_padding=tuple(extra))
    if tuple(y.shape[2:]) != tuple(out):  # cropped to a contiguous tensor: a strided view slows every next op
        y = y[:, :, : out[0], : out[1]].contiguous(memory_format=torch.channels_last)
    return _nhwc(y)


def conv_layer(layer, x, transposed, raw=False):
    """A built ``Conv2D`` / ``Conv2DTranspose`` layer's ``call`` on torch: :func:`conv2d` or
    :func:`conv2d_transpose` with its bias, then its activation, by torch ops on the variables' tensors.

    The same sums as the Keras layer's ``call`` (the kernel cast to the input's dtype, the bias added, the
    activation), without the argument conversion every ``keras.ops`` call repeats on torch (about 120 us a
    layer with a bias on this project's 2-core CPU, as much as the digits discriminator's first convolution);
    the bias is added inside the convolution op, as ``torch.nn.Conv2d`` does.

    Args:
        layer: the layer (channels-last, as :func:`applies` accepts).
        x: its ``[batch, height, width, channels]`` input.
        transposed: ``True`` for a ``Conv2DTranspose``.
        raw: read the variables' own tensors (``Variable._value``): only outside a stateless and an
            autocast scope, where ``Variable.value`` returns them too (:mod:`keras_gan.models._direct`).

    Returns:
        The layer's output.
    """
    kernel = _tensor(layer.kernel, raw)  # a LoRA kernel is a tensor already
    if kernel.dtype != x.dtype:
        kernel = kernel.to(x.dtype)
    bias = None
    if layer.use_bias:
        bias = _tensor(layer.bias, raw)
        bias = bias if bias.dtype == x.dtype else bias.to(x.dtype)
    y = (conv2d_transpose if transposed else conv2d)(x, kernel, layer.strides, layer.padding, bias)
    return layer.activation(y) if layer.activation is not None else y


def _tensor(v, raw=False):
    """A Keras variable's current torch tensor (autocast and stateless scopes applied), or ``v`` itself."""
    if isinstance(v, torch.Tensor):
        return v
    return v._value if raw else v.value


def batch_norm_layer(layer, x, training, raw=False):
    """A ``FusedBatchNormalization`` layer's ``call`` on torch: :func:`batch_norm` and :func:`moving_average`.

    Args:
        layer: the built layer (the last axis normalized).
        x: its ``[N, H, W, C]`` input.
        training: normalize with the batch's statistics and update the moving ones (if the layer is trainable).
        raw: read the variables' own tensors (``Variable._value``): only outside a stateless and an
            autocast scope, where ``Variable.value`` returns them too (:mod:`keras_gan.models._direct`).

    Returns:
        The normalized ``x``, in float32.
    """
    def tensor(v):  # float32 (the variable's own tensor where it is float32 already: no cast op)
        value = _tensor(v, raw)
        return value if value.dtype == torch.float32 else value.float()

    gamma = tensor(layer.gamma) if layer.scale else None
    beta = tensor(layer.beta) if layer.center else None
    train = bool(training and layer.trainable)
    y, mean, variance = batch_norm(x, gamma, beta, tensor(layer.moving_mean), tensor(layer.moving_variance),
                                   layer.epsilon, train)
    if train:
        moving_average([layer.moving_mean, layer.moving_variance], [mean, variance], layer.momentum,
                       not raw and keras.src.backend.in_stateless_scope())
    return y


def moving_average(variables, values, momentum, stateless):
    """``var <- var * momentum + value * (1 - momentum)`` for each variable, in place (Keras' batch-norm rule; the
    generator's moving average with ``momentum`` = its decay).

    Two multi-tensor ops on the variables' own tensors (Keras: two multiplications, an addition and an
    ``assign`` for each); inside a ``keras.StatelessScope`` they are recorded by ``assign``, as Keras does.

    Args:
        variables: the ``keras.Variable`` list to update.
        values: tensors (or variables) in the same order.
        momentum: the factor on the old value.
        stateless: whether a stateless scope is active.
    """
    with torch.no_grad():
        if stateless:
            for var, value in zip(variables, values):
                var.assign(var.value * momentum + value * (1.0 - momentum))
            return
        tensors = [v._value for v in variables]
        torch._foreach_mul_(tensors, momentum)
        torch._foreach_add_(tensors, [_tensor(v, raw=True).detach() for v in values], alpha=1.0 - momentum)


def batch_norm(x, gamma, beta, moving_mean, moving_variance, epsilon, training):
    """Batch norm over the last axis of an ``[N, H, W, C]`` tensor as one ``native_batch_norm``.

    Args:
        x: the input (16-bit inputs are normalized in float32, as Keras does).
        gamma, beta: ``[C]`` scale and offset tensors (``None``: 1 and 0).
        moving_mean, moving_variance: ``[C]`` tensors; used when not ``training``.
        epsilon: added to the variance.
        training: normalize with the batch's statistics.

    Returns:
        ``(y, mean, variance)``: ``y`` in float32; in training the batch mean
        and *biased* variance (Keras' moving-average rule), else ``None, None``.

    Example:

    >>> x = torch.arange(24.0).reshape(2, 2, 2, 3)
    >>> y, mean, var = batch_norm(x, None, None, None, None, 1e-3, True)
    >>> [round(float(v), 3) for v in mean]
    [10.5, 11.5, 12.5]
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if training:
        y, mean, invstd = torch.native_batch_norm(_nchw(x), gamma, beta, None, None, True, 0.0, epsilon)
        with torch.no_grad():
            variance = invstd.reciprocal().square() - epsilon
        return _nhwc(y), mean, variance
    y = torch.native_batch_norm(_nchw(x), gamma, beta, moving_mean, moving_variance, False, 0.0, epsilon)[0]
    return _nhwc(y), None, None
