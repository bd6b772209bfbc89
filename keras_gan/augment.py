"""Augmenting the discriminator's inputs on small data sets: DiffAugment and ADA, on any Keras backend.

Both are written with ``keras.ops`` and ``keras.random`` only, so they run
unchanged on the JAX, TensorFlow and PyTorch backends, inside a jitted or
traced ``train_step`` as well as eagerly. They act on images NHWC (values in
``[-1, 1]``) and are differentiable with respect to the images (each one is
an affine map of the pixels once its random parameters are drawn), so the
generator's gradient passes through the augmentation of its samples.

* DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for
  Data-Efficient GAN Training", https://arxiv.org/abs/2006.10738): the same
  random family ``T`` applied to real and fake images before ``D``, in the
  discriminator's and the generator's step. Policy names, as in the paper's
  code: ``color`` (brightness ``+U(-0.5, 0.5)``, saturation ``xU(0, 2)``
  about the channel mean, contrast ``xU(0.5, 1.5)`` about the image mean),
  ``translation`` (up to 1/8 of the side, zero fill) and ``cutout`` (a
  zeroed square of half the side at a random center).
* ADA (Karras et al. 2020, "Training Generative Adversarial Networks with
  Limited Data", https://arxiv.org/abs/2006.06676): every transformation is
  applied to each image with probability ``p``, and ``p`` is steered by the
  overfitting heuristic ``r_t = E[sign(D(real))]``: every ``interval``
  discriminator steps, ``p <- clip(p + sign(r_t - target) * N / (kimg * 1000), 0, 1)``
  with ``N`` the real images seen since the last adjustment (the paper:
  target 0.6, interval 4, ``kimg`` 500, so ``p`` can go from 0 to 1 in 500k
  images). Implemented: the paper's ``blit`` group (x-flip, 90-degree
  rotations, integer translation up to 1/8 of the side with reflection) and
  ``color`` group (brightness ``N(0, 0.2)``, contrast ``2^N(0, 0.5)``, luma
  flip, hue rotation ``U(-pi, pi)`` and saturation ``2^N(0, 1)`` about the
  luma axis; one-channel images get brightness, contrast and luma flip, as in
  the paper's code). The ``geom`` group (fractional scaling and rotation with
  resampling filters) and the filter/noise/cutout groups are not implemented.

Seeds: every random function takes ``seed``, an int, a seed tensor of shape
``[2]`` (what ``keras.random.SeedGenerator.next()`` returns) or a
``keras.random.SeedGenerator``. The same int or tensor gives the same
augmentation, so a step can draw one seed and apply one transformation to its
real and fake batches, or two seeds for independent ones (as the paper's code
does); a generator advances on each call.

Example:

>>> seed = keras.random.SeedGenerator(0)
>>> s = seed.next()
>>> real_aug = diff_augment(real, "translation,cutout,color", s)
>>> fake_aug = diff_augment(fake, "translation,cutout,color", s)  # the same T
>>> ada = AdaptiveAugment(target=0.6)
>>> x = ada(real, seed=s); ada.update(d_real_logits)  # in the discriminator step
"""

import math

import keras
from keras import ops

from keras_gan.config import AUGMENT_POLICIES, parse_augment_policy

#: Default policies: the paper's all-round choice for DiffAugment, ADA's ``bc``.
DEFAULT_POLICIES = {mode: ",".join(names) for mode, names in AUGMENT_POLICIES.items()}

_LUMA = 1.0 / math.sqrt(3.0)  # components of the unit luma axis v = (1, 1, 1) / sqrt(3)


def parse_policy(policy, mode="diffaugment"):
    """``"translation,cutout"`` -> ``("translation", "cutout")``; ``None`` -> all of ``mode``'s names.

    Raises:
        UsageError: (a ``ValueError``) for an unknown mode, an unknown, empty or repeated name.
    """
    return parse_augment_policy(mode, policy, key="augment_policy")


# ---------------------------------------------------------------- seeds
def _seed_dtype():
    try:
        from keras.src.backend import random_seed_dtype

        return random_seed_dtype()
    except ImportError:  # pragma: no cover - older/newer Keras layouts
        return "uint32" if keras.backend.backend() in ("jax", "numpy") else "int64"


