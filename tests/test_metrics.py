"""Tests of keras_gan.evaluation.metrics and keras_gan.evaluation.features against independent computations."""

import json
import math
import os
import zipfile

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from keras_gan.evaluation import features
from keras_gan.evaluation import metrics


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A private cache directory holding the digits classifier, trained once for this module."""
    directory = str(tmp_path_factory.mktemp("keras_gan_cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_GAN_CACHE", directory)
        model, metadata = features.load_digits_classifier(verbose=0)
        yield directory, model, metadata


# ----------------------------------------------------------- statistics
def test_streaming_statistics_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(257, 6)) * [1, 2, 3, 1e-3, 10, 0.5] + 100.0  # offset: checks the centered update
    stats = metrics.FeatureStatistics()
    for start, stop in ((0, 1), (1, 8), (8, 100), (100, 100), (100, 200)):
        stats.update(x[start:stop])
    other = metrics.FeatureStatistics.from_features(x[200:])
    stats.merge(other)
    assert stats.count == len(x)
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)


def test_statistics_errors():
    stats = metrics.FeatureStatistics().update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="dimension 5"):
        stats.merge(metrics.FeatureStatistics.from_features(np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"2-D array \[n, dim\]"):
        stats.update(np.zeros(4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.FeatureStatistics.from_features(np.zeros((1, 3))).covariance


# ------------------------------------------------------------------ FID
def _fid_scipy_sqrtm(a, b):
    """Reference: the textbook formula with scipy.linalg.sqrtm (well-conditioned inputs only)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)


def _fid_eigvals(a, b):
    """Reference: Tr((S1 S2)^(1/2)) from the (non-symmetric) eigenvalues of S1 S2."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(eig.real, 0, None)))


def test_fid_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16)) + 0.5
    expected = _fid_scipy_sqrtm(a, b)
    assert abs(metrics.fid(a, b) - expected) / expected < 1e-6


def test_fid_near_singular_covariance():
    # Rank-4 features in 20 dimensions plus tiny noise: covariances are near singular.
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(4, 20))
    a = rng.normal(size=(300, 4)) @ basis + 1e-7 * rng.normal(size=(300, 20))
    b = (rng.normal(size=(300, 4)) * 1.5 + 0.3) @ basis + 1e-7 * rng.normal(size=(300, 20))
    assert np.linalg.cond(np.cov(a, rowvar=False)) > 1e10
    value = metrics.fid(a, b)
    expected = _fid_eigvals(a, b)
    assert np.isfinite(value)
    assert abs(value - expected) / expected < 1e-6


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 32)) * 5
    assert abs(metrics.fid(a, a)) < 1e-6
    singular = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 32))  # exactly rank 3
    assert abs(metrics.fid(singular, singular)) < 1e-6


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    # For diagonal covariances the distance is |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_accepts_statistics_and_checks_shapes():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(100, 5)), rng.normal(size=(80, 5))
    from_stats = metrics.fid(metrics.FeatureStatistics.from_features(a), metrics.FeatureStatistics.from_features(b))
    assert from_stats == pytest.approx(metrics.fid(a, b), rel=1e-12)
    with pytest.raises(ValueError, match="Shapes do not match"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="features_a"):
        metrics.fid(np.zeros(5), b)


# ------------------------------------------------------------------ KID
def _mmd2_brute_force(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, one pair at a time."""
    d = x.shape[1]
    k = lambda u, v: (np.dot(u, v) / d + 1.0) ** 3  # noqa: E731
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_kid_matches_brute_force_mmd():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 0.3
    mean, std = metrics.kid(x, y, num_subsets=1, subset_size=1000)  # one subset = the whole (permuted) sets
    assert mean == pytest.approx(_mmd2_brute_force(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_subset_average_estimates_the_full_set_mmd():
    # The subset estimate is unbiased for the full-set U-statistic; its mean over
    # S independent subsets is within a few standard errors of it.
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(45, 3)) * 1.3
    full = _mmd2_brute_force(x, y)
    mean, std = metrics.kid(x, y, num_subsets=400, subset_size=20, seed=1)
    assert std > 0
    assert abs(mean - full) < 4 * std / math.sqrt(400)


def test_kid_near_zero_for_same_distribution_and_errors():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, _ = metrics.kid(x, y, num_subsets=20, subset_size=200)
    shifted, _ = metrics.kid(x, y + 1.0, num_subsets=20, subset_size=200)
    assert abs(same) < 0.05 * shifted
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.kid(x[:1], y)
    with pytest.raises(ValueError, match="same d"):
        metrics.kid(x, y[:, :3])


# ------------------------------------------------------- Inception Score
def test_inception_score_perfect_classifier_equals_num_classes():
    classes = 7
    probs = np.eye(classes)[np.tile(np.arange(classes), 20)]  # balanced, and balanced in every split of 7 rows
    mean, std = metrics.inception_score(probs, splits=1)
    assert mean == pytest.approx(classes, rel=1e-12)
    mean, std = metrics.inception_score(probs, splits=20)
    assert mean == pytest.approx(classes, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_constant_prediction_is_one():
    probs = np.tile([0.1, 0.6, 0.3], (50, 1))
    mean, std = metrics.inception_score(probs, splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_scipy_entropy():
    rng = np.random.default_rng(8)
    probs = rng.dirichlet(np.full(10, 0.3), size=90)
    mean, std = metrics.inception_score(probs, splits=3)
    scores = []
    for part in np.split(probs, 3):
        marginal = part.mean(0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(p, marginal) for p in part])))
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.inception_score(probs * 2)
    with pytest.raises(ValueError, match="splits must be between 1 and"):
        metrics.inception_score(probs, splits=91)


