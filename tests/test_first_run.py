"""A newcomer's first run (issue 26): a quiet start, one progress bar for the whole run, a summary that names
files that exist, and the same result on the first run (which prepares the data) as on every later one."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_gan import backends, config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(args, tmp_path, command="train", **env):
    environ = dict(os.environ, KERAS_GAN_DATA_DIR=str(tmp_path / "data"), KERAS_GAN_CACHE_DIR=str(tmp_path / "cache"),
                   PYTHONPATH=ROOT, **env)
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a new user's shell has it
    return subprocess.run([sys.executable, "-m", "keras_gan.cli", command, *args], capture_output=True, text=True,
                          env=environ, cwd=str(tmp_path), timeout=600)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A fresh machine's first run: the digits prepared, the convolution forms timed, one epoch, then a resume."""
    tmp = tmp_path_factory.mktemp("first")
    fresh = _cli(["--epochs", "1", "--output", "run", "--verbose", "1"], tmp)
    resumed = _cli(["--output", "run", "--resume", "--set", "train.epochs=2", "--verbose", "1"], tmp)
    return tmp, fresh, resumed


_NOISE = ("cuda", "cuInit", "WARNING:absl", "absl::InitializeLog", "shuffle=True", "UserWarning", "Unknown size")


@pytest.mark.skipif(backends.has_nvidia_gpu(), reason="the CUDA lines are news on a machine with a GPU")
@pytest.mark.slow  # two real CLI runs from a fresh data folder (~30 s together)
def test_a_cpu_run_prints_no_cuda_absl_or_keras_warnings(first_run):
    _, fresh, resumed = first_run
    for out in (fresh, resumed):
        assert out.returncode == 0, out.stderr[-3000:]
        text = out.stdout + out.stderr
        for noise in _NOISE:
            assert noise.lower() not in text.lower(), (noise, text[-3000:])


@pytest.mark.skipif(backends.has_nvidia_gpu(), reason="the CUDA lines are news on a machine with a GPU")
@pytest.mark.slow  # the summary's three commands on the run (~60 s together)
def test_the_summary_commands_work_and_print_no_noise(first_run):
    """`evaluate`, `sample` and `export` exactly as the summary prints them: exit 0, their files written, and
    none of the start-up noise `train` holds back (a SavedModel with custom gradients warned on every load)."""
    tmp, _, resumed = first_run
    commands = re.findall(r"^\s+keras-gan ((?:evaluate|sample|export) .+)$", resumed.stdout, re.M)
    assert [c.split()[0] for c in commands] == ["evaluate", "sample", "export"], resumed.stdout[-2000:]
    for command in commands:
        name, *args = command.split()
        if name == "evaluate":
            args += ["--metrics", "fid"]  # the one metric is enough to load, generate and score
        out = _cli(args, tmp, command=name)
        assert out.returncode == 0, (command, out.stderr[-3000:])
        text = out.stdout + out.stderr
        for noise in _NOISE:
            assert noise.lower() not in text.lower(), (command, noise, text[-3000:])
    assert os.path.exists(os.path.join(tmp, "run", "evaluation.json"))
    assert os.path.exists(os.path.join(tmp, "samples.png"))
    assert os.path.exists(os.path.join(tmp, "run", "export", "generator.onnx"))


