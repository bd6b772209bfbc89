"""Run directories: building a model from a config, checkpoints, and loading a run back.

A run directory written by ``keras-gan train`` holds::

    config.yaml              the resolved config
    history.json             per-epoch losses and metrics
    samples/epoch_NNNN.png   a grid from fixed noise per epoch (+ .json beside it)
    checkpoints/epoch-NNNN.keras   whole-model checkpoints with both optimizers' state
    logs/                    TensorBoard logs

Every file is written to a temporary name and renamed, so a killed process
never leaves a half-written checkpoint or history behind.
"""

import os
import re

from keras_gan import config as config_lib
from keras_gan.files import atomic_path, write_json, write_text  # noqa: F401  (run files; re-exported)
from keras_gan.errors import UsageError

# Keras and the models load inside the functions that need them, so that reading a run's
# config and checkpoints list does not import Keras (and fix its backend) too early.

_CKPT = re.compile(r"^epoch-(\d{4,})\.keras$")


def build_model(cfg, sample_shape, num_classes=None):
    """Builds the (uncompiled) model a config describes.

    Args:
        cfg: a :class:`keras_gan.config.Config`.
        sample_shape: shape of one data sample (the third value of
            :func:`keras_gan.data.training_dataset`).
        num_classes: the data set's classes for a conditional model (the trainer passes its
            :class:`~keras_gan.training.plan.Plan`'s); ``None``: worked out from the config here.

    Returns:
        An :class:`keras_gan.models.AdversarialModel` (a :class:`keras_gan.models.VAE`
        for ``model.architecture = 'vae'``).

    Raises:
        UsageError: a conditional model on a data set without labels.
    """
    from keras_gan import models

    m, t = cfg.model, cfg.train
    if m.conditional and num_classes is None:
        from keras_gan.training import plan

        num_classes = plan.resolve(cfg).num_classes
    num_classes = num_classes if m.conditional else None
    extra = dict(num_classes=num_classes, num_packed=m.num_packed, spectral_norm=m.spectral_norm,
                 ema_decay=m.ema_decay, prior=m.prior, seed=t.seed)
    if m.architecture == "vae":
        return models.VAE.for_images(
            image_shape=sample_shape, latent_dim=m.latent_dim, base_filters=m.base_filters,
            num_resamplings=m.num_upsamplings, beta=m.beta, seed=t.seed, name="vae",
        )
    if m.architecture == "mlp":
        return models.GAN(
            data_dim=sample_shape[-1], latent_dim=m.latent_dim, hidden_units=m.hidden_units,
            num_layers=m.num_layers, **extra,
        )
    return models.DCGAN(
        image_shape=sample_shape, latent_dim=m.latent_dim, base_filters=m.base_filters,
        discriminator_filters=m.discriminator_filters, kernel_size=m.kernel_size, num_upsamplings=m.num_upsamplings,
        discriminator_batch_norm=m.discriminator_batch_norm,
        synchronized_batch_norm=m.synchronized_batch_norm, **extra,
    )


def execution_steps(steps_per_execution, steps):
    """The divisor of ``steps`` nearest to ``steps_per_execution`` by ratio (the smaller one on a tie).

    A call must run a divisor of the epoch's steps, and the largest divisor not above the setting can be far
    below it: the digits' 1,437 training images make 89 steps an epoch at batch 16, a prime, where that rule
    ran one step per call (7.5 against 5.3 ms a step on a 2-core AMD EPYC, docs/performance.md). So a call
    may run more steps than asked when that is nearer: ``below`` is taken unless ``above / setting <
    setting / below``, which bounds a call at ``setting`` squared steps.

    Args:
        steps_per_execution: the configured ``train.steps_per_execution``.
        steps: the steps of the coming ``fit`` epoch.

    Returns:
        The steps each compiled call should run: one call never spans two epochs
        (each epoch's batches are their own dataset, :func:`keras_gan.data.training_dataset`,
        and Keras runs every call to the full count).

    Example:

    >>> execution_steps(22, 22), execution_steps(4, 22), execution_steps(22, 89), execution_steps(22, 937)
    (22, 2, 89, 1)
    """
    cap, steps = max(1, int(steps_per_execution)), max(1, int(steps))
    if cap >= steps:
        return steps
    below = max(d for d in range(1, cap + 1) if steps % d == 0)
    above = min(d for d in range(cap, steps + 1) if steps % d == 0)
    return above if above * below < cap * cap else below


