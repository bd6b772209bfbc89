"""FusedBatchNormalization: the Keras batch-norm contract on TensorFlow's fused kernel.

Every claim is checked against numpy (closed form) and against
``keras.layers.BatchNormalization`` given the same weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import models, networks

KW = dict(momentum=0.9, epsilon=1e-5)


def _pair(shape, **kwargs):
    """A fused layer and a Keras layer with identical (random) weights."""
    rng = np.random.default_rng(1)
    fused = networks.FusedBatchNormalization(**KW, **kwargs)
    plain = keras.layers.BatchNormalization(**KW, **kwargs)
    fused.build(shape)
    plain.build(shape)
    for a, b in zip(fused.weights, plain.weights):
        assert a.path.split("/")[-1] == b.path.split("/")[-1]  # same variables, same names
        v = rng.uniform(0.5, 1.5, a.shape).astype("float32")
        a.assign(v)
        b.assign(v)
    return fused, plain


def _x(shape, seed=0):
    return (np.random.default_rng(seed).normal(size=shape) * 3 + 1).astype("float32")


def _graph_ops(layer, x, training):
    fn = tf.function(lambda t: layer(t, training=training))
    return {op.type for op in fn.get_concrete_function(tf.TensorSpec(x.shape, x.dtype)).graph.get_operations()}


def test_training_matches_numpy_and_keras():
    shape = (6, 5, 4, 3)
    fused, plain = _pair(shape)
    gamma, beta = fused.gamma.numpy(), fused.beta.numpy()
    mm, mv = fused.moving_mean.numpy(), fused.moving_variance.numpy()
    for step in range(3):
        x = _x(shape, step)
        flat = x.reshape(-1, 3)
        mean, var = flat.mean(0), flat.var(0)  # biased, as Keras
        want = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
        got = fused(x, training=True).numpy()
        np.testing.assert_allclose(got, want, atol=2e-5)
        np.testing.assert_allclose(got, plain(x, training=True).numpy(), atol=2e-5)
        mm, mv = 0.9 * mm + 0.1 * mean, 0.9 * mv + 0.1 * var
        np.testing.assert_allclose(fused.moving_mean.numpy(), mm, rtol=1e-5)
        np.testing.assert_allclose(fused.moving_variance.numpy(), mv, rtol=1e-5)
        np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-5)
    assert "FusedBatchNormV3" in _graph_ops(fused, x, True)


def test_inference_uses_moving_statistics():
    shape = (4, 3, 3, 5)
    fused, plain = _pair(shape)
    x = _x(shape)
    want = (x - fused.moving_mean.numpy()) / np.sqrt(fused.moving_variance.numpy() + 1e-5)
    want = want * fused.gamma.numpy() + fused.beta.numpy()
    before = fused.moving_mean.numpy().copy()
    np.testing.assert_allclose(fused(x, training=False).numpy(), want, atol=1e-5)
    np.testing.assert_allclose(plain(x, training=False).numpy(), want, atol=1e-5)
    np.testing.assert_array_equal(fused.moving_mean.numpy(), before)  # inference does not update


def test_gradients_match_keras():
    shape = (8, 4, 4, 6)
    fused, plain = _pair(shape)
    x = tf.constant(_x(shape))
    w = tf.constant(_x(shape, 9))  # a non-trivial upstream gradient

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * w)
        return tape.gradient(loss, [x, layer.gamma, layer.beta])

    for a, b in zip(grads(fused), grads(plain)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
    # beta's gradient is the channel sum of the upstream gradient (closed form)
    np.testing.assert_allclose(grads(fused)[2].numpy(), w.numpy().reshape(-1, 6).sum(0), rtol=1e-5)


def test_falls_back_to_keras_where_the_kernel_does_not_apply():
    x2 = _x((8, 5))
    fused, plain = _pair((8, 5))
    np.testing.assert_allclose(fused(x2, training=True).numpy(), plain(x2, training=True).numpy(), atol=1e-5)
    assert "FusedBatchNormV3" not in _graph_ops(fused, x2, True)
    x4 = _x((4, 3, 3, 2))
    synced, _ = _pair(x4.shape, synchronized=True)
    assert "FusedBatchNormV3" not in _graph_ops(synced, x4, True)
    channels_first, plain_cf = _pair(x4.shape, axis=1)
    np.testing.assert_allclose(
        channels_first(x4, training=True).numpy(), plain_cf(x4, training=True).numpy(), atol=1e-5
    )
    assert "FusedBatchNormV3" not in _graph_ops(channels_first, x4, True)


@pytest.mark.parametrize("dtype,tol", [("bfloat16", 0.1), ("float16", 0.01)])
def test_half_precision_inputs(dtype, tol):
    shape = (8, 4, 4, 3)
    fused, _ = _pair(shape)
    x = _x(shape)
    want = fused(x, training=False).numpy()
    half = networks.FusedBatchNormalization(**KW, dtype=f"mixed_{dtype}")
    half.build(shape)
    for a, b in zip(half.weights, fused.weights):
        a.assign(b)
        assert a.dtype == "float32"  # statistics and affine weights stay float32
    half_inf = half(tf.cast(x, dtype), training=False)
    assert half_inf.dtype == dtype
    np.testing.assert_allclose(tf.cast(half_inf, "float32").numpy(), want, atol=tol * np.abs(want).max())
    trained = tf.cast(half(tf.cast(x, dtype), training=True), "float32").numpy().reshape(-1, 3)
    np.testing.assert_allclose(trained.mean(0), fused.beta.numpy(), atol=tol)  # batch statistics used
    assert np.all(np.isfinite(half.moving_variance.numpy()))


def test_dcgan_uses_it_and_round_trips(tmp_path):
    g = networks.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4, num_upsamplings=2)
    bns = [l for l in g.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(isinstance(l, networks.FusedBatchNormalization) for l in bns)
    z = _x((5, 4))
    g(z, training=True)  # move the statistics away from their initial values
    path = tmp_path / "g.keras"
    g.save(path)
    back = keras.saving.load_model(path)
    assert isinstance(back.get_layer("project_bn"), networks.FusedBatchNormalization)
    np.testing.assert_allclose(back(z, training=False).numpy(), g(z, training=False).numpy(), atol=1e-6)
    assert back.get_layer("project_bn").get_config() == g.get_layer("project_bn").get_config()


def test_per_replica_batch_norm_under_mirrored_strategy():
    """Non-synchronized (fused) batch norm under two replicas: each replica normalizes its own half."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2, seed=3)
        model.compile(d_steps=1)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype("float32")
    before = model.discriminator.get_layer("conv2_bn").moving_mean.numpy().copy()
    hist = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][0])
    after = model.discriminator.get_layer("conv2_bn").moving_mean.numpy()
    assert np.abs(after - before).max() > 1e-6
