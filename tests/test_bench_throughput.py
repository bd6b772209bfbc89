"""The throughput benchmark in its tiny smoke mode, and its FLOP count against the Keras models' shapes."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gan import networks
from keras_gan.bench import throughput


def _model_flops(model):
    """2 x multiply-adds of a forward pass, read off the Keras layers' kernels and output shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2DTranspose):  # every input pixel meets the whole kernel
            total += 2 * int(np.prod(layer.kernel.shape)) * int(np.prod(layer.input.shape[1:3]))
        elif isinstance(layer, keras.layers.Conv2D):
            total += 2 * int(np.prod(layer.kernel.shape)) * int(np.prod(layer.output.shape[1:3]))
    return total


@pytest.mark.parametrize("case", [(64, 3, 64, 4), (8, 1, 64, 2), (32, 3, 16, 3)])
def test_flop_count_matches_the_models(case):
    size, channels, base, n = case
    g = networks.dcgan_generator((size, size, channels), 100, base, 5, n)
    d = networks.dcgan_discriminator((size, size, channels), base, 5, n)
    g_flops, d_flops = throughput.conv_flops(size, channels, base, n)
    assert g_flops == pytest.approx(_model_flops(g), rel=1e-9)
    assert d_flops == pytest.approx(_model_flops(d), rel=1e-9)


