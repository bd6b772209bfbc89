"""Mixed precision keeps float32 master weights and finite losses; XLA and non-XLA steps agree."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import models


@pytest.fixture
def policy():
    yield keras.mixed_precision.set_dtype_policy
    keras.mixed_precision.set_dtype_policy("float32")


def _dcgan():
    keras.utils.set_random_seed(0)
    return models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, num_upsamplings=2, seed=2)


def _images(n=32):
    return np.random.default_rng(0).uniform(-1, 1, (n, 8, 8, 1)).astype("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step(policy, name):
    policy(name)
    model = _dcgan()
    model.compile(loss="wasserstein", gradient_penalty=10.0, d_steps=2)
    hist = model.fit(tf.data.Dataset.from_tensor_slices(_images()).batch(16), epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in hist.values())
    assert all(w.dtype == "float32" for w in model.trainable_weights)  # master weights
    compute = model.generator.get_layer("deconv1").compute_dtype
    assert compute == ("float16" if name == "mixed_float16" else "bfloat16")
    assert model.generate(4).dtype == np.float32  # outputs in float32 (tanh layer)
    wrapped = isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert wrapped == (name == "mixed_float16")
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer) == wrapped


class _DeterministicNoise(models.AdversarialModel):
    """Noise as a fixed function of the step: TensorFlow's stateless RNG draws other
    numbers under XLA than on the CPU kernels, so 'same inputs' needs the same noise."""

    def _draw_prior(self, shape, seed):
        n = tf.reduce_prod(shape)
        values = tf.sin(tf.cast(tf.range(n), tf.float32) * 0.37 + tf.cast(seed[1], tf.float32))
        return tf.reshape(values, shape)


@pytest.mark.slow
def test_xla_matches_non_xla():
    x = _images(32)
    weights = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        ref = _dcgan()
        model = _DeterministicNoise(ref.generator, ref.discriminator, seed=2)
        model.compile(d_steps=2, jit_compile=jit)
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
        weights.append([w.numpy() for w in model.weights])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-3)
    assert max(np.abs(a - b).max() for a, b in zip(*weights)) < 1e-4