# ------------------------------------------------- precision and recall
def _precision_recall_brute_force(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(q, ref, r):
        return (np.linalg.norm(q[:, None] - ref[None], axis=-1) <= r[None]).any(axis=1)

    return inside(fake, real, radii(real)).mean(), inside(real, fake, radii(fake)).mean()


def test_precision_recall_of_identical_and_disjoint_sets():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(100, 5))
    assert metrics.precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0}
    assert metrics.precision_recall(x, x + 100.0) == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_matches_brute_force():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(150, 4))
    fake = rng.normal(size=(120, 4)) * 0.6 + 0.8  # partly overlapping, narrower
    for k in (1, 3, 5):
        got = metrics.precision_recall(real, fake, k=k, working_memory=0.01)  # forces many chunks
        precision, recall = _precision_recall_brute_force(real, fake, k)
        assert got["precision"] == pytest.approx(precision, abs=1e-12)
        assert got["recall"] == pytest.approx(recall, abs=1e-12)
        assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1
    with pytest.raises(ValueError, match="k must be"):
        metrics.precision_recall(real[:3], fake, k=3)


def _density_coverage_brute_force(real, fake, k):
    # Naeem et al. 2020, eqs. (3)-(4), as loops over every real/fake pair
    n, m = len(real), len(fake)
    radius = []
    for i in range(n):
        distances = sorted(float(np.sqrt(((real[i] - real[j]) ** 2).sum())) for j in range(n) if j != i)
        radius.append(distances[k - 1])
    inside = [[float(np.sqrt(((fake[j] - real[i]) ** 2).sum())) <= radius[i] for i in range(n)] for j in range(m)]
    density = sum(sum(row) for row in inside) / (k * m)
    coverage = sum(any(inside[j][i] for j in range(m)) for i in range(n)) / n
    return density, coverage


def test_density_coverage_matches_a_hand_computation():
    rng = np.random.default_rng(12)
    real = rng.normal(size=(60, 3))
    fake = rng.normal(size=(50, 3)) * 0.5 + 0.7  # crowded in one region: density above 1 there, low coverage
    for k in (1, 3, 5):
        got = metrics.density_coverage(real, fake, k=k, working_memory=0.001)  # many chunks
        density, coverage = _density_coverage_brute_force(real, fake, k)
        assert got["density"] == pytest.approx(density, abs=1e-12)
        assert got["coverage"] == pytest.approx(coverage, abs=1e-12)
        assert 0 < got["coverage"] < 1
    with pytest.raises(ValueError, match="k must be"):
        metrics.density_coverage(real[:3], fake, k=3)


def test_density_coverage_of_identical_disjoint_and_collapsed_sets():
    x = np.random.default_rng(13).normal(size=(300, 4))
    same = metrics.density_coverage(x, x.copy())
    assert same["coverage"] == 1.0 and same["density"] >= 1.0  # every fake sits at a real centre
    assert metrics.density_coverage(x, x + 100.0) == {"density": 0.0, "coverage": 0.0}
    collapsed = metrics.density_coverage(x, np.repeat(x[:1], 300, axis=0))  # one sample, 300 times
    assert collapsed["coverage"] < 0.05


