"""keras-gan on every Keras backend: the portable tests under JAX and torch, gradients that agree,
JAX data and model parallelism, and checkpoints that move between backends and export.

Each check runs in a subprocess, since Keras fixes its backend when it is first imported.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "_backend_worker.py")


def _env(backend, **extra):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


def _run(cmd, backend, timeout=600, **extra):
    out = subprocess.run(cmd, cwd=ROOT, env=_env(backend, **extra), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)} on {backend} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_portable_suite_passes_on(backend):
    out = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_portable.py"], backend)
    assert " passed" in out.stdout and "failed" not in out.stdout


@pytest.mark.slow
def test_gradients_agree_across_backends(tmp_path):
    results = {}
    for backend in ("tensorflow", "jax", "torch"):
        path = str(tmp_path / f"{backend}.npz")
        _run([sys.executable, WORKER, "grads", path], backend)
        results[backend] = np.load(path)
    reference = results["tensorflow"]
    assert len(reference.files) > 20  # D and G losses and gradients, MLP and DCGAN
    for backend in ("jax", "torch"):
        for key in reference.files:
            ref, got = reference[key], results[backend][key]
            scale = np.abs(ref).max() + 1e-12
            assert np.abs(ref - got).max() / scale < 1e-5, (backend, key)


@pytest.mark.slow
def test_jax_data_and_model_parallel_equal_one_device(tmp_path):
    flags = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    found = {}
    for strategy in ("default", "data_parallel", "model_parallel"):
        path = str(tmp_path / f"{strategy}.npz")
        _run([sys.executable, WORKER, "step", path, strategy], "jax", **flags)
        found[strategy] = np.load(path)
    assert int(found["data_parallel"]["replicas"]) == 2
    assert "model" in str(found["model_parallel"]["kernel_sharding"])  # a weight really is sharded
    weights = [k for k in found["default"].files if k.startswith("w")]
    for strategy in ("data_parallel", "model_parallel"):
        for key in weights:
            np.testing.assert_allclose(found[strategy][key], found["default"][key], rtol=1e-5, atol=1e-6)


def _train(run_dir, backend, epochs, resume=False):
    cmd = [sys.executable, "-m", "keras_gan.cli", "train", "--backend", backend, "--output", run_dir, "--quiet"]
    if resume:
        cmd += ["--resume", "--epochs", str(epochs)]
    else:
        cmd += ["--config", "gan_ring8", "--epochs", str(epochs), "--set", "data.num_samples=1024",
                "--set", "train.num_sample_images=16", "--set", "model.ema_decay=0.9"]
    return _run(cmd, "tensorflow")  # --backend wins over KERAS_BACKEND


@pytest.mark.slow
@pytest.mark.parametrize("first,second", [("jax", "tensorflow"), ("tensorflow", "jax")])
def test_checkpoint_moves_between_backends(tmp_path, first, second):
    run_dir = str(tmp_path / "run")
    _train(run_dir, first, 1)
    _train(run_dir, second, 2, resume=True)
    history = json.load(open(os.path.join(run_dir, "history.json")))
    assert history["epoch"] == [1, 2] and all(np.isfinite(history["g_loss"]))
    grid = str(tmp_path / "grid.png")
    _run([sys.executable, "-m", "keras_gan.cli", "sample", "--run", run_dir, "--out", grid], first)
    assert os.path.getsize(grid) > 0


@pytest.mark.slow
def test_a_torch_trained_keras_optimizer_loads_on_tensorflow(tmp_path):
    # Keras' torch backend swaps RMSprop (the WGAN's optimizer) for a subclass under keras.src.backend.torch;
    # its checkpoint recorded that module, and sampling it on TensorFlow imported torch and died in triton
    # (exit -11). The checkpoint now names keras.optimizers and loads on every backend.
    import glob
    import zipfile

    run_dir = str(tmp_path / "run")
    _run([sys.executable, "-m", "keras_gan.cli", "train", "--config", "wgan_ring8", "--epochs", "1", "--output",
          run_dir, "--quiet"], "torch")
    checkpoint = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "*.keras")))[-1]
    compiled = json.loads(zipfile.ZipFile(checkpoint).read("config.json"))["compile_config"]
    assert [compiled[k]["module"] for k in ("g_optimizer", "d_optimizer")] == ["keras.optimizers"] * 2
    grid = str(tmp_path / "grid.png")
    _run([sys.executable, "-m", "keras_gan.cli", "sample", "--run", run_dir, "--out", grid], "tensorflow")
    assert os.path.getsize(grid) > 0


def test_optimizer_configs_of_another_backend_load_here():
    # a config as the torch backend writes it (checked against the file above) loads as this backend's built-in
    import keras

    from keras_gan.models import _backend

    written = {"module": "keras.src.backend.torch.optimizers.torch_rmsprop", "class_name": "RMSprop",
               "config": keras.optimizers.RMSprop(3e-4, rho=0.8).get_config(), "registered_name": "RMSprop"}
    loaded = _backend.deserialize_optimizer(written)
    assert isinstance(loaded, keras.optimizers.RMSprop)
    assert float(loaded.learning_rate) == pytest.approx(3e-4) and loaded.rho == pytest.approx(0.8)
    assert _backend.serialize_optimizer(loaded)["module"] == "keras.optimizers"
    ours = _backend.serialize_optimizer(__import__("keras_gan").optimizers.FusedAdam(1e-4))
    assert ours["module"] == "keras_gan.optimizers"  # only Keras' backend modules are rewritten


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_main_job_runs_as_shipped_on(tmp_path, backend):
    """The README's `KERAS_BACKEND=... keras-gan train`: the shipped main config (steps_per_execution 22) on each
    backend, 2 epochs, then a resume (torch runs one step per call; it once failed with a traceback)."""
    run_dir = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "keras_gan.cli", "train", "--output", run_dir, "--quiet", "--epochs", "2"]
    _run(cmd, backend)
    _run(cmd[:-2] + ["--resume", "--epochs", "3"], backend)
    history = json.load(open(os.path.join(run_dir, "history.json")))
    assert history["epoch"] == [1, 2, 3] and all(np.isfinite(history["g_loss"]))
    # a checkpoint written on TensorFlow (the main config: 22 steps per call) loads, compiled, on this backend
    tf_dir = str(tmp_path / "tf")
    _run([sys.executable, "-m", "keras_gan.cli", "train", "--output", tf_dir, "--quiet", "--epochs", "1"], "tensorflow")
    code = ("import sys, glob, keras, keras_gan.models; "
            "m = keras.saving.load_model(sorted(glob.glob(sys.argv[1]))[-1]); print('steps', m.steps_per_execution)")
    loaded = _run([sys.executable, "-c", code, os.path.join(tf_dir, "checkpoints", "*.keras")], backend).stdout
    assert f"steps {1 if backend == 'torch' else 22}" in loaded, loaded


@pytest.mark.slow
def test_jax_trained_checkpoint_exports_with_parity(tmp_path):
    run_dir = str(tmp_path / "run")
    _train(run_dir, "jax", 1)
    out_dir = str(tmp_path / "exported")
    # export runs on TensorFlow whatever KERAS_BACKEND says
    _run([sys.executable, "-m", "keras_gan.cli", "export", "--run", run_dir, "--out", out_dir], "jax")
    report = json.load(open(os.path.join(out_dir, "export.json")))
    assert sorted(report["formats"]) == ["onnx", "savedmodel"]
    for fmt, entry in report["formats"].items():
        diffs = list(entry["max_abs_diff"].values())
        assert len(diffs) == 3 and max(diffs) < 1e-5, (fmt, diffs)  # batch 1, 7 and 64


def test_backend_choice_and_errors():
    from keras_gan import backends
    from keras_gan.errors import UsageError

    assert backends.choose(None, None, {}) == "tensorflow"
    assert backends.choose(None, "jax", {}) == "jax"
    assert backends.choose(None, "jax", {"KERAS_BACKEND": "torch"}) == "torch"
    assert backends.choose("tensorflow", "jax", {"KERAS_BACKEND": "torch"}) == "tensorflow"
    with pytest.raises(UsageError, match="'mxnet' is not a backend"):
        backends.choose(None, None, {"KERAS_BACKEND": "mxnet"})
    with pytest.raises(UsageError, match="does not run on the jax backend; with jax use one of default, "
                                         "data_parallel, model_parallel"):
        backends.select("jax", "mirrored")


def test_cli_rejects_a_strategy_of_another_backend(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "train", "--backend", "torch", "--strategy", "data_parallel",
         "--output", str(tmp_path / "r")], cwd=ROOT, env=_env("tensorflow"), capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert "does not run on the torch backend" in out.stderr and "Traceback" not in out.stderr


_LEAN_START = "from keras_gan import backends\nbackends.import_keras()"

_EXTRAS_PROBE = """
import sys
{start}
extras = ("sklearn", "pandas", "matplotlib", "jax", "scipy")
loaded = [m for m in extras if m in sys.modules]
import keras, numpy as np
import matplotlib.pyplot, pandas, sklearn.datasets, scipy.linalg  # importable again afterwards
x = np.ones((8, 3), "float32")
m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
m.compile("sgd", "mse")
m.fit(x, x[:, :1], epochs=1, verbose=0)  # Keras trains as usual
print(keras.backend.backend(), ",".join(loaded) or "-")
"""


@pytest.mark.parametrize("backend", ["tensorflow", pytest.param("torch", marks=pytest.mark.slow)])
def test_commands_import_keras_without_its_unused_extras(backend):
    """backends.import_keras (what every command's start uses) skips Keras' and TensorFlow's optional imports
    of scikit-learn, pandas, matplotlib, JAX and SciPy; a plain ``import keras`` in the same environment loads
    them, so the check can fail. Afterwards they import as usual and Keras still trains."""
    lean = _run([sys.executable, "-c", _EXTRAS_PROBE.format(start=_LEAN_START)], backend, timeout=300)
    assert lean.stdout.split()[-2:] == [backend, "-"], lean.stdout
    plain = _run([sys.executable, "-c", _EXTRAS_PROBE.format(start="import keras")], backend, timeout=300)
    loaded = plain.stdout.split()[-1].split(",")
    assert {"sklearn", "pandas", "scipy"} <= set(loaded), plain.stdout  # the control: Keras does load them


def test_import_keras_keeps_jax_when_the_backend_is_jax():
    out = _run([sys.executable, "-c", _EXTRAS_PROBE.format(start=_LEAN_START)], "jax", timeout=300)
    # Keras' JAX backend imports JAX itself, and JAX's sparse module SciPy
    assert out.stdout.split()[-2:] == ["jax", "jax,scipy"], out.stdout


def test_the_environment_meets_setup_cfg():
    """Every package setup.cfg requires is installed at a version it allows.

    An environment made before a requirement changed keeps the old version until ``pip install -e .`` runs
    again (the README's commands do): for example ml_dtypes 0.7.0, whose import took 0.6 s of every command
    against 5 ms for 0.6.0, which setup.cfg now excludes.
    """
    import configparser
    from importlib import metadata

    from packaging.requirements import Requirement

    setup = configparser.ConfigParser()
    setup.read(os.path.join(os.path.dirname(__file__), os.pardir, "setup.cfg"))
    lines = [ln.strip() for ln in setup["options"]["install_requires"].splitlines()]
    requirements = [Requirement(ln) for ln in lines if ln and not ln.startswith("#")]
    assert any(r.name == "ml_dtypes" and not r.specifier.contains("0.7.0") for r in requirements)
    wrong = []
    for r in requirements:
        try:
            version = metadata.version(r.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{r.name} is not installed")
            continue
        if not r.specifier.contains(version, prereleases=True):
            wrong.append(f"{r.name} {version} is not {r.specifier}")
    assert not wrong, wrong
