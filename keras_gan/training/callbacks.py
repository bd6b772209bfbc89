"""Keras callbacks for GAN runs: sample grids, a whole-run progress bar, verified checkpoints, history, a NaN
guard, a signal stop, TensorBoard without its empty per-batch summaries.

They are ordinary ``keras.callbacks.Callback`` objects and work with any
:class:`~keras_gan.models.AdversarialModel` under ``model.fit``.
"""

import json
import math
import os

import keras

from keras_gan import files


def _due(callback, done):
    """Whether ``done`` epochs is a multiple of ``callback.every`` or the last epoch of ``fit``."""
    return done % callback.every == 0 or done == callback.params.get("epochs")


class SampleGrid(keras.callbacks.Callback):
    """Saves samples from fixed noise every ``every`` epochs as ``samples/epoch_NNNN.png``.

    A JSON file beside each picture records the epoch, the noise seed and the
    pixel statistics, so ``keras-gan sample --seed`` reproduces the grid. The
    same picture also goes to TensorBoard as an image summary named
    ``samples`` at step ``epoch`` (written with ``tf.summary.image`` into
    ``log_dir``; skipped when TensorFlow is not installed).

    Args:
        directory: output folder.
        num: number of samples (images: one grid; 2-D data: a scatter plot).
        seed: seed of the fixed latent vectors.
        every: epochs between pictures.
        reference: for 2-D data, mode centers drawn beneath the samples.
        log_dir: TensorBoard folder of the image summaries; default
            ``<parent of directory>/logs/samples`` (beside the run's ``logs/train``);
            ``False`` writes none.
        batch_size: generator batch size (default: ``generate``'s). The trainer passes the generator's
            training batch, so the grid reuses the convolution forms training chose instead of timing
            new ones for a batch of ``num``.

    Example:

    >>> cb = SampleGrid("runs/x/samples", num=64, seed=0)
    """

    def __init__(self, directory, num=64, seed=0, every=1, reference=None, log_dir=None, batch_size=None):
        super().__init__()
        self.batch_size = None if batch_size is None else int(batch_size)
        self.directory = directory
        self.num = int(num)
        self.seed = int(seed)
        self.every = int(every)
        self.reference = reference
        if log_dir is None:
            log_dir = os.path.join(os.path.dirname(os.path.abspath(directory)), "logs", "samples")
        self.log_dir = log_dir or None
        self._writer = None
        self.stopped = False  # set by StopOnSignal after a mid-epoch stop

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if self.stopped or not _due(self, done):
            return
        from keras_gan.evaluation.images import save_samples

        n = self.num if self.reference is None else max(self.num, 1000)
        kwargs = {"batch_size": self.batch_size} if self.batch_size else {}
        samples = self.model.generate(n, seed=self.seed, **kwargs)
        path = os.path.join(self.directory, f"epoch_{done:04d}.png")
        save_samples(samples, path, reference=self.reference, title=f"epoch {done}")
        files.write_json(
            path[:-4] + ".json",
            {"epoch": done, "seed": self.seed, "num": n, "shape": list(samples.shape[1:]),
             "mean": float(samples.mean()), "std": float(samples.std())},
        )
        self._summarize(path, done)

    def _summarize(self, png_path, step):
        """Writes the saved PNG as a TensorBoard image summary (nothing without TensorFlow)."""
        if self.log_dir is None:
            return
        try:
            import tensorflow as tf
        except ImportError:
            return
        import numpy as np
        from PIL import Image

        with Image.open(png_path) as img:
            pixels = np.asarray(img.convert("RGB"), np.uint8)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            tf.summary.image("samples", pixels[None], step=int(step))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _RunProgbar(keras.utils.Progbar):
    """``keras.utils.Progbar`` whose step time (and so the ETA) counts only the steps this process has timed.

    Keras' bar divides the time since it started by ``current``: a resumed run's bar, starting at the steps
    done before, showed a few seconds' ETA for minutes of work, and a fresh run's first update (the first
    compiled call: tracing and the convolution-form timing) made the ETA many times too long. Here the rate
    runs from the first update past ``initial`` to the latest (the whole span since the start until then).
    Overrides Keras' one estimating hook, as Keras' own first-step special case does.
    """

    def __init__(self, target, initial=0, **kwargs):
        super().__init__(target, **kwargs)
        self._initial = int(initial)
        self._timed_from = None  # (step, time) of the first update past ``initial``

    def _estimate_step_duration(self, current, now):
        if not current or current <= self._initial:
            return 0
        if self._timed_from is None:
            self._timed_from = (current, now)
        step, start = self._timed_from
        if current > step:
            return (now - start) / (current - step)
        return (now - self._start) / (current - self._initial)


