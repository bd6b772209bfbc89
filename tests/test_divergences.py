"""keras_gan.divergences against independent computations (scipy, numpy, closed forms)."""

import itertools
import math

import keras
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

from keras_gan import divergences as dv
from keras_gan import models

tfd = tfp.distributions
SEEDS = [0, 1, 2]
LOG2 = math.log(2.0)


def _quad_kl(p, q, low, high):
    """KL(p || q) of two frozen scipy distributions by quadrature."""

    def integrand(x):
        return math.exp(p.logpdf(x)) * (p.logpdf(x) - q.logpdf(x))

    return scipy.integrate.quad(integrand, low, high, limit=200)[0]


def _quad_js(p, q, low, high):
    """JS(p, q) of two frozen scipy distributions by quadrature (natural log)."""

    def integrand(x):
        lp, lq = p.logpdf(x), q.logpdf(x)
        lm = np.logaddexp(lp, lq) - LOG2
        return 0.5 * math.exp(lp) * (lp - lm) + 0.5 * math.exp(lq) * (lq - lm)

    return scipy.integrate.quad(integrand, low, high, limit=200)[0]


def _random_probs(rng, k, zeros=0):
    probs = rng.uniform(0.05, 1.0, size=k)
    probs[rng.choice(k, size=zeros, replace=False)] = 0.0
    return probs / probs.sum()


# --------------------------------------------------------------------- KL
@pytest.mark.parametrize("seed", SEEDS)
def test_kl_closed_form_normals_matches_quadrature(seed):
    rng = np.random.default_rng(seed)
    m1, m2 = rng.normal(size=2)
    s1, s2 = rng.uniform(0.5, 2.0, size=2)
    got = dv.kl_divergence(tfd.Normal(m1, s1), tfd.Normal(m2, s2))
    want = _quad_kl(scipy.stats.norm(m1, s1), scipy.stats.norm(m2, s2), -30, 30)
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_kl_categorical_matches_scipy_entropy(seed):
    rng = np.random.default_rng(seed)
    p, q = _random_probs(rng, 7, zeros=2), _random_probs(rng, 7)
    got = dv.kl_divergence(tfd.Categorical(probs=p), tfd.Categorical(probs=q))
    assert got == pytest.approx(scipy.stats.entropy(p, q), rel=1e-9)


def test_kl_is_infinite_not_nan_where_q_misses_mass():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.5, 0.0, 0.5])
    assert math.isinf(scipy.stats.entropy(p, q))
    assert dv.kl_divergence(tfd.Categorical(probs=p), tfd.Categorical(probs=q)) == math.inf
    # Closed form for disjoint uniforms, and the Monte Carlo path (no KL registered
    # for Deterministic vs Uniform) both give inf, never NaN.
    assert dv.kl_divergence(tfd.Uniform(0.0, 1.0), tfd.Uniform(2.0, 3.0)) == math.inf
    assert dv.kl_divergence(tfd.Deterministic(0.5), tfd.Uniform(2.0, 3.0), num_samples=10) == math.inf


@pytest.mark.parametrize("seed", SEEDS)
def test_kl_monte_carlo_fallback_matches_quadrature(seed):
    rng = np.random.default_rng(seed)
    df, loc = rng.uniform(3.0, 8.0), rng.normal()
    p, q = tfd.StudentT(df, 0.0, 1.0), tfd.Normal(loc, 1.5)
    with pytest.raises(NotImplementedError):
        tfd.kl_divergence(p, q)  # so this exercises the Monte Carlo path
    want = _quad_kl(scipy.stats.t(df), scipy.stats.norm(loc, 1.5), -200, 200)
    got = dv.kl_divergence(p, q, num_samples=200_000, seed=seed)
    assert got == pytest.approx(want, abs=0.02)


# --------------------------------------------------------------------- JS
@pytest.mark.parametrize("seed", SEEDS)
def test_js_categorical_matches_scipy_jensenshannon_squared(seed):
    rng = np.random.default_rng(seed)
    p, q = _random_probs(rng, 9, zeros=3), _random_probs(rng, 9, zeros=1)
    want = scipy.spatial.distance.jensenshannon(p, q) ** 2  # natural log by default
    got = dv.js_divergence(tfd.Categorical(probs=p), tfd.Categorical(probs=q))
    assert got == pytest.approx(want, rel=1e-9)
    assert 0.0 <= got <= LOG2


