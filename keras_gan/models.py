"""Adversarial models: one training loop (algorithm 13.1) in a ``keras.Model``.

:class:`AdversarialModel` holds a generator ``G(z; theta)`` and a
discriminator ``D(x; phi)`` (two plain Keras models) and a latent prior. Its
``train_step`` runs algorithm 13.1 of the notes under ``model.fit``:

1. K times: take a fresh minibatch of M real samples and M noise samples,
   update the discriminator by one gradient step on the discriminator loss;
2. take M fresh noise samples and update the generator by one gradient step.

**How the K fresh minibatches are drawn.** Each batch that ``fit`` delivers
holds ``K * M`` real samples (the data pipeline batches ``K * M``; see
:func:`keras_gan.data.load`). Discriminator step ``k`` uses rows
``k, k + K, k + 2K, ...`` (a strided split). Under ``tf.distribute`` every
replica splits its own shard the same way, so the union over replicas of the
rows used at step ``k`` is exactly the rows a single device uses: one device
and N replicas train on the same minibatches.

**Noise.** Latent vectors come from a stateless generator seeded by
``(seed, optimizer iterations)``: every update sees fresh noise, a resumed
run draws the same noise as an uninterrupted one, and under ``tf.distribute``
each replica takes its own slice of the global noise batch (replicas differ,
and N replicas see the noise one device would).

Variants are a loss name plus options of :meth:`AdversarialModel.compile`
(gradient penalty, R1, weight clipping), or a small factory (:func:`GAN`,
:func:`DCGAN`); the loop stays here, once.
"""

import keras
import tensorflow as tf

from keras_gan import _keras_compat
from keras_gan import losses as losses_lib
from keras_gan import networks
from keras_gan.optimizers import FusedAdam

PRIORS = ("uniform", "normal")

# Streams of the stateless noise generator, so that no two draws share a seed.
_STREAM_D_NOISE, _STREAM_G_NOISE, _STREAM_PENALTY, _STREAM_LABELS = 0, 1, 2, 3
_NUM_STREAMS = 4


def draw_latent(prior, shape, seed):
    """Draws latent vectors from a prior with TensorFlow's stateless Philox generator.

    The algorithm is fixed (not ``auto_select``) and normals come from the
    inverse CDF of uniforms, so that XLA, CPU, GPU and exported graphs draw the
    same numbers for the same seed.

    Args:
        prior: ``"uniform"`` (U(-1, 1)) or ``"normal"`` (N(0, I)).
        shape: output shape.
        seed: int64 tensor of shape ``[2]``.

    Returns:
        A float32 tensor of ``shape``.
    """
    if prior == "uniform":
        return tf.random.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0, alg="philox")
    if prior == "normal":
        # Inverse-CDF of Philox uniforms: tf.random.stateless_normal draws different
        # numbers under XLA than on the CPU kernels; this form draws the same everywhere.
        u = tf.random.stateless_uniform(shape, seed, minval=1e-7, maxval=1.0, alg="philox")
        return tf.math.ndtri(u)
    raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")


def replica_noise(seed, counter, local_n, draw):
    """This replica's slice of a global noise batch seeded by ``(seed, counter)``.

    Every replica draws the same global batch of ``local_n * replicas`` rows
    and keeps rows ``[r * local_n, (r + 1) * local_n)``: replicas differ, and N
    replicas use exactly the noise one device would for the global batch.

    Args:
        seed: integer model seed.
        counter: int64 scalar tensor that differs for every draw (a step
            counter combined with a stream index).
        local_n: rows this replica needs.
        draw: ``draw(num_rows, seed_tensor_of_shape_2) -> tensor``.

    Returns:
        ``local_n`` rows of the global draw.
    """
    ctx = tf.distribute.get_replica_context()
    num_replicas = ctx.num_replicas_in_sync if ctx is not None else 1
    replica_id = ctx.replica_id_in_sync_group if ctx is not None else 0
    global_noise = draw(local_n * num_replicas, tf.stack([tf.constant(int(seed), tf.int64), counter]))
    start = tf.cast(replica_id, tf.int32) * local_n
    return global_noise[start : start + local_n]