class _FixedSeed(keras.random.SeedGenerator):
    """A seed tensor that ``keras.random`` accepts on every backend (some take only ints or generators)."""

    def __init__(self, value):  # no state variable: deliberately not SeedGenerator.__init__
        self._value = value
        self.name = "fixed_seed"

    def next(self, ordered=True):
        return self._value


class _SeedStream(keras.random.SeedGenerator):
    """Independent sub-seeds drawn once from one base seed (a counter-free stream)."""

    _SIZE = 32

    def __init__(self, seed):  # no state variable, as above
        self.name = "augment_seed_stream"
        if isinstance(seed, keras.random.SeedGenerator):
            base = seed.next()
        elif isinstance(seed, int) and not isinstance(seed, bool):
            base = ops.convert_to_tensor([int(seed) % (2**31 - 1), 0], dtype=_seed_dtype())
        elif seed is None:
            raise ValueError("seed is required: an int, a seed tensor of shape [2] or a keras.random.SeedGenerator.")
        else:
            base = ops.cast(ops.convert_to_tensor(seed), _seed_dtype())
            if tuple(base.shape) != (2,):
                raise ValueError(f"seed must be a tensor of shape [2], got shape {tuple(base.shape)}.")
        subs = keras.random.randint((self._SIZE, 2), 0, 2**31 - 1, dtype="int32", seed=_FixedSeed(base))
        self._subs = ops.cast(subs, _seed_dtype())
        self._next = 0

    def next(self, ordered=True):
        if self._next >= self._SIZE:
            raise RuntimeError("augmentation drew more sub-seeds than its stream holds")
        value = self._subs[self._next]
        self._next += 1
        return value


def _uniform(shape, stream, low=0.0, high=1.0):
    return keras.random.uniform(shape, low, high, seed=stream)


def _chance(batch, p, stream):
    """Per image: True with probability ``p``."""
    return ops.less(_uniform((batch,), stream), ops.cast(p, "float32"))


def _bcast(v, dtype):
    return ops.reshape(ops.cast(v, dtype), (-1, 1, 1, 1))


# ------------------------------------------------- deterministic building blocks
def _source_index(shift, n, reflect):
    """For output positions 0..n-1 of each image, the source position ``i - shift`` ([B, n])."""
    src = ops.arange(n, dtype="int32")[None, :] - ops.cast(shift, "int32")[:, None]
    if reflect and n > 1:
        period = 2 * (n - 1)
        src = ops.mod(src, period)
        src = ops.where(ops.greater_equal(src, n), period - src, src)
    return src


def _shift_matrix(shift, n, reflect, dtype):
    """``M[b, i, k] = 1`` where row ``i`` of the output reads row ``k`` of the input (all zero: fill)."""
    src = _source_index(shift, n, reflect)
    return ops.cast(ops.equal(src[:, :, None], ops.arange(n, dtype="int32")[None, None, :]), dtype)


def translate(images, shift_y, shift_x, reflect=False):
    """Moves each image by whole pixels: ``out[b, i, j] = images[b, i - shift_y[b], j - shift_x[b]]``.

    Args:
        images: ``[B, H, W, C]``.
        shift_y, shift_x: integer shifts ``[B]`` (positive: down / right).
        reflect: outside pixels mirror the image (``numpy.pad`` mode ``reflect``) instead of being 0.

    Returns:
        The moved images (a linear, differentiable map of ``images``).
    """
    height, width = images.shape[1], images.shape[2]
    rows = _shift_matrix(shift_y, height, reflect, images.dtype)
    cols = _shift_matrix(shift_x, width, reflect, images.dtype)
    out = ops.einsum("bik,bkwc->biwc", rows, images)
    return ops.einsum("bjl,bilc->bijc", cols, out)


def cutout(images, center_y, center_x, size_y, size_x):
    """Zeroes, in each image, rows ``[cy - sy // 2, cy - sy // 2 + sy)`` x the same for columns.

    Args:
        images: ``[B, H, W, C]``.
        center_y, center_x: integer centers ``[B]``.
        size_y, size_x: Python ints, the square's sides.
    """
    height, width = images.shape[1], images.shape[2]

    def inside(center, size, n):
        start = ops.cast(center, "int32")[:, None] - size // 2
        pos = ops.arange(n, dtype="int32")[None, :]
        return ops.logical_and(ops.greater_equal(pos, start), ops.less(pos, start + size))

    cut = ops.logical_and(inside(center_y, size_y, height)[:, :, None], inside(center_x, size_x, width)[:, None, :])
    return images * ops.cast(ops.logical_not(cut), images.dtype)[..., None]


