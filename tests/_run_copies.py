"""Helpers shared by the resume tests: a run directory as a kill leaves it, and weight comparison."""

import json
import os
import shutil

import keras
import numpy as np

from keras_gan.training import checkpointing


def weights(path):
    """The weights of a saved ``.keras`` model, as numpy arrays."""
    return [w.numpy() for w in keras.models.load_model(path).weights]


def assert_same_weights(path_a, path_b):
    """Two saved models hold the same weights (to 1e-5)."""
    a, b = weights(path_a), weights(path_b)
    assert len(a) == len(b) > 4
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-5)


def copy_until(reference, dest, epoch, step):
    """A copy of the reference run holding only its checkpoints up to (epoch, step), as a kill leaves it."""
    shutil.copytree(reference, dest)
    for ck in checkpointing.list_checkpoints(str(dest)):
        if (ck.epoch, ck.step) > (epoch, step):
            os.remove(ck.path)
            os.remove(checkpointing.sidecar_path(ck.path))
    history = json.loads((dest / "history.json").read_text())
    keep = [i for i, e in enumerate(history["epoch"]) if e <= epoch]
    (dest / "history.json").write_text(json.dumps({k: [v[i] for i in keep] for k, v in history.items()}))
