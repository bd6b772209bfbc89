"""One training step under MirroredStrategy (2 logical CPUs) equals one step on a single device."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import models


def _build(kind, seed):
    keras.utils.set_random_seed(seed)
    if kind == "mlp":
        model = models.GAN(data_dim=2, latent_dim=3, hidden_units=16, num_layers=2, seed=7)
    else:
        model = models.DCGAN(
            image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2,
            synchronized_batch_norm=True, seed=7,
        )
    return model


def _data(kind):
    rng = np.random.default_rng(0)
    shape = (2,) if kind == "mlp" else (8, 8, 1)
    return rng.uniform(-1, 1, (48,) + shape).astype("float32")


@pytest.mark.parametrize("kind,k", [("mlp", 1), ("mlp", 2), ("dcgan", 2)])
def test_mirrored_step_equals_single_device(kind, k):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) >= 2, "conftest should provide two logical CPUs"
    x = _data(kind)
    global_batch = 8 * k  # 2 replicas x M=4 x K

    single = _build(kind, 0)
    single.compile(d_steps=k)
    start = [w.numpy() for w in single.weights]
    single.fit(tf.data.Dataset.from_tensor_slices(x[:global_batch]).batch(global_batch), epochs=1, verbose=0)

    # ReductionToOneDevice: with CollectiveAllReduce on two logical CPUs the two
    # optimizers' all-reduces were matched out of order (instance-key shape mismatch).
    strategy = tf.distribute.MirroredStrategy(devices[:2], cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        mirrored = _build(kind, 0)
        for w, v in zip(mirrored.weights, start):
            w.assign(v)
        mirrored.compile(d_steps=k)
    mirrored.fit(tf.data.Dataset.from_tensor_slices(x[:global_batch]).batch(global_batch), epochs=1, verbose=0)

    assert int(mirrored.d_optimizer.iterations.numpy()) == k
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    moved = max(np.abs(a.numpy() - s).max() for a, s in zip(single.weights, start))
    assert moved > 1e-4  # the step did something


def test_mirrored_epoch_runs_and_replicas_draw_different_noise():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        model = _build("mlp", 1)
        model.compile(d_steps=1)
    x = _data("mlp")
    hist = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][0]) and int(model.g_optimizer.iterations.numpy()) == 3

    def noise():
        return model._latent(4, 0, tf.constant(0, tf.int64))

    per_replica = strategy.experimental_local_results(strategy.run(noise))
    assert len(per_replica) == 2
    assert not np.allclose(per_replica[0].numpy(), per_replica[1].numpy())
    whole = model._latent(8, 0, tf.constant(0, tf.int64)).numpy()  # one device, global batch
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in per_replica]), whole)