def adjust_brightness(images, delta):
    """``images + delta[b]``."""
    return images + _bcast(delta, images.dtype)


def adjust_saturation(images, factor):
    """``(x - m) * factor[b] + m`` with ``m`` the per-pixel mean over channels (a no-op for one channel)."""
    mean = ops.mean(images, axis=-1, keepdims=True)
    return (images - mean) * _bcast(factor, images.dtype) + mean


def adjust_contrast(images, factor):
    """``(x - m) * factor[b] + m`` with ``m`` each image's mean over pixels and channels."""
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _bcast(factor, images.dtype) + mean


# ------------------------------------------------------------- DiffAugment
def diff_augment(images, policy=None, seed=0):
    """DiffAugment of a batch (see the module docstring for the transformations).

    Args:
        images: ``[B, H, W, C]`` in ``[-1, 1]``.
        policy: comma-separated names from ``color``, ``translation``,
            ``cutout``, applied in the order given (``None``: all three).
        seed: int, seed tensor ``[2]`` or ``keras.random.SeedGenerator``.

    Returns:
        Augmented images, same shape and dtype.

    Raises:
        UsageError: for a bad policy.
    """
    names = parse_policy(policy, "diffaugment")
    stream = _SeedStream(seed)
    x = ops.convert_to_tensor(images)
    batch = ops.shape(x)[0]
    height, width = x.shape[1], x.shape[2]
    for name in names:
        if name == "color":
            x = adjust_brightness(x, _uniform((batch,), stream, -0.5, 0.5))
            x = adjust_saturation(x, _uniform((batch,), stream, 0.0, 2.0))
            x = adjust_contrast(x, _uniform((batch,), stream, 0.5, 1.5))
        elif name == "translation":
            sy, sx = int(height * 0.125 + 0.5), int(width * 0.125 + 0.5)
            ty = keras.random.randint((batch,), -sy, sy + 1, dtype="int32", seed=stream)
            tx = keras.random.randint((batch,), -sx, sx + 1, dtype="int32", seed=stream)
            x = translate(x, ty, tx)
        elif name == "cutout":
            cy, cx = int(height * 0.5 + 0.5), int(width * 0.5 + 0.5)
            oy = keras.random.randint((batch,), 0, height + (1 - cy % 2), dtype="int32", seed=stream)
            ox = keras.random.randint((batch,), 0, width + (1 - cx % 2), dtype="int32", seed=stream)
            x = cutout(x, oy, ox, cy, cx)
    return x


# --------------------------------------------------------------------- ADA
def _luma_project(x):
    """``v (v . x)`` per pixel for RGB images (the gray part)."""
    return ops.mean(x, axis=-1, keepdims=True) * ops.ones_like(x)  # v v^T x = mean(x) (1, 1, 1)