def test_precision_and_recall_are_not_swapped():
    # fakes that sit on a third of the real data: all of them realistic (precision 1), a third of the
    # real data reached (recall about 1/3). Swapping the two (torch-fidelity's bug, its issue #70) fails here.
    rng = np.random.default_rng(14)
    real = rng.normal(size=(600, 2))
    fake = real[real[:, 0] < np.quantile(real[:, 0], 1 / 3)] + rng.normal(scale=1e-3, size=(200, 2))
    fake = np.concatenate([fake] * 3)[:600]
    got = metrics.precision_recall(real, fake, k=3)
    assert got["precision"] > 0.95
    assert got["recall"] < 0.6
    dc = metrics.density_coverage(real, fake, k=5)
    assert dc["coverage"] < 0.6 and dc["density"] > 1.0  # the fakes crowd a third of the real neighbourhoods


# ----------------------------------------------------------- mode metrics
RING = np.array([[np.cos(a), np.sin(a)] for a in 2 * np.pi * np.arange(8) / 8])


def test_mode_metrics_all_samples_on_one_mode():
    rng = np.random.default_rng(11)
    samples = RING[3] + 0.01 * rng.normal(size=(500, 2)).clip(-2, 2)  # within 3 std
    out = metrics.mode_metrics(samples, RING, 0.01)
    assert out["modes_covered"] == 1 and out["num_modes"] == 8
    assert out["high_quality_fraction"] == 1.0
    assert out["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)
    assert out["mode_counts"] == [0, 0, 0, 500, 0, 0, 0, 0]


def test_mode_metrics_perfect_uniform_coverage():
    samples = np.repeat(RING, 25, axis=0)
    out = metrics.mode_metrics(samples, RING, 0.01)
    assert out["modes_covered"] == 8 and out["high_quality_fraction"] == 1.0
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-15)


def test_mode_metrics_samples_far_from_every_mode():
    samples = np.full((100, 2), 10.0)
    out = metrics.mode_metrics(samples, RING, 0.01)
    assert out["modes_covered"] == 0 and out["high_quality_fraction"] == 0.0
    assert out["reverse_kl"] == pytest.approx(math.log(8))  # the documented convention: no NaN
    assert all(np.isfinite(v) for v in (out["high_quality_fraction"], out["reverse_kl"]))


def test_mode_metrics_mixed_case_by_hand():
    # 3 HQ samples on mode 0, 1 on mode 2, and 4 low-quality ones (0.05 from mode 5, > 3 * 0.01).
    samples = np.concatenate([np.repeat(RING[:1], 3, 0), RING[2:3], RING[5] + [[0.05, 0.0]] * 4])
    out = metrics.mode_metrics(samples, RING, 0.01)
    assert out["modes_covered"] == 2
    assert out["high_quality_fraction"] == pytest.approx(0.5)
    p = np.array([0.75, 0.25])
    assert out["reverse_kl"] == pytest.approx(np.sum(p * np.log(p * 8)), rel=1e-12)
    # KL(p || uniform) as scipy computes it, with the empty modes included.
    full = np.array([0.75, 0, 0.25, 0, 0, 0, 0, 0])
    assert out["reverse_kl"] == pytest.approx(scipy.stats.entropy(full, np.full(8, 1 / 8)), rel=1e-12)
    # The threshold is in units of std; a per-mode std works too.
    assert metrics.mode_metrics(samples, RING, 0.01, threshold=6)["modes_covered"] == 3
    assert metrics.mode_metrics(samples, RING, np.where(np.arange(8) == 5, 0.02, 0.01))["modes_covered"] == 3


def test_mode_metrics_on_the_true_mixture():
    from keras_gan import data

    spec = data.MIXTURES["grid25"]
    samples, _ = data.load_arrays("grid25", "test", num_samples=2500)
    out = metrics.mode_metrics(samples, spec["centers"], spec["std"])
    assert out["modes_covered"] == 25
    # 2-D isotropic Gaussian: P(|x - c| <= 3 std) = 1 - exp(-9/2); 2,500 draws, 5 binomial std.
    p = 1 - math.exp(-4.5)
    assert abs(out["high_quality_fraction"] - p) < 5 * math.sqrt(p * (1 - p) / 2500)
    assert out["reverse_kl"] < 0.02


