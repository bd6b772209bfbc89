"""The JAX backend keeps its compiled programs on disk (``backends.use_jax_compilation_cache``).

A second process loads every program the first one compiled, counted by JAX's own monitoring events
(``compile_requests_use_cache`` and ``cache_hits``); JAX's own settings win over keras-gan's; a cache folder
that cannot be written leaves the cache off without a warning. Each check runs in its own process: JAX reads
its cache settings at the first compilation.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What a command does at its start (backends.import_keras), then a jitted function and a Keras layer's eager ops.
PROBE = """
import json
from keras_gan import backends
keras = backends.import_keras()
import jax, jax.numpy as jnp
events = []
jax.monitoring.register_event_listener(lambda event, **kwargs: events.append(event))
jax.jit(lambda x: jnp.tanh(x) * 3.0 + 1.0)(jnp.ones((5,), "float32")).block_until_ready()
keras.layers.Dense(3)(keras.ops.ones((2, 4)))
print(json.dumps({"dir": jax.config.jax_compilation_cache_dir,
                  "requests": events.count("/jax/compilation_cache/compile_requests_use_cache"),
                  "hits": events.count("/jax/compilation_cache/cache_hits")}))
"""

_JAX_CACHE_ENV = ("JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_MAX_SIZE",
                  "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")


def _probe(cache_dir, **extra):
    env = {k: v for k, v in os.environ.items() if k not in _JAX_CACHE_ENV}
    env.update(KERAS_BACKEND="jax", KERAS_GAN_CACHE_DIR=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="3", **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def _entries(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith("-cache")) if os.path.isdir(folder) else []


def test_a_second_process_loads_every_program_the_first_compiled(tmp_path):
    folder = tmp_path / "jax_compilation"
    first, _ = _probe(tmp_path)
    assert first["dir"] == str(folder)
    assert first["requests"] >= 2 and first["hits"] == 0, first  # the jitted function and Keras' eager ops
    written = _entries(folder)
    assert len(written) == first["requests"], written  # every program, however quick to compile
    second, err = _probe(tmp_path)
    assert second["requests"] == first["requests"] and second["hits"] == second["requests"], (first, second)
    assert _entries(folder) == written  # nothing compiled again, so nothing new written
    assert "persistent compilation cache" not in err


@pytest.mark.slow  # three JAX processes (about 5 s each)
def test_jax_settings_win_and_an_unwritable_folder_leaves_the_cache_off(tmp_path):
    # the user's own JAX_COMPILATION_CACHE_DIR: used as it is, keras-gan's folder untouched
    theirs = tmp_path / "theirs"
    got, _ = _probe(tmp_path / "ours", JAX_COMPILATION_CACHE_DIR=str(theirs))
    assert got["dir"] == str(theirs) and got["requests"] >= 1
    assert not (tmp_path / "ours" / "jax_compilation").exists()
    # JAX's switch off: no cache anywhere
    got, _ = _probe(tmp_path / "off", JAX_ENABLE_COMPILATION_CACHE="false")
    assert got["dir"] is None and got["requests"] == 0
    assert not (tmp_path / "off" / "jax_compilation").exists()
    # keras-gan's cache folder under a regular file: cannot be made, so no cache and no warning per program
    (tmp_path / "a_file").write_text("x")
    got, err = _probe(tmp_path / "a_file" / "cache")
    assert got["dir"] is None and got["hits"] == 0
    assert "compilation cache" not in err, err[-2000:]


@pytest.mark.slow  # two one-epoch runs of the main job on JAX (about 15 s and 8 s)
def test_a_second_train_run_on_jax_compiles_nothing(tmp_path):
    """`keras-gan train --backend jax` twice with the same caches: every program of the second run (the training
    step, building the networks, the sample grid, the checkpoint) comes from the first run's cache."""
    code = ("import json, sys, jax; events = []; "
            "jax.monitoring.register_event_listener(lambda e, **k: events.append(e)); "
            "from keras_gan import cli; code = cli.main(sys.argv[1:]); "
            "print(json.dumps({'code': code, 'requests': events.count('/jax/compilation_cache/"
            "compile_requests_use_cache'), 'hits': events.count('/jax/compilation_cache/cache_hits')}))")
    env = {k: v for k, v in os.environ.items() if k not in _JAX_CACHE_ENV and k != "KERAS_GAN_CONV_FORMS"}
    env.update(KERAS_BACKEND="jax", KERAS_GAN_CACHE_DIR=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="3")
    runs = []
    for i in range(2):
        cmd = [sys.executable, "-c", code, "train", "--backend", "jax", "--epochs", "1", "--verbose", "0",
               "--output", str(tmp_path / f"run{i}")]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    # (within the first run a few programs recur, built by different calls: those are hits already)
    assert first["code"] == 0 and first["requests"] > 10 and first["hits"] < first["requests"] / 2, first
    # (the first run also compiled the convolution forms it timed; the second reads them from the form cache)
    assert second["code"] == 0 and second["hits"] == second["requests"] > 10, runs


def test_cache_failures_are_shown_once_a_process():
    """A fault sweep: with keras-gan's cache folder on a full disk, a one-epoch `keras-gan train --backend jax`
    (rc 0, its own files fine) printed 35 of JAX's cache warnings, 70 lines, one per program. Now the first
    shows, marked, and the rest do not; other warnings pass through."""
    import warnings

    from keras_gan import backends

    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        backends._show_one_cache_failure()
        backends._show_one_cache_failure()  # installed once
        warnings.warn("Error writing persistent compilation cache entry for 'jit_a': OSError: [Errno 28] full")
        warnings.warn("Error reading persistent compilation cache entry for 'jit_b': OSError: [Errno 28] full")
        warnings.warn("Error writing persistent compilation cache entry for 'jit_c': OSError: [Errno 28] full")
        warnings.warn("something else")
        warnings.warn("something else, again")
    texts = [str(w.message) for w in log]
    assert len(texts) == 3, texts
    assert texts[0].startswith("Error writing persistent compilation cache entry for 'jit_a'")
    assert "not reported" in texts[0]
    assert texts[1:] == ["something else", "something else, again"]
    assert not getattr(warnings.showwarning, "_keras_gan_cache_failures", False)  # catch_warnings restored it


def test_the_cache_warning_texts_are_jaxs():
    """The prefixes matched above are the ones JAX's compiler writes (a JAX release that rewords them fails here)."""
    import jax._src.compiler as compiler
    import inspect

    from keras_gan import backends

    source = inspect.getsource(compiler)
    for prefix in backends._CACHE_FAILURES:
        assert f'f"{prefix} for "' in source, prefix
