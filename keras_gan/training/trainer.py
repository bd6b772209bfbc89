"""Training a config end to end: data, strategy, model, callbacks, ``model.fit``."""

import dataclasses
import os
import shutil
import tempfile
import time

import contextlib

import keras

from keras_gan import config as config_lib, data
from keras_gan.errors import UsageError, first_line
from keras_gan.training import callbacks
from keras_gan.training import checkpointing
from keras_gan.training import plan as plan_lib
from keras_gan.training import runs


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
        interrupted: ``None``, or ``{"signal", "epoch", "step", "checkpoint"}``
            when SIGTERM/SIGINT stopped the run after writing that checkpoint.
        initial_step: steps of epoch ``initial_epoch + 1`` done before this call.
        steps_per_epoch: generator steps per epoch.
        seconds: wall time of this call, set-up included.
    """

    model: object
    history: dict
    initial_epoch: int
    epochs: int
    last_checkpoint: object
    failed: object
    interrupted: object = None
    initial_step: int = 0
    steps_per_epoch: int = 0
    seconds: float = 0.0


def make_strategy(name, tpu=None, model_parallel_size=None):
    """The distribution named by ``train.strategy``, for the running Keras backend.

    Args:
        name: on TensorFlow, a ``tf.distribute`` strategy: ``default`` (one
            device), ``mirrored`` (all local GPUs, or the CPU), ``multiworker``
            (``MultiWorkerMirroredStrategy``; the cluster comes from the
            ``TF_CONFIG`` environment variable) or ``tpu``. On JAX, a
            ``keras.distribution``: ``data_parallel`` (``DataParallel`` over all
            devices) or ``model_parallel`` (``ModelParallel``: every weight whose
            last axis divides by the model axis is sharded along it). In a
            multi-process run (``keras-gan train`` called ``keras.distribution.initialize``)
            "all devices" are every process's, and Keras feeds each process its
            slice of every global batch.
            ``default`` is one device on every backend.
        tpu: TPU name or ``grpc://`` address for ``tpu`` (``None``: the local
            or environment-configured TPU).
        model_parallel_size: devices on the model axis of ``model_parallel``
            (``None``: all of them).

    Returns:
        An object with ``scope()`` and ``num_replicas_in_sync`` (the number of
        batch shards): a ``tf.distribute.Strategy`` on TensorFlow.
    """
    if name in ("data_parallel", "model_parallel"):
        return _KerasDistribution(name, model_parallel_size)
    if keras.backend.backend() != "tensorflow":
        return _KerasDistribution(None)
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except Exception as e:  # noqa: BLE001 -- no TPU here or none by that name: ValueError, URLError, OpError...
            where = f"no TPU named {tpu!r}" if tpu else "no local or configured TPU"
            reason = first_line(e, 200, type(e).__name__)
            raise UsageError(f"train.strategy = 'tpu' found {where} ({reason}); run on a TPU VM or give "
                             "--tpu NAME or grpc://ADDRESS.") from None
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


class _KerasDistribution:
    """A ``keras.distribution`` (or none) behind the two members of ``tf.distribute.Strategy`` the trainer uses."""

    def __init__(self, name, model_parallel_size=None):
        self.distribution = None
        self.num_replicas_in_sync = 1
        self.num_processes, self.process_id = _process_group()
        if name is None:
            if self.num_processes > 1:
                raise UsageError(f"this is process {self.process_id} of {self.num_processes}: a multi-process run "
                                 "needs train.strategy data_parallel or model_parallel.")
            return
        from keras import distribution as dist

        devices = dist.list_devices()
        if name == "data_parallel":
            self.distribution = dist.DataParallel(devices=devices)
            self.num_replicas_in_sync = len(devices)
            return
        mp = int(model_parallel_size or len(devices))
        if mp < 1 or len(devices) % mp:
            raise ValueError(f"train.model_parallel_size = {mp} must divide the {len(devices)} devices.")
        mesh = dist.DeviceMesh((len(devices) // mp, mp), ("batch", "model"), devices)
        self.distribution = _ShardWideWeights(layout_map=dist.LayoutMap(mesh), batch_dim_name="batch")
        self.num_replicas_in_sync = len(devices) // mp

    def scope(self):
        return self.distribution.scope() if self.distribution is not None else contextlib.nullcontext()


def _process_group():
    """``(number of processes, this one's index)`` of a multi-process JAX run (``(1, 0)`` elsewhere)."""
    if keras.backend.backend() != "jax":
        return 1, 0
    import jax

    return jax.process_count(), jax.process_index()


class _ShardWideWeights(keras.distribution.ModelParallel):
    """``ModelParallel`` whose default layout shards a weight's last axis over ``model`` where it divides."""

    def get_variable_layout(self, variable):
        layout = super().get_variable_layout(variable)
        if any(axis is not None for axis in layout.axes):
            return layout  # a layout-map entry or the variable's own layout
        size = self.device_mesh.shape[self.device_mesh.axis_names.index("model")]
        shape = tuple(variable.shape)
        if len(shape) >= 2 and shape[-1] % size == 0:
            return keras.distribution.TensorLayout([None] * (len(shape) - 1) + ["model"], self.device_mesh)
        return layout


def is_chief(strategy):
    """Whether this process writes the run directory (worker 0, or the chief, or process 0, or a single process)."""
    if getattr(strategy, "process_id", 0):
        return False
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


class _StopAfterEpoch(keras.callbacks.Callback):
    """Ends the short first ``fit`` of a mid-epoch resume after its one (partial) epoch."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def train(cfg, run_dir, resume=False, verbose=1, extra_callbacks=()):
    """Trains the model described by ``cfg`` (a config, or the :class:`~keras_gan.training.plan.Plan` of one) into ``run_dir``.

    Writes ``config.yaml``, ``history.json``, ``samples/``, ``checkpoints/`` and
    TensorBoard ``logs/``. With ``resume``, continues from the newest
    checkpoint with both optimizers' state and the epoch counter; the data
    order and noise depend only on the seed and the epoch/step, so a resumed
    run follows the same path as one that never stopped. A mid-epoch
    checkpoint (``train.checkpoint_every_steps``, or one written at SIGTERM or
    SIGINT) resumes by skipping the batches of that epoch it had consumed.
    The chief holds ``run_dir/train.lock`` while it trains; a corrupt newest
    checkpoint is skipped with a warning (:mod:`keras_gan.training.checkpointing`).

    Args:
        cfg: a :class:`keras_gan.training.plan.Plan` (``keras-gan train`` resolves its config into one), or a
            :class:`keras_gan.config.Config`, resolved here for the backend Keras runs on.
        run_dir: the run directory.
        resume: continue from the newest checkpoint in ``run_dir``.
        verbose: 0 silent; 1 one progress bar for the whole run (:class:`~keras_gan.training.callbacks.RunProgress`);
            2 Keras' one line per epoch.
        extra_callbacks: more Keras callbacks for ``fit`` (run before the stop-on-signal one).

    Returns:
        A :class:`TrainResult`.
    """
    start = time.perf_counter()
    plan = cfg if isinstance(cfg, plan_lib.Plan) else plan_lib.resolve(cfg)
    if plan.backend != keras.backend.backend():
        raise UsageError(f"the plan is for the {plan.backend} backend, but Keras runs on "
                         f"{keras.backend.backend()} in this process; resolve it again for this backend.")
    cfg, t = plan.cfg, plan.cfg.train
    _set_intra_op_threads(plan.intra_op_threads)  # before TensorFlow's first op, or it cannot apply
    keras.utils.set_random_seed(t.seed)
    strategy = make_strategy(t.strategy, t.tpu, t.model_parallel_size)
    keras.mixed_precision.set_dtype_policy(t.mixed_precision or "float32")
    chief = is_chief(strategy)
    lock = checkpointing.RunLock(run_dir) if chief else None
    if lock is not None:
        lock.acquire()
    # Other workers take part in every save (collectives) but write to a scratch copy,
    # removed however training ends (a worker stopped by a lost peer included).
    scratch = None if chief else tempfile.mkdtemp(prefix="keras_gan_worker_")
    try:
        result = _train(plan, run_dir, scratch, strategy, resume, verbose, extra_callbacks)
        result.seconds = time.perf_counter() - start
        return result
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if lock is not None:
            lock.release()


def _train(plan, final_dir, scratch, strategy, resume, verbose, extra_callbacks):
    cfg, t = plan.cfg, plan.cfg.train
    run_dir = final_dir
    if scratch is not None:
        if resume:  # the chief's checkpoints, so that every worker loads the same one
            shutil.copytree(os.path.join(final_dir, "checkpoints"), os.path.join(scratch, "checkpoints"))
        run_dir = scratch
    os.makedirs(run_dir, exist_ok=True)

    initial_epoch, initial_step, partial = 0, 0, None
    with strategy.scope():
        if resume:
            ckpt, model = checkpointing.load_newest(run_dir)
            initial_epoch, initial_step = ckpt.epoch, ckpt.step
            partial = checkpointing.read_sidecar(ckpt.path) if ckpt.step else None
        ds, steps, shape = data.training_dataset(
            batch_size=cfg.data.batch_size * strategy.num_replicas_in_sync, d_steps=t.d_steps, seed=t.seed,
            start_epoch=initial_epoch, epochs=t.epochs, **plan.source,
        )
        if not resume:
            if cfg.model.architecture in ("dcgan", "vae") and cfg.data.image_size is None:
                config_lib.check_native_size(cfg.data.path or cfg.data.name, shape[0], cfg.model.num_upsamplings)
            # Seeded again here: preparing a data set on a first run draws from Keras' and Python's generators,
            # so the initial weights would differ between the first run and every later one.
            keras.utils.set_random_seed(t.seed)
            model = runs.compile_model(runs.build_model(cfg, shape, num_classes=plan.num_classes), cfg, steps)
    # Written once the data set and the model are known to fit it: a config that cannot train leaves no run.
    runs.write_text(os.path.join(run_dir, "config.yaml"), config_lib.to_yaml(cfg))
    if initial_step >= steps:  # a mid-epoch checkpoint of an epoch that has since got shorter
        initial_epoch, initial_step = initial_epoch + 1, 0

    guard = callbacks.NaNGuard()
    history_cb = callbacks.HistoryWriter(os.path.join(run_dir, "history.json"), guard=guard, partial=partial)
    checkpoint_cb = callbacks.Checkpoint(
        run_dir, every=t.checkpoint_every, keep=t.keep_checkpoints, guard=guard,
        every_steps=t.checkpoint_every_steps, steps_per_epoch=steps, resume_at=(initial_epoch, initial_step),
    )
    samples_cb = callbacks.SampleGrid(os.path.join(run_dir, "samples"), num=t.num_sample_images, seed=t.seed,
                                      every=t.sample_every, reference=plan.reference,
                                      # images: G's batch in a training step (M), whose forms are chosen
                                      batch_size=cfg.data.batch_size if plan.reference is None else None)
    processes = getattr(strategy, "num_processes", 1)
    # Several JAX processes stop together: JAX's preemption service takes SIGTERM on any of them and names the
    # step at which all stop (StopOnSignal asks it after every step).
    stop_cb = callbacks.StopOnSignal(checkpoint_cb, history_cb, others=(samples_cb,),
                                     sync=_preemption_sync_point if processes > 1 else None)
    cbs = [
        guard,
        history_cb,
        checkpoint_cb,
        samples_cb,
        callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        *extra_callbacks,
        stop_cb,
    ]
    if processes > 1 and scratch is not None:
        verbose = 0  # JAX processes: one progress bar, process 0's
    progress, fit_verbose = None, verbose
    if verbose == 1:  # one bar for the run, not Keras' bar per epoch
        progress = callbacks.RunProgress(t.epochs, steps, initial_epoch, initial_step)
        cbs.insert(cbs.index(stop_cb), progress)
        fit_verbose = 0
    if (t.strategy == "multiworker" or processes > 1) and t.step_timeout:
        # A hung peer would leave this worker waiting in a collective forever: bounded by the watchdog.
        cbs.insert(0, callbacks.StepWatchdog(t.step_timeout))
    history = {}
    stop_cb.install()
    try:
        start = initial_epoch
        if initial_step and start < t.epochs:
            # The rest of the interrupted epoch: skip the batches it had consumed.
            runs.use_steps_per_execution(model, t.steps_per_execution, steps - initial_step)
            first = model.fit(
                ds.skip(initial_step), epochs=t.epochs, initial_epoch=start,
                steps_per_epoch=steps - initial_step, callbacks=cbs + [_StopAfterEpoch()], verbose=fit_verbose,
                shuffle=False,  # the data set is shuffled by (seed, epoch) already
            ).history
            history = {k: list(v) for k, v in first.items()}
            ds, start = ds.skip(steps), start + 1
        if start < t.epochs and not stop_cb.stopped and not guard.failed:
            runs.use_steps_per_execution(model, t.steps_per_execution, steps)
            rest = model.fit(
                ds, epochs=t.epochs, initial_epoch=start, steps_per_epoch=steps,
                callbacks=cbs, verbose=fit_verbose, shuffle=False,
            ).history
            for k, v in rest.items():
                history.setdefault(k, []).extend(v)
    finally:
        stop_cb.uninstall()
        if progress is not None:
            progress.close()
    found = checkpointing.list_checkpoints(final_dir)
    return TrainResult(
        model=model, history=history, initial_epoch=initial_epoch, epochs=t.epochs,
        last_checkpoint=found[-1].path if found else None, failed=guard.failed,
        interrupted=stop_cb.stopped, initial_step=initial_step, steps_per_epoch=steps,
    )


def _preemption_sync_point(step):
    """Whether every process of a multi-process JAX run stops after global step ``step`` (JAX's preemption service)."""
    from jax.experimental import multihost_utils

    return multihost_utils.reached_preemption_sync_point(int(step))


def _set_intra_op_threads(n):
    """Applies ``train.intra_op_threads`` to TensorFlow (no-op for ``None``).

    TensorFlow takes it only before its first op; in a process that has already
    run ops with another setting it is left as it is, with a warning (it changes
    speed; results only by round-off).
    """
    if n is None or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
    except RuntimeError:
        import warnings

        warnings.warn(f"train.intra_op_threads = {n} not applied: TensorFlow already ran ops in this process "
                      "(it is set before the first op); training goes on with the current setting.", stacklevel=3)
