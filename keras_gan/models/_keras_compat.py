"""The one place that works around Keras internals for multi-worker training.

Keras 3 ``fit`` under ``MultiWorkerMirroredStrategy`` fails (keras-team/keras
issue 20585) for two reasons, both handled here:

1. ``TensorFlowTrainer._maybe_symbolic_build`` reduces the first distributed
   batch across workers with ``strategy.reduce("MEAN", ..., axis=None)``,
   which raises "Attempt to convert a value (PerReplica...)". An
   :class:`~keras_gan.models.AdversarialModel` is fully built in ``__init__``
   and ``compile`` (both players are functional models, both optimizers are
   built), so there is nothing to trace: we skip that step.
2. The step's logs are reduced with ``strategy.reduce("MEAN", v, axis=0)``,
   which fails on scalars ("Invalid reduction dimension 0"). Under a
   multi-worker strategy the train step returns logs of shape ``[1]``.

Both rely on private Keras behaviour; they were tested with the versions in
:data:`TESTED_KERAS`. ``tests/test_multiworker.py`` fails loudly if a Keras
release changes the hook.
"""

import tensorflow as tf

TESTED_KERAS = ("3.15",)
SYMBOLIC_BUILD_HOOK = "_maybe_symbolic_build"


def is_multi_worker(strategy):
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy running on several workers."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def step_logs(strategy, logs):
    """Logs as Keras can reduce them: shape ``[1]`` under multi-worker, scalars otherwise."""
    if is_multi_worker(strategy):
        return {k: tf.reshape(v, [1]) for k, v in logs.items()}
    return logs