class RunProgress(keras.callbacks.Callback):
    """One progress bar for a whole run: every step of every epoch, the run's ETA and the last losses.

    Keras' own bar (``fit(verbose=1)``) starts again at every epoch, so a 300-epoch run
    prints 300 bars; this one (``keras.utils.Progbar`` over ``epochs x steps_per_epoch``)
    counts the run's steps from where a resumed run starts. Use it with ``fit(verbose=0)``.

    Args:
        epochs: the run's last epoch (``train.epochs``).
        steps_per_epoch: steps in each epoch.
        initial_epoch: epochs done before this ``fit`` (a resumed run).
        initial_step: steps of epoch ``initial_epoch + 1`` done before it (a mid-epoch resume).
        metrics: the logged values shown beside the bar (their last value, not a mean).

    Example:

    >>> bar = RunProgress(epochs=300, steps_per_epoch=22, initial_epoch=10)
    >>> bar.total, bar.done
    (6600, 220)
    """

    def __init__(self, epochs, steps_per_epoch, initial_epoch=0, initial_step=0,
                 metrics=("d_loss", "g_loss", "d_real", "d_fake")):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.total = int(epochs) * self.steps_per_epoch
        self.done = int(initial_epoch) * self.steps_per_epoch + int(initial_step)
        self.metrics = tuple(metrics)
        self._epoch_start = self.done
        self._bar = None

    def on_train_begin(self, logs=None):
        if self._bar is None:  # a mid-epoch resume runs two fits: one bar for both
            self._bar = _RunProgbar(self.total, initial=self.done, stateful_metrics=self.metrics, unit_name="step")
            self._bar.update(self.done)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.done

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the index of the last step of this call (several with steps_per_execution)
        self.done = self._epoch_start + int(batch) + 1
        values = [(k, float(logs[k])) for k in self.metrics if logs and k in logs]
        self._bar.update(min(self.done, self.total), values=values, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.done = (int(epoch) + 1) * self.steps_per_epoch
        self._epoch_start = self.done
        values = [(k, float(logs[k])) for k in self.metrics if logs and k in logs]
        self._bar.update(min(self.done, self.total), values=values, finalize=self.done >= self.total)

    def close(self):
        """Ends the bar's line where the run stopped early (a signal, a NaN), so the next message starts a line."""
        if self._bar is not None and self.done < self.total:
            self._bar.update(self.done, finalize=True)


class NaNGuard(keras.callbacks.Callback):
    """Stops training as soon as a loss or metric is NaN or infinite.

    Keras' ``TerminateOnNaN`` watches only ``loss``; a GAN has two. Checkpoint
    callbacks consult :attr:`failed` and skip saving, so the last good
    checkpoint survives.

    Attributes:
        failed: ``None``, or a message naming the value, the batch and the epoch.
    """

    def __init__(self):
        super().__init__()
        self.failed = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                self.failed = (
                    f"training stopped: {name} = {value} at epoch {self._epoch + 1}, batch {batch + 1}; "
                    "the last good checkpoint is kept"
                )
                self.model.stop_training = True
                return


class Checkpoint(keras.callbacks.Callback):
    """Saves the whole model (both players, both optimizers) every ``every`` epochs and ``every_steps`` steps.

    Files are ``checkpoints/epoch-NNNN.keras`` after whole epochs and
    ``checkpoints/epoch-NNNN-step-SSSSSS.keras`` mid-epoch (NNNN epochs done plus
    SSSSSS steps of the next), written to a temporary name, reopened and checked,
    renamed, and their SHA-256 recorded beside them (:mod:`keras_gan.training.checkpointing`),
    so a process killed mid-write leaves the previous checkpoint intact and a
    damaged file is never taken for good. Only the newest ``keep`` are kept.
    Nothing is saved after a :class:`NaNGuard` stop or a :class:`StopOnSignal`
    stop mid-epoch (that one saves its own).

    This, not ``keras.callbacks.BackupAndRestore``: that keeps one unverified
    backup, deletes it when ``fit`` ends, and cannot fall back to an older one.

    Args:
        run_dir: the run directory.
        every: epochs between checkpoints (the last epoch is always saved).
        keep: checkpoints to keep.
        guard: an optional :class:`NaNGuard`.
        every_steps: training steps between mid-epoch checkpoints (``None``: none).
        steps_per_epoch: steps of one whole epoch (needed with ``every_steps``).
        resume_at: ``(epoch, step)`` the fit starts from (a mid-epoch resume
            starts its first epoch ``step`` steps in).
    """

    def __init__(self, run_dir, every=1, keep=2, guard=None, every_steps=None, steps_per_epoch=None,
                 resume_at=(0, 0)):
        super().__init__()
        self.run_dir = run_dir
        self.every = int(every)
        self.keep = int(keep)
        self.guard = guard
        self.every_steps = int(every_steps) if every_steps else None
        self.steps_per_epoch = steps_per_epoch
        self.resume_at = tuple(resume_at)
        self.stopped = False  # set by StopOnSignal after a mid-epoch stop
        self.epoch, self.position = self.resume_at
        self._last_global = self._global()
        self.last_saved = None

    def _global(self):
        return self.epoch * (self.steps_per_epoch or 0) + self.position

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.position = self.resume_at[1] if epoch == self.resume_at[0] else 0

    def on_train_batch_end(self, batch, logs=None):
        self.position = (self.resume_at[1] if self.epoch == self.resume_at[0] else 0) + batch + 1
        if not self.every_steps or (self.guard is not None and self.guard.failed):
            return
        if self.steps_per_epoch and self.position >= self.steps_per_epoch:
            return  # the epoch-end checkpoint covers it
        if self._global() // self.every_steps > self._last_global // self.every_steps:
            self.save(self.epoch, self.position, logs)

    def save(self, epoch, step=0, logs=None):
        """Writes the checkpoint at (``epoch`` whole epochs, ``step`` more steps); prunes old ones."""
        from keras_gan.training import checkpointing

        written = checkpointing.save_checkpoint(self.model, self.run_dir, epoch, step,
                                                self.steps_per_epoch, logs)
        self.last_saved = (epoch, step)
        self._last_global = epoch * (self.steps_per_epoch or 0) + step
        checkpointing.prune_checkpoints(self.run_dir, self.keep)
        return written

    def on_epoch_end(self, epoch, logs=None):
        if (self.guard is not None and self.guard.failed) or self.stopped:
            return
        done = epoch + 1
        self.epoch, self.position = done, 0
        steps_due = self.every_steps and self._global() // self.every_steps > self._last_global // self.every_steps
        if not (_due(self, done) or steps_due):
            return
        self.save(done, 0)


class StopOnSignal(keras.callbacks.Callback):
    """SIGTERM or SIGINT during ``fit``: finish the step, save a checkpoint, write history, stop.

    The signal only sets a flag; after the running step the callback writes a
    mid-epoch checkpoint through ``checkpoint`` (or lets the epoch-end one be
    written if the step ended an epoch), rewrites ``history.json`` through
    ``history`` and sets ``model.stop_training``. The previous handlers are put
    back at the first signal, so a second one acts at once (the last complete
    checkpoint survives: every file is renamed into place). ``keras-gan train``
    then exits with :data:`keras_gan.training.checkpointing.EXIT_INTERRUPTED` (75).

    Args:
        checkpoint: the run's :class:`Checkpoint`.
        history: the run's :class:`HistoryWriter` (optional).
        signals: the signals to catch.
        others: callbacks with a ``stopped`` flag (e.g. :class:`SampleGrid`) that
            must skip the end of an epoch cut short.
        sync: for a run of several processes that must stop at the same step: a function of the
            global step (``epoch * steps_per_epoch + step``) that is true, on every process at once,
            after the step at which all stop (JAX's preemption service, which catches SIGTERM on any
            process itself). SIGTERM is then left to it, and SIGINT is passed on to it as SIGTERM.

    Attributes:
        stopped: ``None``, or ``{"signal", "epoch", "step", "checkpoint"}`` after a stop.
    """

    def __init__(self, checkpoint, history=None, signals=None, others=(), sync=None):
        super().__init__()
        import signal

        self.checkpoint = checkpoint
        self.history = history
        self.others = tuple(others)
        self.sync = sync
        self._synced = None  # the last step id given to sync
        self.signals = tuple(signals or (signal.SIGTERM, signal.SIGINT))
        if sync is not None:  # SIGTERM belongs to the preemption service
            self.signals = tuple(s for s in self.signals if s != signal.SIGTERM)
        self.received = None
        self.stopped = None
        self._previous = {}

    def install(self):
        """Installs the handlers (main thread only; elsewhere this does nothing)."""
        import signal
        import threading

        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._handle)

    def uninstall(self):
        """Puts the previous handlers back."""
        import signal

        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handle(self, signum, frame):
        self.uninstall()
        if self.sync is not None:  # every process must stop at the same step: tell the preemption service
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
            return
        self.received = signum

    def on_train_begin(self, logs=None):
        if self.stopped is None:
            self.install()

    def _stop(self, epoch, step, path):
        import signal

        self.stopped = {"signal": signal.Signals(self.received).name, "epoch": epoch, "step": step,
                        "checkpoint": path}
        if self.history is not None:
            self.history.flush()
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.sync is not None and self.received is None and self.stopped is None:
            # Every step id is asked, in order, also those one call of several steps (steps_per_execution) ran:
            # the agreed step is one id, and every process then stops after the same call.
            now = self.checkpoint._global()
            first = now if self._synced is None else self._synced + 1
            for step in range(first, now + 1):
                if self.sync(step):
                    import signal

                    self.received = signal.SIGTERM
                    break
            self._synced = now
        if self.received is None or self.stopped is not None:
            return
        ck = self.checkpoint
        if ck.guard is not None and ck.guard.failed:
            return
        if ck.steps_per_epoch and ck.position >= ck.steps_per_epoch:
            return  # the step ended an epoch: stop after the epoch-end callbacks (on_epoch_end)
        for cb in (ck, self.history, *self.others):
            if cb is not None:
                cb.stopped = True
        written = ck.save(ck.epoch, ck.position, logs)
        self._stop(ck.epoch, ck.position, written.path)

    def on_epoch_end(self, epoch, logs=None):
        if self.received is None or self.stopped is not None:
            return
        ck = self.checkpoint
        if ck.guard is not None and ck.guard.failed:
            return
        if ck.last_saved != (epoch + 1, 0):
            ck.save(epoch + 1, 0)
        from keras_gan.training import checkpointing

        self._stop(epoch + 1, 0, os.path.join(self.checkpoint.run_dir, "checkpoints",
                                              checkpointing.checkpoint_name(epoch + 1)))

    def on_train_end(self, logs=None):
        self.uninstall()