def ada_augment(images, p, seed=0, policy=None):
    """ADA's ``blit`` and ``color`` transformations, each applied to each image with probability ``p``.

    Args:
        images: ``[B, H, W, C]`` in ``[-1, 1]``, ``C`` 1 or 3.
        p: the probability (a float or scalar tensor; 0 leaves the images unchanged).
        seed: int, seed tensor ``[2]`` or ``keras.random.SeedGenerator``.
        policy: ``"blit"``, ``"color"`` or ``"blit,color"`` (``None``: both).

    Returns:
        Augmented images, same shape and dtype.
    """
    names = parse_policy(policy, "ada")
    stream = _SeedStream(seed)
    x = ops.convert_to_tensor(images)
    dtype = x.dtype
    batch = ops.shape(x)[0]
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    zeros = ops.zeros((batch,), "float32")

    def mask(values, fallback):
        return ops.where(_chance(batch, p, stream), values, fallback)

    def pick(condition, a, b):
        return ops.where(ops.reshape(condition, (-1, 1, 1, 1)), a, b)

    for name in names:
        if name == "blit":
            # x-flip: i = floor(U * 2), kept with probability p (as in the paper's code).
            flip = mask(ops.floor(_uniform((batch,), stream) * 2.0), zeros)
            x = pick(ops.greater(flip, 0.5), ops.flip(x, axis=2), x)
            if height == width:  # 90-degree rotations by k = floor(U * 4)
                k = mask(ops.floor(_uniform((batch,), stream) * 4.0), zeros)
                rotated = x
                for turns in (1, 2, 3):
                    rotated = ops.flip(ops.transpose(rotated, (0, 2, 1, 3)), axis=1)  # one turn counter-clockwise
                    x = pick(ops.equal(k, float(turns)), rotated, x)
            ty = mask(ops.round(_uniform((batch,), stream, -0.125, 0.125) * height), zeros)
            tx = mask(ops.round(_uniform((batch,), stream, -0.125, 0.125) * width), zeros)
            x = translate(x, ty, tx, reflect=True)
        elif name == "color":
            ones = ops.ones((batch,), "float32")
            b = mask(keras.random.normal((batch,), stddev=0.2, seed=stream), zeros)
            x = x + _bcast(b, dtype)
            c = mask(ops.power(2.0, keras.random.normal((batch,), stddev=0.5, seed=stream)), ones)
            x = x * _bcast(c, dtype)
            lumaflip = mask(ops.floor(_uniform((batch,), stream) * 2.0), zeros)
            if channels == 1:
                x = x * _bcast(1.0 - 2.0 * lumaflip, dtype)  # I - 2 v v^T on (x, x, x): x -> -x
            else:
                x = x - 2.0 * _luma_project(x) * _bcast(lumaflip, dtype)  # Householder reflection
                theta = mask(_uniform((batch,), stream, -math.pi, math.pi), zeros)
                # Rodrigues: R x = x cos t + (v x x) sin t + v (v . x)(1 - cos t).
                cos, sin = _bcast(ops.cos(theta), dtype), _bcast(ops.sin(theta), dtype)
                r, g, bl = x[..., 0:1], x[..., 1:2], x[..., 2:3]
                cross = _LUMA * ops.concatenate([g - bl, bl - r, r - g], axis=-1)  # v x x
                x = x * cos + cross * sin + _luma_project(x) * (1.0 - cos)
                s = mask(ops.power(2.0, keras.random.normal((batch,), stddev=1.0, seed=stream)), ones)
                gray = _luma_project(x)
                x = gray + (x - gray) * _bcast(s, dtype)
    return x


def ada_adjust(p, sign_mean, num_images, target=0.6, kimg=500.0):
    """One ADA update: ``clip(p + sign(sign_mean - target) * num_images / (kimg * 1000), 0, 1)``.

    Args:
        p: current probability.
        sign_mean: ``r_t``, the mean of ``sign(D(real))`` over the interval.
        num_images: real images seen in the interval.
        target: the target of ``r_t`` (0.6 in the paper).
        kimg: thousands of images for ``p`` to move by 1 (500 in the paper).
    """
    step = ops.sign(ops.cast(sign_mean, "float32") - target) * ops.cast(num_images, "float32") / (kimg * 1000.0)
    return ops.clip(ops.cast(p, "float32") + step, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="keras_gan")