def use_steps_per_execution(model, steps_per_execution, steps):
    """Sets a compiled model to run :func:`execution_steps` steps per call for a ``fit`` of ``steps`` per epoch.

    Args:
        model: a compiled Keras model (its train function is rebuilt by the next ``fit`` if the count changes).
        steps_per_execution: the configured ``train.steps_per_execution``.
        steps: the steps per epoch of the coming ``fit``.

    Returns:
        The steps per call now set.
    """
    from keras_gan.models import _backend

    k = execution_steps(_backend.steps_per_execution(steps_per_execution), steps)
    if model.steps_per_execution != k:
        model.steps_per_execution = k
        model.train_function = None  # Keras builds it again for the new count
    return k


def compile_model(model, cfg, steps_per_epoch=None):
    """Compiles ``model`` with the optimizers, loss and options of ``cfg.train`` (augmentation included).

    Args:
        model: the model from :func:`build_model`.
        cfg: the run's config.
        steps_per_epoch: the steps of each coming ``fit`` epoch; when given, each call runs
            :func:`execution_steps` of them (never spanning two epochs), else ``train.steps_per_execution``.

    Returns:
        ``model``, compiled.
    """
    import keras

    from keras_gan.models import _backend
    from keras_gan.optimizers import FusedAdam

    t = cfg.train
    cap = _backend.steps_per_execution(t.steps_per_execution)
    per_call = cap if steps_per_epoch is None else execution_steps(cap, steps_per_epoch)

    def optimizer(lr):
        if t.optimizer == "rmsprop":
            return keras.optimizers.RMSprop(learning_rate=lr)
        return FusedAdam(learning_rate=lr, beta_1=t.beta_1, beta_2=t.beta_2)

    if cfg.model.architecture == "vae":  # one optimizer for encoder and decoder
        model.compile(optimizer=optimizer(t.g_learning_rate), jit_compile=t.jit_compile,
                      steps_per_execution=per_call)
        return model
    model.compile(
        g_optimizer=optimizer(t.g_learning_rate),
        d_optimizer=optimizer(t.d_learning_rate),
        loss=t.loss,
        d_steps=t.d_steps,
        gradient_penalty=t.gradient_penalty,
        r1_gamma=t.r1_gamma,
        clip_weights=t.clip_weights,
        augment=t.augment,
        augment_policy=t.augment_policy,
        ada_target=t.ada_target,
        ada_kimg=t.ada_kimg,
        jit_compile=t.jit_compile,
        steps_per_execution=per_call,
    )
    return model


def checkpoints(run_dir):
    """Checkpoints of a run, oldest first, as ``[(epoch, path), ...]``."""
    directory = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _CKPT.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name)))
    return sorted(found)


def checkpoint_path(run_dir, epoch):
    """Where the checkpoint after ``epoch`` epochs goes."""
    return os.path.join(run_dir, "checkpoints", f"epoch-{epoch:04d}.keras")


def load_config(run_dir):
    """The resolved config of a run directory."""
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise UsageError(f"--run {run_dir!r} is not a run directory: it has no config.yaml.")
    return config_lib.load(path)


def load_run(run_dir, epoch=None):
    """Loads a run's config and its latest (or a given) checkpoint.

    Args:
        run_dir: a directory written by ``keras-gan train``.
        epoch: the checkpoint to load; the latest if ``None``.

    Returns:
        ``(config, model)``: the :class:`~keras_gan.config.Config` and the
        compiled :class:`~keras_gan.models.AdversarialModel` with both
        optimizers' state.

    Raises:
        UsageError: if the directory is not a run or has no such checkpoint.

    Example:

    >>> cfg, model = load_run("runs/dcgan_digits")  # doctest: +SKIP
    >>> images = model.generate(64, seed=0)  # doctest: +SKIP
    """
    cfg = load_config(run_dir)
    from keras_gan.training import checkpointing

    found = checkpointing.list_checkpoints(run_dir)
    if not found:
        raise UsageError(f"--run {run_dir!r} has no checkpoints yet (checkpoints/epoch-NNNN.keras).")
    if epoch is None:  # the newest that loads; a corrupt newer one is named in a warning
        ckpt, model = checkpointing.load_newest(run_dir)
    else:
        chosen = [c for c in found if c.epoch == epoch and not c.step]
        if not chosen:
            available = sorted({c.epoch for c in found if not c.step})
            raise UsageError(f"--run {run_dir!r} has no checkpoint for epoch {epoch}; available: {available}.")
        ckpt, model = chosen[0], checkpointing.load_keras_file(chosen[0].path)
    model.epoch = ckpt.epoch
    return cfg, model
