"""Backend-neutral tests: they use only numpy and Keras, and run on whichever Keras backend is active.

The main suite runs them on TensorFlow; ``tests/test_backends.py`` runs this file again under
``KERAS_BACKEND=jax`` and ``KERAS_BACKEND=torch`` in subprocesses.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan import losses, models, networks

BACKEND = keras.backend.backend()


def _softplus(x):
    return np.logaddexp(0.0, x)


def _mlp_gan(**kwargs):
    keras.utils.set_random_seed(0)
    return models.GAN(data_dim=2, latent_dim=3, hidden_units=8, num_layers=2, seed=1, **kwargs)


def _points(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("name", losses.NAMES)
def test_losses_match_numpy(name):
    r = np.array([-2.0, -0.3, 0.0, 1.5], np.float32)
    f = np.array([0.7, -1.2, 2.0, 0.0], np.float32)
    expected_d = {
        "minimax": _softplus(-r) + _softplus(f),
        "non_saturating": _softplus(-r) + _softplus(f),
        "wasserstein": f - r,
        "hinge": np.maximum(0, 1 - r) + np.maximum(0, 1 + f),
        "least_squares": 0.5 * (r - 1) ** 2 + 0.5 * f**2,
    }[name]
    expected_g = {
        "minimax": -_softplus(f),  # log(1 - sigmoid(f))
        "non_saturating": _softplus(-f),
        "wasserstein": -f,
        "hinge": -f,
        "least_squares": 0.5 * (f - 1) ** 2,
    }[name]
    d_fn, g_fn, _ = losses.get(name)
    np.testing.assert_allclose(ops.convert_to_numpy(d_fn(r, f)), expected_d, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(g_fn(f)), expected_g, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------- algorithm 13.1
@pytest.mark.parametrize("k", [1, 3])
def test_update_counts(k):
    model = _mlp_gan()
    model.compile(d_steps=k)
    m, steps = 4, 5
    model.fit(_points(k * m * steps), batch_size=k * m, shuffle=False, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.d_optimizer.iterations)) == k * steps
    assert int(ops.convert_to_numpy(model.g_optimizer.iterations)) == steps
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == steps  # one per train step


VARIANTS = {
    "minimax": ({}, dict(loss="minimax")),
    "non_saturating": ({}, dict(loss="non_saturating")),
    "wgan_clip": ({}, dict(loss="wasserstein", clip_weights=0.01, d_steps=2)),
    "wgan_gp": ({}, dict(loss="wasserstein", gradient_penalty=10.0, d_steps=2)),
    "hinge_r1": ({}, dict(loss="hinge", r1_gamma=1.0)),
    "least_squares": ({}, dict(loss="least_squares")),
    "ema": ({"ema_decay": 0.9}, {}),
    "pacgan": ({"num_packed": 2}, {}),
    "spectral_norm": ({"spectral_norm": True}, {}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_trains_one_epoch(variant):
    model_kwargs, compile_kwargs = VARIANTS[variant]
    model = _mlp_gan(**model_kwargs)
    if variant == "spectral_norm" and BACKEND == "torch":
        with pytest.raises(ValueError, match="Spectral normalization does not train on the torch backend"):
            model.compile(**compile_kwargs)
        return
    model.compile(**compile_kwargs)
    before = _weights(model.discriminator), _weights(model.generator)
    k = model.d_steps
    history = model.fit(_points(8 * k * 4), batch_size=8 * k, shuffle=False, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in history.values()), history
    assert any(not np.array_equal(a, b) for a, b in zip(before[0], _weights(model.discriminator)))
    assert any(not np.array_equal(a, b) for a, b in zip(before[1], _weights(model.generator)))
    if compile_kwargs.get("clip_weights"):
        c = compile_kwargs["clip_weights"]
        assert all(np.abs(w).max() <= c + 1e-7 for w in _weights(model.discriminator))


def test_conditional_dcgan_with_batch_norm_trains_and_samples_by_label():
    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2, num_classes=3,
                         ema_decay=0.5)
    model.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
    y = np.arange(32) % 3
    bn = [v for v in model.generator.non_trainable_variables if "moving_mean" in v.path]
    before = [np.array(v) for v in bn]
    history = model.fit(x, y, batch_size=16, shuffle=False, epochs=1, verbose=0).history
    assert np.isfinite(history["g_loss"][-1])
    assert any(not np.array_equal(a, np.array(v)) for a, v in zip(before, bn))  # batch-norm statistics moved
    images = model.generate(6, seed=0, labels=[0, 1, 2, 0, 1, 2])
    assert images.shape == (6, 8, 8, 1) and np.abs(images).max() <= 1.0


# ----------------------------------------------------------------- EMA
def test_ema_follows_the_update_rule():
    model = _mlp_gan(ema_decay=0.75)
    model.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    ema0 = _weights(model.ema_generator)
    model.fit(_points(8), batch_size=8, shuffle=False, epochs=1, verbose=0)  # one step
    for e0, w1, e1 in zip(ema0, _weights(model.generator), _weights(model.ema_generator)):
        np.testing.assert_allclose(e1, 0.75 * e0 + 0.25 * w1, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------ penalties
def _finite_difference_grad_norms(d, x, h=1e-2):
    grads = np.zeros_like(x, dtype=np.float64)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        up = ops.convert_to_numpy(d(x + e))[:, 0].astype(np.float64)
        down = ops.convert_to_numpy(d(x - e))[:, 0].astype(np.float64)
        grads[:, j] = (up - down) / (2 * h)
    return np.linalg.norm(grads, axis=1)


def _smooth_gan():
    """A GAN whose critic is smooth (tanh), so finite differences are accurate everywhere."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((2,))
    h = keras.layers.Dense(8, activation="tanh")(x_in)
    critic = keras.Model(x_in, keras.layers.Dense(1)(keras.layers.Dense(8, activation="tanh")(h)))
    return models.AdversarialModel(networks.mlp_generator(2, 3, 8, 1), critic, seed=1)


