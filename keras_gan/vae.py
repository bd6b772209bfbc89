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

(optionally ``beta * KL``, the beta-VAE). Every term is a TFP distribution's
``log_prob`` or ``tfd.kl_divergence`` (closed form for two diagonal Gaussians).

Density estimation (:meth:`VAE.log_likelihood`): the importance-weighted bound
of Burda et al. (2016) with ``K`` samples from ``q``::

    log p(x) >= L_K(x) = E[log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)]

``L_1`` is the ELBO, ``L_K`` grows with ``K`` and tends to ``log p(x)``.
:func:`density_report` turns it into nats per example and bits per dimension.

The model has the interface of :class:`keras_gan.models.AdversarialModel`
(``generator``, ``latent_dim``, ``prior``, ``sample_latent``, ``generate``), so
``keras-gan train``, sample grids, checkpoints, ``evaluate`` and ``export``
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
import tensorflow as tf
import tensorflow_probability as tfp

from keras_gan.models import draw_latent, replica_noise
from keras_gan.optimizers import FusedAdam

tfd = tfp.distributions

LIKELIHOODS = ("gaussian", "bernoulli")

# Streams of the stateless noise generator, so that no two draws share a seed.
_STREAM_TRAIN, _STREAM_TEST, _STREAM_IW = 0, 1, 2
_NUM_STREAMS = 3
_MIN_SCALE = 1e-4  # floor of the encoder's sigma, for a finite log q


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
    x = keras.layers.Flatten()(x)
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
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``); no ``loss``: the loss is the ELBO.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(f"A VAE's loss is its negative ELBO; got loss={kwargs['loss']!r}.")
        kwargs.pop("loss", None)
        optimizer = keras.optimizers.get(optimizer if optimizer is not None else FusedAdam(1e-3))
        kwargs.setdefault("jit_compile", False)
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, **kwargs)
        # Build the optimizer now, before the first (possibly distributed) step.
        self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "jit_compile": bool(self.jit_compile),
            "steps_per_execution": int(self.steps_per_execution),
        }

    def compile_from_config(self, config):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(config["optimizer"])
        self.compile(**config)

    # ---------------------------------------------------------- distributions
    def posterior(self, x, training=False):
        """``q(z | x)`` as a ``tfd.MultivariateNormalDiag`` with batch shape ``[batch]``."""
        params = tf.cast(self.encoder(x, training=training), tf.float32)
        loc, raw = tf.split(params, 2, axis=-1)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw) + _MIN_SCALE)

    def prior_distribution(self):
        """``p(z) = N(0, I)`` as a ``tfd.MultivariateNormalDiag``."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]), scale_diag=tf.ones([self.latent_dim]))

    def likelihood_scale(self):
        """The Gaussian likelihood's standard deviation (a float32 scalar tensor)."""
        if self.log_scale is not None:
            return tf.exp(tf.cast(self.log_scale, tf.float32))
        return tf.constant(self.scale if self.scale is not None else 1.0, tf.float32)

    def decode_distribution(self, z, training=False):
        """``p(x | z)``: an ``Independent`` Normal or Bernoulli with event shape ``sample_shape``."""
        out = tf.cast(self.decoder(z, training=training), tf.float32)
        if self.likelihood == "gaussian":
            base = tfd.Normal(loc=out, scale=self.likelihood_scale())
        else:
            base = tfd.Bernoulli(logits=out, dtype=tf.float32)
        return tfd.Independent(base, reinterpreted_batch_ndims=len(self.sample_shape))

    def _targets(self, x):
        x = tf.cast(x, tf.float32)
        return x if self.likelihood == "gaussian" else (x + 1.0) / 2.0

    def _terms(self, x, eps, training=False):
        """Per-example ``(log p(x | z), KL(q || p))`` with ``z = mu + sigma * eps``."""
        q = self.posterior(x, training=training)
        z = q.loc + q.stddev() * eps  # reparameterization trick
        reconstruction = self.decode_distribution(z, training=training).log_prob(self._targets(x))
        kl = tfd.kl_divergence(q, self.prior_distribution())
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
        x = tf.convert_to_tensor(x, tf.float32)
        if noise is None:
            noise = draw_latent("normal", [int(x.shape[0]), self.latent_dim], tf.constant([int(seed), 1], tf.int64))
        reconstruction, kl = self._terms(x, tf.convert_to_tensor(noise, tf.float32))
        return {"elbo": (reconstruction - kl).numpy(), "reconstruction": reconstruction.numpy(), "kl": kl.numpy()}

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
        x = tf.convert_to_tensor(x, tf.float32)
        n = int(x.shape[0])
        batch_size = int(batch_size or max(1, 8192 // k))
        out = []
        for chunk, start in enumerate(range(0, n, batch_size)):
            seed_pair = tf.constant([int(seed), chunk * _NUM_STREAMS + _STREAM_IW], tf.int64)
            out.append(self._iw_bound(x[start : start + batch_size], k, seed_pair).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros([0])

    def _iw_bound(self, x, k, seed):
        q = self.posterior(x)
        b = tf.shape(x)[0]
        eps = draw_latent("normal", tf.stack([k, b, self.latent_dim]), seed)
        z = q.loc + q.stddev() * eps  # [K, b, latent]
        log_q = q.log_prob(z)
        log_prior = self.prior_distribution().log_prob(z)
        out = self.decoder(tf.reshape(z, [-1, self.latent_dim]), training=False)
        out = tf.reshape(tf.cast(out, tf.float32), tf.concat([[k, b], tf.shape(out)[1:]], 0))
        if self.likelihood == "gaussian":
            base = tfd.Normal(loc=out, scale=self.likelihood_scale())
        else:
            base = tfd.Bernoulli(logits=out, dtype=tf.float32)
        log_lik = tfd.Independent(base, len(self.sample_shape)).log_prob(self._targets(x))
        log_w = tf.cast(log_lik + log_prior - log_q, tf.float64)
        return tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(tf.cast(k, tf.float64))

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
        return draw_latent("normal", [int(num), self.latent_dim], tf.constant([int(seed), 0], tf.int64))

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
        if labels is not None:
            raise ValueError("labels were given, but this model is not conditional (num_classes is None).")
        z = self.sample_latent(num, seed)
        return self._map(self.generator, z, batch_size)

    def reconstruct(self, x, batch_size=256):
        """Decoder mean at the posterior mean: ``E[x | z = mu(x)]``, numpy in ``[-1, 1]``.

        Args:
            x: samples ``[n, *sample_shape]``.
            batch_size: batch size.

        Returns:
            A numpy array of the shape of ``x``.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        mu = tf.concat([self.posterior(x[i : i + batch_size]).loc for i in range(0, int(x.shape[0]), batch_size)], 0)
        return self._map(self.generator, mu, batch_size)

    @staticmethod
    def _map(model, inputs, batch_size):
        out = [keras.ops.convert_to_numpy(model(inputs[i : i + batch_size], training=False))
               for i in range(0, int(inputs.shape[0]), batch_size)]
        return np.concatenate(out, axis=0) if out else np.zeros([0])

    def call(self, x, training=False):
        """Reconstructs ``x``: the decoder mean at the posterior mean."""
        mu = self.posterior(x, training=training).loc
        return self.generator(mu, training=training)

    # ------------------------------------------------------------ training
    def _noise(self, local_n, stream, counter):
        """This replica's slice of a global N(0, I) batch (see :func:`keras_gan.models.replica_noise`)."""
        return replica_noise(
            self.seed, tf.cast(counter, tf.int64) * _NUM_STREAMS + stream, local_n,
            lambda n, s: draw_latent("normal", tf.stack([n, self.latent_dim]), s),
        )

    def _update_metrics(self, reconstruction, kl):
        self.elbo_tracker.update_state(reconstruction - kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        eps = self._noise(tf.shape(x)[0], _STREAM_TRAIN, self.optimizer.iterations)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            reconstruction, kl = self._terms(x, eps, training=True)
            # Negative (beta-weighted) ELBO, averaged over this replica's examples.
            loss = -tf.reduce_mean(reconstruction - self.beta * kl)
            # Per-replica mean / replicas: the all-reduced sum is the global mean.
            scaled = self.optimizer.scale_loss(loss / tf.cast(num_replicas, loss.dtype))
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._update_metrics(reconstruction, kl)

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        eps = self._noise(tf.shape(x)[0], _STREAM_TEST, 0)
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