@keras.saving.register_keras_serializable(package="keras_gan")
class AdversarialModel(keras.Model):
    """A GAN trained by algorithm 13.1 under ``model.fit``.

    Args:
        generator: ``keras.Model`` mapping ``z`` ``[batch, latent_dim]`` to samples.
        discriminator: ``keras.Model`` mapping samples to one logit each, ``[batch, 1]``.
        latent_dim: size of ``z``; read from the generator's input if omitted.
        prior: ``"uniform"`` for U(-1, 1) (the notes' DCGAN) or ``"normal"`` for N(0, I).
        seed: seed of the stateless noise generator used in ``train_step``.
        num_classes: for a conditional GAN, the number of classes: both
            players then take ``[input, label]``, the dataset yields
            ``(samples, labels)``, and fake samples get uniformly drawn labels.
        ema_decay: keep an exponential moving average of the generator's
            weights, ``w_ema <- decay * w_ema + (1 - decay) * w`` after every
            generator update, in :attr:`ema_generator`; :meth:`generate` and
            the exporters use it. ``None`` disables it.
        **kwargs: passed to ``keras.Model`` (``name``...).

    Example:

    >>> import keras_gan
    >>> g = keras_gan.networks.mlp_generator(data_dim=2, latent_dim=2)
    >>> d = keras_gan.networks.mlp_discriminator(data_dim=2)
    >>> gan = keras_gan.models.AdversarialModel(g, d, prior="normal")
    >>> gan.compile(loss="non_saturating", d_steps=1)
    >>> # gan.fit(dataset_of_batches_of_K_times_M_samples, epochs=10)
    """

    def __init__(
        self, generator, discriminator, latent_dim=None, prior="uniform", seed=0, num_classes=None,
        ema_decay=None, **kwargs,
    ):
        super().__init__(**kwargs)
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")
        inferred = generator.inputs[0].shape[-1] if getattr(generator, "inputs", None) else None
        self.latent_dim = int(latent_dim if latent_dim is not None else inferred)
        if inferred is not None and int(inferred) != self.latent_dim:
            raise ValueError(
                f"latent_dim={latent_dim} does not match the generator's input size {inferred}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.prior = prior
        self.seed = int(seed)
        self.num_classes = int(num_classes) if num_classes else None
        if self.num_classes is not None and len(generator.inputs) != 2:
            raise ValueError(
                f"num_classes={num_classes} needs a conditional generator taking [z, label]; "
                f"this one has {len(generator.inputs)} input(s)."
            )
        if ema_decay is not None and not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) or None, got {ema_decay}.")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_generator = None
        if self.ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.loss_name = None
        self.d_steps = 1
        # Both players are built functional models: mark the whole model built so
        # that Keras never traces `call` on a data batch to build it (keras #20164).
        self.built = True

    # ------------------------------------------------------------------ API
    def call(self, z, training=False):
        """Generates samples: ``G(z)`` (``G([z, labels])`` for a conditional model)."""
        return self.generator(z, training=training)

    def _g(self, z, labels, training=True):
        return self.generator([z, labels] if self.num_classes else z, training=training)

    def _d(self, x, labels, training=True):
        return self.discriminator([x, labels] if self.num_classes else x, training=training)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        loss="non_saturating",
        d_steps=1,
        gradient_penalty=0.0,
        r1_gamma=0.0,
        clip_weights=None,
        **kwargs,
    ):
        """Configures both players' training.

        Args:
            g_optimizer: generator optimizer (instance, name or config);
                default :class:`~keras_gan.optimizers.FusedAdam` (Keras' Adam on one
                fused op) with learning rate 2e-4, beta_1 0.5 as in DCGAN.
            d_optimizer: discriminator optimizer; same default. Separate
                learning rates for the two players (TTUR) come from here.
            loss: a name from :data:`keras_gan.losses.NAMES`: ``"minimax"``
                (the notes' saturating objective), ``"non_saturating"``,
                ``"wasserstein"``, ``"hinge"``, ``"least_squares"``.
            d_steps: K of algorithm 13.1, discriminator updates per generator
                update. Each batch from the dataset must hold ``K * M`` samples.
            gradient_penalty: lambda of the WGAN-GP penalty
                ``lambda * E[(||grad D(x_hat)||_2 - 1)^2]`` on random
                interpolates (0 disables it).
            r1_gamma: gamma of the R1 penalty ``gamma / 2 * E[||grad D(x)||^2]``
                on real data (0 disables it).
            clip_weights: clip every discriminator weight to
                ``[-c, c]`` after each update (WGAN); ``None`` disables it.
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``).
        """
        if kwargs.get("loss") is not None or kwargs.get("optimizer") is not None:
            raise ValueError("Pass g_optimizer/d_optimizer and a loss name, not `optimizer`.")
        losses_lib.get(loss)  # validates the name
        d_steps = int(d_steps)
        if d_steps < 1:
            raise ValueError(f"d_steps must be an integer >= 1, got {d_steps}.")
        for key, value in (("gradient_penalty", gradient_penalty), ("r1_gamma", r1_gamma)):
            if float(value) < 0:
                raise ValueError(f"{key} must be >= 0, got {value}.")
        if clip_weights is not None and float(clip_weights) <= 0:
            raise ValueError(f"clip_weights must be > 0 or None, got {clip_weights}.")
        self.loss_name = loss
        self.d_steps = d_steps
        self.gradient_penalty = float(gradient_penalty)
        self.r1_gamma = float(r1_gamma)
        self.clip_weights = None if clip_weights is None else float(clip_weights)
        self._d_loss_fn, self._g_loss_fn, self._sigmoid_output = losses_lib.get(loss)

        self.g_optimizer = self._make_optimizer(g_optimizer)
        self.d_optimizer = self._make_optimizer(d_optimizer)
        kwargs.setdefault("jit_compile", False)  # XLA is slow for CPU transposed convs: opt in
        # `self.optimizer` is the generator's optimizer: its `iterations` counts train steps.
        super().compile(optimizer=self.g_optimizer, auto_scale_loss=False, **kwargs)
        # Build both optimizers now, before the first (possibly distributed) step.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _make_optimizer(self, optimizer):
        if optimizer is None:
            optimizer = FusedAdam(learning_rate=2e-4, beta_1=0.5)
        optimizer = keras.optimizers.get(optimizer)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            # Keras wraps only `self.optimizer`; a GAN has two (tensorflow #49368).
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    # ------------------------------------------------------------- sampling
    def sample_latent(self, num, seed):
        """Draws ``num`` latent vectors from the prior with a fixed seed.

        Args:
            num: number of vectors.
            seed: integer seed; the same seed gives the same vectors.

        Returns:
            A float32 tensor ``[num, latent_dim]``.
        """
        return self._draw_prior([int(num), self.latent_dim], tf.constant([int(seed), 0], tf.int64))

    def generate(self, num, seed=0, labels=None, batch_size=256):
        """Generates ``num`` samples from noise drawn with ``seed``.

        Uses the moving-average generator when ``ema_decay`` is set.

        Args:
            num: number of samples.
            seed: seed of the latent vectors.
            labels: for a conditional model, one class per sample (or one int
                for all); by default the classes in turn ``0, 1, ..., 0, 1, ...``.
            batch_size: generator batch size.

        Returns:
            A numpy array ``[num, *sample_shape]`` (images in ``[-1, 1]``).

        Raises:
            ValueError: for labels on an unconditional model, or labels out of range.
        """
        import numpy as np

        num = int(num)
        generator = self.ema_generator if self.ema_generator is not None else self.generator
        z = self.sample_latent(num, seed)
        if self.num_classes:
            labels = np.arange(num) % self.num_classes if labels is None else np.broadcast_to(labels, (num,))
            labels = tf.constant(np.asarray(labels, np.int32))
            if labels.numpy().min() < 0 or labels.numpy().max() >= self.num_classes:
                raise ValueError(
                    f"labels must be in [0, {self.num_classes - 1}], got {sorted(set(labels.numpy().tolist()))}."
                )
        elif labels is not None:
            raise ValueError("labels were given, but this model is not conditional (num_classes is None).")
        out = []
        for i in range(0, num, batch_size):
            inputs = [z[i : i + batch_size], labels[i : i + batch_size]] if self.num_classes else z[i : i + batch_size]
            out.append(keras.ops.convert_to_numpy(generator(inputs, training=False)))
        return np.concatenate(out, axis=0)

    def _draw_prior(self, shape, seed):
        return draw_latent(self.prior, shape, seed)

    def _replica_noise(self, local_n, stream, counter, draw):
        return replica_noise(self.seed, tf.cast(counter, tf.int64) * _NUM_STREAMS + stream, local_n, draw)

    def _latent(self, local_n, stream, counter):
        return self._replica_noise(
            local_n, stream, counter, lambda n, s: self._draw_prior(tf.stack([n, self.latent_dim]), s)
        )

    # ------------------------------------------------------------- training
    def _fake_labels(self, local_n, counter):
        if not self.num_classes:
            return None
        return self._replica_noise(
            local_n, _STREAM_LABELS, counter,
            lambda n, s: tf.random.stateless_uniform(
                tf.stack([n]), s, 0, self.num_classes, dtype=tf.int32, alg="philox"
            ),
        )

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        labels = None
        if self.num_classes:
            if not isinstance(data, (tuple, list)) or len(data) < 2:
                raise ValueError("A conditional model (num_classes set) needs a dataset of (samples, labels).")
            labels = tf.cast(data[1], tf.int32)
        k = self.d_steps
        batch = tf.shape(real)[0]
        static_batch = real.shape[0]
        if static_batch is not None and static_batch % k != 0:
            raise ValueError(
                f"Each batch must hold d_steps * M samples; got a batch of {static_batch} "
                f"with d_steps={k}. Batch the dataset by a multiple of d_steps."
            )
        if static_batch is None:
            check = tf.debugging.assert_equal(
                batch % k, 0,
                message=f"Each batch must hold d_steps * M samples with d_steps={k}; "
                "batch the dataset by a multiple of d_steps (drop_remainder=True).",
            )
            with tf.control_dependencies([check]):
                real = tf.identity(real)
                batch = tf.identity(batch)
        m = batch // k
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # Stage 1: K discriminator updates, each on a fresh minibatch of M real
        # samples (a strided slice of the batch) and M fresh noise samples.
        d_vars = self.discriminator.trainable_variables
        for step in range(k):
            x = real[step::k]
            y = labels[step::k] if labels is not None else None
            z = self._latent(m, _STREAM_D_NOISE, self.d_optimizer.iterations)
            y_fake = self._fake_labels(m, self.d_optimizer.iterations)
            with tf.GradientTape() as tape:
                fake = self._g(z, y_fake)
                real_logits = self._d(x, y)
                fake_logits = self._d(fake, y_fake)
                d_loss = tf.reduce_mean(self._d_loss_fn(real_logits, fake_logits))
                d_total = d_loss + self._penalties(x, fake, y, y_fake)
                # Per-replica mean / replicas: the all-reduced sum is the global mean.
                scaled = self.d_optimizer.scale_loss(d_total / num_replicas)
            grads = tape.gradient(scaled, d_vars)
            self.d_optimizer.apply_gradients(zip(grads, d_vars))
            if self.clip_weights is not None:
                for v in d_vars:
                    v.assign(tf.clip_by_value(v, -self.clip_weights, self.clip_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.d_real_tracker.update_state(self._d_output(real_logits))
            self.d_fake_tracker.update_state(self._d_output(fake_logits))

        # Stage 2: one generator update on M fresh noise samples.
        g_vars = self.generator.trainable_variables
        z = self._latent(m, _STREAM_G_NOISE, self.g_optimizer.iterations)
        y_fake = self._fake_labels(m, self.g_optimizer.iterations + (1 << 40))
        with tf.GradientTape() as tape:
            fake = self._g(z, y_fake)
            fake_logits = self._d(fake, y_fake)
            g_loss = tf.reduce_mean(self._g_loss_fn(fake_logits))
            scaled = self.g_optimizer.scale_loss(g_loss / num_replicas)
        grads = tape.gradient(scaled, g_vars)
        self.g_optimizer.apply_gradients(zip(grads, g_vars))
        if self.ema_generator is not None:
            self._update_ema()
        self.g_loss_tracker.update_state(g_loss)
        return _keras_compat.step_logs(self.distribute_strategy, {m_.name: m_.result() for m_ in self.metrics})

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Both players and both optimizers are built already: nothing to trace.
        # Skipping also avoids the multi-worker failure described in _keras_compat.
        if self.built and self.g_optimizer.built and self.d_optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _update_ema(self):
        decay = self.ema_decay
        for ema, w in zip(self.ema_generator.weights, self.generator.weights):
            if w.trainable:
                ema.assign(decay * ema + (1.0 - decay) * w)
            else:  # batch-norm statistics are copied, not averaged
                ema.assign(w)

    def _d_output(self, logits):
        logits = tf.cast(tf.reshape(logits, [-1]), tf.float32)
        return tf.sigmoid(logits) if self._sigmoid_output else logits

    def _penalties(self, real, fake, real_labels=None, fake_labels=None):
        """Gradient penalties on the discriminator, computed in float32 (tensorflow #48662)."""
        total = tf.constant(0.0, tf.float32)
        if self.gradient_penalty > 0:
            eps = self._replica_noise(
                tf.shape(real)[0], _STREAM_PENALTY, self.d_optimizer.iterations,
                lambda n, s: tf.random.stateless_uniform(tf.stack([n]), s, alg="philox"),  # U(0, 1), not a normal
            )
            eps = tf.reshape(eps, [-1] + [1] * (len(real.shape) - 1))
            real32, fake32 = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
            x_hat = eps * real32 + (1.0 - eps) * fake32
            norms = self._input_gradient_norms(x_hat, real_labels)
            total += self.gradient_penalty * tf.reduce_mean(tf.square(norms - 1.0))
        if self.r1_gamma > 0:
            norms = self._input_gradient_norms(tf.cast(real, tf.float32), real_labels)
            total += 0.5 * self.r1_gamma * tf.reduce_mean(tf.square(norms))
        return total

    def _input_gradient_norms(self, x, labels=None):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(tf.cast(self._d(x, labels), tf.float32))
        grads = tape.gradient(total, x)
        return tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(x)[0], -1])), axis=1) + 1e-12)

    # ------------------------------------------------------- serialization
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "prior": self.prior,
            "seed": self.seed,
            "num_classes": self.num_classes,
            "ema_decay": self.ema_decay,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def get_compile_config(self):
        if self.loss_name is None:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "loss": self.loss_name,
            "d_steps": self.d_steps,
            "gradient_penalty": self.gradient_penalty,
            "r1_gamma": self.r1_gamma,
            "clip_weights": self.clip_weights,
            "jit_compile": bool(self.jit_compile),
            "steps_per_execution": int(self.steps_per_execution),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)