def test_penalties_match_finite_differences():
    model = _smooth_gan()
    model.compile(loss="wasserstein", gradient_penalty=10.0, r1_gamma=4.0)
    x = _points(6, seed=1)
    norms = ops.convert_to_numpy(model._input_gradient_norms(ops.convert_to_tensor(x)))
    np.testing.assert_allclose(norms, _finite_difference_grad_norms(model.discriminator, x), rtol=2e-2, atol=1e-4)
    # real == fake: every interpolate is x itself, so GP + R1 = 10 mean((n - 1)^2) + 2 mean(n^2).
    penalty = float(ops.convert_to_numpy(model._penalties(ops.convert_to_tensor(x), ops.convert_to_tensor(x))))
    assert penalty == pytest.approx(10.0 * np.mean((norms - 1) ** 2) + 2.0 * np.mean(norms**2), rel=1e-4)


# --------------------------------------------------------- save and resume
def test_save_load_round_trip_keeps_both_optimizers(tmp_path):
    model = _mlp_gan(ema_decay=0.9)
    model.compile(loss="hinge", d_steps=2)
    model.fit(_points(64), batch_size=16, shuffle=False, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.loss_name == "hinge" and loaded.d_steps == 2
    for name in ("g_optimizer", "d_optimizer"):
        a, b = getattr(model, name), getattr(loaded, name)
        assert len(a.variables) == len(b.variables) > 2
        for va, vb in zip(a.variables, b.variables):
            np.testing.assert_array_equal(np.array(va), np.array(vb))
    np.testing.assert_array_equal(model.generate(5, seed=3), loaded.generate(5, seed=3))


def test_resume_equals_uninterrupted(tmp_path):
    x = _points(96)

    def fresh():
        model = _mlp_gan(ema_decay=0.9)
        model.compile(loss="wasserstein", gradient_penalty=1.0)
        return model

    straight = fresh()
    straight.fit(x, batch_size=16, shuffle=False, epochs=2, verbose=0)
    first = fresh()
    first.fit(x, batch_size=16, shuffle=False, epochs=1, verbose=0)
    first.save(str(tmp_path / "half.keras"))
    resumed = keras.models.load_model(str(tmp_path / "half.keras"))
    resumed.fit(x, batch_size=16, shuffle=False, epochs=2, initial_epoch=1, verbose=0)
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------- VAE
def test_vae_elbo_matches_numpy_and_trains():
    keras.utils.set_random_seed(0)
    d, latent, sigma = 4, 2, 0.5
    x_in = keras.Input((d,))
    encoder = keras.Model(x_in, keras.layers.Dense(2 * latent)(x_in))
    z_in = keras.Input((latent,))
    decoder = keras.Model(z_in, keras.layers.Dense(d)(z_in))
    vae = models.VAE(encoder, decoder, scale=sigma)
    x = _points(10).repeat(2, axis=1)
    eps = np.random.default_rng(1).normal(size=(10, latent)).astype("float32")
    got = vae.elbo(x, noise=eps)
    (ew, eb), (dw, db) = encoder.get_weights(), decoder.get_weights()
    params = x @ ew + eb
    mu, s = params[:, :latent], _softplus(params[:, latent:]) + 1e-4
    z = mu + s * eps
    mean = z @ dw + db
    rec = np.sum(-0.5 * ((x - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi), axis=1)
    kl = np.sum(0.5 * (mu**2 + s**2 - 1) - np.log(s), axis=1)
    np.testing.assert_allclose(got["reconstruction"], rec, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["kl"], kl, rtol=1e-4, atol=1e-5)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, batch_size=5, shuffle=False, epochs=30, verbose=0).history
    assert np.mean(history["elbo"][-5:]) > np.mean(history["elbo"][:5])
    assert np.all(np.isfinite(vae.log_likelihood(x[:3], num_samples=8)))


def test_networks_build_on_this_backend():
    g = networks.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4, num_upsamplings=2)
    d = networks.dcgan_discriminator((8, 8, 1), base_filters=4, num_upsamplings=2)
    z = np.zeros((2, 4), np.float32)
    assert tuple(d(g(z)).shape) == (2, 1)


