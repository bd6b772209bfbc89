"""The GAN family: penalties, clipping, spectral norm, packing, conditioning, EMA, every config."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import config, data, models, networks
from keras_gan.training import runs


def _mlp_gan(**kw):
    keras.utils.set_random_seed(0)
    return models.GAN(data_dim=2, latent_dim=2, hidden_units=8, num_layers=1, **kw)


def _finite_difference_grad_norms(d, x, h=1e-3):
    x = x.astype(np.float64)
    grads = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        up = d(tf.constant(x + e, tf.float32)).numpy()[:, 0]
        down = d(tf.constant(x - e, tf.float32)).numpy()[:, 0]
        grads[:, j] = (up - down) / (2 * h)
    return np.linalg.norm(grads, axis=1)


def test_gradient_penalty_matches_finite_differences():
    model = _mlp_gan()
    model.compile(loss="wasserstein", gradient_penalty=10.0)
    x = np.random.default_rng(1).normal(size=(6, 2)).astype("float32")
    norms = model._input_gradient_norms(tf.constant(x)).numpy()
    np.testing.assert_allclose(norms, _finite_difference_grad_norms(model.discriminator, x), rtol=2e-2, atol=1e-4)
    # The penalty on a batch where real == fake is lambda * mean((||grad|| - 1)^2) at those points.
    penalty = model._penalties(tf.constant(x), tf.constant(x)).numpy()
    assert penalty == pytest.approx(10.0 * np.mean((norms - 1) ** 2), rel=1e-4)


def test_r1_penalty():
    model = _mlp_gan()
    model.compile(r1_gamma=4.0)
    x = np.random.default_rng(2).normal(size=(5, 2)).astype("float32")
    norms = _finite_difference_grad_norms(model.discriminator, x)
    assert model._penalties(tf.constant(x), tf.constant(x)).numpy() == pytest.approx(
        0.5 * 4.0 * np.mean(norms**2), rel=2e-2
    )


def test_weight_clipping_keeps_every_critic_weight_in_bounds():
    model = _mlp_gan()
    model.compile(loss="wasserstein", clip_weights=0.01, d_optimizer=keras.optimizers.RMSprop(0.5))
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32") * 100
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    weights = np.concatenate([w.numpy().ravel() for w in model.discriminator.trainable_weights])
    assert np.abs(weights).max() <= 0.01 + 1e-7
    assert np.abs(weights).max() == pytest.approx(0.01)  # the large learning rate hit the bound


def test_spectral_norm_keeps_largest_singular_value_near_one():
    d = networks.mlp_discriminator(data_dim=2, hidden_units=32, num_layers=2, spectral_norm=True)
    x = tf.random.normal((64, 2))
    for _ in range(30):  # power iteration runs in training mode
        d(x, training=True)
    for layer in d.layers:
        if isinstance(layer, keras.layers.SpectralNormalization):
            kernel = layer.layer.kernel.numpy()
            sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
            assert sigma == pytest.approx(1.0, abs=0.05), layer.name


@pytest.mark.parametrize("m", [2, 4])
def test_packing_reshapes_the_right_way(m):
    x = np.arange(8 * 3, dtype="float32").reshape(8, 3)
    packed = networks.PackSamples(m)(x).numpy()
    np.testing.assert_array_equal(packed, x.reshape(8 // m, m * 3))
    np.testing.assert_array_equal(packed[0], np.concatenate(x[:m]))
    images = np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype("float32")
    packed = networks.PackSamples(m)(images).numpy()
    assert packed.shape == (8 // m, 4, 4, 2 * m)
    np.testing.assert_array_equal(packed[1, :, :, 2:4], images[m + 1])  # pack 1, its second sample's channels
    d = networks.dcgan_discriminator((8, 8, 1), base_filters=4, num_upsamplings=2, num_packed=m)
    assert d(np.zeros((8, 8, 8, 1), "float32")).shape == (8 // m, 1)


def test_pacgan_trains():
    model = _mlp_gan(num_packed=4)
    model.compile()
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    hist = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][0])


def test_conditional_sampling_honours_labels():
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2, num_classes=10)
    model.compile()
    ds = data.load("digits", batch_size=16, with_labels=True)
    model.fit(ds.take(2), epochs=1, verbose=0)
    a = model.generate(4, seed=0, labels=3)
    b = model.generate(4, seed=0, labels=7)
    assert a.shape == (4, 8, 8, 1)
    assert not np.allclose(a, b)  # same noise, different labels: different images
    np.testing.assert_allclose(a, model.generate(4, seed=0, labels=[3, 3, 3, 3]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\]"):
        model.generate(2, labels=10)
    with pytest.raises(ValueError, match="not conditional"):
        _mlp_gan().generate(2, labels=1)


def test_ema_follows_the_update_rule():
    model = _mlp_gan(ema_decay=0.9)
    model.compile()
    before = [w.numpy() for w in model.ema_generator.weights]
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    model.train_step(tf.constant(x))
    for ema, w, b in zip(model.ema_generator.weights, model.generator.weights, before):
        np.testing.assert_allclose(ema.numpy(), 0.9 * b + 0.1 * w.numpy(), rtol=1e-5, atol=1e-7)
    z = model.sample_latent(3, seed=0)
    np.testing.assert_allclose(model.generate(3, seed=0), model.ema_generator(z).numpy(), atol=1e-6)


def test_ema_and_conditional_survive_save_load(tmp_path):
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=8, num_layers=1, num_classes=3, ema_decay=0.5)
    model.compile()
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    model.train_step((tf.constant(x), tf.constant(np.arange(16) % 3, tf.int32)))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.num_classes == 3 and loaded.ema_decay == 0.5
    np.testing.assert_allclose(loaded.generate(5, seed=1), model.generate(5, seed=1), atol=1e-6)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(config.configs_dir(), "*.yaml"))))
def test_every_config_runs_one_step(path):
    cfg = config.load(path)
    if cfg.data.name not in ("digits",) + tuple(data.MIXTURES):
        pytest.skip(f"{cfg.data.name} is not prepared on this machine (no downloads)")
    cfg = config.apply_overrides(cfg, ["model.base_filters=4", "data.num_samples=2048"])
    ds, _, shape = data.training_dataset(
        cfg.data.name, batch_size=cfg.data.batch_size, d_steps=cfg.train.d_steps, num_samples=2048,
        with_labels=cfg.model.conditional,
    )
    model = runs.compile_model(runs.build_model(cfg, shape), cfg)
    logs = model.fit(ds.take(1), epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in logs.values())
    if cfg.model.architecture == "vae":  # one optimizer, one update per step
        assert int(model.optimizer.iterations.numpy()) == 1
    else:
        assert int(model.d_optimizer.iterations.numpy()) == cfg.train.d_steps