def GAN(
    data_dim=2, latent_dim=2, hidden_units=128, num_layers=3, prior="normal", seed=0, num_classes=None,
    num_packed=1, spectral_norm=False, ema_decay=None, name="gan",
):
    """The original GAN (Goodfellow et al. 2014) with MLP players, for low-dimensional data.

    Args:
        data_dim: dimension of the samples.
        latent_dim: size of ``z``.
        hidden_units: width of the hidden layers of both players.
        num_layers: hidden layers of both players.
        prior: ``"normal"`` or ``"uniform"``.
        seed: noise seed of the training step.
        num_classes: conditional GAN with this many classes.
        num_packed: PacGAN: the discriminator judges this many samples at once.
        spectral_norm: spectral normalization in the discriminator.
        ema_decay: moving average of the generator's weights (see :class:`AdversarialModel`).
        name: model name.

    Returns:
        An uncompiled :class:`AdversarialModel`.

    Example:

    >>> gan = GAN(data_dim=2)
    >>> gan.compile(loss="minimax")
    """
    return AdversarialModel(
        networks.mlp_generator(data_dim, latent_dim, hidden_units, num_layers, num_classes),
        networks.mlp_discriminator(data_dim, hidden_units, num_layers, spectral_norm, num_classes, num_packed),
        latent_dim=latent_dim, prior=prior, seed=seed, num_classes=num_classes, ema_decay=ema_decay, name=name,
    )