def _plain(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # the bar's colours


@pytest.mark.slow  # two real CLI runs from a fresh data folder (~30 s together)
def test_the_progress_bar_counts_every_step_of_the_run(first_run):
    _, fresh, resumed = first_run
    fresh, resumed = (type("Out", (), {"stdout": _plain(o.stdout)}) for o in (fresh, resumed))
    # the digits at batch 32: 44 steps an epoch; one bar for the run, from where a resumed run starts
    assert re.search(r"\b44/44\b", fresh.stdout), fresh.stdout[-2000:]
    assert re.search(r"\b88/88\b", resumed.stdout), resumed.stdout[-2000:]
    first = re.findall(r"\b(\d+)/88\b", resumed.stdout)
    assert first and int(first[0]) == 44, first  # the resumed bar starts at the first epoch's 44 steps
    assert "Epoch 1/" not in fresh.stdout and "Epoch 2/" not in resumed.stdout  # no Keras bar per epoch


@pytest.mark.slow  # two real CLI runs from a fresh data folder (~30 s together)
def test_the_summary_names_files_that_exist(first_run):
    tmp, fresh, resumed = first_run
    for out, steps in ((fresh, 44), (resumed, 44)):
        lines = out.stdout.splitlines()
        start = [i for i, line in enumerate(lines) if line.startswith("run directory: ")][-1]
        summary = "\n".join(lines[start:])
        assert f"{steps} generator steps of batch 32" in summary, summary
        named = re.findall(r"^\s+(?:samples|checkpoint|history)\s+(\S+)", summary, re.M)
        assert len(named) == 3, summary
        every = config.load("dcgan_digits").train.sample_every  # the summary says how often grids are written
        assert (f"one grid every {every} epochs" if every > 1 else "one grid per epoch") in summary, summary
        for path in named:
            assert os.path.exists(os.path.join(tmp, path)), path
        logs = re.search(r"tensorboard --logdir (\S+)", summary).group(1)
        assert os.path.isdir(os.path.join(tmp, logs))
        for command in ("keras-gan evaluate --run run", "keras-gan sample --run run", "keras-gan export --run run"):
            assert command in summary


def test_run_progress_totals_for_fresh_and_resumed_runs(capsys):
    from keras_gan.training.callbacks import RunProgress

    for epochs, steps, epoch0, step0 in ((3, 22, 0, 0), (5, 7, 2, 0), (4, 10, 1, 6)):
        bar = RunProgress(epochs, steps, initial_epoch=epoch0, initial_step=step0)
        assert (bar.total, bar.done) == (epochs * steps, epoch0 * steps + step0)
        bar.on_train_begin()
        for epoch in range(epoch0, epochs):
            bar.on_epoch_begin(epoch)
            first = step0 if epoch == epoch0 else 0
            for b in range(steps - first):  # a mid-epoch resume's first fit counts from 0 again
                bar.on_train_batch_end(b, {"d_loss": 1.0, "g_loss": 2.0})
            assert bar.done == (epoch + 1) * steps
            bar.on_epoch_end(epoch, {"d_loss": 1.0, "g_loss": 2.0})
        bar.close()
        assert bar.done == bar.total
        assert f"{bar.total}/{bar.total}" in capsys.readouterr().out


def test_quiet_native_start_drops_only_the_noise(capfd):
    with backends.quiet_native_start():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"a real warning\n")
        print("from python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a real warning" in err and "from python" in err
    assert "absl::InitializeLog" not in err and "oneDNN" not in err


def test_first_run_equals_later_runs(tmp_path):
    """The run that prepares the data set starts from the same weights as a run on prepared data."""
    from keras_gan import config
    from keras_gan.training import trainer

    cfg = config.apply_overrides(config.load("dcgan_digits"), [
        "train.epochs=1", "model.base_filters=8", f"data.data_dir={tmp_path / 'data'}", "train.sample_every=1"])
    first = trainer.train(cfg, str(tmp_path / "a"), verbose=0)  # prepares the digits in a new folder
    later = trainer.train(cfg, str(tmp_path / "b"), verbose=0)
    for w1, w2 in zip(first.model.get_weights(), later.model.get_weights()):
        np.testing.assert_array_equal(w1, w2)


def test_a_crash_inside_the_quiet_start_still_reaches_stderr():
    code = ("import ctypes\nfrom keras_gan import backends\n"
            "with backends.quiet_native_start():\n    ctypes.string_at(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode != 0
    assert "Fatal Python error" in out.stderr and "Segmentation fault" in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("initial", [0, 2200])  # a fresh run, and one resumed half-way
def test_run_progress_times_only_the_steps_this_process_ran(initial, monkeypatch, capsys):
    """The bar's step time runs from the first update past where the run started: neither the steps done
    before a resume (Keras' bar divided by them: seconds of ETA for minutes of work) nor the first compiled
    call (tracing; it made a fresh run's first ETA many times too long) count."""
    import types

    from keras.src.utils import progbar
    from keras_gan.training.callbacks import _RunProgbar

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(progbar, "time", types.SimpleNamespace(time=lambda: clock.now))
    bar = _RunProgbar(4400, initial=initial, unit_name="step")
    stock = progbar.Progbar(4400, unit_name="step")
    for step, now in ((initial, 0.0), (initial + 22, 10.0), (initial + 44, 11.0), (initial + 66, 12.0)):
        clock.now = now
        rate = bar._estimate_step_duration(step, now)
        stock_rate = stock._estimate_step_duration(step, now)
    assert rate == pytest.approx(2.0 / 44)  # 44 steps in the 2 s after the first call
    eta = rate * (4400 - initial - 66)
    assert eta == pytest.approx((4400 - initial - 66) / 22)
    if initial:
        assert stock_rate * (4400 - initial - 66) < eta / 5  # what Keras' bar would have shown
    bar.update(4400, finalize=True)
    assert "4400/4400" in capsys.readouterr().out


@pytest.mark.skipif(backends.has_nvidia_gpu(), reason="the CUDA lines are news on a machine with a GPU")
@pytest.mark.slow  # three real CLI runs, one per backend (~45 s together)
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_an_image_folder_trains_quietly_on_every_backend(tmp_path, backend):
    # `--data DIR` used to read the folder before the backend was chosen: keras_gan.data imports TensorFlow,
    # which fixed Keras on TensorFlow (jax and torch ended in "Keras is already imported with the tensorflow
    # backend") and printed TensorFlow's start-up lines outside the quiet start.
    pytest.importorskip({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend])
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray((rng.random((8, 8)) * 255).astype("uint8")).save(tmp_path / "images" / label / f"{i}.png")
    out = _cli(["--data", str(tmp_path / "images"), "--backend", backend, "--epochs", "1", "--set",
                "data.image_size=8", "--set", "data.batch_size=8", "--output", "run"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "epoch-0001.keras").is_file()
    text = out.stdout + out.stderr
    for noise in _NOISE:
        assert noise.lower() not in text.lower(), (noise, text[-3000:])