class DiffAugment(keras.layers.Layer):
    """DiffAugment as a layer with its own seed stream (for a model's ``train_step``).

    ``layer(images, seed=s)`` uses the seed ``s`` (pass the same one for real
    and fake to apply one transformation to both); without ``seed`` it draws
    from the layer's own ``SeedGenerator``, which a model tracks as state.
    """

    def __init__(self, policy=None, seed=0, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.policy = ",".join(parse_policy(policy, "diffaugment"))
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True

    def call(self, images, seed=None):
        return diff_augment(images, self.policy, self.seed_generator if seed is None else seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "policy": self.policy, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gan")
class AdaptiveAugment(keras.layers.Layer):
    """ADA: :func:`ada_augment` with a probability ``p`` steered by the sign of ``D`` on real data.

    State (non-trainable variables, so a model carries and checkpoints them,
    and a stateless JAX step threads them): ``p``, the running sum of
    ``sign(D(real))``, the real images counted and the discriminator steps
    since the last adjustment.

    Args:
        target: target of ``r_t = E[sign(D(real))]`` (0.6).
        kimg: thousands of real images for ``p`` to move by 1 (500).
        interval: discriminator steps between adjustments (4).
        initial_p: ``p`` at the start (0).
        policy: ``"blit"``, ``"color"`` or ``"blit,color"`` (``None``: both).
        seed: seed of the layer's own ``SeedGenerator``.
    """

    def __init__(self, target=0.6, kimg=500.0, interval=4, initial_p=0.0, policy=None, seed=0, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"target must be in [0, 1], got {target}.")
        if not float(kimg) > 0.0:
            raise ValueError(f"kimg must be > 0, got {kimg}.")
        if int(interval) < 1:
            raise ValueError(f"interval must be >= 1, got {interval}.")
        if not 0.0 <= float(initial_p) <= 1.0:
            raise ValueError(f"initial_p must be in [0, 1], got {initial_p}.")
        self.target, self.kimg, self.interval = float(target), float(kimg), int(interval)
        self.initial_p = float(initial_p)
        self.policy = ",".join(parse_policy(policy, "ada"))
        self.seed = int(seed)

        def scalar(name, value):
            return self.add_weight(shape=(), initializer=keras.initializers.Constant(value), dtype="float32",
                                   trainable=False, name=name)

        self.p = scalar("p", self.initial_p)
        self.sign_sum = scalar("sign_sum", 0.0)
        self.num_images = scalar("num_images", 0.0)
        self.num_steps = scalar("num_steps", 0.0)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True

    def call(self, images, seed=None):
        return ada_augment(images, self.p.value, self.seed_generator if seed is None else seed, self.policy)

    def update(self, real_logits, all_reduce=None):
        """Adds one discriminator step's outputs on (augmented) real images; adjusts ``p`` every ``interval`` steps.

        Args:
            real_logits: ``D``'s outputs on this step's (augmented) real images.
            all_reduce: under data parallelism with one step per replica
                (``tf.distribute``), a function summing a scalar over the
                replicas, so that every replica counts the global batch and
                keeps the same ``p``; ``None`` for one device or JAX's global step.

        Returns:
            The (possibly adjusted) ``p``.
        """
        logits = ops.cast(ops.reshape(real_logits, (-1,)), "float32")
        step_signs, step_images = ops.sum(ops.sign(logits)), ops.cast(ops.shape(logits)[0], "float32")
        if all_reduce is not None:
            step_signs, step_images = all_reduce(step_signs), all_reduce(step_images)
        p = ops.convert_to_tensor(self.p.value)
        sign_sum = self.sign_sum.value + step_signs
        num_images = self.num_images.value + step_images
        num_steps = self.num_steps.value + 1.0
        due = ops.greater_equal(num_steps, float(self.interval))
        adjusted = ada_adjust(p, sign_sum / ops.maximum(num_images, 1.0), num_images, self.target, self.kimg)
        new_p = ops.where(due, adjusted, p)
        self.p.assign(new_p)
        self.sign_sum.assign(ops.where(due, 0.0, sign_sum))
        self.num_images.assign(ops.where(due, 0.0, num_images))
        self.num_steps.assign(ops.where(due, 0.0, num_steps))
        return new_p

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "target": self.target, "kimg": self.kimg, "interval": self.interval,
                "initial_p": self.initial_p, "policy": self.policy, "seed": self.seed}


def from_config(train_config, seed=None):
    """The augmentation layer a ``train`` config section asks for, or ``None`` (``train.augment`` null).

    Args:
        train_config: a :class:`keras_gan.config.TrainConfig` (``augment``,
            ``augment_policy``, ``ada_target``, ``ada_kimg``, ``seed``).
        seed: seed of the layer's generator (default ``train_config.seed``).
    """
    mode = getattr(train_config, "augment", None)
    if mode is None:
        return None
    seed = int(train_config.seed if seed is None else seed)
    policy = getattr(train_config, "augment_policy", None)
    if mode == "diffaugment":
        return DiffAugment(policy, seed=seed, name="diff_augment")
    if mode == "ada":
        return AdaptiveAugment(train_config.ada_target, train_config.ada_kimg, policy=policy, seed=seed, name="ada")
    parse_augment_policy(mode, policy)  # raises with the allowed modes
    return None


def apply(augmenter, images, seed=None):
    """``images`` themselves when ``augmenter`` is ``None`` (augmentation off), else ``augmenter(images, seed=seed)``."""
    if augmenter is None:
        return images
    return augmenter(images, seed=seed)
