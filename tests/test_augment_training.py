"""Augmentation in the training step: ``AdversarialModel.compile(augment=...)`` and ``train.augment``.

``tests/test_augment.py`` tests the transformations themselves; this file tests that the step applies
them: off is bit-identical, DiffAugment's generator gradient goes through the augmentation, ADA's ``p``
follows the sign of ``D(real)``, the options and ``p`` survive a ``.keras`` round trip and a resume, the
config keys reach ``keras-gan train``, and the same step runs on JAX and torch.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_gan import augment, config, models
from keras_gan.training import checkpointing
from keras_gan.training import runs
from keras_gan.training import trainer
from keras_gan.models import adversarial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _images(n=64, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1)).astype("float32")


def _dcgan(**compile_kwargs):
    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, seed=3)
    model.compile(**compile_kwargs)
    return model


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def _fit(model, x, epochs=2, batch_size=16):
    return model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=False).history


def _forced_sign_model(logit, **compile_kwargs):
    """A GAN whose discriminator never learns (learning rate 0) and has the sign of ``logit`` on every image.

    Its small random kernel (``|w . x| < 0.5 < |logit|``) still gives the generator a gradient.
    """
    keras.utils.set_random_seed(0)
    z = keras.Input((4,))
    g = keras.Model(z, keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64, activation="tanh")(z)))
    x = keras.Input((8, 8, 1))
    out = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomUniform(-0.005, 0.005, seed=0),
                             bias_initializer=keras.initializers.Constant(logit))(keras.layers.Flatten()(x))
    model = models.AdversarialModel(g, keras.Model(x, out), seed=1)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), **compile_kwargs)
    return model


def _set_d_bias(model, logit):
    bias = [v for v in model.discriminator.trainable_variables if "bias" in v.path][0]
    bias.assign(np.full(bias.shape, logit, "float32"))


# ------------------------------------------------------------------ off
def test_augment_none_is_bit_identical_and_adds_no_state():
    x = _images()
    plain = _dcgan(d_steps=2, r1_gamma=0.5)
    off = _dcgan(d_steps=2, r1_gamma=0.5, augment=None)
    assert off.augmenter is None and len(off.variables) == len(plain.variables)
    _fit(plain, x, batch_size=32)
    _fit(off, x, batch_size=32)
    for a, b in zip(_weights(plain), _weights(off)):
        np.testing.assert_array_equal(a, b)
    # ADA that never leaves p = 0 (its target 1 is never exceeded) runs the augmentation at p = 0,
    # which is exactly the identity: the same weights to the bit, so the augmented path adds no drift.
    ada0 = _dcgan(d_steps=2, r1_gamma=0.5, augment="ada", ada_target=1.0)
    history = _fit(ada0, x, batch_size=32)
    assert history["ada_p"] == [0.0, 0.0]
    for a, b in zip(_weights(plain), _weights(ada0)[: len(_weights(plain))]):
        np.testing.assert_array_equal(a, b)
    diff = _dcgan(d_steps=2, r1_gamma=0.5, augment="diffaugment")
    _fit(diff, x, batch_size=32)
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(plain), _weights(diff)))


# ------------------------------------------------------------- DiffAugment
def test_diffaugment_generator_gradient_goes_through_the_augmentation():
    """One step with plain SGD: G's update is -lr * the gradient of L_G(D(T(G(z)))), with T the step's translation."""
    lr = 0.1

    def build():
        keras.utils.set_random_seed(0)
        model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, seed=3,
                             discriminator_batch_norm=False)
        model.compile(g_optimizer=keras.optimizers.SGD(lr), d_optimizer=keras.optimizers.SGD(0.0),
                      augment="diffaugment", augment_policy="translation")
        return model

    model = build()
    before = [ops.convert_to_numpy(v) for v in model.generator.trainable_variables]
    z = model._latent(16, adversarial._STREAM_G_NOISE, ops.convert_to_tensor(0, "int64"))
    seed = model._augment_seeds(1, ops.convert_to_tensor(0, "int64"), 1)[0]

    def generator_gradient(transform):
        with tf.GradientTape() as tape:
            logits = model.discriminator(transform(model.generator(z, training=True)), training=True)
            loss = ops.mean(model._g_loss_fn(logits))
        return [g.numpy() for g in tape.gradient(loss, model.generator.trainable_variables)]

    through = generator_gradient(lambda images: augment.diff_augment(images, "translation", seed))
    plain = generator_gradient(lambda images: images)
    fresh = build()  # the same initial weights; take the real training step on it
    fresh.fit(_images(16), batch_size=16, epochs=1, verbose=0, shuffle=False)
    after = [ops.convert_to_numpy(v) for v in fresh.generator.trainable_variables]
    for w0, w1, g in zip(before, after, through):
        np.testing.assert_allclose((w0 - w1) / lr, g, rtol=2e-3, atol=1e-5)
    assert sum(np.abs(g).sum() for g in through) > 0
    # The translation changes the gradient: the step did not differentiate D(G(z)) without it.
    diff = sum(np.abs(a - b).sum() for a, b in zip(through, plain))
    assert diff > 1e-2 * sum(np.abs(g).sum() for g in plain)


# --------------------------------------------------------------------- ADA
def test_ada_p_rises_while_d_is_sure_of_the_reals_and_falls_when_not():
    kimg = 0.128  # 128 images move p by 1
    model = _forced_sign_model(3.0, augment="ada", ada_kimg=kimg)  # sign(D(real)) = +1 > 0.6
    history = _fit(model, _images(64), epochs=1, batch_size=8)  # 8 D steps of 8: two adjustments of 32 images
    assert history["ada_p"] == [pytest.approx(64 / 128)]
    assert model.ada_p == pytest.approx(0.5)
    _set_d_bias(model, -3.0)  # now sign(D(real)) = -1 < 0.6: p falls by the same rule
    history = _fit(model, _images(32), epochs=1, batch_size=8)
    assert model.ada_p == pytest.approx(0.25)
    _fit(model, _images(64), epochs=2, batch_size=8)
    assert model.ada_p == 0.0  # clipped at 0


def test_ada_p_moves_toward_the_target_on_a_discriminator_that_overfits():
    """A real DCGAN discriminator on 16 images, learning 200x faster than G, is sure of them: p rises at full rate."""
    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, seed=3)
    model.compile(d_optimizer=keras.optimizers.Adam(2e-3), g_optimizer=keras.optimizers.Adam(1e-5),
                  augment="ada", ada_kimg=0.5)
    reals = _images(16)
    history = _fit(model, np.tile(reals, (4, 1, 1, 1)), epochs=6, batch_size=16)
    # 64 images an epoch, kimg 0.5: +0.128 per epoch while E[sign(D(real))] > 0.6.
    np.testing.assert_allclose(history["ada_p"], 0.128 * np.arange(1, 7), atol=1e-6)
    sign_mean = float(np.mean(np.sign(ops.convert_to_numpy(model.discriminator(reals, training=True)))))
    assert sign_mean > 0.6  # the overfitting heuristic that drove p up, measured on the un-augmented reals
    assert history["d_real"][-1] > history["d_real"][0]


# ------------------------------------------------------------- save / load
def test_save_load_keeps_the_options_and_p_and_resumes_exactly(tmp_path):
    x = _images(64)
    opts = dict(augment="ada", augment_policy="blit", ada_target=0.5, ada_kimg=0.2)
    straight = _forced_sign_model(2.0, **opts)
    _fit(straight, x, epochs=2, batch_size=8)
    first = _forced_sign_model(2.0, **opts)
    _fit(first, x, epochs=1, batch_size=8)
    path = str(tmp_path / "ada.keras")
    first.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.ada_p == first.ada_p > 0
    config_ = loaded.get_compile_config()
    assert {k: config_[k] for k in opts} == opts
    _fit(loaded, x, epochs=1, batch_size=8)
    assert loaded.ada_p == straight.ada_p
    for a, b in zip(_weights(straight), _weights(loaded)):
        np.testing.assert_array_equal(a, b)
    # DiffAugment's options round-trip too.
    diff = _dcgan(augment="diffaugment", augment_policy="cutout,translation")
    diff.save(str(tmp_path / "diff.keras"))
    back = keras.saving.load_model(str(tmp_path / "diff.keras"))
    assert (back.augment, back.augment_policy, back.ada_p) == ("diffaugment", "cutout,translation", None)


def test_recompiling_with_the_same_ada_options_keeps_p():
    model = _forced_sign_model(3.0, augment="ada", ada_kimg=0.128)
    _fit(model, _images(64), epochs=1, batch_size=8)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), augment="ada", ada_kimg=0.128)
    assert model.ada_p == pytest.approx(0.5)
    model.compile(augment=None)
    assert model.augmenter is None and model.ada_p is None
    assert not any("ada" in v.path for v in model.variables)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(augment="mixup"), "augment must be one of (None, 'diffaugment', 'ada'), got 'mixup'"),
        (dict(augment="diffaugment", augment_policy="blit"), "unknown augmentation 'blit' for diffaugment"),
        (dict(augment_policy="color"), "augment_policy='color' needs augment="),
        (dict(augment="ada", ada_target=1.5), "ada_target must be in [0, 1], got 1.5"),
        (dict(augment="ada", ada_kimg=0), "ada_kimg must be > 0, got 0"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, message):
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8)
    with pytest.raises(ValueError) as info:
        model.compile(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not str(info.value).startswith("config:")


def test_augment_on_two_dimensional_data_is_refused():
    gan = models.GAN(data_dim=2, latent_dim=2, hidden_units=8, num_layers=1)
    with pytest.raises(ValueError, match=r"augment='diffaugment' augments images .* shape \(None, 2\)"):
        gan.compile(augment="diffaugment")


# --------------------------------------------------------------- keras-gan train
def _tiny(*overrides):
    cfg = config.from_dict({"data": {"batch_size": 32, "split": "train[:30%]"},
                            "model": {"base_filters": 8, "latent_dim": 16},
                            "train": {"epochs": 1, "num_sample_images": 16}})
    return config.apply_overrides(cfg, list(overrides))


@pytest.mark.parametrize("mode", ["diffaugment", "ada"])
def test_keras_gan_train_applies_train_augment(tmp_path, mode):
    cfg = _tiny(f"train.augment={mode}", "train.ada_kimg=1")
    result = trainer.train(cfg, str(tmp_path / mode), verbose=0)
    assert not result.failed and np.isfinite(result.history["g_loss"]).all()
    assert result.model.augment == mode
    _, loaded = runs.load_run(str(tmp_path / mode))
    assert loaded.get_compile_config()["augment"] == mode
    if mode == "ada":
        assert "ada_p" in result.history and loaded.ada_p == result.model.ada_p


def test_resume_refuses_a_changed_augment_key():
    stored = _tiny()
    for override in ("train.augment=ada", "train.ada_target=0.7"):
        with pytest.raises(ValueError, match=override.split("=")[0]):
            checkpointing.check_resume_config(stored, config.apply_overrides(stored, [override]), "RUN")


# ------------------------------------------------------------ other backends
_OTHER_BACKEND = textwrap.dedent(
    """
    import numpy as np, keras
    from keras_gan import models
    x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")

    def build(d_bias="zeros", d_lr=2e-4, **kw):  # small dense players on 8x8 images: quick to compile
        keras.utils.set_random_seed(0)
        z = keras.Input((4,))
        g = keras.Model(z, keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64, activation="tanh")(z)))
        d_in = keras.Input((8, 8, 1))
        d = keras.Model(d_in, keras.layers.Dense(1, bias_initializer=d_bias)(keras.layers.Flatten()(d_in)))
        m = models.AdversarialModel(g, d, seed=1)
        m.compile(d_optimizer=keras.optimizers.Adam(d_lr), r1_gamma=0.5, **kw)
        return m

    weights = {}
    for name, kw in (("off", {}), ("ada_p0", dict(augment="ada", ada_target=1.0)), ("diff", dict(augment="diffaugment"))):
        m = build(**kw)
        m.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
        weights[name] = [np.array(w) for w in m.get_weights()][:4]
    same = lambda a, b: all(np.array_equal(u, v) for u, v in zip(weights[a], weights[b]))
    assert same("off", "ada_p0")  # ADA at p = 0 is the identity, to the bit
    assert not same("off", "diff") and all(np.isfinite(w).all() for w in weights["diff"])
    # sign(D(real)) = +1 (bias 10, weights that hardly move) > target: p rises by 32 / 50 in 4 D steps of 8.
    m = build(d_bias=keras.initializers.Constant(10.0), d_lr=1e-6, augment="ada", ada_kimg=0.05)
    h = m.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert abs(h["ada_p"][0] - 0.64) < 1e-6 and abs(m.ada_p - 0.64) < 1e-6, (h, m.ada_p)
    m.save("/tmp/_ada.keras")
    assert abs(keras.saving.load_model("/tmp/_ada.keras").ada_p - 0.64) < 1e-6
    print("ok", keras.backend.backend())
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_step_augments_on_other_backends(backend, tmp_path):
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = _OTHER_BACKEND.replace("/tmp/", str(tmp_path) + "/")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ok {backend}" in done.stdout