@pytest.mark.slow
def test_smoke_run_writes_json(tmp_path):
    frameworks = ["keras", "keras-plain", "keras-static", "keras-jax", "keras-torch", "torch"]  # [dev] has jax, torch
    out = tmp_path / "tp.json"
    env = dict(os.environ, KERAS_GAN_CONV_FORMS="autotune", KERAS_GAN_CACHE_DIR=str(tmp_path / "cache"))
    res = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "bench", "throughput", "--cases", "smoke", "--steps", "2",
         "--repeats", "1", "--frameworks", *frameworks, "--isa", "avx2", "--json", str(out)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    keras_row = report["cases"]["smoke"]["frameworks"]["keras"]
    assert keras_row["images_per_second"] > 0 and keras_row["peak_rss_mb"] > 0
    assert report["matmul_gflops"] > 0
    assert keras_row["speedup_vs_keras_plain"] > 0 and keras_row["speedup_vs_keras_static"] > 0
    # keras-gan's forms were timed in its worker (autotune), one choice per convolution computation
    from keras_gan.kernels import _tf as _conv

    assert keras_row["conv_forms"]
    for key, form in keras_row["conv_forms"].items():  # a form of that computation (taps since stop 49)
        assert form in _conv._FORMS[key.split("|")[0]], (key, form)
    assert (tmp_path / "cache" / "conv_forms.json").exists()
    assert report["isa"] == "avx2" and "AVX2" in report["machine"]["kernels"]
    assert report["cases"]["smoke"]["frameworks"]["keras-plain"]["images_per_second"] > 0
    assert keras_row["ratio_vs_torch"] > 0
    rows = report["cases"]["smoke"]["frameworks"]
    for framework, backend in (("keras-jax", "jax"), ("keras-torch", "torch")):
        assert rows[framework]["images_per_second"] > 0 and rows[framework]["ratio_vs_torch"] > 0
    machine = report["machine"]
    assert machine["cores"] >= 1 and isinstance(machine["avx512"], bool) and machine["cpu"]
    assert "cores" in machine["summary"] and "machine:" in res.stdout


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_plain_keras_copy_is_stock_keras_with_the_same_function(spectral_norm):
    """The benchmark's keras-plain rows run the same networks on stock Keras layers."""
    g = networks.dcgan_generator((16, 16, 3), latent_dim=8, base_filters=8)
    d = networks.dcgan_discriminator((16, 16, 3), base_filters=8, spectral_norm=spectral_norm)
    for model, x in ((g, np.random.default_rng(0).uniform(-1, 1, (4, 8))),
                     (d, np.random.default_rng(1).uniform(-1, 1, (4, 16, 16, 3)))):
        plain = throughput._plain_keras_copy(model)
        inner = [getattr(l, "layer", l) for l in plain.layers]
        assert not any(type(l).__module__.startswith("keras_gan") for l in inner)
        assert sum(type(l) in (keras.layers.Conv2D, keras.layers.Conv2DTranspose) for l in inner) >= 2
        plain.set_weights(model.get_weights())
        x = x.astype("float32")
        np.testing.assert_allclose(plain(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-5)


def test_isa_avx2_refuses_bfloat16_frameworks():
    import argparse

    from keras_gan.errors import UsageError

    parser = argparse.ArgumentParser()
    throughput.add_arguments(parser)
    args = parser.parse_args(["--json", "x.json", "--isa", "avx2", "--frameworks", "keras", "keras-bf16", "torch"])
    with pytest.raises(UsageError, match="--isa avx2 does not run the bfloat16 frameworks keras-bf16"):
        throughput.run(args)


def test_intra_op_threads_reach_every_framework_worker(monkeypatch):
    envs = []

    def fake_run(cmd, capture_output, text, env):
        envs.append(env)
        return subprocess.CompletedProcess(cmd, 0, stdout='{"images_per_second": 1}\n', stderr="")

    monkeypatch.setattr(throughput.subprocess, "run", fake_run)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    throughput._spawn("keras", throughput.CASES["digits"], 1, threads=1)
    throughput._spawn("torch", throughput.CASES["digits"], 1, threads=1)
    throughput._spawn("keras", throughput.CASES["digits"], 1)
    assert envs[0]["TF_NUM_INTRAOP_THREADS"] == "1" and envs[0]["OMP_NUM_THREADS"] == "1"
    assert envs[1]["OMP_NUM_THREADS"] == "1"
    assert "TF_NUM_INTRAOP_THREADS" not in envs[2]


def test_intra_op_threads_must_be_positive():
    import argparse

    from keras_gan.errors import UsageError

    parser = argparse.ArgumentParser()
    throughput.add_arguments(parser)
    for words, message in [(["0"], "--intra-op-threads 0 must be N or FRAMEWORK=N with N >= 1 or 'default'"),
                           (["keras=two"], "--intra-op-threads keras=two must be N or FRAMEWORK=N"),
                           (["jax=1"], "'jax' is not among this run's --frameworks \\(keras, torch\\)")]:
        args = parser.parse_args(["--json", "x.json", "--intra-op-threads", *words])
        with pytest.raises(UsageError, match=message):
            throughput.run(args)


def test_intra_op_threads_per_framework():
    assert throughput._threads_per_framework(None, ["keras", "torch"]) == {"keras": None, "torch": None}
    assert throughput._threads_per_framework(["2"], ["keras", "torch"]) == {"keras": 2, "torch": 2}
    assert throughput._threads_per_framework(["1", "torch=2"], ["keras", "torch"]) == {"keras": 1, "torch": 2}
    assert throughput._threads_per_framework(["keras-static=1"], ["keras", "keras-static"]) == {
        "keras": None, "keras-static": 1}


def test_digits_case_runs_keras_gan_as_its_config_ships_it(monkeypatch, tmp_path):
    """Unset, keras-gan on TensorFlow takes the digits config's threads; the peers and other cases keep theirs."""
    from keras_gan import config

    shipped = config.load("dcgan_digits").train.intra_op_threads
    assert shipped is not None  # the config ships a setting; otherwise this test checks nothing
    frameworks = ["keras", "keras-static", "keras-jax", "torch"]
    unset = throughput._threads_per_framework(None, frameworks)
    assert throughput._case_threads(unset, "digits") == {
        "keras": shipped, "keras-static": shipped, "keras-jax": None, "torch": None}
    assert throughput._case_threads(unset, "dcgan64") == dict.fromkeys(frameworks)
    # --batch N renames the case digits-bN: still the digits model, still run as shipped
    assert throughput._case_threads(unset, "digits-b32") == throughput._case_threads(unset, "digits")
    assert throughput._case_threads(unset, "dcgan64-b256") == dict.fromkeys(frameworks)
    explicit = throughput._threads_per_framework(["keras=default", "torch=2"], frameworks)
    assert throughput._case_threads(explicit, "digits") == {
        "keras": None, "keras-static": shipped, "keras-jax": None, "torch": 2}

    spawned = []
    monkeypatch.setattr(throughput, "_spawn", lambda f, case, steps, isa, threads: spawned.append((f, threads)) or {
        "images_per_second": 1.0, "peak_rss_mb": 1.0})
    monkeypatch.setattr(throughput, "_matmul_peak", lambda: 100.0)
    monkeypatch.setattr(throughput, "_pipeline_rate", lambda: 1.0)
    import argparse

    parser = argparse.ArgumentParser()
    throughput.add_arguments(parser)
    out = tmp_path / "t.json"
    throughput.run(parser.parse_args(["--json", str(out), "--cases", "digits", "--frameworks", "keras", "torch",
                                      "--repeats", "1"]))
    assert spawned == [("keras", shipped), ("torch", None)]
    assert json.loads(out.read_text())["cases"]["digits"]["intra_op_threads"] == {"keras": shipped, "torch": None}


@pytest.mark.slow
def test_gpu_script_keeps_to_its_budget(tmp_path):
    """benchmarks/gpu.sh stops a part at the budget, skips what has no time left, and names both in skipped.txt."""
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    budget = 35
    env = dict(os.environ, OUT=str(tmp_path), GPU_BUDGET_S=str(budget), PATH=os.path.dirname(sys.executable)
               + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    done = subprocess.run(["bash", os.path.join(root, "benchmarks", "gpu.sh"), "quick"], env=env, cwd=root,
                          capture_output=True, text=True, timeout=budget + 120)
    took = time.monotonic() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    parts = ["throughput_b1024_bf16", "throughput_b1024_fp32", "throughput_small", "conv_forms",
             "throughput_b1024_stock"]
    skipped = (tmp_path / "skipped.txt").read_text() if (tmp_path / "skipped.txt").exists() else ""
    # the first part always starts (the whole budget is left); with 35 s the last ones never do (30 s minimum)
    assert (tmp_path / "throughput_b1024_bf16.log").exists()
    assert "skipped throughput_b1024_stock" in skipped
    for name in parts:
        finished = (tmp_path / f"{name}.json").exists()
        assert finished or name in skipped, (name, skipped)
    # the budget holds, less the first lines (nvidia-smi, the torch matmul probe) run before it starts
    assert took < budget + 60, took
