"""Step-level checkpoints and resume mid-epoch, after a real SIGTERM/SIGINT, equal a run that never stopped."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_gan import config
from keras_gan.training import checkpointing
from keras_gan.training import trainer
from keras_gan.commands import train as train_cmd
from keras_gan.errors import UsageError

from _run_copies import assert_same_weights, copy_until

# A DCGAN on the digits: 1797 images / (32 x 2) = 28 steps per epoch (22 for the train split).
RAW = {"data": {"batch_size": 32}, "model": {"base_filters": 8, "latent_dim": 16},
       "train": {"epochs": 2, "num_sample_images": 4, "d_steps": 2, "checkpoint_every_steps": 5,
                 "keep_checkpoints": 100}}
# The CLI without --config starts from configs/dcgan_digits.yaml: its own settings go back to the dataclass
# defaults that _cfg() uses, so the CLI and the in-process runs train the same model step by step.
_MAIN_ONLY = {"model": {"ema_decay": None},
              "train": {"sample_every": 1, "checkpoint_every": 1, "steps_per_execution": 1, "intra_op_threads": None}}
SETS = [x for raw in (RAW, _MAIN_ONLY) for section, keys in raw.items() for k, v in keys.items() if k != "epochs"
        for x in ("--set", f"{section}.{k}={json.dumps(v)}")]


def _cfg(**train):
    raw = json.loads(json.dumps(RAW))
    raw["train"].update(train)
    return config.from_dict(raw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 2-epoch run with a checkpoint every 5 steps (all kept)."""
    run = tmp_path_factory.mktemp("reference") / "run"
    result = trainer.train(_cfg(), str(run), verbose=0)
    assert result.interrupted is None and result.failed is None
    return run


def test_step_checkpoints_are_written_verified_and_named(reference):
    found = checkpointing.list_checkpoints(str(reference))
    steps = checkpointing.read_sidecar(found[0].path)["steps_per_epoch"]
    mid = [(c.epoch, c.step) for c in found if c.step]
    # every 5 global steps, mid-epoch ones named by (epochs done, steps into the next)
    expected = [divmod(g, steps) for g in range(5, 2 * steps, 5) if g % steps]
    assert mid == expected
    assert [(c.epoch, c.step) for c in found if not c.step] == [(1, 0), (2, 0)]
    for c in found:
        info = checkpointing.read_sidecar(c.path)
        assert info["epoch"] == c.epoch and info["step"] == c.step and len(info["sha256"]) == 64
        assert checkpointing.verify_keras_file(c.path) is None
    assert "d_loss" in checkpointing.read_sidecar(found[0].path)["logs"]


def test_resume_mid_epoch_equals_uninterrupted(reference, tmp_path):
    run = tmp_path / "run"
    step = min(c.step for c in checkpointing.list_checkpoints(str(reference)) if c.epoch == 1 and c.step)
    copy_until(reference, run, 1, step)  # killed after epoch 1 and a few steps of epoch 2
    result = trainer.train(_cfg(), str(run), resume=True, verbose=0)
    assert (result.initial_epoch, result.initial_step) == (1, step)
    assert_same_weights(run / "checkpoints" / "epoch-0002.keras", reference / "checkpoints" / "epoch-0002.keras")
    ha, hb = (json.loads((r / "history.json").read_text()) for r in (reference, run))
    assert hb["epoch"] == [1, 2]
    # epoch 2's means are completed with the first steps' running means from the checkpoint
    np.testing.assert_allclose(hb["d_loss"], ha["d_loss"], rtol=1e-4)
    np.testing.assert_allclose(hb["g_loss"], ha["g_loss"], rtol=1e-4)


class _SignalAt(keras.callbacks.Callback):
    """Sends a real signal to this process at the end of (epoch, batch)."""

    def __init__(self, signum, epoch, batch):
        super().__init__()
        self.signum, self.epoch, self.batch, self._epoch = signum, epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_epoch_checkpoints_stops_and_resumes_to_the_same_weights(reference, tmp_path, signum):
    run = tmp_path / "run"
    before = signal.getsignal(signum)
    result = trainer.train(_cfg(checkpoint_every_steps=None), str(run), verbose=0,
                           extra_callbacks=[_SignalAt(signum, 1, 6)])
    assert signal.getsignal(signum) is before  # handlers put back
    assert result.interrupted == {"signal": signal.Signals(signum).name, "epoch": 1, "step": 7,
                                  "checkpoint": str(run / "checkpoints" / "epoch-0001-step-000007.keras")}
    assert [(c.epoch, c.step) for c in checkpointing.list_checkpoints(str(run))] == [(1, 0), (1, 7)]
    assert json.loads((run / "history.json").read_text())["epoch"] == [1]  # the cut epoch is not recorded
    assert not (run / "samples" / "epoch_0002.png").exists()
    assert not (run / checkpointing.LOCK_NAME).exists()
    resumed = trainer.train(_cfg(checkpoint_every_steps=None), str(run), resume=True, verbose=0)
    assert resumed.interrupted is None and (resumed.initial_epoch, resumed.initial_step) == (1, 7)
    assert_same_weights(run / "checkpoints" / "epoch-0002.keras", reference / "checkpoints" / "epoch-0002.keras")