def DCGAN(
    image_shape=(64, 64, 3),
    latent_dim=100,
    base_filters=128,
    kernel_size=5,
    num_upsamplings=None,
    discriminator_batch_norm=True,
    synchronized_batch_norm=False,
    prior="uniform",
    seed=0,
    num_classes=None,
    num_packed=1,
    spectral_norm=False,
    ema_decay=None,
    name="dcgan",
):
    """DCGAN of the notes' figure 13.9 (exactly, at the defaults), at any resolution.

    Args:
        image_shape: ``(size, size, channels)``; 64x64x3 in the figure.
        latent_dim: size of ``z`` (100 in the figure).
        base_filters: width of the generator's last hidden layer and the
            discriminator's first (128 in the figure: 1024-512-256-128).
        kernel_size: 5 in the figure.
        num_upsamplings: stride-2 layers; see :func:`keras_gan.networks.dcgan_layout`.
        discriminator_batch_norm: batch norm in the discriminator (turn off for WGAN-GP).
        synchronized_batch_norm: synchronize batch statistics across replicas.
        prior: ``"uniform"`` (the figure) or ``"normal"``.
        seed: noise seed of the training step.
        num_classes: conditional DCGAN (label embedding into G, projection discriminator).
        num_packed: PacGAN packing in the discriminator.
        spectral_norm: spectral normalization in the discriminator.
        ema_decay: moving average of the generator's weights.
        name: model name.

    Returns:
        An uncompiled :class:`AdversarialModel`.
    """
    return AdversarialModel(
        networks.dcgan_generator(
            image_shape, latent_dim, base_filters, kernel_size, num_upsamplings, synchronized_batch_norm,
            num_classes,
        ),
        networks.dcgan_discriminator(
            image_shape, base_filters, kernel_size, num_upsamplings, discriminator_batch_norm,
            synchronized_batch_norm, spectral_norm, num_classes, num_packed,
        ),
        latent_dim=latent_dim, prior=prior, seed=seed, num_classes=num_classes, ema_decay=ema_decay, name=name,
    )


# The VAE of seed section 6.2 lives in keras_gan/vae.py (it uses draw_latent above).
from keras_gan.vae import VAE  # noqa: E402,F401