def test_js_of_disjoint_supports_is_log2():
    p, q = tfd.Categorical(probs=[0.3, 0.7, 0.0, 0.0]), tfd.Categorical(probs=[0.0, 0.0, 0.1, 0.9])
    assert scipy.spatial.distance.jensenshannon([0.3, 0.7, 0, 0], [0, 0, 0.1, 0.9]) ** 2 == pytest.approx(LOG2)
    assert dv.js_divergence(p, q) == pytest.approx(LOG2, rel=1e-12)
    # Monte Carlo path: disjoint uniforms.
    assert dv.js_divergence(tfd.Uniform(0.0, 1.0), tfd.Uniform(1.5, 2.0), num_samples=100) == pytest.approx(LOG2)


@pytest.mark.parametrize("seed", SEEDS)
def test_js_monte_carlo_matches_quadrature(seed):
    rng = np.random.default_rng(seed)
    m2 = rng.uniform(-2.0, 2.0)
    s1, s2 = rng.uniform(0.5, 1.5, size=2)
    want = _quad_js(scipy.stats.norm(0.0, s1), scipy.stats.norm(m2, s2), -30, 30)
    got = dv.js_divergence(tfd.Normal(0.0, s1), tfd.Normal(m2, s2), num_samples=200_000, seed=seed)
    assert got == pytest.approx(want, abs=3e-3)


def test_tfp_jensen_shannon_self_normalized_is_twice_our_js():
    # The convention stated in the module docstring: TFP's f-divergence is 2 JS.
    p, q = tfd.Normal(0.0, 1.0), tfd.Normal(1.0, 1.3)
    x = q.sample(400_000, seed=(1, 2))
    logu = p.log_prob(x) - q.log_prob(x)
    tfp_value = float(tf.reduce_mean(tfp.vi.jensen_shannon(logu, self_normalized=True)))
    want = _quad_js(scipy.stats.norm(0, 1), scipy.stats.norm(1, 1.3), -30, 30)
    assert tfp_value == pytest.approx(2 * want, abs=4e-3)
    assert dv.js_divergence(p, q, num_samples=200_000) == pytest.approx(want, abs=3e-3)


# -------------------------------------------------------------- Wasserstein
@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein1_1d_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=300)
    y = rng.standard_t(3, size=217) + 0.5  # unequal sizes
    want = scipy.stats.wasserstein_distance(x, y)
    assert dv.wasserstein1_1d(x, y) == pytest.approx(want, rel=1e-10)
    assert dv.wasserstein1(x, y) == pytest.approx(want, rel=1e-10)
    assert dv.sliced_wasserstein1(x, y) == pytest.approx(want, rel=1e-10)  # 1-D: a single slice


def test_wasserstein1_1d_gaussian_samples_approach_closed_form():
    # W1(N(m1, s1), N(m2, s2)) = E|dm + ds Z| = |ds| (a (2 Phi(a) - 1) + 2 phi(a)), a = dm / |ds|.
    dm, ds = 0.7, -0.4
    a = dm / abs(ds)
    want = abs(ds) * (a * (2 * scipy.stats.norm.cdf(a) - 1) + 2 * scipy.stats.norm.pdf(a))
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 100_000)
    y = rng.normal(dm, 1.0 + ds, 100_000)
    assert dv.wasserstein1_1d(x, y) == pytest.approx(want, abs=0.01)


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein1_exact_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, d = 6, 2 + seed % 2
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 1.0
    cost = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1)
    want = min(cost[np.arange(n), list(perm)].mean() for perm in itertools.permutations(range(n)))
    assert dv.wasserstein1_exact(x, y) == pytest.approx(want, rel=1e-10)
    assert dv.wasserstein1(x, y) == pytest.approx(want, rel=1e-10)


