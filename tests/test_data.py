import time

import numpy as np
import pytest
import tensorflow as tf

from keras_gan import data
from keras_gan.errors import DatasetNotPreparedError, UsageError


def test_digits_range_shape_dtype():
    ds = data.load("digits", batch_size=16, d_steps=3)
    batch = next(iter(ds)).numpy()
    assert batch.shape == (48, 8, 8, 1) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0 and batch.min() == -1.0


def test_digits_are_sklearns_digits():
    from sklearn.datasets import load_digits

    x, y = data.load_arrays("digits", "train")
    xt, yt = data.load_arrays("digits", "test")
    assert len(x) == 1437 and len(xt) == 360
    ref = load_digits()
    expected = np.round(ref.images * 255 / 16) / 127.5 - 1
    # Same images and labels, whatever order tfds stored them in.
    got = np.concatenate([x, xt])[..., 0].reshape(len(ref.images), -1)
    order_got = np.lexsort(got.T)
    order_ref = np.lexsort(expected.reshape(len(expected), -1).T)
    np.testing.assert_allclose(got[order_got], expected.reshape(len(expected), -1)[order_ref], atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([y, yt])[order_got], ref.target[order_ref])
    assert sorted(np.unique(y)) == list(range(10))


def test_digits_are_read_without_importing_sklearn():
    """The digits come from scikit-learn's file without the 1 s import of sklearn.datasets (a first run's
    preparation); the arrays are load_digits' exactly."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    images, labels = data._digits_arrays()
    ref = load_digits()
    np.testing.assert_array_equal(images, ref.images)
    np.testing.assert_array_equal(labels, ref.target)
    # as `keras-gan train` starts: Keras imported with scikit-learn hidden (keras_gan.backends.import_keras)
    code = ("import sys; from keras_gan import backends; backends.import_keras(); from keras_gan import data; "
            "before = set(sys.modules); data._digits_arrays(); "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('sklearn', 'scipy', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_resize_and_labels():
    ds = data.load("digits", batch_size=4, image_size=16, with_labels=True, shuffle=False)
    x, y = next(iter(ds))
    assert x.shape == (4, 16, 16, 1) and y.dtype.name == "int32"
    assert float(np.min(x)) >= -1.0 - 1e-6 and float(np.max(x)) <= 1.0 + 1e-6


def test_training_dataset_epochs_depend_only_on_seed_and_epoch():
    ds0, steps, shape = data.training_dataset("digits", batch_size=64, seed=5, start_epoch=0, epochs=3)
    ds1, _, _ = data.training_dataset("digits", batch_size=64, seed=5, start_epoch=1, epochs=3)
    a = [b.numpy() for b in ds0]
    b = [b.numpy() for b in ds1]
    assert shape == (8, 8, 1) and steps == 1437 // 64 and len(a) == 3 * steps and len(b) == 2 * steps
    for u, v in zip(a[steps:], b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], a[steps])  # epochs are shuffled differently


@pytest.mark.parametrize("build", [
    lambda: data.load("digits", batch_size=16),
    lambda: data.load("ring8", batch_size=16, with_labels=True),
    lambda: data.training_dataset("digits", batch_size=64, epochs=3)[0],
    lambda: data.training_dataset("grid25", batch_size=64, epochs=2, with_labels=True)[0],
])
def test_training_pipelines_run_without_the_autotune_model_thread(build):
    # tf.data's autotune thread sleeps up to 60 s and the iterator's destructor waits for it: the end of
    # fit stalled 9-40 s in about half of the runs on 2 cores (keras_gan.data._finish).
    ds = build()
    assert ds.options().autotune.enabled is False
    assert ds.options().experimental_optimization.apply_default_optimizations is False
    assert next(iter(ds)) is not None


def test_training_batches_are_those_of_tf_data_default_rewrites():
    """_finish turns tf.data's default graph rewrites off (they made the iterator of a 100-epoch run 0.3 s
    slower to create); every batch, labels included, is what the pipeline gives with them on."""
    ds, steps, _ = data.training_dataset("digits", batch_size=32, seed=3, epochs=3, with_labels=True)
    on = tf.data.Options()
    on.experimental_optimization.apply_default_optimizations = True
    rewritten = ds.with_options(on)
    assert rewritten.options().experimental_optimization.apply_default_optimizations is True
    a, b = list(ds.as_numpy_iterator()), list(rewritten.as_numpy_iterator())
    assert len(a) == len(b) == 3 * steps
    for (x, y), (u, v) in zip(a, b):
        np.testing.assert_array_equal(x, u)
        np.testing.assert_array_equal(y, v)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixtures(name):
    x, modes = data.load_arrays(name, num_samples=20_000)
    mix = data.MIXTURES[name]
    centers = mix["centers"]
    dist = np.linalg.norm(x - centers[modes], axis=1)
    assert np.mean(dist) == pytest.approx(mix["std"] * np.sqrt(np.pi / 2), rel=0.05)  # Rayleigh mean
    counts = np.bincount(modes, minlength=len(centers)) / len(modes)
    np.testing.assert_allclose(counts, 1 / len(centers), atol=0.01)
    assert data.num_classes(name) == len(centers)
    if name == "grid25":
        assert set(centers.ravel()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    else:
        np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0)


def test_unprepared_tfds_dataset_fails_fast(tmp_path):
    start = time.time()
    with pytest.raises(DatasetNotPreparedError, match="'mnist' is not prepared.*download_and_prepare"):
        data.load("mnist", data_dir=str(tmp_path))
    assert time.time() - start < 10


def test_bad_names_and_sizes():
    with pytest.raises(UsageError, match="Unknown dataset 'no_such_set'"):
        data.load("no_such_set")
    with pytest.raises(UsageError, match="no split 'validation'"):
        data.load("digits", split="validation")
    with pytest.raises(UsageError, match="batch_size must be >= 1, got 0"):
        data.load("digits", batch_size=0)
    with pytest.raises(UsageError, match="larger than the 360 examples"):
        data.training_dataset("digits", split="test", batch_size=400)


def test_num_classes_does_not_prepare_the_data(tmp_path):
    """A conditional run asks for the classes before it sets TensorFlow's threads; preparing the data there ran
    TensorFlow ops first, and `keras-gan train --config cdcgan_digits` on a new machine warned that
    train.intra_op_threads was not applied."""
    import tensorflow_datasets as tfds

    assert data.num_classes("digits", data_dir=str(tmp_path)) == 10
    assert not tfds.builder("digits", data_dir=str(tmp_path)).is_prepared()
    assert data.num_classes("mnist", data_dir=str(tmp_path)) == 10  # declared by its builder: no download needed
    with pytest.raises(UsageError, match="Unknown dataset 'nope'"):
        data.num_classes("nope", data_dir=str(tmp_path))


def _prepared_digits(tmp_path):
    """The digits prepared in a private data directory; returns (data_dir, version folder)."""
    directory = tmp_path / "tfds"
    x, _ = data.load_arrays("digits", "train", data_dir=str(directory))
    assert len(x) == 1437
    (version,) = [p for p in (directory / "digits").iterdir() if p.is_dir()]
    return directory, version


def _break(version, how):
    shard = next(version.glob("digits-train.tfrecord-*"))
    if how == "missing shard":
        shard.unlink()
    elif how == "truncated shard":
        shard.write_bytes(shard.read_bytes()[:1000])
    elif how == "one byte short":
        shard.write_bytes(shard.read_bytes()[:-1])
    elif how == "bad dataset_info.json":
        (version / "dataset_info.json").write_text("{")


DAMAGE = ["missing shard", "truncated shard", "one byte short", "bad dataset_info.json"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_prepared_digits_are_prepared_again(tmp_path, capsys, how):
    """A fault sweep: a prepared digits folder with a shard missing or cut short, or an unreadable
    dataset_info.json, ended `keras-gan train` in a TensorFlow traceback from inside fit (or from tfds).
    The embedded data sets are rebuilt from the package's copy, with one line that says why."""
    directory, version = _prepared_digits(tmp_path)
    capsys.readouterr()
    _break(version, how)
    assert data.num_classes("digits", data_dir=str(directory)) == 10  # reads the declaration, repairs nothing
    x, y = data.load_arrays("digits", "train", data_dir=str(directory))
    reference, reference_y = data.load_arrays("digits", "train")
    np.testing.assert_array_equal(x, reference)  # every example back, in the same order
    np.testing.assert_array_equal(y, reference_y)
    err = capsys.readouterr().err
    damaged = [line for line in err.splitlines() if "is damaged" in line]
    assert len(damaged) == 1 and str(directory) in damaged[0] and "Traceback" not in err, err
    assert sorted(p.name for p in (directory / "digits").iterdir()) == [version.name]  # no leftover copy
    data.load_arrays("digits", "train", data_dir=str(directory))
    assert "is damaged" not in capsys.readouterr().err  # repaired once