def test_mode_metrics_errors():
    with pytest.raises(ValueError, match="samples must be"):
        metrics.mode_metrics(np.zeros((4, 3)), RING, 0.01)
    with pytest.raises(ValueError, match="std must be > 0"):
        metrics.mode_metrics(np.zeros((4, 2)), RING, 0.0)


# --------------------------------------------------------- extractors
def test_digits_classifier_accuracy_and_cache(digits_cache, monkeypatch):
    directory, model, metadata = digits_cache
    assert metadata["test_accuracy"] > 0.9
    assert metadata["train_size"] == 1437 and metadata["test_size"] == 360
    # The cached copy is read back, not retrained; and it predicts like the original.
    monkeypatch.setattr(features, "train_digits_classifier", lambda **_: pytest.fail("retrained"))
    cached, cached_meta = features.load_digits_classifier(directory, verbose=0)
    assert cached_meta == metadata
    from keras_gan import data

    x_test, y_test = data.load_arrays("digits", "test")
    probs = np.asarray(cached(x_test))
    np.testing.assert_allclose(probs, np.asarray(model(x_test)), atol=1e-6)
    assert np.mean(probs.argmax(1) == y_test) == pytest.approx(metadata["test_accuracy"])
    extractor = features.get_extractor("digits")
    assert extractor.settings()["classifier"]["test_accuracy"] == metadata["test_accuracy"]
    assert not [n for n in os.listdir(directory) if n.startswith(".")]  # no temp files left


@pytest.mark.parametrize("damage", ["truncated .keras", "bad .json", ".json a list"])
def test_an_unreadable_cached_classifier_is_trained_again(digits_cache, tmp_path, capsys, monkeypatch, damage):
    """A fault sweep: a cut-short cached classifier (`.keras`) or its unreadable `.json` ended `keras-gan
    evaluate` in a traceback (Keras' "File not found" for a file that is there). The cache is rebuilt instead,
    with one line naming it; here the retraining is a stub that returns the cached model."""
    import shutil

    directory, model, metadata = digits_cache
    copy = tmp_path / "cache"
    shutil.copytree(directory, copy)
    keras_file = next(copy.glob("digits_classifier-*.keras"))
    json_file = keras_file.with_suffix(".json")
    if damage == "truncated .keras":
        keras_file.write_bytes(keras_file.read_bytes()[:2000])
    elif damage == "bad .json":
        json_file.write_text("[")
    else:
        json_file.write_text("[1, 2]")
    retrained = []
    monkeypatch.setattr(features, "train_digits_classifier", lambda **kw: retrained.append(kw) or (model, metadata))
    capsys.readouterr()
    loaded, loaded_meta = features.load_digits_classifier(str(copy), verbose=0)
    assert len(retrained) == 1 and loaded_meta == metadata
    err = capsys.readouterr().err
    assert err.count("cannot be read") == 1 and "training it again" in err and "Traceback" not in err, err
    assert zipfile.is_zipfile(keras_file) and json.loads(json_file.read_text()) == metadata  # written anew
    monkeypatch.setattr(features, "train_digits_classifier", lambda **_: pytest.fail("retrained twice"))
    features.load_digits_classifier(str(copy), verbose=0)


