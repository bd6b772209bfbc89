"""Generator and discriminator builders.

Each builder returns a plain functional ``keras.Model`` that can be saved,
loaded and exported on its own.

* :func:`dcgan_generator` / :func:`dcgan_discriminator`: the DCGAN of the
  notes' figure 13.9 (Radford et al. 2016), parametrized by output shape and
  base width. At ``image_shape=(64, 64, 3)`` and ``base_filters=128`` it is the
  figure exactly: ``z`` (100-d) -> dense 4x4x1024 -> four 5x5 stride-2
  transposed convolutions (512, 256, 128, 3 channels) with batch norm and
  ReLU, tanh at the output; the discriminator mirrors it with stride-2
  convolutions, LeakyReLU(0.2), batch norm on all but the first layer, no
  pooling. All weights start from N(0, 0.02).
* :func:`mlp_generator` / :func:`mlp_discriminator`: small MLPs for 2-D data.
* :class:`FusedBatchNormalization`, :class:`FastConv2D`,
  :class:`FastConv2DTranspose`: the Keras layers (same weights, arguments and
  results) computed by faster TensorFlow and JAX kernels where those apply; the
  DCGAN builders use them. ``keras-gan bench throughput`` measures the gain.
"""

import math

import keras
from keras import layers, ops


def _init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _sn(layer, spectral_norm):
    # Keras' SpectralNormalization wrapper (power iteration, Miyato et al. 2018).
    return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer


@keras.saving.register_keras_serializable(package="keras_gan")
class PackSamples(layers.Layer):
    """Packs ``m`` consecutive samples into one (PacGAN, Lin et al. 2018).

    ``[B, d] -> [B/m, m*d]`` for vectors and ``[B, H, W, C] -> [B/m, H, W, m*C]``
    for images, so the discriminator judges ``m`` samples at once. The batch
    must be a multiple of ``m``.

    Args:
        num_packed: ``m``.

    Example:

    >>> tuple(PackSamples(2)(ops.ones((4, 3))).shape)
    (2, 6)
    """

    def __init__(self, num_packed, **kwargs):
        super().__init__(**kwargs)
        if int(num_packed) < 1:
            raise ValueError(f"num_packed must be >= 1, got {num_packed}.")
        self.num_packed = int(num_packed)

    def call(self, x):
        m = self.num_packed
        if len(x.shape) == 2:
            return ops.reshape(x, (-1, m * x.shape[-1]))
        h, w, c = x.shape[1:]
        x = ops.reshape(x, (-1, m, h, w, c))
        x = ops.transpose(x, (0, 2, 3, 1, 4))
        return ops.reshape(x, (-1, h, w, m * c))

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 2:
            return (None, self.num_packed * input_shape[-1])
        return (None, *input_shape[1:3], self.num_packed * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_packed": self.num_packed}


def _label_embedding(num_classes, dim, name):
    label = keras.Input((), dtype="int32", name="label")
    emb = layers.Embedding(num_classes, dim, name=name)(label)
    return label, emb


@keras.saving.register_keras_serializable(package="keras_gan")
class Flatten(layers.Flatten):
    """``keras.layers.Flatten`` that, on TensorFlow while training, reads the batch size at run time.

    The same values as the Keras layer (which it subclasses). Keras' layer takes the batch size from the static
    shape, so nothing in the step reads the shape of its input; behind a convolution with a bias and a LeakyReLU
    (the VAE's encoder, a discriminator without batch norm) TensorFlow 2.21's grappler then prints "remapper
    failed" at every trace. A ``Shape`` op on the input keeps it quiet (why: ``_runtime_shape`` in
    ``keras_gan/kernels/_tf.py``). Inference, export and the other backends take Keras' own path.

    Args:
        **kwargs: as for ``keras.layers.Flatten``.

    Example:

    >>> tuple(Flatten()(ops.ones((2, 4, 4, 3)), training=True).shape)
    (2, 48)
    """

    def call(self, inputs, training=None):
        if not training or keras.backend.backend() != "tensorflow" or self._channels_first or len(inputs.shape) < 2:
            return super().call(inputs)
        import tensorflow as tf

        from keras_gan.kernels import _tf as _conv

        rest = inputs.shape[1:]
        flat = math.prod(rest) if all(d is not None for d in rest) else -1
        return tf.reshape(inputs, tf.stack([_conv._runtime_shape(inputs)[0], flat]))


@keras.saving.register_keras_serializable(package="keras_gan")
class FusedBatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that runs TensorFlow's fused kernel.

    Same variables, arguments, forward result and moving-statistics update as
    the Keras layer (which it subclasses, so checkpoints are interchangeable);
    it only swaps the computation for TensorFlow's ``FusedBatchNormV3`` op
    where that op applies: TensorFlow backend, 4-D ``NHWC`` inputs normalized
    over the last axis, no mask, no renorm and no cross-replica
    synchronization. Anywhere else it is exactly the Keras layer.

    Why it exists: Keras 3 builds batch norm from separate moment, subtract,
    multiply and add ops; on TensorFlow's CPU kernels the forward and backward
    pass of the 64x32x32x64 DCGAN layer take 11.6 ms that way and 5.0 ms fused
    (``keras-gan bench throughput``, README). The fused op reports the
    unbiased (``n / (n - 1)``) batch variance; the layer undoes that so the
    moving variance follows the Keras rule (biased batch variance) exactly.

    Args:
        **kwargs: as for ``keras.layers.BatchNormalization``.

    Example:

    >>> bn = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    >>> tuple(bn(ops.ones((2, 4, 4, 3)), training=True).shape)
    (2, 4, 4, 3)
    """

    def _fusable(self, inputs, mask, backend="tensorflow"):
        return (
            keras.backend.backend() == backend
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if self._fusable(inputs, mask, "torch"):
            return self._torch_call(inputs, training)
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = inputs
        if x.dtype not in (tf.float32, tf.float16, tf.bfloat16):
            x = tf.cast(x, tf.float32)
        channels = x.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), tf.float32)
        beta = self.beta if self.center else tf.zeros((channels,), tf.float32)
        gamma, beta = tf.convert_to_tensor(gamma), tf.convert_to_tensor(beta)
        if training and self.trainable:
            empty = tf.constant([], tf.float32)
            y, mean, variance = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=self.epsilon,
                exponential_avg_factor=1.0, data_format="NHWC", is_training=True,
            )[:3]
            n = tf.cast(tf.size(x, out_type=tf.int64) // channels, tf.float32)
            variance = variance * ((n - 1.0) / tf.maximum(n, 1.0))  # back to the biased estimate
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
        else:
            y = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.convert_to_tensor(self.moving_mean),
                variance=tf.convert_to_tensor(self.moving_variance), epsilon=self.epsilon,
                exponential_avg_factor=1.0, data_format="NHWC", is_training=False,
            )[0]
        return ops.cast(y, self.compute_dtype)

    def _torch_direct_function(self):
        """``f(x, training)`` for :mod:`keras_gan.models._direct`: this layer's torch path, where it applies."""
        if keras.backend.backend() != "torch" or self.renorm or self.synchronized or self.axis not in (-1, 3):
            return None
        from keras_gan.kernels import _torch as _torch_ops

        return lambda x, training: (_torch_ops.batch_norm_layer(self, x, training, raw=True) if x.dim() == 4
                                    else self.call(x, training=training))

    def _torch_call(self, inputs, training):
        from keras_gan.kernels import _torch as _torch_ops

        y = _torch_ops.batch_norm_layer(self, inputs, training)
        return y if keras.backend.standardize_dtype(y.dtype) == self.compute_dtype else ops.cast(y, self.compute_dtype)


def _fast_conv_applies(layer, inputs):
    return (
        keras.backend.backend() == "tensorflow"
        and len(inputs.shape) == 4
        and tuple(layer.strides) == (2, 2)
        and layer.padding == "same"
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.data_format == "channels_last"
        and layer.kernel_size[0] == layer.kernel_size[1]
        and getattr(layer, "groups", 1) == 1
        and getattr(layer, "output_padding", None) is None
        and inputs.shape[1] is not None
        and inputs.shape[2] is not None
    )


def _torch_ops_apply(layer):
    """Whether ``layer`` runs through :mod:`keras_gan.kernels._torch` (torch backend, forms not switched off)."""
    if keras.backend.backend() != "torch":
        return False
    from keras_gan.kernels import _forms as _conv_forms
    from keras_gan.kernels import _torch as _torch_ops

    return _conv_forms.mode() != "plain" and _torch_ops.applies(
        layer.strides, layer.padding, layer.dilation_rate, layer.data_format, getattr(layer, "groups", 1),
        getattr(layer, "output_padding", None),
    )


def _torch_kernel_layout(layer):
    """On torch, the kernel's memory in the layout :mod:`keras_gan.kernels._torch` convolves with (same values)."""
    if _torch_ops_apply(layer) and not getattr(layer, "lora_enabled", False):
        from keras_gan.kernels import _torch as _torch_ops

        kernel = getattr(layer, "_kernel", None)  # Conv2D: _kernel (kernel is a property); Conv2DTranspose: kernel
        _torch_ops.channels_last_kernel(layer.kernel if kernel is None else kernel)


class _TorchConvolution:
    """What :class:`FastConv2D` and :class:`FastConv2DTranspose` share on torch: the kernel's memory layout at
    build and the layer's function for :mod:`keras_gan.models._direct` (``_TRANSPOSED`` tells them apart)."""

    _TRANSPOSED = False

    def build(self, input_shape):
        super().build(input_shape)
        _torch_kernel_layout(self)

    def _torch_direct_function(self):
        """``f(x, training)`` for :mod:`keras_gan.models._direct`: this layer's torch path, where it applies."""
        if not _torch_ops_apply(self):
            return None
        from keras_gan.kernels import _torch as _torch_ops

        transposed = self._TRANSPOSED
        return lambda x, training: _torch_ops.conv_layer(self, x, transposed=transposed, raw=True)


def _jax_forms_apply(layer):
    """Whether ``layer`` runs through :mod:`keras_gan.kernels._jax` (JAX backend, forms not switched off)."""
    if keras.backend.backend() != "jax":
        return False
    from keras_gan.kernels import _jax as _conv_jax

    return _conv_jax.mode() != "plain" and _conv_jax.applies(
        layer.strides, layer.padding, layer.dilation_rate, layer.data_format, getattr(layer, "groups", 1),
        getattr(layer, "output_padding", None),
    )


@keras.saving.register_keras_serializable(package="keras_gan")
class FastConv2D(_TorchConvolution, layers.Conv2D):
    """``keras.layers.Conv2D`` with faster TensorFlow and JAX kernels.

    Same weights, arguments and result as the Keras layer (which it
    subclasses). On the TensorFlow backend, a stride-2 ``"same"`` convolution
    with a square kernel computes its forward pass, its input gradient and its
    filter gradient each in the form that is fastest on this machine for its
    shape: the stock kernel, one matrix product over the input patches, or a
    sub-pixel convolution (exact re-arrangements; chosen by timing them at the
    first trace and cached per machine class, or by a fixed rule: see
    ``KERAS_GAN_CONV_FORMS`` in ``keras_gan/kernels/_tf.py``). On the JAX backend,
    every channels-last, undilated ``"same"`` or ``"valid"`` convolution runs
    through ``keras_gan/kernels/_jax.py``, whose input gradient takes a fast form
    (the transposed convolution's sub-pixel or matrix-product form). On the
    torch backend (channels-last, undilated, ungrouped) it is one
    ``torch.conv2d`` on the channels-last memory, with the kernel variable's
    memory kept in the channels-last weight layout (``keras_gan/kernels/_torch.py``).
    Every other layer is plain Keras. The measured effect is in
    ``docs/performance.md``.

    Args:
        *args, **kwargs: as for ``keras.layers.Conv2D``.

    Example:

    >>> conv = FastConv2D(8, 5, strides=2, padding="same")
    >>> tuple(conv(ops.ones((2, 8, 8, 3))).shape)
    (2, 4, 4, 8)
    """

    def call(self, inputs):
        if _torch_ops_apply(self):  # the same ops as Conv2D.call, by torch ops on the variables' tensors
            from keras_gan.kernels import _torch as _torch_ops

            return _torch_ops.conv_layer(self, inputs, transposed=False)
        return super().call(inputs)

    def convolution_op(self, inputs, kernel):
        if _jax_forms_apply(self):
            from keras_gan.kernels import _jax as _conv_jax

            return _conv_jax.conv2d(inputs, ops.cast(kernel, inputs.dtype), self.strides, self.padding)
        if not _fast_conv_applies(self, inputs):
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf

        from keras_gan.kernels import _tf as _conv

        return _conv.conv2d(inputs, tf.convert_to_tensor(kernel))  # a tensor (autocast), not the variable


@keras.saving.register_keras_serializable(package="keras_gan")
class FastConv2DTranspose(_TorchConvolution, layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` with faster TensorFlow and JAX kernels.

    Same weights, arguments and result as the Keras layer (which it
    subclasses). On the TensorFlow backend, a stride-2 ``"same"`` transposed
    convolution to twice its input's size takes, for its forward pass and both
    gradients, the form that is fastest on this machine for its shape (the
    stock kernel, a sub-pixel convolution: a stride-1 convolution to
    ``4 * filters`` channels then ``depth_to_space``, or one matrix product
    over patches), as :class:`FastConv2D` does. On the JAX backend (channels-last,
    undilated, ``"same"`` or ``"valid"``, no ``output_padding``) it runs through
    ``keras_gan/kernels/_jax.py``: a custom gradient whose kernel gradient is the
    strided convolution's filter gradient, not the zero-stuffed convolution JAX
    derives from ``lax.conv_transpose`` (jax-ml/jax #31662). On the torch backend
    it is one ``torch.conv_transpose2d`` on the channels-last memory, its kernel
    kept in the channels-last weight layout, as :class:`FastConv2D`. Elsewhere it
    is plain Keras.

    Args:
        *args, **kwargs: as for ``keras.layers.Conv2DTranspose``.

    Example:

    >>> deconv = FastConv2DTranspose(3, 5, strides=2, padding="same")
    >>> tuple(deconv(ops.ones((2, 4, 4, 8))).shape)
    (2, 8, 8, 3)
    """

    _TRANSPOSED = True

    def call(self, inputs):
        if _jax_forms_apply(self):
            from keras_gan.kernels import _jax as _conv_jax

            outputs = _conv_jax.conv2d_transpose(inputs, ops.cast(self.kernel, inputs.dtype), self.strides,
                                                 self.padding)
        elif _torch_ops_apply(self):
            from keras_gan.kernels import _torch as _torch_ops

            return _torch_ops.conv_layer(self, inputs, transposed=True)
        elif not _fast_conv_applies(self, inputs):
            return super().call(inputs)
        else:
            import tensorflow as tf

            from keras_gan.kernels import _tf as _conv

            outputs = _conv.conv2d_transpose(
                inputs, tf.convert_to_tensor(self.kernel), (2 * inputs.shape[1], 2 * inputs.shape[2])
            )
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return self.activation(outputs) if self.activation is not None else outputs


def _batch_norm(synchronized, name):
    # Momentum 0.9 / epsilon 1e-5 as in the reference DCGAN implementations;
    # gamma ~ N(1, 0.02) as in Radford et al.'s code.
    return FusedBatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        synchronized=synchronized,
        name=name,
    )


def dcgan_layout(image_shape, num_upsamplings=None):
    """How a DCGAN reaches ``image_shape``: the start size and the number of stride-2 layers.

    The generator starts from a ``s x s`` map and doubles it ``n`` times, so
    ``s * 2**n`` must equal the image side. By default ``n`` is the largest
    value with ``s >= 4`` (64 -> 4x4 and 4 layers, as in figure 13.9;
    32 -> 4x4 and 3; 28 -> 7x7 and 2; 8 -> 4x4 and 1).

    Args:
        image_shape: ``(height, width, channels)`` with ``height == width``.
        num_upsamplings: force ``n`` (for example 2 for 8x8 digits from 2x2).

    Returns:
        ``(start_size, num_upsamplings)``.

    Raises:
        ValueError: if the shape is not square or ``n`` does not divide it.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[0] < 2:
        raise ValueError(
            f"image_shape must be (size, size, channels) with size >= 2, got {image_shape}."
        )
    size = image_shape[0]
    if num_upsamplings is None:
        n = 0
        while size % (2 ** (n + 1)) == 0 and size // (2 ** (n + 1)) >= 4:
            n += 1
        num_upsamplings = max(n, 1) if size % 2 == 0 else 0
    num_upsamplings = int(num_upsamplings)
    if num_upsamplings < 1 or size % (2**num_upsamplings) != 0:
        raise ValueError(
            f"num_upsamplings={num_upsamplings} does not fit image size {size}: the size must be "
            f"divisible by 2**num_upsamplings and num_upsamplings >= 1."
        )
    return size // (2**num_upsamplings), num_upsamplings


def dcgan_generator(
    image_shape=(64, 64, 3),
    latent_dim=100,
    base_filters=128,
    kernel_size=5,
    num_upsamplings=None,
    synchronized_batch_norm=False,
    num_classes=None,
    name="generator",
):
    """DCGAN generator (figure 13.9 at the defaults).

    Args:
        image_shape: output ``(size, size, channels)``.
        latent_dim: size of ``z`` (100 in the notes).
        base_filters: channels of the last hidden layer; the first hidden
            layer has ``base_filters * 2**(n - 1)`` (128 -> 1024 at 64x64).
        kernel_size: transposed-convolution kernel (5 in the notes).
        num_upsamplings: see :func:`dcgan_layout`.
        synchronized_batch_norm: synchronize batch statistics across
            replicas under ``tf.distribute`` (default: per-replica statistics).
        num_classes: for a conditional generator, the number of classes; the
            model then takes ``[z, label]`` (label int32 ``[batch]``) and
            concatenates a learned label embedding to ``z``.
        name: model name.

    Returns:
        A ``keras.Model`` mapping ``z`` of shape ``[batch, latent_dim]`` (and
        labels, if conditional) to images in ``[-1, 1]`` of shape ``[batch, *image_shape]``.

    Example:

    >>> g = dcgan_generator((28, 28, 1), latent_dim=16, base_filters=8)
    >>> g.output_shape
    (None, 28, 28, 1)
    """
    start, n = dcgan_layout(image_shape, num_upsamplings)
    channels = image_shape[-1]
    z = keras.Input((latent_dim,), name="z")
    inputs, h = z, z
    if num_classes:
        label, emb = _label_embedding(num_classes, latent_dim, "label_embedding")
        inputs, h = [z, label], layers.Concatenate(name="z_and_label")([z, emb])
    width = base_filters * 2 ** (n - 1)
    x = layers.Dense(start * start * width, use_bias=False, kernel_initializer=_init(), name="project")(h)
    x = layers.Reshape((start, start, width), name="reshape")(x)
    x = _batch_norm(synchronized_batch_norm, "project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(1, n):
        width //= 2
        x = FastConv2DTranspose(
            width, kernel_size, strides=2, padding="same", use_bias=False,
            kernel_initializer=_init(), name=f"deconv{i}",
        )(x)
        x = _batch_norm(synchronized_batch_norm, f"deconv{i}_bn")(x)
        x = layers.ReLU(name=f"deconv{i}_relu")(x)
    x = FastConv2DTranspose(
        channels, kernel_size, strides=2, padding="same", kernel_initializer=_init(), name=f"deconv{n}"
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name=name)


def dcgan_discriminator(
    image_shape=(64, 64, 3),
    base_filters=128,
    kernel_size=5,
    num_upsamplings=None,
    batch_norm=True,
    synchronized_batch_norm=False,
    spectral_norm=False,
    num_classes=None,
    num_packed=1,
    name="discriminator",
):
    """DCGAN discriminator, the mirror of :func:`dcgan_generator`.

    Args:
        image_shape: input ``(size, size, channels)``.
        base_filters: channels of the first convolution, doubled per layer.
        kernel_size: convolution kernel (5 in the notes).
        num_upsamplings: number of stride-2 convolutions; see :func:`dcgan_layout`.
        batch_norm: batch norm after every convolution but the first (turn it
            off for gradient-penalty critics).
        synchronized_batch_norm: synchronize batch statistics across replicas.
        spectral_norm: wrap every convolution and the output layer in
            ``keras.layers.SpectralNormalization``.
        num_classes: for a conditional discriminator, the number of classes;
            the model takes ``[images, label]`` and adds the projection term
            ``<embed(label), features>`` to the logit (Miyato & Koyama 2018).
        num_packed: PacGAN packing ``m``: judge ``m`` samples at once.
        name: model name.

    Returns:
        A ``keras.Model`` mapping images to one logit per example (per pack of
        ``m``), shape ``[batch / m, 1]``; ``sigmoid(logit)`` is D(x) of the notes.
    """
    _, n = dcgan_layout(image_shape, num_upsamplings)
    images = keras.Input(tuple(image_shape), name="images")
    x = PackSamples(num_packed, name="pack")(images) if num_packed > 1 else images
    width = base_filters
    for i in range(n):
        x = _sn(FastConv2D(
            width, kernel_size, strides=2, padding="same", use_bias=not (batch_norm and i > 0),
            kernel_initializer=_init(), name=f"conv{i + 1}",
        ), spectral_norm)(x)
        if batch_norm and i > 0:
            x = _batch_norm(synchronized_batch_norm, f"conv{i + 1}_bn")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"conv{i + 1}_lrelu")(x)
        width *= 2
    x = Flatten(name="flatten")(x)
    return _head(images, x, spectral_norm, num_classes, num_packed, name, _init())


def mlp_generator(data_dim=2, latent_dim=2, hidden_units=128, num_layers=3, num_classes=None, name="generator"):
    """MLP generator for low-dimensional data (the 2-D mixtures).

    Args:
        data_dim: output dimension.
        latent_dim: size of ``z``.
        hidden_units: width of each hidden layer.
        num_layers: number of hidden ReLU layers.
        num_classes: conditional generator: takes ``[z, label]``.
        name: model name.

    Returns:
        A ``keras.Model`` mapping ``[batch, latent_dim]`` to ``[batch, data_dim]``
        (linear output: the mixtures are not bounded to ``[-1, 1]``).
    """
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        label, emb = _label_embedding(num_classes, latent_dim, "label_embedding")
        inputs, x = [z, label], layers.Concatenate(name="z_and_label")([z, emb])
    for i in range(num_layers):
        x = layers.Dense(hidden_units, activation="relu", name=f"dense{i + 1}")(x)
    out = layers.Dense(data_dim, dtype="float32", name="samples")(x)
    return keras.Model(inputs, out, name=name)


def mlp_discriminator(
    data_dim=2, hidden_units=128, num_layers=3, spectral_norm=False, num_classes=None, num_packed=1,
    name="discriminator",
):
    """MLP discriminator for low-dimensional data.

    Args:
        data_dim: input dimension.
        hidden_units: width of each hidden layer.
        num_layers: number of hidden LeakyReLU(0.2) layers.
        spectral_norm: wrap every dense layer in ``keras.layers.SpectralNormalization``.
        num_classes: conditional (projection) discriminator: takes ``[samples, label]``.
        num_packed: PacGAN packing ``m``.
        name: model name.

    Returns:
        A ``keras.Model`` mapping ``[batch, data_dim]`` to logits ``[batch / m, 1]``.
    """
    x_in = keras.Input((data_dim,), name="samples")
    x = PackSamples(num_packed, name="pack")(x_in) if num_packed > 1 else x_in
    for i in range(num_layers):
        x = _sn(layers.Dense(hidden_units, name=f"dense{i + 1}"), spectral_norm)(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"lrelu{i + 1}")(x)
    return _head(x_in, x, spectral_norm, num_classes, num_packed, name, "glorot_uniform")


def _head(x_in, features, spectral_norm, num_classes, num_packed, name, init):
    """The output logit, plus the projection term for a conditional discriminator."""
    logits = _sn(layers.Dense(1, kernel_initializer=init, dtype="float32", name="logit"), spectral_norm)(features)
    if not num_classes:
        return keras.Model(x_in, logits, name=name)
    if num_packed > 1:
        raise ValueError("A conditional discriminator cannot also pack samples (num_packed > 1).")
    label, emb = _label_embedding(num_classes, features.shape[-1], "label_projection")
    proj = layers.Dot(axes=1, name="projection")([emb, features])
    logits = layers.Add(dtype="float32", name="logit_plus_projection")([logits, proj])
    return keras.Model([x_in, label], logits, name=name)


def num_parameters(model):
    """Total number of weights (trainable and not) in ``model``."""
    return int(sum(math.prod(w.shape) for w in model.weights))