def test_intact_prepared_data_is_not_called_damaged(tmp_path):
    """The size check against dataset_info.json holds for tfds's own files (both splits)."""
    import tensorflow_datasets as tfds

    directory, _ = _prepared_digits(tmp_path)
    data.load_arrays("digits", "test", data_dir=str(directory))
    assert data._damage(tfds.builder("digits", data_dir=str(directory))) is None


@pytest.mark.parametrize("how", ["truncated shard", "bad dataset_info.json"])
def test_damaged_downloaded_dataset_is_one_error_and_kept(tmp_path, monkeypatch, how):
    """A data set keras-gan cannot rebuild offline (here the digits, treated as one) is refused with one line
    naming its folder; its files are left as they are."""
    directory, version = _prepared_digits(tmp_path)
    _break(version, how)
    before = sorted(p.name for p in version.iterdir())
    monkeypatch.setattr(data, "LOCAL_DATASETS", ())
    from keras_gan.errors import DatasetDamagedError

    with pytest.raises(DatasetDamagedError, match=r"The prepared 'digits' data set in .* is damaged \(.*\); delete"):
        data.load("digits", data_dir=str(directory))
    assert sorted(p.name for p in version.iterdir()) == before


def test_a_data_directory_that_is_a_file_is_one_error(tmp_path):
    """A fault sweep: `~/tensorflow_datasets` as a file ended `keras-gan train` in tfds's NotADirectoryError."""
    plain = tmp_path / "tensorflow_datasets"
    plain.write_text("not a folder")
    with pytest.raises(UsageError, match=r"The data directory '.*tensorflow_datasets' is a file; expected a folder"):
        data.load("digits", data_dir=str(plain))
    with pytest.raises(UsageError, match="is a file"):
        data.num_classes("digits", data_dir=str(plain))
