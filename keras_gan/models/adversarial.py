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

**Backends.** The step is written once with ``keras.ops``; it runs under
``model.fit`` on the JAX, TensorFlow and PyTorch backends of Keras 3. What
differs per backend (gradients, the JAX trainer's state, stateless random
numbers) is the small :mod:`keras_gan.models._backend`.

**Augmentation.** ``compile(augment="diffaugment" | "ada")`` augments what
the discriminator sees (:mod:`keras_gan.augment`): real and fake images in
every discriminator step, fake images in the generator step (the generator's
gradient passes through the augmentation). Its random numbers come from the
same counter-based generator as the noise, on counter ranges of their own, so
``augment=None`` draws exactly what it drew before augmentation existed. ADA's
probability ``p`` and its accumulators are non-trainable variables of the
augmentation layer (:attr:`AdversarialModel.augmenter`): the JAX step threads
them, checkpoints keep them, and ``p`` is logged as the metric ``ada_p``.

Variants are a loss name plus options of :meth:`AdversarialModel.compile`
(gradient penalty, R1, weight clipping, augmentation), or a small factory
(:func:`GAN`, :func:`DCGAN`); the loop stays here, once.
"""

import keras
import numpy as np
from keras import ops

from keras_gan import augment as augment_lib
from keras_gan import losses as losses_lib
from keras_gan import networks
from keras_gan.models import _backend
from keras_gan.models.noise import PRIORS, draw_latent, replica_noise
from keras_gan.optimizers import FusedAdam

# Streams of the stateless noise generator, so that no two draws share a seed.
_STREAM_D_NOISE, _STREAM_G_NOISE, _STREAM_PENALTY, _STREAM_LABELS = 0, 1, 2, 3
_NUM_STREAMS = 4
# The generator step's fake labels get a counter range of their own, far from the discriminator's.
_G_LABEL_OFFSET = {"int64": 1 << 40, "int32": 1 << 28}
# Augmentation seeds: stream _STREAM_LABELS on counter ranges no other draw reaches, one for the
# discriminator steps and one for the generator step (int32: [2^27, 2^28) and [3 * 2^27, 2^29), so
# counter * _NUM_STREAMS + stream stays below 2^31). The existing streams' numbers are unchanged.
_AUGMENT_OFFSET = {"int64": (1 << 41, 1 << 42), "int32": (1 << 27, 3 << 27)}
#: Values of ``compile(augment=...)``.
AUGMENT_MODES = (None, "diffaugment", "ada")


class _PlayerOptimizers(keras.optimizers.Optimizer):
    """Both players' optimizers, as the model's one ``optimizer``.

    Keras' JAX trainer carries the state of one optimizer through the jitted
    step (``model.optimizer.variables``); kept outside it, the generator's
    Adam state would be dropped every step. This optimizer applies nothing
    itself: its variables are both players' (as ``LossScaleOptimizer``'s are
    its inner optimizer's), its ``iterations`` and ``learning_rate`` are the
    generator's (one per train step), and each player saves its own state.
    """

    def __init__(self, g_optimizer, d_optimizer, name="players"):
        super().__init__(learning_rate=0.0, name=name)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def build(self, var_list):
        super().build([])  # the players are built by AdversarialModel.compile

    @property
    def variables(self):
        return self.g_optimizer.variables + self.d_optimizer.variables

    @property
    def iterations(self):
        return self.g_optimizer.iterations

    @property
    def learning_rate(self):
        return self.g_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.g_optimizer.learning_rate = learning_rate

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("Apply each player's optimizer: model.g_optimizer or model.d_optimizer.")

    def save_own_variables(self, store):
        pass  # g_optimizer and d_optimizer are saved as the model's own attributes

    def load_own_variables(self, store):
        pass


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
            for average, weight in zip(self.ema_generator.weights, generator.weights):
                average.assign(keras.ops.copy(weight))  # on the device (no host copy of a weight sharded over processes)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.loss_name = None
        self.d_steps = 1
        self.augment, self.augment_policy, self.ada_target, self.ada_kimg = None, None, 0.6, 500.0
        self.augmenter = None
        # Both players are built functional models: mark the whole model built so
        # that Keras never traces `call` on a data batch to build it (keras #20164).
        self.built = True

    # ------------------------------------------------------------------ API
    def call(self, z, training=False):
        """Generates samples: ``G(z)`` (``G([z, labels])`` for a conditional model)."""
        return self.generator(z, training=training)

    def _g(self, z, labels, training=True):
        return _backend.apply(self.generator, [z, labels] if self.num_classes else z, training)

    def _d(self, x, labels, training=True):
        return _backend.apply(self.discriminator, [x, labels] if self.num_classes else x, training)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    @property
    def ada_p(self):
        """ADA's current augmentation probability ``p`` (a float), or ``None`` unless ``augment="ada"``."""
        if not isinstance(self.augmenter, augment_lib.AdaptiveAugment):
            return None
        return float(ops.convert_to_numpy(self.augmenter.p))

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        loss="non_saturating",
        d_steps=1,
        gradient_penalty=0.0,
        r1_gamma=0.0,
        clip_weights=None,
        augment=None,
        augment_policy=None,
        ada_target=0.6,
        ada_kimg=500.0,
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
            augment: augmentation of the discriminator's inputs (images only):
                ``None`` (off; the step is bit-identical to a model compiled
                without this argument), ``"diffaugment"`` (DiffAugment, Zhao et al.
                2020: real and fake images in every discriminator step and fake
                images in the generator step go through the same random family
                of transformations, independently drawn per image; the generator's
                gradient passes through it) or ``"ada"`` (ADA, Karras et al. 2020:
                each transformation applied with probability ``p``, adjusted every
                4 discriminator steps from ``E[sign(D(real))]``; logged as
                ``ada_p``). The penalties see what ``D`` sees: R1 is taken at
                the augmented reals, the gradient penalty at interpolates of
                augmented reals and fakes, both with respect to ``D``'s input.
            augment_policy: comma-separated transformations: for
                ``"diffaugment"`` from ``color``, ``translation``, ``cutout``; for
                ``"ada"`` from ``blit``, ``color``; ``None`` for all of them.
            ada_target: ADA's target of ``E[sign(D(real))]`` (0.6 in the paper);
                ``p`` rises while the discriminator's sign mean on (augmented)
                real images is above it and falls while it is below.
            ada_kimg: thousands of real images for ``p`` to move by 1 (500 in the paper).
            **kwargs: passed to ``keras.Model.compile``: ``steps_per_execution``,
                ``run_eagerly``, ``jit_compile`` (default: ``True`` on JAX, where
                the step is one jitted function, ``False`` on TensorFlow, where
                XLA made the DCGAN's transposed convolutions slower on CPU, and on torch).

        Raises:
            ValueError: for a bad value (named, with what is allowed), e.g.
                ``augment`` on a discriminator whose inputs are not images.

        Example:

        >>> gan = DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8)
        >>> gan.compile(augment="diffaugment", augment_policy="translation,cutout")
        >>> gan.compile(augment="ada", ada_target=0.6)  # gan.ada_p is 0.0 before training
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
        if _backend.backend() == "torch" and any(
            isinstance(layer, keras.layers.SpectralNormalization) for layer in self.discriminator._flatten_layers()
        ):
            raise ValueError(
                "Spectral normalization does not train on the torch backend: Keras' SpectralNormalization "
                "rewrites its kernel in place in every training forward pass, which torch autograd rejects "
                "when D runs twice in a step. Use KERAS_BACKEND=jax or tensorflow for spectral_norm."
            )
        augment_args = self._check_augment(augment, augment_policy, ada_target, ada_kimg)
        self.loss_name = loss
        self.d_steps = d_steps
        self._set_augmenter(*augment_args)
        self.gradient_penalty = float(gradient_penalty)
        self.r1_gamma = float(r1_gamma)
        self.clip_weights = None if clip_weights is None else float(clip_weights)
        self._d_loss_fn, self._g_loss_fn, self._sigmoid_output = losses_lib.get(loss)

        self.g_optimizer = self._make_optimizer(g_optimizer)
        self.d_optimizer = self._make_optimizer(d_optimizer)
        self._jit_compile_arg = kwargs.pop("jit_compile", None)
        # `self.optimizer` holds both players; its `iterations` (the generator's) counts train steps.
        super().compile(
            optimizer=_PlayerOptimizers(self.g_optimizer, self.d_optimizer), auto_scale_loss=False,
            jit_compile=_backend.jit_compile(self._jit_compile_arg), **kwargs,
        )
        # Build both optimizers now, before the first (possibly distributed) step.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _check_augment(self, augment, policy, target, kimg):
        if augment not in AUGMENT_MODES:
            raise ValueError(f"augment must be one of {AUGMENT_MODES}, got {augment!r}.")
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"ada_target must be in [0, 1], got {target}.")
        if not float(kimg) > 0.0:
            raise ValueError(f"ada_kimg must be > 0, got {kimg}.")
        if augment is None:
            if policy is not None:
                raise ValueError(f"augment_policy={policy!r} needs augment='diffaugment' or 'ada', got augment=None.")
            return None, None, float(target), float(kimg)
        try:
            names = augment_lib.parse_policy(policy, augment)
        except ValueError as error:  # the config's UsageError, without its "config: " prefix
            raise ValueError(str(error).removeprefix("config: ")) from None
        inputs = getattr(self.discriminator, "inputs", None)
        shape = tuple(inputs[0].shape) if inputs else None
        if shape is not None and len(shape) != 4:
            raise ValueError(
                f"augment={augment!r} augments images [batch, height, width, channels]; this discriminator "
                f"takes inputs of shape {shape} (non-image data): use augment=None."
            )
        if shape is not None and augment == "ada" and "color" in names and shape[-1] not in (1, 3):
            raise ValueError(f"augment='ada' with 'color' needs 1 or 3 channels, got {shape[-1]}; "
                             "use augment_policy='blit'.")
        return augment, None if policy is None else ",".join(names), float(target), float(kimg)

    def _set_augmenter(self, augment, policy, target, kimg):
        """Creates (or keeps) the augmentation layer; recompiling with the same ADA options keeps ``p``."""
        old = self.augmenter
        same = (augment, policy, target, kimg) == (self.augment, self.augment_policy, self.ada_target, self.ada_kimg)
        self.augment, self.augment_policy, self.ada_target, self.ada_kimg = augment, policy, target, kimg
        if old is not None and same:
            return
        if old is not None:  # forget the old layer and its variables (Keras untracks variables, not layers, on del)
            self._tracker.untrack(old)
        if augment == "diffaugment":
            self.augmenter = augment_lib.DiffAugment(policy, seed=self.seed, name="diff_augment")
        elif augment == "ada":
            self.augmenter = augment_lib.AdaptiveAugment(target, kimg, policy=policy, seed=self.seed, name="ada")
        else:
            self.augmenter = None

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
            seed: integer seed; the same seed gives the same vectors (on one backend).

        Returns:
            A float32 tensor ``[num, latent_dim]``.
        """
        return self._draw_prior([int(num), self.latent_dim], np.array([int(seed), 0], np.int64))

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
        num = int(num)
        with _backend.no_grad():
            z = self.sample_latent(num, seed)
        return self.generate_from(z, labels, batch_size)

    def generate_from(self, z, labels=None, batch_size=256):
        """Generates one sample per latent vector (the moving-average generator when ``ema_decay`` is set).

        Args:
            z: ``[num, latent_dim]`` latent vectors (e.g. :meth:`sample_latent`, truncated or interpolated
                with :func:`keras_gan.models.noise.truncate` / :func:`~keras_gan.models.noise.interpolate`).
            labels: as in :meth:`generate`.
            batch_size: generator batch size.

        Returns:
            A numpy array ``[num, *sample_shape]``.

        Example:

        >>> from keras_gan.models import noise  # doctest: +SKIP
        >>> mean_image = model.generate_from(noise.truncate(model.sample_latent(1, 0), 0.0, model.prior))  # doctest: +SKIP
        """
        z = ops.convert_to_tensor(np.asarray(z, np.float32))
        if len(z.shape) != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [num, {self.latent_dim}], got shape {tuple(z.shape)}.")
        num = int(z.shape[0])
        generator = self.ema_generator if self.ema_generator is not None else self.generator
        if self.num_classes:
            labels = np.arange(num) % self.num_classes if labels is None else np.broadcast_to(labels, (num,))
            labels = np.asarray(labels, np.int32)
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(
                    f"labels must be in [0, {self.num_classes - 1}], got {sorted(set(labels.tolist()))}."
                )
        elif labels is not None:
            raise ValueError("labels were given, but this model is not conditional (num_classes is None).")
        out = []
        with _backend.inference():
            for i in range(0, num, batch_size):
                zi = z[i : i + batch_size]
                inputs = [zi, ops.convert_to_tensor(labels[i : i + batch_size])] if self.num_classes else zi
                out.append(ops.convert_to_numpy(generator(inputs, training=False)))
        return np.concatenate(out, axis=0)

    def _draw_prior(self, shape, seed):
        return draw_latent(self.prior, shape, seed)

    def _replica_noise(self, local_n, stream, counter, draw):
        counter = ops.cast(counter, _backend.counter_dtype()) * _NUM_STREAMS + stream
        return replica_noise(self.seed, counter, local_n, draw)

    def _latent(self, local_n, stream, counter):
        return self._replica_noise(local_n, stream, counter, lambda n, s: self._draw_prior([n, self.latent_dim], s))

    def _fake_labels(self, local_n, counter):
        if not self.num_classes:
            return None
        return self._replica_noise(
            local_n, _STREAM_LABELS, counter,
            lambda n, s: _backend.stateless_uniform([n], s, 0, self.num_classes, dtype="int32"),
        )

    def _augment_seeds(self, phase, counter, num):
        """``num`` seeds ``[2]`` (int32) for this step's augmentation; ``phase`` 0: D steps, 1: the G step.

        Counter-based like the noise: fresh every update, the same in a resumed run, and
        different on every replica (each takes its own rows of one global draw).
        """
        dtype = _backend.counter_dtype()
        counter = ops.cast(counter, dtype) + _AUGMENT_OFFSET[dtype][phase]
        seeds = self._replica_noise(
            num, _STREAM_LABELS, counter,
            lambda n, s: _backend.stateless_uniform([n, 2], s, 0, 2**31 - 1, dtype="int32"),
        )
        return [seeds[i] for i in range(num)]

    def _augment(self, images, seed):
        """What the discriminator sees: ``images`` augmented (``images`` themselves when augmentation is off)."""
        if self.augmenter is None:
            return images
        if len(images.shape) != 4:
            raise ValueError(f"augment={self.augment!r} augments images [batch, height, width, channels]; "
                             f"got samples of shape {tuple(images.shape)}.")
        return augment_lib.apply(self.augmenter, ops.cast(images, "float32"), seed)

    # ------------------------------------------------------------- training
    @property
    def _state_groups(self):
        # The lists Keras' JAX trainer builds the step's state from, in its order.
        return [self.trainable_variables, self.non_trainable_variables, self.optimizer.variables,
                self.metrics_variables]

    def _model_variables(self):
        return self.trainable_variables + self.non_trainable_variables

    def train_step(self, *args):
        """One iteration of algorithm 13.1 (``train_step(data)``; ``train_step(state, data)`` on JAX)."""
        return _backend.run_step(self, self._train_step, args, self._state_groups)

    def _train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        labels = None
        if self.num_classes:
            if not isinstance(data, (tuple, list)) or len(data) < 2:
                raise ValueError("A conditional model (num_classes set) needs a dataset of (samples, labels).")
            labels = ops.cast(data[1], "int32")
        k = self.d_steps
        real = _backend.check_batch(real, k)
        m = ops.shape(real)[0] // k
        # Per-replica mean / replicas: the all-reduced sum of gradients is the global mean.
        num_replicas = _backend.num_replicas_in_sync()

        # Stage 1: K discriminator updates, each on a fresh minibatch of M real
        # samples (a strided slice of the batch) and M fresh noise samples.
        d_vars = self.discriminator.trainable_variables
        for step in range(k):
            x = real[step::k]
            y = labels[step::k] if labels is not None else None
            counter = ops.convert_to_tensor(self.d_optimizer.iterations)  # read now, outside the loss's scope
            z = self._latent(m, _STREAM_D_NOISE, counter)
            y_fake = self._fake_labels(m, counter)
            seeds = self._augment_seeds(0, counter, 2) if self.augmenter is not None else (None, None)

            d_scale = _backend.loss_scale(self.d_optimizer)  # read now, outside the loss's scope

            def d_objective(x=x, y=y, z=z, y_fake=y_fake, counter=counter, seeds=seeds):
                fake = ops.stop_gradient(self._g(z, y_fake))
                # Augmented (when on): real and fake get independent draws of the same family T.
                x_in, fake_in = self._augment(x, seeds[0]), self._augment(fake, seeds[1])
                real_logits = self._d(x_in, y)
                fake_logits = self._d(fake_in, y_fake)
                d_loss = ops.mean(self._d_loss_fn(real_logits, fake_logits))
                d_total = d_loss + self._penalties(x_in, fake_in, y, counter)
                scaled = d_total / num_replicas * d_scale
                return scaled, (d_loss, real_logits, fake_logits)

            _, (d_loss, real_logits, fake_logits), grads = _backend.value_and_grad(
                d_objective, d_vars, self._model_variables
            )
            with _backend.no_grad():
                _backend.apply_gradients(self.d_optimizer, grads, d_vars)
                if self.clip_weights is not None:
                    for v in d_vars:
                        v.assign(ops.clip(v, -self.clip_weights, self.clip_weights))
                _backend.update_mean(self.d_loss_tracker, d_loss)
                _backend.update_mean(self.d_real_tracker, self._d_output(real_logits))
                _backend.update_mean(self.d_fake_tracker, self._d_output(fake_logits))
                if isinstance(self.augmenter, augment_lib.AdaptiveAugment):
                    # ADA: p from sign(D(augmented reals)), counted over all replicas' images.
                    self.augmenter.update(real_logits, all_reduce=_backend.replica_sum)

        # Stage 2: one generator update on M fresh noise samples.
        g_vars = self.generator.trainable_variables
        counter = ops.convert_to_tensor(self.g_optimizer.iterations)
        z = self._latent(m, _STREAM_G_NOISE, counter)
        y_fake = self._fake_labels(m, ops.cast(counter, _backend.counter_dtype()) + _G_LABEL_OFFSET[_backend.counter_dtype()])

        g_seed = self._augment_seeds(1, counter, 1)[0] if self.augmenter is not None else None

        g_scale = _backend.loss_scale(self.g_optimizer)

        def g_objective():
            fake_logits = self._d(self._augment(self._g(z, y_fake), g_seed), y_fake)
            g_loss = ops.mean(self._g_loss_fn(fake_logits))
            return g_loss / num_replicas * g_scale, g_loss

        _, g_loss, grads = _backend.value_and_grad(g_objective, g_vars, self._model_variables)
        with _backend.no_grad():
            _backend.apply_gradients(self.g_optimizer, grads, g_vars)
            if self.ema_generator is not None:
                self._update_ema()
            _backend.update_mean(self.g_loss_tracker, g_loss)
        logs = {m_.name: _backend.mean_result(m_) for m_ in self.metrics}
        if isinstance(self.augmenter, augment_lib.AdaptiveAugment):
            logs["ada_p"] = ops.convert_to_tensor(self.augmenter.p.value)  # the value after this step
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Both players and both optimizers are built already: nothing to trace.
        # Skipping also avoids the multi-worker failure described in _keras_compat.
        if self.built and self.g_optimizer.built and self.d_optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _update_ema(self):
        pairs = list(zip(self.ema_generator.weights, self.generator.weights))
        _backend.moving_average_update([e for e, w in pairs if w.trainable], [w for e, w in pairs if w.trainable],
                                       self.ema_decay)
        # batch-norm statistics are copied, not averaged
        _backend.copy_values([e for e, w in pairs if not w.trainable], [w for e, w in pairs if not w.trainable])

    def _d_output(self, logits):
        logits = ops.cast(ops.reshape(logits, [-1]), "float32")
        return ops.sigmoid(logits) if self._sigmoid_output else logits

    def _penalties(self, real, fake, real_labels=None, counter=0):
        """Gradient penalties on the discriminator, computed in float32 (tensorflow #48662).

        ``real`` and ``fake`` are what ``D`` saw in this step: augmented when augmentation is on.
        """
        total = 0.0
        if self.gradient_penalty > 0:
            eps = self._replica_noise(
                ops.shape(real)[0], _STREAM_PENALTY, counter,
                lambda n, s: _backend.stateless_uniform([n], s),  # U(0, 1), not a normal
            )
            eps = ops.reshape(eps, [-1] + [1] * (len(real.shape) - 1))
            real32, fake32 = ops.cast(real, "float32"), ops.cast(fake, "float32")
            x_hat = eps * real32 + (1.0 - eps) * fake32
            norms = self._input_gradient_norms(x_hat, real_labels)
            total = total + self.gradient_penalty * ops.mean(ops.square(norms - 1.0))
        if self.r1_gamma > 0:
            norms = self._input_gradient_norms(ops.cast(real, "float32"), real_labels)
            total = total + 0.5 * self.r1_gamma * ops.mean(ops.square(norms))
        return total

    def _input_gradient_norms(self, x, labels=None):
        grads = _backend.input_gradient(
            lambda x_: ops.sum(ops.cast(self._d(x_, labels), "float32")), x, self._model_variables
        )
        return ops.sqrt(ops.sum(ops.square(ops.reshape(grads, [ops.shape(x)[0], -1])), axis=1) + 1e-12)

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
            "g_optimizer": _backend.serialize_optimizer(self.g_optimizer),
            "d_optimizer": _backend.serialize_optimizer(self.d_optimizer),
            "loss": self.loss_name,
            "d_steps": self.d_steps,
            "gradient_penalty": self.gradient_penalty,
            "r1_gamma": self.r1_gamma,
            "clip_weights": self.clip_weights,
            "augment": self.augment,
            "augment_policy": self.augment_policy,
            "ada_target": self.ada_target,
            "ada_kimg": self.ada_kimg,
            "jit_compile": self._jit_compile_arg,  # None: the loading backend's default
            "steps_per_execution": int(self.steps_per_execution),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer"):
            config[key] = _backend.deserialize_optimizer(config[key])
        if "steps_per_execution" in config:  # a checkpoint from another backend
            config["steps_per_execution"] = _backend.steps_per_execution(config["steps_per_execution"])
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
    discriminator_filters=None,
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
        discriminator_filters: width of the discriminator's first convolution, doubled per layer
            (``None``: ``base_filters``, D the mirror of G). The notes draw only G (figure 13.9) and ask to
            balance the two networks (section 6.3.3); a narrower D costs fewer FLOPs per step.
        name: model name.

    Returns:
        An uncompiled :class:`AdversarialModel`.

    Example:

    >>> gan = DCGAN(image_shape=(8, 8, 1), base_filters=64, num_upsamplings=2, discriminator_filters=32)
    >>> [tuple(w.shape) for w in gan.discriminator.weights if len(w.shape) == 4]
    [(5, 5, 1, 32), (5, 5, 32, 64)]
    """
    d_filters = base_filters if discriminator_filters is None else discriminator_filters
    return AdversarialModel(
        networks.dcgan_generator(
            image_shape, latent_dim, base_filters, kernel_size, num_upsamplings, synchronized_batch_norm,
            num_classes,
        ),
        networks.dcgan_discriminator(
            image_shape, d_filters, kernel_size, num_upsamplings, discriminator_batch_norm,
            synchronized_batch_norm, spectral_norm, num_classes, num_packed,
        ),
        latent_dim=latent_dim, prior=prior, seed=seed, num_classes=num_classes, ema_decay=ema_decay, name=name,
    )

