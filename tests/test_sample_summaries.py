"""SampleGrid writes each sample grid to TensorBoard as an image summary, beside the PNG."""

import builtins
import glob
import io
import os

import numpy as np
from PIL import Image

from keras_gan.training import callbacks


class _Generator:
    def generate(self, n, seed=0):
        return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)


def _run(cb, epochs):
    cb.set_model(_Generator())
    cb.set_params({"epochs": epochs})
    for epoch in range(epochs):
        cb.on_epoch_end(epoch)
    cb.on_train_end()


def _events(log_dir):
    """Every tensor summary in ``log_dir``, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def _summaries(log_dir):
    acc = _events(log_dir)
    out = {}
    for event in acc.Tensors("samples"):
        width, height, png = event.tensor_proto.string_val
        out[event.step] = (int(width), int(height), np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    return out


def test_image_summary_equals_the_png(tmp_path):
    run = tmp_path / "run"
    _run(callbacks.SampleGrid(str(run / "samples"), num=16, seed=3, every=2), epochs=3)
    pngs = sorted(glob.glob(str(run / "samples" / "*.png")))
    assert [os.path.basename(p) for p in pngs] == ["epoch_0002.png", "epoch_0003.png"]
    found = _summaries(str(run / "logs" / "samples"))
    assert sorted(found) == [2, 3]
    for step, path in zip((2, 3), pngs):
        expected = np.asarray(Image.open(path).convert("RGB"))
        width, height, pixels = found[step]
        assert (height, width) == expected.shape[:2]
        np.testing.assert_array_equal(pixels, expected)


def test_no_summary_when_disabled_or_without_tensorflow(tmp_path, monkeypatch):
    _run(callbacks.SampleGrid(str(tmp_path / "a" / "samples"), num=4, log_dir=False), epochs=1)
    assert os.path.isfile(tmp_path / "a" / "samples" / "epoch_0001.png")
    assert not (tmp_path / "a" / "logs").exists()

    real_import = builtins.__import__

    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow)
    _run(callbacks.SampleGrid(str(tmp_path / "b" / "samples"), num=4), epochs=1)
    monkeypatch.undo()
    assert os.path.isfile(tmp_path / "b" / "samples" / "epoch_0001.png")
    assert not (tmp_path / "b" / "logs").exists()


def test_grid_generates_at_the_batch_it_is_given(tmp_path):
    """The trainer passes G's training batch (the forms training chose); without one, ``generate``'s default."""
    seen = []

    class _Recording(_Generator):
        def generate(self, n, seed=0, **kwargs):
            seen.append(kwargs.get("batch_size"))
            return super().generate(n, seed)

    for batch_size in (3, None):
        cb = callbacks.SampleGrid(str(tmp_path / f"b{batch_size}" / "samples"), num=4, log_dir=False,
                                  batch_size=batch_size)
        cb.set_model(_Recording())
        cb.set_params({"epochs": 1})
        cb.on_epoch_end(0)
    assert seen == [3, None]
    assert os.path.exists(tmp_path / "b3" / "samples" / "epoch_0001.png")


def _epoch_scalars(log_dir):
    from tensorboard.util import tensor_util

    acc = _events(log_dir)
    return {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
            for tag in acc.Tags()["tensors"]}


def test_tensorboard_skips_only_the_empty_batch_summaries(tmp_path):
    """callbacks.TensorBoard writes the event files Keras' TensorBoard writes, without calling tf.summary.scalar
    after each batch (Keras' callback does, with no writer, so those calls record nothing)."""
    import keras

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    scalars, batch_calls = {}, {}
    for name, cls in (("keras", keras.callbacks.TensorBoard), ("ours", callbacks.TensorBoard)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        cb = cls(str(tmp_path / name), write_graph=False)
        calls = []
        real_batch_end = cb.on_train_batch_end

        def on_train_batch_end(batch, logs=None, cb=cb, calls=calls, real=real_batch_end):
            scalar = cb.summary.scalar
            cb.summary.scalar = lambda *a, **k: calls.append(a[0]) or scalar(*a, **k)
            try:
                return real(batch, logs)
            finally:
                cb.summary.scalar = scalar

        cb.on_train_batch_end = on_train_batch_end
        model.fit(x, x[:, :1], batch_size=16, epochs=2, verbose=0, callbacks=[cb])
        scalars[name] = _epoch_scalars(str(tmp_path / name / "train"))
        batch_calls[name] = calls
    assert len(batch_calls["keras"]) == 2 * 4 and set(batch_calls["keras"]) == {"batch_loss"}  # the control
    assert batch_calls["ours"] == []
    assert scalars["ours"] == scalars["keras"] and set(scalars["ours"]) >= {"epoch_loss"}
    assert [step for step, _ in scalars["ours"]["epoch_loss"]] == [0, 1]