def test_the_digits_extractor_returns_numpy_on_this_backend():
    # On torch the classifier's outputs require grad, and np.asarray of them ended `keras-gan evaluate` in a
    # traceback ("Can't call numpy() on Tensor that requires grad").
    from keras_gan.evaluation import features

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(5, name="features")(keras.layers.Flatten()(inputs))
    classifier = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    images = np.random.default_rng(0).uniform(-1, 1, (6, 8, 8, 1)).astype("float32")
    out = features.DigitsExtractor(model=classifier)(images)
    assert isinstance(out.features, np.ndarray) and out.features.dtype == np.float32
    assert out.features.shape == (6, 5) and out.probabilities.shape == (6, 10)
    flat = images.reshape(6, 64)
    w, b = (np.asarray(ops.convert_to_numpy(v)) for v in classifier.get_layer("features").weights)
    np.testing.assert_allclose(out.features, flat @ w + b, rtol=1e-5, atol=1e-5)  # numpy's own dense layer
    np.testing.assert_allclose(out.probabilities.sum(1), 1.0, rtol=1e-5)


@pytest.mark.slow  # builds InceptionV3 twice and runs it at 299x299 (~15 s)
def test_the_inception_extractor_runs_on_this_backend(tmp_path):
    # It called the Keras model inside a tf.function, which only TensorFlow's Keras can trace. Random weights
    # (no download here); the features are checked against Keras' own preprocessing and model.
    import tensorflow as tf

    from keras_gan.evaluation import features

    keras.utils.set_random_seed(0)
    base = keras.applications.InceptionV3(include_top=True, weights=None)
    path = str(tmp_path / "inception.weights.h5")
    base.save_weights(path)
    extractor = features.InceptionExtractor(weights=path, batch_size=2)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    out = extractor(images)
    assert out.features.shape == (3, 2048) and out.probabilities.shape == (3, 1000)
    x = np.round((images + 1.0) * 127.5)
    x = tf.image.resize(np.repeat(x, 3, axis=-1), (299, 299), method="bilinear", antialias=True).numpy()
    x = keras.applications.inception_v3.preprocess_input(x)
    pooled = keras.Model(base.inputs[0], base.get_layer("avg_pool").output)
    expected = np.asarray(ops.convert_to_numpy(pooled(x, training=False)))
    np.testing.assert_allclose(out.features, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_on_this_backend(policy):
    # mixed_float16 on JAX ended in "'NoneType' object is not callable" (the loss scale read inside the loss's
    # stateless scope), then in an UnexpectedTracerError (LossScaleOptimizer.apply's conditional assignments).
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = _mlp_gan()
        model.compile()
        steps = 6
        history = model.fit(_points(8 * steps), batch_size=8, shuffle=False, epochs=1, verbose=0).history
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert all(np.isfinite(v[-1]) for v in history.values()), history
    for opt in (model.d_optimizer, model.g_optimizer):
        assert int(ops.convert_to_numpy(opt.iterations)) == steps
        if policy == "mixed_float16":  # loss-scaled: the scale's counter moved with every finite step
            assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
            assert int(ops.convert_to_numpy(opt.step_counter)) == steps
            assert float(ops.convert_to_numpy(opt.dynamic_scale)) == opt.initial_scale
    assert all(np.isfinite(w).all() for w in _weights(model.generator))
