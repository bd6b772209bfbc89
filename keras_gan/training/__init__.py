"""Training: ``keras-gan train`` from a resolved config to a run directory.

* :mod:`~keras_gan.training.trainer`: the run: data, model, callbacks, ``fit``, resume;
* :mod:`~keras_gan.training.runs`: run directories, building and compiling a model from a config, loading a
  run back;
* :mod:`~keras_gan.training.checkpointing`: verified checkpoint files, finding the newest, cluster faults;
* :mod:`~keras_gan.training.callbacks`: sample grids, checkpoints, history, NaN guard, signal stop, watchdog.

Imports only the layers below it (data, models, evaluation, files); ``checkpointing`` imports nothing of
``runs`` (the atomic writes are :mod:`keras_gan.files`). The old names ``keras_gan.trainer``,
``keras_gan.runs``, ``keras_gan.checkpointing`` and ``keras_gan.callbacks`` still import these modules.
"""