def test_signal_on_the_last_step_of_an_epoch_keeps_the_epoch(reference, tmp_path):
    run = tmp_path / "run"
    steps = checkpointing.read_sidecar(str(reference / "checkpoints" / "epoch-0001.keras"))["steps_per_epoch"]
    result = trainer.train(_cfg(checkpoint_every_steps=None, checkpoint_every=5), str(run), verbose=0,
                           extra_callbacks=[_SignalAt(signal.SIGTERM, 0, steps - 1)])
    assert (result.interrupted["epoch"], result.interrupted["step"]) == (1, 0)
    assert [(c.epoch, c.step) for c in checkpointing.list_checkpoints(str(run))] == [(1, 0)]
    assert json.loads((run / "history.json").read_text())["epoch"] == [1]
    assert_same_weights(run / "checkpoints" / "epoch-0001.keras", reference / "checkpoints" / "epoch-0001.keras")


@pytest.mark.slow
def test_sigterm_to_the_cli_exits_75_and_resume_matches(reference, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "keras_gan.cli", "train", "--output", str(run), "--quiet", *SETS]
    proc = subprocess.Popen([*cmd, "--epochs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not [c for c in checkpointing.list_checkpoints(str(run)) if c.step]:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == checkpointing.EXIT_INTERRUPTED == 75, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("keras-gan train: stopped by SIGTERM")]
    assert len(lines) == 1 and f"resume with: keras-gan train --output {run} --resume" in lines[0]
    assert "Traceback" not in err
    assert not (run / checkpointing.LOCK_NAME).exists()
    done = subprocess.run([*cmd[:-len(SETS)], "--resume"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_weights(run / "checkpoints" / "epoch-0002.keras", reference / "checkpoints" / "epoch-0002.keras")


def _args(run, *, resume=True, sets=(), epochs=None):
    return type("Args", (), {"config": None, "output": str(run), "overrides": list(sets), "epochs": epochs,
                             "strategy": None, "tpu": None, "resume": resume})()


@pytest.mark.parametrize("key, value, stored", [
    ("model.latent_dim", "50", "16"), ("data.batch_size", "16", "32"), ("train.d_steps", "1", "2"),
    ("train.g_learning_rate", "0.1", "0.0002"),
])
def test_resume_override_that_changes_the_model_or_data_is_refused(reference, tmp_path, key, value, stored):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = (run / "config.yaml").read_text()
    with pytest.raises(UsageError) as e:
        train_cmd._resolve(_args(run, sets=[f"{key}={value}"]))
    assert f"--resume: {key} is {stored}" in str(e.value) and f"gives {value}" in str(e.value)
    assert "train.epochs" in str(e.value)  # the allowed keys are listed
    assert (run / "config.yaml").read_text() == before  # nothing rewritten


def test_resume_allows_the_documented_overrides(reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    cfg, _ = train_cmd._resolve(_args(run, sets=["train.keep_checkpoints=3", "train.checkpoint_every_steps=7"],
                                      epochs=5))
    assert (cfg.train.epochs, cfg.train.keep_checkpoints, cfg.train.checkpoint_every_steps) == (5, 3, 7)
    assert cfg.model.latent_dim == 16
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    # the README's list of keys allowed on --resume is exactly the code's
    start = readme.index("Keys allowed on `--resume`:")
    end = readme.index("(`keras_gan.training.checkpointing.RESUME_OVERRIDES`", start)
    listed = re.findall(r"`(\w+\.\w+)`", readme[start:end])
    assert sorted(listed) == sorted(checkpointing.RESUME_OVERRIDES), "README's resume overrides differ from the code"


def test_resume_may_set_train_backend_as_the_flag_does(reference, tmp_path):
    from keras_gan import backends

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    cfg, _ = train_cmd._resolve(_args(run, sets=["train.backend=jax"]))  # a checkpoint is backend-neutral
    assert cfg.train.backend == "jax" and cfg.model.latent_dim == 16
    assert "train.backend" in checkpointing.RESUME_OVERRIDES
    # what `keras-gan train` then runs on: the key, unless --backend or KERAS_BACKEND says otherwise
    assert backends.choose(None, cfg.train.backend, {}) == "jax"
    assert backends.choose("torch", cfg.train.backend, {}) == "torch"


@pytest.mark.slow
def test_resume_with_set_train_backend_trains_on_that_backend(tmp_path):
    run = tmp_path / "run"
    mlp = {"data": {"name": "ring8", "num_samples": 512, "batch_size": 64},
           "model": {"architecture": "mlp", "latent_dim": 2, "hidden_units": 8, "num_layers": 1},
           "train": {"epochs": 1, "num_sample_images": 16}}
    trainer.train(config.from_dict(mlp), str(run), verbose=0)  # epoch 1 on TensorFlow
    script = ("import sys\nfrom keras_gan import cli\nrc = cli.main(sys.argv[1:])\nimport keras\n"
              "print('trained on', keras.backend.backend())\nsys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", script, "train", "--output", str(run), "--resume", "--quiet",
                           "--epochs", "2", "--set", "train.backend=jax"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained on jax" in done.stdout and "epochs 2..2" in done.stdout, done.stdout[-3000:]
    from keras_gan.training import runs

    assert runs.load_config(str(run)).train.backend == "jax"
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2] and all(np.isfinite(history["g_loss"]))