def test_digits_classifier_training_is_deterministic():
    a, _ = features.train_digits_classifier(epochs=1, seed=3)
    b, _ = features.train_digits_classifier(epochs=1, seed=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_digits_extractor_outputs_and_resizing(digits_cache):
    extractor = features.get_extractor("digits")
    from keras_gan import data

    x, _ = data.load_arrays("digits", "test")
    out = extractor(x[:20])
    assert out.features.shape == (20, extractor.feature_dim) and out.probabilities.shape == (20, 10)
    np.testing.assert_allclose(out.probabilities.sum(1), 1.0, atol=1e-5)
    # An RGB 16x16 copy (nearest-neighbour upsampled) is scored like the 8x8 original.
    import tensorflow as tf

    big = np.repeat(np.asarray(tf.image.resize(x[:20], (16, 16), method="nearest")), 3, axis=-1)
    agree = np.mean(extractor(big).probabilities.argmax(1) == out.probabilities.argmax(1))
    assert agree >= 0.9
    with pytest.raises(ValueError, match="batch of images"):
        extractor(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="Unknown extractor 'vgg'"):
        features.get_extractor("vgg")


def test_inception_extractor_never_downloads(monkeypatch, tmp_path):
    import keras

    monkeypatch.setattr(keras.applications, "InceptionV3", lambda *a, **k: pytest.fail("keras.applications called"))
    monkeypatch.delenv(features.INCEPTION_WEIGHTS_ENV, raising=False)
    missing = str(tmp_path / "inception.h5")
    with pytest.raises(FileNotFoundError, match="does not exist.*cannot download"):
        features.get_extractor("inception", weights=missing)
    with pytest.raises(FileNotFoundError, match=features.INCEPTION_WEIGHTS_ENV):
        features.get_extractor("inception")


@pytest.mark.slow
def test_inception_extractor_loads_local_weights(tmp_path):
    """A random-weight InceptionV3 saved like the keras-applications files is loaded, not downloaded (~10 s)."""
    import h5py
    import keras
    import tensorflow as tf
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.InceptionV3(weights=None)
    legacy = str(tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels.h5")  # the downloadable format
    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    extractor = features.InceptionExtractor(weights=legacy, batch_size=3)
    assert extractor.num_classes == 1000
    images = np.random.default_rng(0).uniform(-1, 1, size=(4, 8, 8, 1)).astype(np.float32)
    out = extractor(images)
    # Independent preprocessing: quantize, to RGB, resize, scale to [-1, 1].
    x = np.round((images + 1) * 127.5)
    x = tf.image.resize(np.repeat(x, 3, -1), (299, 299), antialias=True) / 127.5 - 1.0
    pool = keras.Model(reference.inputs[0], reference.get_layer("avg_pool").output)
    np.testing.assert_allclose(out.features, np.asarray(pool(x)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.probabilities, np.asarray(reference(x)), rtol=1e-4, atol=1e-6)

    notop_model = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg")
    notop = str(tmp_path / "notop.weights.h5")
    notop_model.save_weights(notop)
    extractor = features.InceptionExtractor(weights=notop)
    out = extractor(images)
    assert extractor.num_classes is None and out.probabilities is None
    np.testing.assert_allclose(out.features, np.asarray(notop_model(x)), rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------- pipeline
def test_streaming_pipeline_equals_in_memory(digits_cache):
    from keras_gan import data

    real, _ = data.load_arrays("digits", "test")
    fake, _ = data.load_arrays("digits", "train")
    fake = fake[:400]
    small = metrics.evaluate(fake, real, batch_size=7, verbose=0, kid_subsets=10)
    large = metrics.evaluate(fake, real, batch_size=10_000, verbose=0, kid_subsets=10)
    for key in ("fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall"):
        assert small[key] == pytest.approx(large[key], rel=1e-6, abs=1e-9), key
    # And the in-memory metrics on the extractor's features give the same numbers.
    extractor = features.get_extractor("digits")
    f_real, f_fake = extractor(real), extractor(fake)
    assert small["fid"] == pytest.approx(metrics.fid(f_fake.features, f_real.features), rel=1e-6)
    assert small["kid_mean"] == pytest.approx(metrics.kid(f_fake.features, f_real.features, 10)[0], rel=1e-6)
    assert small["is_mean"] == pytest.approx(metrics.inception_score(f_fake.probabilities)[0], rel=1e-6)
    pr = metrics.precision_recall(f_real.features, f_fake.features[np.sort(
        np.random.default_rng(0).choice(400, 360, replace=False))])
    assert (small["precision"], small["recall"]) == (pr["precision"], pr["recall"])
    settings = small["settings"]
    assert settings["num_generated"] == 400 and settings["num_real"] == 360
    assert settings["kid_subset_size"] == 360 and settings["extractor"]["name"] == "digits"


def test_evaluate_argument_errors(digits_cache):
    x = np.zeros((10, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="metrics must be a non-empty subset"):
        metrics.evaluate(x, x, metrics=("fid", "lpips"), verbose=0)
    with pytest.raises(ValueError, match="num_samples must be >= 1 when source is a generator"):
        metrics.evaluate(lambda n, seed: x[:n], x, verbose=0)


def test_generator_batches_use_distinct_seeds():
    seeds = [metrics._batch_seed(0, i) for i in range(100)] + [metrics._batch_seed(1, i) for i in range(100)]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**32 for s in seeds)
    assert seeds[:3] == [metrics._batch_seed(0, i) for i in range(3)]  # reproducible