def test_wasserstein1_exact_in_1d_matches_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=200), rng.exponential(size=200)
    assert dv.wasserstein1_exact(x, y) == pytest.approx(scipy.stats.wasserstein_distance(x, y), rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_sliced_wasserstein1_with_given_directions_matches_scipy_per_slice(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(150, 3)), rng.normal(size=(90, 3)) * 2.0
    directions = rng.normal(size=(7, 3))
    units = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    want = np.mean([scipy.stats.wasserstein_distance(x @ u, y @ u) for u in units])
    got = dv.sliced_wasserstein1(x, y, directions=directions)
    assert got == pytest.approx(want, rel=1e-10)


def test_sliced_wasserstein1_of_translation_is_two_over_pi_times_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))
    shift = np.array([3.0, -4.0])  # |t| = 5; E|cos| over the circle = 2 / pi
    got = dv.sliced_wasserstein1(x, x + shift, num_projections=4000, seed=1)
    assert got == pytest.approx(2 / math.pi * 5.0, rel=0.03)
    assert got < dv.wasserstein1_exact(x, x + shift) == pytest.approx(5.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_gaussian_wasserstein2_matches_sqrtm_formula(seed):
    rng = np.random.default_rng(seed)
    d = 3
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    root1 = scipy.linalg.sqrtm(cov1).real
    cross = scipy.linalg.sqrtm(root1 @ cov2 @ root1).real
    want = math.sqrt(np.sum((m1 - m2) ** 2) + np.trace(cov1 + cov2 - 2 * cross))
    p = tfd.MultivariateNormalFullCovariance(m1, cov1)
    q = tfd.MultivariateNormalTriL(m2, np.linalg.cholesky(cov2))
    assert dv.gaussian_wasserstein2(p, q) == pytest.approx(want, rel=1e-8)


def test_gaussian_wasserstein2_closed_forms():
    assert dv.gaussian_wasserstein2(tfd.Normal(1.0, 2.0), tfd.Normal(-2.0, 6.0)) == pytest.approx(5.0)
    # Commuting (diagonal) covariances: sqrt(|dm|^2 + sum (s1 - s2)^2).
    p = tfd.MultivariateNormalDiag([0.0, 1.0], [1.0, 3.0])
    q = tfd.MultivariateNormalDiag([1.0, 1.0], [2.0, 0.5])
    assert dv.gaussian_wasserstein2(p, q) == pytest.approx(math.sqrt(1 + 1 + 2.5**2), rel=1e-6)


# ------------------------------------------------------------ from samples
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_histogram_estimators_match_scipy_on_numpy_histograms(seed, dim):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, dim))
    y = rng.normal(size=(1500, dim)) * 1.5 + 0.3
    bins = 12
    both = np.concatenate([x, y])
    ranges = [(lo, hi) for lo, hi in zip(both.min(0), both.max(0))]
    hx = np.histogramdd(x, bins=bins, range=ranges)[0].ravel()
    hy = np.histogramdd(y, bins=bins, range=ranges)[0].ravel()
    px, py = hx / hx.sum(), hy / hy.sum()
    js_want = scipy.spatial.distance.jensenshannon(px, py) ** 2
    assert dv.js_divergence_from_samples(x, y, bins=bins) == pytest.approx(js_want, rel=1e-9)
    kl_want = scipy.stats.entropy(px, py)
    got = dv.kl_divergence_from_samples(x, y, bins=bins)
    assert got == pytest.approx(kl_want, rel=1e-9) or (math.isinf(kl_want) and got == math.inf)
    kl_back = dv.kl_divergence_from_samples(y, x, bins=bins, value_range=ranges)
    want_back = scipy.stats.entropy(py, px)
    assert kl_back == pytest.approx(want_back, rel=1e-9) or (math.isinf(want_back) and kl_back == math.inf)


