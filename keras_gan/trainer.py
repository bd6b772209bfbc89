"""Training a config end to end: data, strategy, model, callbacks, ``model.fit``."""

import dataclasses
import os
import shutil
import tempfile

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


def make_strategy(name, tpu=None):
    """The ``tf.distribute`` strategy named by ``train.strategy``.

    Args:
        name: ``default`` (one device), ``mirrored`` (all local GPUs, or the
            CPU), ``multiworker`` (``MultiWorkerMirroredStrategy``; the cluster
            comes from the ``TF_CONFIG`` environment variable) or ``tpu``.
        tpu: TPU name or ``grpc://`` address for ``tpu`` (``None``: the local
            or environment-configured TPU).

    Returns:
        A ``tf.distribute.Strategy``.
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """Whether this process writes the run directory (worker 0, or the chief, or a single process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


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
    strategy = make_strategy(t.strategy, t.tpu)
    keras.mixed_precision.set_dtype_policy(t.mixed_precision or "float32")
    chief = is_chief(strategy)
    final_dir = run_dir
    if not chief:
        # Other workers take part in every save (collectives) but write to a scratch copy.
        scratch = tempfile.mkdtemp(prefix="keras_gan_worker_")
        if resume:
            shutil.copytree(os.path.join(run_dir, "checkpoints"), os.path.join(scratch, "checkpoints"))
        run_dir = scratch
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
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
        found = runs.checkpoints(final_dir)
    return TrainResult(
        model=model, history=history, initial_epoch=initial_epoch, epochs=t.epochs,
        last_checkpoint=found[-1][1] if found else None, failed=guard.failed,
    )
