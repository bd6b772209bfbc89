"""Training a config end to end: data, strategy, model, callbacks, ``model.fit``."""

import dataclasses
import os

import keras
import tensorflow as tf

from keras_gan import callbacks, config as config_lib, data, runs


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        model: the trained model.
        history: per-epoch logs of this call.
        initial_epoch: epochs done before this call (0 unless resumed).
        epochs: epochs done after this call.
        last_checkpoint: path of the newest checkpoint, or ``None``.
        failed: ``None``, or why training stopped early (a NaN or inf loss).
    """

    model: object
    history: dict
    initial_epoch: int
    epochs: int
    last_checkpoint: object
    failed: object


def make_strategy(name):
    """The ``tf.distribute`` strategy for ``train.strategy`` (``default`` or ``mirrored``)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def train(cfg, run_dir, resume=False, verbose=1):
    """Trains the model described by ``cfg`` into ``run_dir``.

    Writes ``config.yaml``, ``history.json``, ``samples/``, ``checkpoints/`` and
    TensorBoard ``logs/``. With ``resume``, continues from the newest
    checkpoint with both optimizers' state and the epoch counter; the data
    order and noise depend only on the seed and the epoch/step, so a resumed
    run follows the same path as one that never stopped.

    Args:
        cfg: a :class:`keras_gan.config.Config`.
        run_dir: the run directory.
        resume: continue from the newest checkpoint in ``run_dir``.
        verbose: Keras ``fit`` verbosity (1 progress bar, 2 one line per epoch).

    Returns:
        A :class:`TrainResult`.
    """
    t = cfg.train
    keras.utils.set_random_seed(t.seed)
    strategy = make_strategy(t.strategy)
    os.makedirs(run_dir, exist_ok=True)
    runs.write_text(os.path.join(run_dir, "config.yaml"), config_lib.to_yaml(cfg))

    initial_epoch = 0
    with strategy.scope():
        if resume:
            initial_epoch, path = runs.checkpoints(run_dir)[-1]
            model = keras.models.load_model(path)
        ds, steps, shape = data.training_dataset(
            cfg.data.name, cfg.data.split, cfg.data.batch_size * strategy.num_replicas_in_sync,
            cfg.data.image_size, t.d_steps, seed=t.seed, start_epoch=initial_epoch, epochs=t.epochs,
            num_samples=cfg.data.num_samples, data_dir=cfg.data.data_dir, with_labels=cfg.model.conditional,
        )
        if not resume:
            model = runs.compile_model(runs.build_model(cfg, shape), cfg)

    reference = data.MIXTURES[cfg.data.name]["centers"] if cfg.data.name in data.MIXTURES else None
    guard = callbacks.NaNGuard()
    cbs = [
        guard,
        callbacks.HistoryWriter(os.path.join(run_dir, "history.json"), guard=guard),
        callbacks.Checkpoint(run_dir, every=t.checkpoint_every, keep=t.keep_checkpoints, guard=guard),
        callbacks.SampleGrid(os.path.join(run_dir, "samples"), num=t.num_sample_images, seed=t.seed,
                             every=t.sample_every, reference=reference),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
    ]
    history = {}
    if initial_epoch < t.epochs:
        history = model.fit(
            ds, epochs=t.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
            callbacks=cbs, verbose=verbose,
        ).history
    found = runs.checkpoints(run_dir)
    return TrainResult(
        model=model, history=history, initial_epoch=initial_epoch, epochs=t.epochs,
        last_checkpoint=found[-1][1] if found else None, failed=guard.failed,
    )