def test_histogram_clips_outliers_into_edge_bins():
    x, y = np.array([-5.0, 0.2, 0.8]), np.array([0.1, 0.9, 7.0])
    # Range (0, 1), two bins: x -> (2, 1), y -> (1, 2).
    want = scipy.stats.entropy([2 / 3, 1 / 3], [1 / 3, 2 / 3])
    assert dv.kl_divergence_from_samples(x, y, bins=2, value_range=(0.0, 1.0)) == pytest.approx(want)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_kde_estimators_match_scipy_gaussian_kde(seed, dim):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, dim))
    y = rng.normal(size=(250, dim)) @ np.diag([1.3, 0.7][:dim]) + 0.4
    kde_x, kde_y = scipy.stats.gaussian_kde(x.T), scipy.stats.gaussian_kde(y.T)  # Scott's rule
    kl_want = np.mean(kde_x.logpdf(x.T) - kde_y.logpdf(x.T))
    assert dv.kl_divergence_from_samples(x, y, estimator="kde") == pytest.approx(kl_want, rel=1e-7)

    def half(points, own):
        log_own = own.logpdf(points.T)
        log_m = np.logaddexp(kde_x.logpdf(points.T), kde_y.logpdf(points.T)) - LOG2
        return np.mean(log_own - log_m)

    js_want = 0.5 * half(x, kde_x) + 0.5 * half(y, kde_y)
    assert dv.js_divergence_from_samples(x, y, estimator="kde") == pytest.approx(js_want, rel=1e-7)
    # A fixed isotropic bandwidth against a numpy kernel sum.
    bw = 0.3

    def log_kde(points, centers):
        sq = np.sum((points[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
        norm = math.log(len(centers)) + 0.5 * dim * math.log(2 * math.pi * bw**2)
        return scipy.special.logsumexp(-sq / (2 * bw**2), axis=1) - norm

    want = np.mean(log_kde(x, x) - log_kde(x, y))
    assert dv.kl_divergence_from_samples(x, y, estimator="kde", bandwidth=bw) == pytest.approx(want, rel=1e-7)


def test_sample_estimators_approach_the_true_js():
    p, q = scipy.stats.norm(0.0, 1.0), scipy.stats.norm(1.5, 1.0)
    want = _quad_js(p, q, -30, 30)
    rng = np.random.default_rng(0)
    x, y = p.rvs(20_000, random_state=rng), q.rvs(20_000, random_state=rng)  # KDE: first 1,500
    assert dv.js_divergence_from_samples(x, y, bins=40) == pytest.approx(want, abs=0.02)
    assert dv.js_divergence_from_samples(x[:1500], y[:1500], estimator="kde") == pytest.approx(want, abs=0.02)


# ------------------------------------------------------------------ errors
def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="estimator must be one of histogram, kde, got 'knn'"):
        dv.js_divergence_from_samples([0.0, 1.0], [0.0, 1.0], estimator="knn")
    with pytest.raises(ValueError, match="same dimension, got 2 and 3"):
        dv.sliced_wasserstein1(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="as many samples in x as in y, got 3 and 4"):
        dv.wasserstein1_exact(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="p must be a tfp.distributions.Distribution, got ndarray"):
        dv.kl_divergence(np.zeros(3), tfd.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="num_projections must be an integer >= 1, got 0"):
        dv.sliced_wasserstein1(np.zeros((4, 2)), np.ones((4, 2)), num_projections=0)
    with pytest.raises(ValueError, match="bandwidth must be 'scott', 'silverman' or a positive float, got -1"):
        dv.kl_divergence_from_samples([0.0, 1.0], [0.0, 2.0], estimator="kde", bandwidth=-1)
    with pytest.raises(ValueError, match="non-finite"):
        dv.wasserstein1_1d([0.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="must be a tfd.Normal or tfd.MultivariateNormal"):
        dv.gaussian_wasserstein2(tfd.Uniform(0.0, 1.0), tfd.Normal(0.0, 1.0))


# ---------------------------------------------------------------- callback
class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(dict(logs))


def test_divergence_tracker_logs_to_history_and_later_callbacks():
    rng = np.random.default_rng(0)
    real = (rng.normal(size=(512, 2)) * 0.1 + np.array([1.0, -1.0])).astype("float32")
    gan = models.GAN(data_dim=2, latent_dim=2, hidden_units=16, num_layers=1)
    gan.compile(loss="non_saturating")
    tracker = dv.DivergenceTracker(real, num_samples=256, num_projections=32, bins=8)
    recorder = _Recorder()
    dataset = tf.data.Dataset.from_tensor_slices(real).batch(64)
    history = gan.fit(dataset, epochs=2, callbacks=[tracker, recorder], verbose=0, shuffle=False)
    assert len(history.history["sliced_w1"]) == len(history.history["js"]) == 2
    assert [s["js"] for s in recorder.seen] == history.history["js"]
    # The logged values are the divergences of model.generate(256, seed=0) after the epoch.
    fake = gan.generate(256, seed=0)
    real_used = real[:256].astype(np.float64)
    assert history.history["sliced_w1"][-1] == pytest.approx(
        dv.sliced_wasserstein1(fake, real_used, num_projections=32, seed=0), rel=1e-9
    )
    assert history.history["js"][-1] == pytest.approx(
        dv.js_divergence_from_samples(fake, real_used, bins=8, value_range=tracker.value_range), rel=1e-9
    )
    assert 0.0 <= history.history["js"][-1] <= LOG2


def test_divergence_tracker_rejects_high_dimensional_data():
    with pytest.raises(ValueError, match=r"d <= 3, got shape \(10, 5\)"):
        dv.DivergenceTracker(np.zeros((10, 5)))
