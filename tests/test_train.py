"""End to end: the CLI's run directory, resume (also after SIGKILL), the NaN guard, sampling."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import config, models
from keras_gan.training import callbacks
from keras_gan.training import runs
from keras_gan.training import trainer

TINY = ["--set", "model.base_filters=8", "--set", "model.latent_dim=16", "--set", "data.batch_size=32",
        "--set", "train.num_sample_images=16"]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "keras_gan.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_train_writes_the_run_directory_and_samples(tmp_path):
    run = tmp_path / "run"
    out = _cli("train", "--epochs", "2", "--output", str(run), "--quiet", *TINY)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (run / "config.yaml").is_file()
    assert config.load(str(run / "config.yaml")).model.base_filters == 8
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["d_loss"]) == 2
    assert all(np.isfinite(history[k]).all() for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    # the main config's grids and checkpoints: every 25 epochs and the last one
    assert not (run / "samples" / "epoch_0001.png").exists()
    assert (run / "samples" / "epoch_0002.png").is_file()
    assert json.loads((run / "samples" / "epoch_0002.json").read_text())["epoch"] == 2
    assert any(f.startswith("events.out.tfevents") for _, _, fs in os.walk(run / "logs") for f in fs)
    assert [e for e, _ in runs.checkpoints(str(run))] == [2]
    assert not [f for f in os.listdir(run / "checkpoints") if f.startswith(".")]  # no temporaries left

    grid = tmp_path / "grid.png"
    out = _cli("sample", "--run", str(run), "--num", "9", "--seed", "4", "--out", str(grid))
    assert out.returncode == 0, out.stderr[-2000:]
    from PIL import Image

    assert Image.open(grid).size[0] >= 8 * 3
    assert json.loads(grid.with_suffix(".json").read_text())["seed"] == 4

    out = _cli("train", "--epochs", "2", "--output", str(run), *TINY)
    assert out.returncode == 2 and "already holds a run; pass --resume" in out.stderr


def _tiny_cfg(epochs):
    return config.from_dict({"data": {"batch_size": 64}, "model": {"base_filters": 8, "latent_dim": 16},
                             "train": {"epochs": epochs, "num_sample_images": 4, "d_steps": 2}})


def test_resume_equals_uninterrupted(tmp_path):
    straight = trainer.train(_tiny_cfg(2), str(tmp_path / "a"), verbose=0)
    trainer.train(_tiny_cfg(1), str(tmp_path / "b"), verbose=0)
    resumed = trainer.train(_tiny_cfg(2), str(tmp_path / "b"), resume=True, verbose=0)
    assert resumed.initial_epoch == 1 and resumed.epochs == 2
    assert int(resumed.model.d_optimizer.iterations.numpy()) == int(straight.model.d_optimizer.iterations.numpy())
    for a, b in zip(straight.model.weights, resumed.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    ha = json.loads((tmp_path / "a" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "history.json").read_text())
    assert hb["epoch"] == [1, 2]
    np.testing.assert_allclose(ha["g_loss"], hb["g_loss"], rtol=1e-4)


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--output", str(run), "--quiet", *TINY, "--set", "data.batch_size=8", "--epochs", "40"]
    proc = subprocess.Popen([sys.executable, "-m", "keras_gan.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(runs.checkpoints(str(run))) < 1:
        time.sleep(0.2)
    time.sleep(0.5)  # somewhere inside the next epoch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = runs.checkpoints(str(run))
    assert done, "no checkpoint was written before the kill"
    last = done[-1][0]
    assert last < 40
    keras.models.load_model(done[-1][1])  # the surviving checkpoint is whole
    out = _cli("train", "--output", str(run), "--resume", "--quiet", "--epochs", str(last + 1))
    assert out.returncode == 0, out.stderr[-2000:]
    assert runs.checkpoints(str(run))[-1][0] == last + 1
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == list(range(1, last + 2))


class _Poison(keras.callbacks.Callback):
    """Puts a NaN into the discriminator after the first epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            w = self.model.discriminator.trainable_weights[0]
            w.assign(tf.fill(w.shape, float("nan")))


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=8, num_layers=1)
    model.compile()
    guard = callbacks.NaNGuard()
    cbs = [guard, callbacks.HistoryWriter(str(tmp_path / "history.json"), guard=guard),
           _Poison(), callbacks.Checkpoint(str(tmp_path), guard=guard)]
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=5, callbacks=cbs, verbose=0)
    assert guard.failed and "= nan at epoch 2, batch 1" in guard.failed
    assert [e for e, _ in runs.checkpoints(str(tmp_path))] == [1]
    assert json.loads((tmp_path / "history.json").read_text())["epoch"] == [1]
