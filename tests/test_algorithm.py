"""Algorithm 13.1 as written: K discriminator updates on fresh minibatches, then one generator update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import models, networks


class _Spy(keras.Model):
    """A discriminator that records the batches it sees (eager mode only)."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.seen = []

    def call(self, x, training=False):
        self.seen.append(np.array(x))
        return self.inner(x, training=training)


def _model(k, spy=False):
    g = networks.mlp_generator(data_dim=2, latent_dim=3, hidden_units=8, num_layers=1)
    d = networks.mlp_discriminator(data_dim=2, hidden_units=8, num_layers=1)
    if spy:
        d = _Spy(d)
        d.build((None, 2))
    model = models.AdversarialModel(g, d, latent_dim=3, prior="normal", seed=1)
    model.compile(d_steps=k, run_eagerly=spy)
    return model


@pytest.mark.parametrize("k", [1, 3])
def test_update_counts(k):
    model = _model(k)
    m, steps = 4, 5
    x = np.random.default_rng(0).normal(size=(k * m * steps, 2)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(k * m), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == k * steps
    assert int(model.g_optimizer.iterations.numpy()) == steps


@pytest.mark.parametrize("k", [1, 3])
def test_players_do_not_move_each_other(k):
    model = _model(k, spy=True)
    events = []

    def wrap(opt, frozen, tag):
        original = opt.apply

        def apply(grads, variables):
            before = [w.numpy().copy() for w in frozen.trainable_weights]
            out = original(grads, variables)
            after = [w.numpy() for w in frozen.trainable_weights]
            events.append((tag, all(np.array_equal(a, b) for a, b in zip(before, after))))
            return out

        opt.apply = apply

    wrap(model.d_optimizer, model.generator, "d")
    wrap(model.g_optimizer, model.discriminator, "g")
    m = 4
    batch = np.arange(k * m * 2, dtype="float32").reshape(k * m, 2)
    model.train_step(tf.constant(batch))
    assert [tag for tag, _ in events] == ["d"] * k + ["g"]
    assert all(unchanged for _, unchanged in events)

    # D sees (real minibatch, fake minibatch) per D step, then the fakes of the G step.
    seen = model.discriminator.seen
    assert len(seen) == 2 * k + 1
    reals = [seen[2 * i] for i in range(k)]
    for i, r in enumerate(reals):
        np.testing.assert_array_equal(r, batch[i::k])  # the documented strided split
        assert r.shape == (m, 2)
    flat = [tuple(map(tuple, r)) for r in reals]
    assert len(set(flat)) == k  # each D update saw a different real minibatch
    assert sorted(sum((list(f) for f in flat), [])) == sorted(map(tuple, batch))  # together: the whole batch
    fakes = [seen[2 * i + 1] for i in range(k)] + [seen[-1]]
    assert len({f.tobytes() for f in fakes}) == k + 1  # fresh noise for every update


def test_batch_not_divisible_by_k_is_a_clear_error():
    model = _model(3)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="d_steps=3"):
        model.fit(tf.data.Dataset.from_tensor_slices(np.zeros((20, 2), "float32")).batch(10), verbose=0)
    with pytest.raises(ValueError, match="got a batch of 10 with d_steps=3"):
        model.train_step(tf.zeros((10, 2)))


def test_compile_rejects_bad_values():
    model = _model(1)
    with pytest.raises(ValueError, match="d_steps must be an integer >= 1, got 0"):
        model.compile(d_steps=0)
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        model.compile(loss="nope")
    with pytest.raises(ValueError, match="prior must be one of"):
        models.AdversarialModel(model.generator, model.discriminator, prior="cauchy")


def test_metrics_are_probabilities_for_cross_entropy():
    model = _model(1)
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    hist = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0).history
    assert set(hist) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert 0 < hist["d_real"][0] < 1 and 0 < hist["d_fake"][0] < 1


def test_uniform_prior_in_range_and_seeded():
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=5, base_filters=4, num_upsamplings=2)
    z = model.sample_latent(1000, seed=3).numpy()
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05
    np.testing.assert_array_equal(z, model.sample_latent(1000, seed=3).numpy())
    assert model.generate(3, seed=0).shape == (3, 8, 8, 1)


def test_save_load_round_trip_keeps_both_optimizers(tmp_path):
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2, seed=5)
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), d_optimizer=keras.optimizers.RMSprop(5e-4),
        loss="minimax", d_steps=2,
    )
    x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, models.AdversarialModel)
    assert (loaded.loss_name, loaded.d_steps, loaded.seed, loaded.prior) == ("minimax", 2, 5, "uniform")
    assert isinstance(loaded.d_optimizer, keras.optimizers.RMSprop)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for opt in ("g_optimizer", "d_optimizer"):
        va, vb = getattr(model, opt).variables, getattr(loaded, opt).variables
        assert len(va) == len(vb) > 1
        for a, b in zip(va, vb):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The generator alone is a plain Keras model that saves on its own.
    gpath = str(tmp_path / "g.keras")
    model.generator.save(gpath)
    z = model.sample_latent(4, seed=0)
    np.testing.assert_allclose(keras.models.load_model(gpath)(z).numpy(), model.generator(z).numpy(), atol=1e-6)