class StepWatchdog(keras.callbacks.Callback):
    """Ends the process when training makes no progress for ``timeout`` seconds.

    Under a multi-worker strategy a worker that dies mid-step leaves the others
    waiting in a collective. A daemon thread watches the time since the last
    callback event (batch begin/end, epoch begin/end); past ``timeout``
    (``first_timeout`` until the first step has ended: tracing and the first
    collectives take longer) it prints one line on stderr and ends the process
    with :data:`EXIT_STALLED`. Checkpoints are renamed into place, so the
    newest whole one survives; restart every worker with ``--resume``.

    Args:
        timeout: seconds without progress after the first step.
        first_timeout: seconds allowed before the first step ends (default ``10 * timeout``).
        exit=os._exit: how to end the process (tests pass their own).
    """

    #: Exit code of a worker stopped by the watchdog (sysexits EX_PROTOCOL).
    EXIT_STALLED = 76

    def __init__(self, timeout, first_timeout=None, exit=None):
        super().__init__()
        self.timeout = float(timeout)
        self.first_timeout = float(first_timeout) if first_timeout else 10.0 * self.timeout
        self._exit = exit or os._exit
        self._stop = None
        self._where = "before the first step"
        self.fired = None

    def _beat(self, where=None):
        import time

        self._last = time.monotonic()
        if where:
            self._where = where

    def on_train_begin(self, logs=None):
        import threading

        self._started = False
        self._beat()
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="keras_gan.StepWatchdog", daemon=True).start()

    def _watch(self):
        import sys
        import time

        while not self._stop.wait(min(1.0, self.timeout / 4)):
            limit = self.timeout if self._started else self.first_timeout
            idle = time.monotonic() - self._last
            if idle > limit:
                self.fired = (
                    f"keras-gan train: error: no training progress for {idle:.0f} s (limit {limit:.0f} s, "
                    f"{self._where}); a worker of the cluster died or hangs. Checkpoints are intact: "
                    "restart every worker with --resume."
                )
                print(self.fired, file=sys.stderr, flush=True)
                self._exit(self.EXIT_STALLED)
                return

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._beat(f"epoch {epoch + 1}")

    def on_train_batch_begin(self, batch, logs=None):
        self._beat()

    def on_train_batch_end(self, batch, logs=None):
        self._started = True
        self._beat(f"epoch {getattr(self, '_epoch', 0) + 1}, after step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._beat()

    def on_train_end(self, logs=None):
        if self._stop is not None:
            self._stop.set()


class HistoryWriter(keras.callbacks.Callback):
    """Keeps ``history.json`` up to date after every epoch (atomically).

    On resume the existing file is extended: epochs already recorded beyond
    the resume point are replaced.

    Args:
        path: the JSON file.
        guard: an optional :class:`NaNGuard`; a failed epoch is not recorded.
        partial: after a mid-epoch resume, the sidecar of the checkpoint it
            started from (``{"epoch", "step", "steps_per_epoch", "logs"}``): that
            epoch's means are completed with the running means recorded there.
    """

    def __init__(self, path, guard=None, partial=None):
        super().__init__()
        self.path = path
        self.guard = guard
        self.partial = partial
        self.stopped = False  # set by StopOnSignal after a mid-epoch stop
        self.history = {"epoch": []}
        self._loaded = False

    def on_train_begin(self, logs=None):
        if not self._loaded and os.path.isfile(self.path):
            with open(self.path) as fh:
                self.history = json.load(fh)
        self._loaded = True

    def flush(self):
        """Writes the epochs recorded so far (atomically)."""
        files.write_json(self.path, self.history)

    def _complete(self, epoch, logs):
        # A mid-epoch resume ran only the last steps of this epoch: fold in the running
        # means the checkpoint recorded for its first steps, so the epoch's means cover all of it.
        p = self.partial
        if not p or p.get("epoch") != epoch or not p.get("step") or not p.get("steps_per_epoch"):
            return logs
        k, n = p["step"], p["steps_per_epoch"]
        before = p.get("logs") or {}
        return {name: (float(before[name]) * k + float(v) * (n - k)) / n if name in before else v
                for name, v in (logs or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        if (self.guard is not None and self.guard.failed) or self.stopped:
            return
        logs = self._complete(epoch, logs)
        done = epoch + 1
        keep = [i for i, e in enumerate(self.history.get("epoch", [])) if e < done]
        history = {k: [v[i] for i in keep] for k, v in self.history.items()}
        history.setdefault("epoch", []).append(done)
        for name, value in (logs or {}).items():
            history.setdefault(name, [None] * (len(history["epoch"]) - 1)).append(float(value))
        self.history = history
        files.write_json(self.path, history)


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback without its per-batch summaries that write nothing.

    With ``update_freq="epoch"`` (the default) Keras' callback pushes no writer for batches, yet after every
    call of the training function it still runs ``tf.summary.scalar`` for each log (``batch_d_loss``, ...),
    which without a writer records nothing: 1.9 ms an epoch of the default digits run (2-core AMD EPYC, two
    calls of 22 steps an epoch, four logs). Here that hook returns at once unless it has something to do
    (batch-level logging, the train graph, steps per second, profiling); the event files are the same.
    A subclass is what Keras' maintainers suggest for changing its batch-level logging (keras-team/keras#17052).

    Args:
        log_dir, **kwargs: as for ``keras.callbacks.TensorBoard``.

    Example:

    >>> tb = TensorBoard("runs/demo/logs", write_graph=False)  # doctest: +SKIP
    """

    def on_train_batch_end(self, batch, logs=None):
        # Keras' private flags; one this Keras lacks counts as something to do
        busy = [getattr(self, name, True) for name in ("_should_write_train_graph", "write_steps_per_second",
                                                        "_should_trace")]
        if self.update_freq == "epoch" and not any(busy):
            return
        super().on_train_batch_end(batch, logs)


def __getattr__(name):
    # DivergenceTracker (W1 / JS per epoch) lives in divergences.py and needs TensorFlow Probability (0.5 s to
    # import): loaded when asked for, not by every `keras-gan train`.
    if name == "DivergenceTracker":
        from keras_gan.divergences import DivergenceTracker

        return DivergenceTracker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
