"""Tests of keras_gan.vae: the ELBO, the KL term, the importance-weighted bound, save/load, export, CLI."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_gan import vae as vae_lib

D, L, SIGMA = 5, 2, 0.5


def _softplus_inverse(y):
    return np.log(np.expm1(y))


def _linear_vae(W, b, A, c, s, sigma=SIGMA):
    """A linear Gaussian VAE: x = W z + b + sigma * eps; q(z | x) = N(A x + c, diag(s^2))."""
    d, latent = W.shape
    x_in = keras.Input((d,))
    enc = keras.layers.Dense(2 * latent)
    encoder = keras.Model(x_in, enc(x_in))
    enc.set_weights([
        np.concatenate([A.T, np.zeros((d, latent))], axis=1).astype("float32"),
        np.concatenate([c, _softplus_inverse(s - vae_lib._MIN_SCALE)]).astype("float32"),
    ])
    z_in = keras.Input((latent,))
    dec = keras.layers.Dense(d)
    decoder = keras.Model(z_in, dec(z_in))
    dec.set_weights([W.T.astype("float32"), b.astype("float32")])
    return vae_lib.VAE(encoder, decoder, scale=sigma)


def _random_linear(seed, s=0.7):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(D, L)), rng.normal(size=D) * 0.3
    A, c = rng.normal(size=(L, D)) * 0.2, rng.normal(size=L) * 0.1
    return W, b, A, c, np.full(L, s)


def _exact_posterior_vae():
    """Linear Gaussian VAE whose encoder is the exact (diagonal) posterior: W has orthogonal columns."""
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(D, L)))
    W = Q * np.array([1.5, 0.8])  # orthogonal columns -> diagonal posterior covariance
    b = rng.normal(size=D) * 0.3
    precision = np.eye(L) + W.T @ W / SIGMA**2  # posterior: N(S W^T (x - b) / sigma^2, S), S = precision^-1
    S = np.linalg.inv(precision)
    A = S @ W.T / SIGMA**2
    return W, b, A, -A @ b, np.sqrt(np.diag(S))


def _log_px(W, b, x, sigma=SIGMA):
    return stats.multivariate_normal(mean=b, cov=W @ W.T + sigma**2 * np.eye(len(b))).logpdf(x)


# ------------------------------------------------------------------ ELBO and KL
def test_elbo_matches_numpy_hand_computation():
    W, b, A, c, s = _random_linear(0)
    model = _linear_vae(W, b, A, c, s)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, D)).astype("float32")
    eps = rng.normal(size=(7, L)).astype("float32")
    got = model.elbo(x, noise=eps)

    mu = x @ A.T + c
    z = mu + s * eps
    rec = stats.norm.logpdf(x, loc=z @ W.T + b, scale=SIGMA).sum(axis=1)
    kl = 0.5 * np.sum(s**2 + mu**2 - 1.0 - 2.0 * np.log(s), axis=1)
    np.testing.assert_allclose(got["reconstruction"], rec, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["kl"], kl, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["elbo"], rec - kl, rtol=1e-4, atol=1e-4)


def test_kl_term_matches_closed_form_and_monte_carlo():
    W, b, A, c, s = _random_linear(3, s=0.4)
    model = _linear_vae(W, b, A, c, s)
    x = np.random.default_rng(4).normal(size=(3, D)).astype("float32") * 3
    kl = model.elbo(x, noise=np.zeros((3, L), "float32"))["kl"]
    mu = x @ A.T + c
    # Closed form of KL(N(mu, diag s^2) || N(0, I)), written out independently of TFP.
    closed = 0.5 * np.sum(s**2 + mu**2 - 1.0 - 2.0 * np.log(s), axis=1)
    np.testing.assert_allclose(kl, closed, rtol=1e-4)
    # Monte Carlo: E_q[log q(z) - log p(z)] with scipy densities.
    rng = np.random.default_rng(5)
    for i in range(3):
        z = mu[i] + s * rng.normal(size=(200_000, L))
        log_ratio = stats.norm.logpdf(z, mu[i], s).sum(1) - stats.norm.logpdf(z).sum(1)
        stderr = log_ratio.std() / np.sqrt(len(log_ratio))
        assert abs(log_ratio.mean() - kl[i]) < 5 * stderr + 1e-3


# ------------------------------------------------------- importance weighting
def test_importance_weighted_bound_is_exact_for_the_exact_posterior():
    W, b, A, c, s = _exact_posterior_vae()
    model = _linear_vae(W, b, A, c, s)
    x = np.random.default_rng(6).normal(size=(20, D)).astype("float32")
    truth = _log_px(W, b, x)
    for k in (1, 50):
        np.testing.assert_allclose(model.log_likelihood(x, num_samples=k), truth, atol=2e-3)
    # The single-sample ELBO (analytic KL) equals log p(x) only in expectation: average it.
    elbo = model.elbo(np.repeat(x[:1], 20_000, axis=0), seed=3)["elbo"]
    assert abs(elbo.mean() - truth[0]) < 5 * elbo.std() / np.sqrt(len(elbo))


def test_importance_weighted_bound_grows_with_k_and_stays_below_log_px():
    W, b, A, c, s = _random_linear(7, s=0.3)  # a poor posterior: a large gap to close
    model = _linear_vae(W, b, A, c, s)
    x = (np.random.default_rng(8).normal(size=(200, D)) @ np.eye(D) + b).astype("float32")
    truth = _log_px(W, b, x).mean()
    bounds = [model.log_likelihood(x, num_samples=k, seed=1).mean() for k in (1, 10, 100, 1000)]
    assert all(b2 >= b1 - 0.05 for b1, b2 in zip(bounds, bounds[1:])), bounds
    assert bounds[-1] - bounds[0] > 0.5, bounds  # the bound really tightens
    assert all(v <= truth + 0.02 for v in bounds), (bounds, truth)
    assert truth - bounds[-1] < truth - bounds[0]


def test_log_likelihood_is_reproducible_and_validates_num_samples():
    model = _linear_vae(*_random_linear(0))
    x = np.ones((3, D), "float32")
    np.testing.assert_array_equal(model.log_likelihood(x, 20, seed=3), model.log_likelihood(x, 20, seed=3))
    with pytest.raises(ValueError, match="num_samples must be >= 1, got 0"):
        model.log_likelihood(x, num_samples=0)


def test_density_report_bits_per_dim():
    model = _linear_vae(*_random_linear(0))
    x = np.random.default_rng(0).normal(size=(10, D)).astype("float32")
    report = vae_lib.density_report(model, x, num_samples=20, seed=2)
    log_px = model.log_likelihood(x, 20, seed=2)
    assert report["log_likelihood_nats"] == pytest.approx(log_px.mean())
    assert report["bits_per_dim"] == pytest.approx(-log_px.mean() / (D * np.log(2)))


# ------------------------------------------------------------------ the model
def test_bad_arguments_name_the_value():
    enc, dec = vae_lib.vae_encoder((8, 8, 1), 4, 4), vae_lib.vae_decoder((8, 8, 1), 4, 4)
    with pytest.raises(ValueError, match="likelihood must be one of .* got 'poisson'"):
        vae_lib.VAE(enc, dec, likelihood="poisson")
    with pytest.raises(ValueError, match="latent_dim=5 does not match"):
        vae_lib.VAE(enc, dec, latent_dim=5)
    with pytest.raises(ValueError, match="num_resamplings=3 does not fit"):
        vae_lib.vae_encoder((12, 12, 1), 4, 4, num_resamplings=3)
    with pytest.raises(ValueError, match="not conditional"):
        vae_lib.VAE(enc, dec).generate(2, labels=1)


@pytest.fixture(scope="module")
def trained_vae():
    model = vae_lib.VAE.for_images((8, 8, 1), latent_dim=4, base_filters=8, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    history = model.fit(x, batch_size=32, epochs=2, verbose=0).history
    return model, x, history


def test_fit_reports_elbo_terms(trained_vae):
    model, x, history = trained_vae
    assert set(history) >= {"elbo", "reconstruction", "kl"}
    np.testing.assert_allclose(
        np.array(history["elbo"]), np.array(history["reconstruction"]) - np.array(history["kl"]), rtol=1e-4
    )
    assert model.optimizer.iterations.numpy() == 4


def test_parity_interface(trained_vae):
    model, x, _ = trained_vae
    assert model.prior == "normal" and model.ema_generator is None and model.num_classes is None
    z = model.sample_latent(5, seed=9)
    from keras_gan.models import draw_latent

    np.testing.assert_array_equal(z.numpy(), draw_latent("normal", [5, 4], tf.constant([9, 0], tf.int64)).numpy())
    images = model.generate(5, seed=9)
    np.testing.assert_allclose(images, model.generator(z).numpy(), atol=1e-6)
    np.testing.assert_allclose(model.generate_from(z), images, atol=1e-6)  # what `keras-gan sample` calls
    zero = model.generate_from(np.zeros((2, 4), "float32"))
    np.testing.assert_allclose(zero, np.repeat(model.decoder(np.zeros((1, 4), "float32")).numpy(), 2, 0), atol=1e-6)
    with pytest.raises(ValueError, match=r"z must be \[num, 4\], got shape \(2, 3\)"):
        model.generate_from(np.zeros((2, 3), "float32"))
    assert images.shape == (5, 8, 8, 1) and np.abs(images).max() <= 1.0
    mu = model.posterior(x[:3]).loc
    np.testing.assert_allclose(model.reconstruct(x[:3]), model.decoder(mu).numpy(), atol=1e-6)


def test_bernoulli_generator_is_the_mean_in_minus_one_one():
    model = vae_lib.VAE.for_images((8, 8, 1), latent_dim=4, base_filters=4, likelihood="bernoulli")
    z = model.sample_latent(3, seed=1)
    p = tf.sigmoid(model.decoder(z)).numpy()
    np.testing.assert_allclose(model.generate(3, seed=1), 2 * p - 1, atol=1e-5)
    x = np.sign(np.random.default_rng(0).normal(size=(2, 8, 8, 1))).astype("float32")
    eps = np.zeros((2, 4), "float32")
    got = model.elbo(x, noise=eps)["reconstruction"]
    logits = model.decoder(model.posterior(x).loc).numpy()
    t = (x + 1) / 2
    expected = np.sum(t * -np.logaddexp(0, -logits) + (1 - t) * -np.logaddexp(0, logits), axis=(1, 2, 3))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_save_load_round_trip(trained_vae, tmp_path):
    model, x, _ = trained_vae
    path = str(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is vae_lib.VAE
    plain = lambda cfg: {k: v for k, v in cfg.items() if k not in ("encoder", "decoder")}  # noqa: E731
    assert plain(loaded.get_config()) == plain(model.get_config())
    np.testing.assert_allclose(loaded.generate(4, seed=2), model.generate(4, seed=2), atol=1e-6)
    assert float(loaded.likelihood_scale()) == pytest.approx(float(model.likelihood_scale()))
    assert float(model.likelihood_scale()) != pytest.approx(0.3)  # the scale was learned
    assert loaded.optimizer.iterations.numpy() == model.optimizer.iterations.numpy()
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(loaded.log_likelihood(x[:4], 10), model.log_likelihood(x[:4], 10), rtol=1e-5)


def test_exported_decoder_matches_keras(trained_vae, tmp_path):
    from keras_gan import export

    model, _, _ = trained_vae
    version_dir = export.export_saved_model(model, str(tmp_path / "vae"))
    loaded = tf.saved_model.load(version_dir)
    z = model.sample_latent(6, seed=4)
    out = loaded.signatures["serving_default"](z=z)["images"].numpy()
    np.testing.assert_allclose(out, model.decoder(z).numpy(), atol=1e-5)
    sampled = loaded.signatures["sample"](batch_size=tf.constant(6), seed=tf.constant(4, tf.int64))["images"]
    np.testing.assert_allclose(sampled.numpy(), model.generate(6, seed=4), atol=1e-5)


def test_cli_train_one_epoch(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "train", "--config", "vae_digits", "--epochs", "1",
         "--output", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.path.isfile(out / "checkpoints" / "epoch-0001.keras")
    assert os.path.isfile(out / "samples" / "epoch_0001.png")
    from keras_gan.training import runs

    cfg, model = runs.load_run(str(out))
    assert cfg.model.architecture == "vae" and isinstance(model, vae_lib.VAE)
    assert model.generate(3).shape == (3, 8, 8, 1)
    # the summary's `keras-gan sample` line works on a VAE run (it refused "holds a VAE" before)
    from keras_gan import cli

    assert cli.main(["sample", "--run", str(out), "--num", "6", "--truncation", "0.5", "--out",
                     str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0


@pytest.mark.slow
def test_vae_vs_gan_quick(tmp_path):
    import json

    from keras_gan.analysis import vae as vae_analysis

    result = vae_analysis.run(str(tmp_path), quick=True, log=lambda *_: None)
    with open(tmp_path / "vae-vs-gan.json") as fh:
        stored = json.load(fh)
    assert os.path.getsize(tmp_path / "vae-vs-gan.png") > 0
    for key in ("vae", "dcgan"):
        assert stored[key]["metrics"]["fid"] == pytest.approx(result[key]["metrics"]["fid"])
        assert 0 <= stored[key]["metrics"]["precision"] <= 1 and 0 <= stored[key]["metrics"]["recall"] <= 1
    density = stored["vae"]["density"]
    assert density["bits_per_dim"] == pytest.approx(-density["log_likelihood_nats"] / (64 * np.log(2)))
