"""A config resolved for training: what the trainer reads, worked out once, before it starts.

``keras-gan train`` resolves its config into a :class:`Plan` after the backend is
fixed and hands the plan to :func:`keras_gan.training.trainer.train`, which then
reads the data set, builds the model and sets threads from the plan alone: it does
not go back to the data or run-directory code to find out what a config means.
The run flows one way: config -> plan -> data set -> model -> ``fit`` -> run directory.
"""

import dataclasses
import typing

from keras_gan import data as data_lib
from keras_gan.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Plan:
    """A :class:`keras_gan.config.Config` resolved for training.

    Attributes:
        cfg: the config as written to the run directory.
        backend: the Keras backend the run trains on.
        intra_op_threads: TensorFlow's threads per op (``None``: its default; other backends ignore it).
        source: keyword arguments of :func:`keras_gan.data.training_dataset` that come from the config
            (name, split, image size, sample count, data directory, folder options, labels).
        num_classes: the data set's classes for a conditional model, else ``None``.
        reference: the mixture's mode centers ``[k, 2]`` for the sample plots of a 2-D mixture, else ``None``.

    Example:

    >>> from keras_gan import config
    >>> p = resolve(config.load("dcgan_digits"), backend="tensorflow")
    >>> p.source["name"], p.num_classes, p.intra_op_threads
    ('digits', None, 1)
    """

    cfg: typing.Any
    backend: str
    intra_op_threads: typing.Optional[int]
    source: dict
    num_classes: typing.Optional[int]
    reference: typing.Any = None


def backend_refusal(cfg, backend):
    """Why ``cfg`` cannot train on ``backend``, or ``None`` when it can (the benchmarks skip such variants).

    Example:

    >>> from keras_gan import config
    >>> backend_refusal(config.load("hinge_sn_ring8"), "torch")[:52]
    'model.spectral_norm = true does not train on the tor'
    """
    if backend == "torch" and cfg.model.spectral_norm:
        return ("model.spectral_norm = true does not train on the torch backend (Keras' SpectralNormalization "
                "rewrites its kernel in place in every training forward pass, which torch autograd rejects when D "
                "runs twice in a step)")
    return None


def resolve(cfg, backend=None):
    """Resolves ``cfg`` for training on ``backend``.

    Args:
        cfg: a :class:`keras_gan.config.Config`.
        backend: the Keras backend (default: the one Keras runs on in this process).

    Returns:
        A :class:`Plan`.

    Raises:
        UsageError: a conditional model on a data set without labels; spectral normalization on torch.
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    refusal = backend_refusal(cfg, backend)
    if refusal:
        raise UsageError(f"config: {refusal}; use --backend jax or tensorflow.")
    d = cfg.data
    options = data_lib.source_options(d)
    source = dict(name=d.name, split=d.split, image_size=d.image_size, num_samples=d.num_samples,
                  data_dir=d.data_dir, with_labels=cfg.model.conditional, **options)
    num_classes = None
    if cfg.model.conditional:
        num_classes = data_lib.num_classes(d.name, d.data_dir, **options)
        if not num_classes:
            raise UsageError(f"config: model.conditional = true, but dataset {d.name!r} has no labels.")
    reference = data_lib.MIXTURES[d.name]["centers"] if d.name in data_lib.MIXTURES else None
    return Plan(cfg=cfg, backend=backend, intra_op_threads=cfg.train.intra_op_threads, source=source,
                num_classes=num_classes, reference=reference)
