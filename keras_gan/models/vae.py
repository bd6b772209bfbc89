"""Variational autoencoder (Kingma and Welling 2014): density estimation and sampling.

Section 6.1 of the notes names the two jobs of a generative model: estimating
the density ``p(x)`` and drawing samples from it. A GAN only samples; the VAE
does both. It has

* a prior ``p(z) = N(0, I)``;
* a decoder ``p(x | z)``: a Keras model whose output is the mean of a Gaussian
  (fixed or learned scale; images in ``[-1, 1]``) or the logits of a
  Bernoulli;
* an encoder ``q(z | x) = N(mu(x), diag(sigma(x)^2))``: a Keras model whose
  output ``[batch, 2 * latent_dim]`` holds ``mu`` and the raw scale
  (``sigma = softplus(raw) + 1e-4``).

Training (:meth:`VAE.train_step`, under ``model.fit``) maximizes the evidence
lower bound, with the reparameterization ``z = mu + sigma * eps``,
``eps ~ N(0, I)``::

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x)

(optionally ``beta * KL``, the beta-VAE). The terms are the closed forms of
the Gaussian and Bernoulli log-densities and of the KL divergence between
two diagonal Gaussians, written with ``keras.ops`` so the VAE trains on every
Keras backend (TFP has no PyTorch substrate); ``tests/test_vae.py`` checks
them against TFP's ``log_prob`` and ``tfd.kl_divergence``, and
:meth:`VAE.posterior` and friends return the TFP distributions themselves
on the TensorFlow backend.

Density estimation (:meth:`VAE.log_likelihood`): the importance-weighted bound
of Burda et al. (2016) with ``K`` samples from ``q``::

    log p(x) >= L_K(x) = E[log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)]

``L_1`` is the ELBO, ``L_K`` grows with ``K`` and tends to ``log p(x)``.
:func:`density_report` turns it into nats per example and bits per dimension.

The model has the interface of :class:`keras_gan.models.AdversarialModel`
(``generator``, ``latent_dim``, ``prior``, ``sample_latent``, ``generate``, ``generate_from``), so
``keras-gan train``, sample grids, checkpoints, ``evaluate``, ``sample`` and ``export``
work unchanged: the exported generator is the decoder mean ``z -> images``.

Example:

>>> vae = VAE.for_images((8, 8, 1), latent_dim=16, base_filters=32)
>>> vae.compile(optimizer=keras.optimizers.Adam(1e-3))
>>> # vae.fit(keras_gan.data.load("digits"), epochs=100)
>>> images = vae.generate(16, seed=0)          # numpy in [-1, 1]
>>> log_px = vae.log_likelihood(images, num_samples=100)  # nats per example
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gan import networks
from keras_gan.models import _backend
from keras_gan.models.noise import draw_latent, replica_noise
from keras_gan.optimizers import FusedAdam

LIKELIHOODS = ("gaussian", "bernoulli")

# Streams of the stateless noise generator, so that no two draws share a seed.
_STREAM_TRAIN, _STREAM_TEST, _STREAM_IW = 0, 1, 2
_NUM_STREAMS = 3
_MIN_SCALE = 1e-4  # floor of the encoder's sigma, for a finite log q
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ------------------------------------------------------------------ builders
def _num_resamplings(image_shape, num):
    side = int(image_shape[0])
    if num is None:
        num = min(4, max(1, int(math.log2(side)) - 1))
    num = int(num)
    if num < 1 or side % (2**num):
        raise ValueError(
            f"num_resamplings={num} does not fit image_shape={tuple(image_shape)}: the side must be "
            f"divisible by 2**num_resamplings and num_resamplings >= 1."
        )
    return num


def _check_image_shape(image_shape):
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (size, size, channels), got {image_shape}.")
    return image_shape


def vae_encoder(image_shape=(8, 8, 1), latent_dim=16, base_filters=32, num_resamplings=None, name="encoder"):
    """A DCGAN-like convolutional encoder ``x -> [mu, raw_scale]``.

    Stride-2 3x3 convolutions with LeakyReLU(0.2), doubling the width each
    time from ``base_filters``; then a dense layer to ``2 * latent_dim``.

    Args:
        image_shape: ``(size, size, channels)``.
        latent_dim: size of ``z``.
        base_filters: width of the first convolution.
        num_resamplings: stride-2 layers; by default ``log2(size) - 1`` (at most 4),
            so 8x8 -> 4x4 -> 2x2.
        name: model name.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, *image_shape]`` to
        ``[batch, 2 * latent_dim]`` (``mu`` then the raw scale).

    Example:

    >>> vae_encoder((8, 8, 1), latent_dim=16).output.shape
    (None, 32)
    """
    image_shape = _check_image_shape(image_shape)
    num = _num_resamplings(image_shape, num_resamplings)
    x = inputs = keras.Input(image_shape, name="x")
    for i in range(num):
        x = keras.layers.Conv2D(base_filters * 2**i, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = networks.Flatten()(x)  # the same values; keeps grappler's remapper quiet (see there)
    outputs = keras.layers.Dense(2 * int(latent_dim), name="posterior_params")(x)
    return keras.Model(inputs, outputs, name=name)


def vae_decoder(image_shape=(8, 8, 1), latent_dim=16, base_filters=32, num_resamplings=None,
                output_activation="tanh", name="decoder"):
    """A DCGAN-like convolutional decoder ``z -> image``, the mirror of :func:`vae_encoder`.

    Dense to ``s x s x (base_filters * 2**(n-1))``, then ``n`` times a 2x
    nearest upsampling and a 3x3 convolution with ReLU (halving the width),
    then a 3x3 convolution to the image channels. (Upsampling + convolution
    instead of a transposed convolution: the latter is slow on CPU in
    TensorFlow, see DESIGN.md.)

    Args:
        image_shape: ``(size, size, channels)``.
        latent_dim: size of ``z``.
        base_filters: width of the last hidden convolution.
        num_resamplings: upsampling steps (default as in :func:`vae_encoder`).
        output_activation: ``"tanh"`` (a Gaussian mean in ``[-1, 1]``) or
            ``None`` (Bernoulli logits).
        name: model name.

    Returns:
        A functional ``keras.Model`` mapping ``z`` ``[batch, latent_dim]`` to
        ``[batch, *image_shape]``.

    Example:

    >>> vae_decoder((8, 8, 1), latent_dim=16).output.shape
    (None, 8, 8, 1)
    """
    image_shape = _check_image_shape(image_shape)
    num = _num_resamplings(image_shape, num_resamplings)
    side = image_shape[0] // 2**num
    width = base_filters * 2 ** (num - 1)
    z = keras.Input((int(latent_dim),), name="z")
    x = keras.layers.Dense(side * side * width, name="project")(z)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Reshape((side, side, width))(x)
    for i in range(num):
        x = keras.layers.UpSampling2D(2)(x)
        x = keras.layers.Conv2D(max(base_filters * 2 ** (num - 1 - i), 1), 3, padding="same", name=f"conv{i}")(x)
        x = keras.layers.ReLU()(x)
    outputs = keras.layers.Conv2D(image_shape[-1], 3, padding="same", activation=output_activation, name="out")(x)
    return keras.Model(z, outputs, name=name)


# --------------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="keras_gan")
class VAE(keras.Model):
    """A variational autoencoder trained on the ELBO under ``model.fit``.

    Args:
        encoder: ``keras.Model`` mapping samples ``[batch, *shape]`` to
            ``[batch, 2 * latent_dim]``: the posterior mean, then the raw
            scale (``sigma = softplus(raw) + 1e-4``).
        decoder: ``keras.Model`` mapping ``z`` ``[batch, latent_dim]`` to
            ``[batch, *shape]``: the mean of ``p(x | z)`` for a Gaussian
            likelihood (use a ``tanh`` output for images in ``[-1, 1]``), the
            logits of ``p((x + 1) / 2 | z)`` for a Bernoulli one.
        latent_dim: size of ``z``; read from the decoder's input if omitted.
        likelihood: ``"gaussian"`` or ``"bernoulli"`` (for binary images: the
            targets are ``(x + 1) / 2`` and must be 0 or 1 for a true likelihood).
        scale: Gaussian likelihood: a fixed standard deviation, or ``None`` to
            learn one shared standard deviation (a trainable log-scale).
        initial_scale: starting value of a learned scale.
        beta: weight of the KL term in the training loss (1 is the ELBO,
            the beta-VAE of Higgins et al. 2017 otherwise). Reported ``elbo``
            is always the unweighted bound.
        seed: seed of the stateless noise of ``train_step``.
        **kwargs: passed to ``keras.Model`` (``name``...).

    Attributes:
        generator: the decoder mean as a ``keras.Model``, ``z -> images in
            [-1, 1]`` (what :mod:`keras_gan.export` exports).
        prior: ``"normal"``: ``p(z) = N(0, I)``.
        ema_generator, num_classes: ``None`` (parity with ``AdversarialModel``).

    Example:

    >>> vae = VAE(vae_encoder((8, 8, 1), 8), vae_decoder((8, 8, 1), 8))
    >>> vae.compile()
    >>> # vae.fit(dataset_of_images, epochs=10)
    """

    prior = "normal"
    ema_generator = None
    num_classes = None

    def __init__(self, encoder, decoder, latent_dim=None, likelihood="gaussian", scale=None, initial_scale=0.3,
                 beta=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        inferred = int(decoder.inputs[0].shape[-1])
        self.latent_dim = int(latent_dim if latent_dim is not None else inferred)
        if self.latent_dim != inferred:
            raise ValueError(f"latent_dim={latent_dim} does not match the decoder's input size {inferred}.")
        if int(encoder.outputs[0].shape[-1]) != 2 * self.latent_dim:
            raise ValueError(
                f"The encoder must output 2 * latent_dim = {2 * self.latent_dim} values (mean and raw scale); "
                f"it outputs {encoder.outputs[0].shape[-1]}."
            )
        if scale is not None and not float(scale) > 0:
            raise ValueError(f"scale must be > 0 or None (learned), got {scale}.")
        if not float(initial_scale) > 0:
            raise ValueError(f"initial_scale must be > 0, got {initial_scale}.")
        if not float(beta) >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}.")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.scale = None if scale is None else float(scale)
        self.initial_scale = float(initial_scale)
        self.beta = float(beta)
        self.seed = int(seed)
        self.sample_shape = tuple(int(d) for d in decoder.outputs[0].shape[1:])
        self.log_scale = None
        if likelihood == "gaussian" and self.scale is None:
            self.log_scale = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(math.log(self.initial_scale)),
                name="log_scale", trainable=True,
            )
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Encoder and decoder are built functional models: never trace `call` to build (keras #20164).
        self.built = True

    @classmethod
    def for_images(cls, image_shape=(8, 8, 1), latent_dim=16, base_filters=32, num_resamplings=None,
                   likelihood="gaussian", **kwargs):
        """A VAE with the convolutional :func:`vae_encoder` and :func:`vae_decoder`.

        Args:
            image_shape: ``(size, size, channels)``.
            latent_dim: size of ``z``.
            base_filters: width of the encoder's first / decoder's last convolution.
            num_resamplings: stride-2 steps (default: 8x8 -> 2x2).
            likelihood: ``"gaussian"`` or ``"bernoulli"``.
            **kwargs: passed to :class:`VAE` (``scale``, ``beta``, ``seed``, ``name``).

        Returns:
            An uncompiled :class:`VAE`.
        """
        activation = "tanh" if likelihood == "gaussian" else None
        return cls(
            vae_encoder(image_shape, latent_dim, base_filters, num_resamplings),
            vae_decoder(image_shape, latent_dim, base_filters, num_resamplings, activation),
            likelihood=likelihood, **kwargs,
        )

    # ------------------------------------------------------------ properties
    @property
    def generator(self):
        """The decoder mean ``z -> images in [-1, 1]`` as a ``keras.Model``."""
        if self.likelihood == "gaussian":
            return self.decoder
        cached = self.__dict__.get("_bernoulli_generator")
        if cached is None:
            # mean image 2 * sigmoid(h) - 1 = tanh(h / 2); kept out of Keras tracking (shares the decoder).
            z = keras.Input((self.latent_dim,), name="z")
            h = keras.layers.Rescaling(0.5)(self.decoder(z))
            cached = keras.Model(z, keras.layers.Activation("tanh")(h), name="decoder_mean")
            object.__setattr__(self, "_bernoulli_generator", cached)
        return cached

    @property
    def metrics(self):
        return [self.elbo_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compile(self, optimizer=None, **kwargs):
        """Configures training: one optimizer for encoder, decoder (and the learned scale).

        Args:
            optimizer: an optimizer (instance, name or config); default FusedAdam(1e-3).
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``: default
                ``True`` on JAX, ``False`` elsewhere; ``steps_per_execution``,
                ``run_eagerly``); no ``loss``: the loss is the ELBO.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(f"A VAE's loss is its negative ELBO; got loss={kwargs['loss']!r}.")
        kwargs.pop("loss", None)
        optimizer = keras.optimizers.get(optimizer if optimizer is not None else FusedAdam(1e-3))
        self._jit_compile_arg = kwargs.pop("jit_compile", None)
        kwargs["jit_compile"] = _backend.jit_compile(self._jit_compile_arg)
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, **kwargs)
        # Build the optimizer now, before the first (possibly distributed) step.
        self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {
            "optimizer": _backend.serialize_optimizer(self.optimizer),
            "jit_compile": self._jit_compile_arg,  # None: the loading backend's default
            "steps_per_execution": int(self.steps_per_execution),
        }

    def compile_from_config(self, config):
        config = dict(config)
        config["optimizer"] = _backend.deserialize_optimizer(config["optimizer"])
        if "steps_per_execution" in config:  # a checkpoint from another backend
            config["steps_per_execution"] = _backend.steps_per_execution(config["steps_per_execution"])
        self.compile(**config)

    # ---------------------------------------------------------- distributions
    def _posterior_params(self, x, training=False):
        """``(mu, sigma)`` of ``q(z | x)``, float32 ``[batch, latent_dim]`` each."""
        params = ops.cast(self.encoder(x, training=training), "float32")
        loc, raw = ops.split(params, 2, axis=-1)
        return loc, ops.softplus(raw) + _MIN_SCALE

    def posterior(self, x, training=False):
        """``q(z | x)`` as a ``tfd.MultivariateNormalDiag`` with batch shape ``[batch]`` (TensorFlow backend)."""
        tfd = _tfd()
        loc, scale = self._posterior_params(x, training)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def prior_distribution(self):
        """``p(z) = N(0, I)`` as a ``tfd.MultivariateNormalDiag`` (TensorFlow backend)."""
        tfd = _tfd()
        return tfd.MultivariateNormalDiag(loc=np.zeros([self.latent_dim], np.float32),
                                          scale_diag=np.ones([self.latent_dim], np.float32))

    def likelihood_scale(self):
        """The Gaussian likelihood's standard deviation (a float32 scalar tensor)."""
        if self.log_scale is not None:
            return ops.exp(ops.cast(self.log_scale, "float32"))
        return ops.convert_to_tensor(self.scale if self.scale is not None else 1.0, "float32")

    def decode_distribution(self, z, training=False):
        """``p(x | z)``: an ``Independent`` Normal or Bernoulli with event shape ``sample_shape`` (TensorFlow)."""
        tfd = _tfd()
        out = ops.cast(self.decoder(z, training=training), "float32")
        if self.likelihood == "gaussian":
            base = tfd.Normal(loc=out, scale=self.likelihood_scale())
        else:
            base = tfd.Bernoulli(logits=out, dtype="float32")
        return tfd.Independent(base, reinterpreted_batch_ndims=len(self.sample_shape))

    def _log_likelihood(self, out, targets):
        """``log p(x | z)`` summed over the sample's dimensions, from the decoder output ``out``.

        Gaussian: ``-0.5 ((x - mu) / s)^2 - log s - 0.5 log 2 pi``; Bernoulli with
        logits ``l``: ``x l - softplus(l)``. ``out`` may carry leading sample axes.
        """
        if self.likelihood == "gaussian":
            scale = self.likelihood_scale()
            per_dim = -0.5 * ops.square((targets - out) / scale) - ops.log(scale) - _HALF_LOG_2PI
        else:
            per_dim = targets * out - ops.softplus(out)
        axes = tuple(range(-len(self.sample_shape), 0))
        return ops.sum(per_dim, axis=axes)

    def _targets(self, x):
        x = ops.cast(x, "float32")
        return x if self.likelihood == "gaussian" else (x + 1.0) / 2.0

    def _terms(self, x, eps, training=False):
        """Per-example ``(log p(x | z), KL(q || p))`` with ``z = mu + sigma * eps``."""
        loc, scale = self._posterior_params(x, training)
        z = loc + scale * eps  # reparameterization trick
        out = ops.cast(self.decoder(z, training=training), "float32")
        reconstruction = self._log_likelihood(out, self._targets(x))
        # KL(N(mu, diag s^2) || N(0, I)) = sum 0.5 (mu^2 + s^2 - 1) - log s, in closed form.
        kl = ops.sum(0.5 * (ops.square(loc) + ops.square(scale) - 1.0) - ops.log(scale), axis=-1)
        return reconstruction, kl

    def elbo(self, x, noise=None, seed=0):
        """The single-sample ELBO estimate per example and its two terms.

        Args:
            x: a batch of samples ``[batch, *sample_shape]``.
            noise: ``eps`` ``[batch, latent_dim]`` of the reparameterization
                ``z = mu + sigma * eps``; drawn from N(0, I) with ``seed`` if omitted.
            seed: integer seed of the noise.

        Returns:
            A dict of float32 numpy arrays ``[batch]`` in nats: ``elbo``
            (``reconstruction - kl``), ``reconstruction`` (``log p(x | z)``)
            and ``kl`` (``KL(q(z | x) || p(z))``, closed form).
        """
        x = ops.convert_to_tensor(np.asarray(x, np.float32))
        if noise is None:
            noise = draw_latent("normal", [int(x.shape[0]), self.latent_dim], np.array([int(seed), 1], np.int64))
        with _backend.inference():
            reconstruction, kl = self._terms(x, ops.cast(ops.convert_to_tensor(noise), "float32"))
        reconstruction, kl = ops.convert_to_numpy(reconstruction), ops.convert_to_numpy(kl)
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    # ----------------------------------------------------------- density
    def log_likelihood(self, x, num_samples=1000, seed=0, batch_size=None):
        """Importance-weighted estimate of ``log p(x)`` per example (Burda et al. 2016).

        ``L_K(x) = logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K``
        with ``z_k ~ q(z | x)``: a stochastic lower bound whose expectation
        grows with ``K`` towards ``log p(x)`` (``K = 1`` is the ELBO).

        Args:
            x: samples ``[n, *sample_shape]`` (numpy or tensor), e.g. held-out images in ``[-1, 1]``.
            num_samples: ``K``, samples from ``q`` per example.
            seed: integer seed of the samples (the same seed gives the same estimate).
            batch_size: examples per chunk; default keeps ``K * batch_size`` near 8,192.

        Returns:
            A float64 numpy array ``[n]`` of ``log p(x)`` estimates in nats.

        Raises:
            ValueError: for ``num_samples < 1``.

        Example:

        >>> log_px = vae.log_likelihood(test_images, num_samples=1000)  # doctest: +SKIP
        >>> bits_per_dim = -log_px.mean() / (64 * np.log(2))  # doctest: +SKIP
        """
        k = int(num_samples)
        if k < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
        x = np.asarray(ops.convert_to_numpy(x), np.float32)
        n = int(x.shape[0])
        batch_size = int(batch_size or max(1, 8192 // k))
        out = []
        with _backend.inference():
            for chunk, start in enumerate(range(0, n, batch_size)):
                seed_pair = np.array([int(seed), chunk * _NUM_STREAMS + _STREAM_IW], np.int64)
                out.append(self._iw_bound(ops.convert_to_tensor(x[start : start + batch_size]), k, seed_pair))
        return np.concatenate(out).astype(np.float64) if out else np.zeros([0])

    def _iw_bound(self, x, k, seed):
        loc, scale = self._posterior_params(x)
        b = int(x.shape[0])
        eps = draw_latent("normal", [k, b, self.latent_dim], seed)
        z = loc + scale * eps  # [K, b, latent]
        # log q(z | x) and log p(z): diagonal Gaussians; (z - mu) / sigma = eps.
        log_q = ops.sum(-0.5 * ops.square((z - loc) / scale) - ops.log(scale) - _HALF_LOG_2PI, axis=-1)
        log_prior = ops.sum(-0.5 * ops.square(z) - _HALF_LOG_2PI, axis=-1)
        out = self.decoder(ops.reshape(z, [-1, self.latent_dim]), training=False)
        out = ops.reshape(ops.cast(out, "float32"), [k, b, *self.sample_shape])
        log_lik = self._log_likelihood(out, self._targets(x))
        # float64 for the sum over K (numpy: JAX disables float64 by default).
        log_w = ops.convert_to_numpy(log_lik + log_prior - log_q).astype(np.float64)
        peak = log_w.max(axis=0)
        return peak + np.log(np.exp(log_w - peak).sum(axis=0)) - math.log(k)

    # ------------------------------------------------------------ sampling
    def sample_latent(self, num, seed):
        """Draws ``num`` vectors from the prior N(0, I), as ``AdversarialModel`` does.

        Args:
            num: number of vectors.
            seed: integer seed; :func:`keras_gan.models.draw_latent` with seed ``[seed, 0]``
                (what the exported ``sample`` signature draws).

        Returns:
            A float32 tensor ``[num, latent_dim]``.
        """
        return draw_latent("normal", [int(num), self.latent_dim], np.array([int(seed), 0], np.int64))

    def generate(self, num, seed=0, labels=None, batch_size=256):
        """Decoder means of ``num`` prior samples drawn with ``seed``.

        Args:
            num: number of samples.
            seed: seed of the latent vectors.
            labels: must be ``None`` (the VAE is not conditional).
            batch_size: decoder batch size.

        Returns:
            A numpy array ``[num, *sample_shape]`` in ``[-1, 1]``.

        Raises:
            ValueError: if labels are given.
        """
        return self.generate_from(self.sample_latent(num, seed), labels, batch_size)

    def generate_from(self, z, labels=None, batch_size=256):
        """Decoder means of the given latent vectors, as ``AdversarialModel.generate_from`` (what
        ``keras-gan sample`` calls: truncation and interpolation work on a VAE too).

        Args:
            z: ``[num, latent_dim]`` latent vectors.
            labels: must be ``None`` (the VAE is not conditional).
            batch_size: decoder batch size.

        Returns:
            A numpy array ``[num, *sample_shape]`` in ``[-1, 1]``.

        Raises:
            ValueError: if labels are given or ``z`` has the wrong shape.

        Example:

        >>> vae = VAE.for_images((8, 8, 1), latent_dim=4, base_filters=4)
        >>> vae.generate_from(np.zeros((2, 4), "float32")).shape
        (2, 8, 8, 1)
        """
        if labels is not None:
            raise ValueError("labels were given, but this model is not conditional (num_classes is None).")
        z = np.asarray(ops.convert_to_numpy(z), np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [num, {self.latent_dim}], got shape {tuple(z.shape)}.")
        return self._map(self.generator, z, batch_size)

    def reconstruct(self, x, batch_size=256):
        """Decoder mean at the posterior mean: ``E[x | z = mu(x)]``, numpy in ``[-1, 1]``.

        Args:
            x: samples ``[n, *sample_shape]``.
            batch_size: batch size.

        Returns:
            A numpy array of the shape of ``x``.
        """
        x = np.asarray(ops.convert_to_numpy(x), np.float32)
        with _backend.inference():
            mu = [ops.convert_to_numpy(self._posterior_params(ops.convert_to_tensor(x[i : i + batch_size]))[0])
                  for i in range(0, int(x.shape[0]), batch_size)]
        return self._map(self.generator, np.concatenate(mu, 0), batch_size)

    @staticmethod
    def _map(model, inputs, batch_size):
        with _backend.inference():
            out = [ops.convert_to_numpy(model(inputs[i : i + batch_size], training=False))
                   for i in range(0, int(inputs.shape[0]), batch_size)]
        return np.concatenate(out, axis=0) if out else np.zeros([0])

    def call(self, x, training=False):
        """Reconstructs ``x``: the decoder mean at the posterior mean."""
        mu, _ = self._posterior_params(x, training=training)
        return self.generator(mu, training=training)

    # ------------------------------------------------------------ training
    def _noise(self, local_n, stream, counter):
        """This replica's slice of a global N(0, I) batch (see :func:`keras_gan.models.replica_noise`)."""
        counter = ops.cast(counter, _backend.counter_dtype()) * _NUM_STREAMS + stream
        return replica_noise(self.seed, counter, local_n, lambda n, s: draw_latent("normal", [n, self.latent_dim], s))

    def _update_metrics(self, reconstruction, kl):
        self.elbo_tracker.update_state(reconstruction - kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def _model_variables(self):
        return self.trainable_variables + self.non_trainable_variables

    def train_step(self, *args):
        """One gradient step on the negative ELBO (``train_step(state, data)`` on JAX)."""
        groups = [self.trainable_variables, self.non_trainable_variables, self.optimizer.variables,
                  self.metrics_variables]
        return _backend.run_step(self, self._train_step, args, groups)

    def test_step(self, *args):
        """The ELBO terms on a batch, no update (``test_step(state, data)`` on JAX)."""
        groups = [self.trainable_variables, self.non_trainable_variables, self.metrics_variables]
        return _backend.run_step(self, self._test_step, args, groups)

    def _train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        num_replicas = _backend.num_replicas_in_sync()
        eps = self._noise(ops.shape(x)[0], _STREAM_TRAIN, self.optimizer.iterations)
        variables = self.trainable_variables
        scale = _backend.loss_scale(self.optimizer)

        def objective():
            reconstruction, kl = self._terms(x, eps, training=True)
            # Negative (beta-weighted) ELBO, averaged over this replica's examples.
            loss = -ops.mean(reconstruction - self.beta * kl)
            # Per-replica mean / replicas: the all-reduced sum is the global mean.
            return loss / num_replicas * scale, (reconstruction, kl)

        _, (reconstruction, kl), grads = _backend.value_and_grad(objective, variables, self._model_variables)
        with _backend.no_grad():
            _backend.apply_gradients(self.optimizer, grads, variables)
            return self._update_metrics(reconstruction, kl)

    def _test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        eps = self._noise(ops.shape(x)[0], _STREAM_TEST, 0)
        with _backend.no_grad():
            reconstruction, kl = self._terms(x, eps, training=False)
            return self._update_metrics(reconstruction, kl)

    # ------------------------------------------------------- serialization
    def get_config(self):
        return {
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "scale": self.scale,
            "initial_scale": self.initial_scale,
            "beta": self.beta,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def _tfd():
    """``tfp.distributions``, for the TFP views of the VAE's distributions (TensorFlow backend only)."""
    if _backend.backend() != "tensorflow":
        raise RuntimeError(
            "VAE.posterior / prior_distribution / decode_distribution return TFP distributions and need the "
            f"TensorFlow backend (this is {_backend.backend()!r}); training, elbo and log_likelihood run on any."
        )
    import tensorflow_probability as tfp

    return tfp.distributions


def density_report(model, x, num_samples=1000, seed=0):
    """Held-out density of a :class:`VAE`: nats per example and bits per dimension.

    Args:
        model: a :class:`VAE`.
        x: held-out samples ``[n, *sample_shape]``.
        num_samples: ``K`` of the importance-weighted bound.
        seed: seed of the importance samples (and of the ELBO's noise).

    Returns:
        A dict: ``log_likelihood_nats`` (mean of ``L_K`` over examples),
        ``log_likelihood_stderr``, ``elbo_nats`` (mean single-sample ELBO),
        ``bits_per_dim`` (``-L_K / (D ln 2)``, ``D`` values per example),
        ``num_examples``, ``num_samples``, ``dims``. For a Gaussian likelihood
        on images in ``[-1, 1]`` these are continuous densities on that scale.

    Example:

    >>> report = density_report(vae, test_images, num_samples=1000)  # doctest: +SKIP
    >>> report["bits_per_dim"]  # doctest: +SKIP
    """
    log_px = model.log_likelihood(x, num_samples=num_samples, seed=seed)
    elbo = model.elbo(x, seed=seed)["elbo"]
    dims = int(np.prod(model.sample_shape))
    mean = float(log_px.mean())
    return {
        "log_likelihood_nats": mean,
        "log_likelihood_stderr": float(log_px.std(ddof=1) / np.sqrt(len(log_px))) if len(log_px) > 1 else 0.0,
        "elbo_nats": float(elbo.mean()),
        "bits_per_dim": -mean / (dims * math.log(2.0)),
        "num_examples": int(len(log_px)),
        "num_samples": int(num_samples),
        "dims": dims,
    }
