"""Keras callbacks for GAN runs: sample grids, atomic checkpoints, history, a NaN guard.

They are ordinary ``keras.callbacks.Callback`` objects and work with any
:class:`~keras_gan.models.AdversarialModel` under ``model.fit``.
"""

import json
import math
import os

import keras

from keras_gan import runs


def _due(callback, done):
    """Whether ``done`` epochs is a multiple of ``callback.every`` or the last epoch of ``fit``."""
    return done % callback.every == 0 or done == callback.params.get("epochs")


class SampleGrid(keras.callbacks.Callback):
    """Saves samples from fixed noise every ``every`` epochs as ``samples/epoch_NNNN.png``.

    A JSON file beside each picture records the epoch, the noise seed and the
    pixel statistics, so ``keras-gan sample --seed`` reproduces the grid.

    Args:
        directory: output folder.
        num: number of samples (images: one grid; 2-D data: a scatter plot).
        seed: seed of the fixed latent vectors.
        every: epochs between pictures.
        reference: for 2-D data, mode centers drawn beneath the samples.

    Example:

    >>> cb = SampleGrid("runs/x/samples", num=64, seed=0)
    """

    def __init__(self, directory, num=64, seed=0, every=1, reference=None):
        super().__init__()
        self.directory = directory
        self.num = int(num)
        self.seed = int(seed)
        self.every = int(every)
        self.reference = reference

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if not _due(self, done):
            return
        from keras_gan.images import save_samples

        n = self.num if self.reference is None else max(self.num, 1000)
        samples = self.model.generate(n, seed=self.seed)
        path = os.path.join(self.directory, f"epoch_{done:04d}.png")
        save_samples(samples, path, reference=self.reference, title=f"epoch {done}")
        runs.write_json(
            path[:-4] + ".json",
            {"epoch": done, "seed": self.seed, "num": n, "shape": list(samples.shape[1:]),
             "mean": float(samples.mean()), "std": float(samples.std())},
        )


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
    """Saves the whole model (both players, both optimizers) every ``every`` epochs.

    Files are ``checkpoints/epoch-NNNN.keras``, written to a temporary name and
    renamed, so a process killed mid-write leaves the previous checkpoint
    intact. Only the newest ``keep`` are kept. Nothing is saved after a
    :class:`NaNGuard` stop.

    Args:
        run_dir: the run directory.
        every: epochs between checkpoints (the last epoch is always saved).
        keep: checkpoints to keep.
        guard: an optional :class:`NaNGuard`.
    """

    def __init__(self, run_dir, every=1, keep=2, guard=None):
        super().__init__()
        self.run_dir = run_dir
        self.every = int(every)
        self.keep = int(keep)
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failed:
            return
        done = epoch + 1
        if not _due(self, done):
            return
        path = runs.checkpoint_path(self.run_dir, done)
        with runs.atomic_path(path) as tmp:
            self.model.save(tmp)
        for _, old in runs.checkpoints(self.run_dir)[: -self.keep]:
            os.remove(old)


class HistoryWriter(keras.callbacks.Callback):
    """Keeps ``history.json`` up to date after every epoch (atomically).

    On resume the existing file is extended: epochs already recorded beyond
    the resume point are replaced.

    Args:
        path: the JSON file.
        guard: an optional :class:`NaNGuard`; a failed epoch is not recorded.
    """

    def __init__(self, path, guard=None):
        super().__init__()
        self.path = path
        self.guard = guard
        self.history = {"epoch": []}

    def on_train_begin(self, logs=None):
        if os.path.isfile(self.path):
            with open(self.path) as fh:
                self.history = json.load(fh)

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failed:
            return
        done = epoch + 1
        keep = [i for i, e in enumerate(self.history.get("epoch", [])) if e < done]
        history = {k: [v[i] for i in keep] for k, v in self.history.items()}
        history.setdefault("epoch", []).append(done)
        for name, value in (logs or {}).items():
            history.setdefault(name, [None] * (len(history["epoch"]) - 1)).append(float(value))
        self.history = history
        runs.write_json(self.path, history)


from keras_gan.divergences import DivergenceTracker  # noqa: E402,F401  (W1 / JS per epoch, in divergences.py)
