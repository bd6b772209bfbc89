"""Sample-quality metrics: FID, KID, Inception Score, precision/recall, mode coverage.

All image metrics work on features from an extractor (:mod:`keras_gan.evaluation.features`:
the offline ``"digits"`` classifier or InceptionV3 from a local weights file).

* **FID** (Heusel et al. 2017): ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``
  between Gaussians fitted to the two feature sets. The trace of the matrix
  square root comes from eigenvalues of the symmetric matrix
  ``S1^(1/2) S2 S1^(1/2)`` (same spectrum as ``S1 S2``), with eigenvalues
  clipped at 0, so near-singular covariances give finite, real results
  (``scipy.linalg.sqrtm`` was also wrong in scipy 1.11.2-1.11.3).
  Means and covariances are accumulated batch by batch in float64
  (:class:`FeatureStatistics`): memory does not grow with the sample count.
* **KID** (Binkowski et al. 2018): the unbiased estimate of MMD^2 with the
  kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets
  (default 100 subsets of 1,000, the size capped at the smaller set); mean
  and standard deviation over subsets.
* **Inception Score** (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))``
  on each of ``splits`` equal parts; mean and standard deviation over parts.
* **Precision and recall** (Kynkaanniemi et al. 2019): each set's manifold is
  the union of balls around its points with radius the distance to the
  ``k``-th nearest neighbour (``k = 3``); precision is the fraction of
  generated samples inside the real manifold, recall the fraction of real
  samples inside the generated one.
* **Mode metrics** for 2-D mixtures (VEEGAN / PacGAN): :func:`mode_metrics`.

:func:`evaluate` runs the whole pipeline on a generator callable (or an array)
against real images; :class:`EvaluationCallback` runs it every N epochs
during ``fit`` and logs the numbers into the epoch logs (hence ``History``).

Example:

>>> result = evaluate(model.generate, real_images, extractor="digits", num_samples=1000)
>>> result["fid"], result["kid_mean"], result["precision"], result["recall"], result["density"], result["coverage"]
"""

import dataclasses

import keras
import numpy as np

#: Metric groups accepted by :func:`compare` and :func:`evaluate`.
METRICS = ("fid", "kid", "is", "precision_recall", "density_coverage")
#: The metric groups computed on per-sample features (extract with ``keep_features=True``), not statistics alone.
FEATURE_METRICS = ("kid", "precision_recall", "density_coverage")


# ------------------------------------------------------ streaming statistics
class FeatureStatistics:
    """Running mean and covariance of feature vectors, in float64.

    Batches are merged with the pairwise update of Chan, Golub and LeVeque
    (1979), so the result equals the statistics of all samples at once (up
    to rounding) while memory stays ``O(d^2)``. No library in our stack
    offers a mergeable float64 covariance accumulator, hence this class.

    Args:
        dim: feature dimension; taken from the first batch if omitted.

    Example:

    >>> stats = FeatureStatistics()
    >>> for batch in batches:
    ...     stats.update(batch)
    >>> stats.mean, stats.covariance
    """

    def __init__(self, dim=None):
        self.dim = None if dim is None else int(dim)
        self.count = 0
        self._mean = None if dim is None else np.zeros(self.dim)
        self._m2 = None if dim is None else np.zeros((self.dim, self.dim))  # sum of centered outer products

    def update(self, batch):
        """Adds a batch ``[n, dim]`` of feature vectors.

        Returns:
            ``self``.
        """
        batch = np.asarray(batch, np.float64)
        if batch.ndim != 2:
            raise ValueError(f"batch must be a 2-D array [n, dim] of features, got shape {batch.shape}.")
        if len(batch) == 0:
            return self
        other = FeatureStatistics(batch.shape[1])
        other.count = len(batch)
        other._mean = batch.mean(axis=0)
        centered = batch - other._mean
        other._m2 = centered.T @ centered
        return self.merge(other)

    def merge(self, other):
        """Adds the samples summarized by another :class:`FeatureStatistics`.

        Returns:
            ``self``.
        """
        if other.count == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"Cannot merge statistics of dimension {other.dim} into dimension {self.dim}.")
        if self.count == 0:
            self.dim, self.count = other.dim, other.count
            self._mean, self._m2 = other._mean.copy(), other._m2.copy()
            return self
        total = self.count + other.count
        delta = other._mean - self._mean
        self._mean = self._mean + delta * (other.count / total)
        self._m2 = self._m2 + other._m2 + np.outer(delta, delta) * (self.count * other.count / total)
        self.count = total
        return self

    @property
    def mean(self):
        """The mean vector ``[dim]`` (float64)."""
        self._check_count(1)
        return self._mean.copy()

    @property
    def covariance(self):
        """The unbiased covariance ``[dim, dim]`` (float64; divides by ``count - 1`` like ``np.cov``)."""
        self._check_count(2)
        return self._m2 / (self.count - 1)

    def _check_count(self, minimum):
        if self.count < minimum:
            raise ValueError(f"FeatureStatistics needs at least {minimum} samples, got {self.count}.")

    @classmethod
    def from_features(cls, features):
        """Statistics of an in-memory array ``[n, dim]``."""
        return cls().update(features)


# ------------------------------------------------------------------ FID
def _as_statistics(value, argument):
    if isinstance(value, FeatureStatistics):
        return value
    value = np.asarray(value)
    if value.ndim != 2:
        raise ValueError(
            f"{argument} must be features [n, dim] or a FeatureStatistics, got an array of shape {value.shape}."
        )
    return FeatureStatistics.from_features(value)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))``, with the last
    trace computed as the sum of square roots of the eigenvalues of the
    symmetric positive semi-definite matrix ``S1^(1/2) S2 S1^(1/2)`` (similar to
    ``S1 S2``, hence the same eigenvalues). Negative rounding noise in
    eigenvalues is clipped to 0, so singular covariances are fine.

    Args:
        mu1, mu2: mean vectors ``[d]``.
        sigma1, sigma2: covariance matrices ``[d, d]``.

    Returns:
        The distance, a float >= 0 (rounding below 0 is clipped).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"Shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}."
        )
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2
    w, v = np.linalg.eigh(sigma1)
    sqrt1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = sqrt1 @ sigma2 @ sqrt1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = np.sum(np.sqrt(np.clip(eig, 0.0, None)))
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


def fid(features_a, features_b):
    """Frechet (Inception) Distance between two feature sets.

    Args:
        features_a, features_b: arrays ``[n, d]`` or :class:`FeatureStatistics`.

    Returns:
        FID as a float (0 for a set with itself).

    Example:

    >>> fid(real_features, fake_features)
    """
    a, b = _as_statistics(features_a, "features_a"), _as_statistics(features_b, "features_b")
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


# ------------------------------------------------------------------ KID
def _polynomial_mmd2_unbiased(x, y):
    """Unbiased MMD^2 of two equal-size sets with the kernel (x.y / d + 1)^3."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return sum_xx + sum_yy - 2.0 * k_xy.mean()


def kid(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel (Inception) Distance: unbiased MMD^2 with a cubic polynomial kernel.

    Each of ``num_subsets`` rounds draws ``m = min(subset_size, n_a, n_b)``
    samples without replacement from each set and computes

    ``MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2``, with ``k(x, y) = (x.y / d + 1)^3``.

    Args:
        features_a, features_b: arrays ``[n, d]``.
        num_subsets: number of random subsets.
        subset_size: samples per subset (capped at the smaller set).
        seed: seed of the subset draws.

    Returns:
        ``(mean, std)`` over subsets (``np.std``, ddof 0). It can be slightly
        negative: the estimate is unbiased, and its expectation is 0 for equal
        distributions.
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be [n, d] arrays with the same d, got shapes {a.shape} and {b.shape}.")
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}.")
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise ValueError(
            f"KID needs subsets of at least 2 samples; got subset_size={subset_size} and sets of {len(a)} and {len(b)}."
        )
    rng = np.random.default_rng(seed)
    values = [
        _polynomial_mmd2_unbiased(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(int(num_subsets))
    ]
    return float(np.mean(values)), float(np.std(values))


# ------------------------------------------------------- Inception Score
def inception_score(probabilities, splits=10):
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` over equal splits.

    ``p(y)`` is the mean prediction within each split (as in Salimans et al.);
    ``0 log 0 = 0`` (``scipy.special.rel_entr``).

    Args:
        probabilities: class probabilities ``[n, classes]`` (rows sum to 1).
        splits: number of parts (``np.array_split``).

    Returns:
        ``(mean, std)`` over splits. A perfect classifier on balanced classes
        gives the number of classes; a constant prediction gives 1.
    """
    from scipy.special import rel_entr

    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be [n, classes], got shape {p.shape}.")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be non-negative rows that sum to 1 (softmax outputs).")
    splits = int(splits)
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(p)}), got {splits}.")
    scores = []
    for part in np.array_split(p, splits):
        kl = rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------- precision and recall
def _knn_radii(features, k, working_memory):
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    from sklearn.metrics import pairwise_distances_chunked

    # Row i holds 0 for point i itself (sklearn zeroes the diagonal), so index k of
    # the sorted row is the k-th neighbour, as in Kynkaanniemi et al.'s code.
    chunks = pairwise_distances_chunked(
        features, reduce_func=lambda dist, start: np.partition(dist, k, axis=1)[:, k], working_memory=working_memory
    )
    return np.concatenate(list(chunks))


def _inside(queries, reference, radii, working_memory):
    """For each query: is it within radii[j] of some reference point j?"""
    from sklearn.metrics import pairwise_distances_chunked

    chunks = pairwise_distances_chunked(
        queries, reference, reduce_func=lambda dist, start: np.any(dist <= radii[None, :], axis=1),
        working_memory=working_memory,
    )
    return np.concatenate(list(chunks))


def precision_recall(real_features, fake_features, k=3, working_memory=256):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Args:
        real_features: ``[n, d]`` features of real samples.
        fake_features: ``[m, d]`` features of generated samples. Use as many as
            real ones: the k-NN radii shrink as a set grows.
        k: neighbourhood size of the manifold estimate (3 in the paper).
        working_memory: MiB per chunk of the pairwise-distance matrix.

    Returns:
        ``{"precision": float, "recall": float}``.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [n, d] arrays with the same d, got shapes {real.shape} and {fake.shape}.")
    k = int(k)
    if k < 1 or k >= min(len(real), len(fake)):
        raise ValueError(
            f"k must be >= 1 and smaller than both set sizes ({len(real)}, {len(fake)}), got {k}."
        )
    real_radii = _knn_radii(real, k, working_memory)
    fake_radii = _knn_radii(fake, k, working_memory)
    precision = _inside(fake, real, real_radii, working_memory).mean()
    recall = _inside(real, fake, fake_radii, working_memory).mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real_features, fake_features, k=5, working_memory=256):
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models").

    With ``r_i`` the distance from real point ``i`` to its ``k``-th nearest real neighbour:
    ``density = 1 / (k m) * sum_j #{i : |f_j - x_i| <= r_i}`` (how many real neighbourhoods each
    fake point falls in, over ``k``: about 1 for fakes distributed like the reals, above 1 where they
    crowd the dense regions) and ``coverage = 1 / n * #{i : some f_j has |f_j - x_i| <= r_i}`` (the share
    of real neighbourhoods that hold at least one fake; robust to real outliers, unlike recall).

    Args:
        real_features: ``[n, d]`` features of real samples.
        fake_features: ``[m, d]`` features of generated samples (as many as real ones, as the paper does).
        k: neighbourhood size (5 in the paper).
        working_memory: MiB per chunk of the pairwise-distance matrix.

    Returns:
        ``{"density": float, "coverage": float}``.

    Example:

    >>> x = np.random.default_rng(0).standard_normal((500, 4))
    >>> r = density_coverage(x, x + 0.0)
    >>> round(r["coverage"], 3)
    1.0
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [n, d] arrays with the same d, got shapes {real.shape} and {fake.shape}.")
    k = int(k)
    if k < 1 or k >= len(real):
        raise ValueError(f"k must be >= 1 and smaller than the real set ({len(real)}), got {k}.")
    radii = _knn_radii(real, k, working_memory)
    counts, covered = np.zeros(len(fake)), np.zeros(len(real), bool)
    # chunks over the fake points: each row says which real neighbourhoods hold that fake point
    for start, inside in _chunks(fake, real, lambda dist: dist <= radii[None, :], working_memory):
        counts[start:start + len(inside)] = inside.sum(axis=1)
        covered |= inside.any(axis=0)
    return {"density": float(counts.sum() / (k * len(fake))), "coverage": float(covered.mean())}


def _chunks(queries, reference, test, working_memory):
    """``(start row, test(distances))`` per chunk of the query-reference distance matrix."""
    from sklearn.metrics import pairwise_distances_chunked

    start = 0
    for block in pairwise_distances_chunked(queries, reference, reduce_func=lambda dist, _: test(dist),
                                            working_memory=working_memory):
        yield start, block
        start += len(block)


# ----------------------------------------------------------- mode metrics
def mode_metrics(samples, centers, std, threshold=3.0):
    """Mode coverage of samples from a Gaussian mixture (VEEGAN / PacGAN protocol).

    A sample is *high quality* if it lies within ``threshold * std`` of its
    nearest mode center; a mode is *covered* if at least one high-quality
    sample is nearest to it. ``reverse_kl`` is ``KL(p || u)`` where ``p`` is
    the histogram over modes of the high-quality samples and ``u`` the
    uniform distribution over modes (the real mixture's weights):
    ``sum_i p_i log(p_i M)``, with ``0 log 0 = 0``, so an empty mode adds 0 and
    the value lies in ``[0, log M]``: 0 for a perfectly even spread, ``log M``
    when every high-quality sample sits on one mode. With no high-quality
    sample at all ``p`` is undefined; we then report ``log M``, the
    fully-collapsed value, so such a generator never scores better than one
    that hits a single mode.

    Args:
        samples: ``[n, dim]`` generated points.
        centers: ``[num_modes, dim]`` mode centers.
        std: standard deviation of each mode: a scalar or ``[num_modes]``.
        threshold: the high-quality radius in units of ``std`` (3 in the papers).

    Returns:
        A dict: ``modes_covered`` (int), ``num_modes`` (int),
        ``high_quality_fraction`` (float in [0, 1]), ``reverse_kl`` (float,
        nats), ``mode_counts`` (list of high-quality samples per mode).

    Example:

    >>> mode_metrics(samples, data.MIXTURES["ring8"]["centers"], 0.01)["modes_covered"]
    """
    from scipy.spatial.distance import cdist
    from scipy.special import rel_entr

    samples = np.asarray(samples, np.float64)
    centers = np.asarray(centers, np.float64)
    if centers.ndim != 2 or len(centers) == 0:
        raise ValueError(f"centers must be [num_modes, dim] with num_modes >= 1, got shape {centers.shape}.")
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1] or len(samples) == 0:
        raise ValueError(
            f"samples must be a non-empty [n, {centers.shape[1]}] array to match centers, got shape {samples.shape}."
        )
    num_modes = len(centers)
    std = np.broadcast_to(np.asarray(std, np.float64), (num_modes,))
    if np.any(std <= 0):
        raise ValueError(f"std must be > 0, got {std.tolist()}.")
    if float(threshold) <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}.")
    dist = cdist(samples, centers)
    nearest = np.argmin(dist, axis=1)
    high_quality = dist[np.arange(len(samples)), nearest] <= float(threshold) * std[nearest]
    counts = np.bincount(nearest[high_quality], minlength=num_modes)
    if counts.sum() == 0:
        reverse_kl = float(np.log(num_modes))
    else:
        p = counts / counts.sum()
        reverse_kl = float(np.sum(rel_entr(p, np.full(num_modes, 1.0 / num_modes))))
    return {
        "modes_covered": int(np.count_nonzero(counts)),
        "num_modes": int(num_modes),
        "high_quality_fraction": float(high_quality.mean()),
        "reverse_kl": reverse_kl,
        "mode_counts": counts.astype(int).tolist(),
    }


# ------------------------------------------------------------ the pipeline
def stacked_mnist_modes(images, extractor="mnist5k", confidence=0.5, num_modes=1000):
    """Mode coverage on Stacked MNIST (VEEGAN / PacGAN protocol): each channel classified as a digit.

    Each of the three channels of a ``[n, 28, 28, 3]`` image is classified by the embedded mnist5k
    classifier; the three digits ``(a, b, c)`` name the mode ``100 a + 10 b + c``. A mode is covered if
    at least one sample falls in it; ``reverse_kl`` is ``KL(p || u) = sum_i p_i log(p_i * 1000)`` of the
    samples' mode histogram against the uniform distribution over the 1,000 modes (0 for a perfectly even
    spread, ``log 1000 = 6.91`` for one mode), as the papers report it. ``confident_fraction`` is the
    share of samples whose three channels each got a class probability of at least ``confidence``
    (every sample counts toward the modes, as in PacGAN; the share says how many are digit-like).

    Args:
        images: ``[n, 28, 28, 3]`` in ``[-1, 1]``.
        extractor: the classifier (name or :class:`~keras_gan.evaluation.features.FeatureExtractor`).
        confidence: the probability a channel's class needs to count as confident.
        num_modes: 1,000 for three digits.

    Returns:
        ``{"modes_covered", "num_modes", "reverse_kl", "confident_fraction", "mode_counts"}`` (the last a list of
        ``num_modes`` counts).
    """
    from scipy.special import rel_entr

    from keras_gan.evaluation import features as features_lib

    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Stacked MNIST images must be [n, height, width, 3], got shape {images.shape}.")
    classifier = features_lib.get_extractor(extractor)
    digits, confident = [], np.ones(len(images), bool)
    for c in range(3):
        probabilities = classifier(images[..., c : c + 1]).probabilities
        digits.append(probabilities.argmax(axis=1))
        confident &= probabilities.max(axis=1) >= confidence
    modes = 100 * digits[0] + 10 * digits[1] + digits[2]
    counts = np.bincount(modes, minlength=num_modes)
    p = counts / counts.sum()
    return {"modes_covered": int((counts > 0).sum()), "num_modes": int(num_modes),
            "reverse_kl": float(rel_entr(p, np.full(num_modes, 1.0 / num_modes)).sum()),
            "confident_fraction": float(confident.mean()), "mode_counts": counts.tolist()}


@dataclasses.dataclass
class FeatureSet:
    """What :func:`extract_features` keeps of a sample set.

    Attributes:
        statistics: :class:`FeatureStatistics` (always; this is all FID needs).
        features: ``[n, d]`` float32 features, or ``None`` if not kept (KID and
            precision/recall need them).
        probabilities: ``[n, classes]`` float32, or ``None`` (the Inception Score needs them).
    """

    statistics: FeatureStatistics
    features: np.ndarray = None
    probabilities: np.ndarray = None

    @property
    def count(self):
        return self.statistics.count


def _batch_seed(seed, index):
    """A distinct 32-bit seed for generated batch ``index`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def extract_features(
    source,
    extractor="digits",
    num_samples=None,
    batch_size=500,
    seed=0,
    keep_features=True,
    keep_probabilities=True,
    verbose=1,
):
    """Streams a sample set through an extractor, batch by batch.

    Args:
        source: an array of images ``[n, h, w, c]`` in ``[-1, 1]``, or a
            callable ``generate(n, seed) -> images`` (such as
            ``AdversarialModel.generate``). A callable is called once per
            batch, batch ``i`` with a seed derived from ``(seed, i)``.
        extractor: a :class:`~keras_gan.evaluation.features.FeatureExtractor` or its name.
        num_samples: how many samples; required for a callable. For an array,
            ``None`` takes all of it and a smaller number a random subset
            (drawn with ``seed``).
        batch_size: images per batch.
        seed: seed of the generated batches or of the subset.
        keep_features: keep the ``[n, d]`` features (for KID and precision/recall);
            with ``False`` only the running statistics are kept.
        keep_probabilities: keep the class probabilities (for the Inception Score).
        verbose: 1 shows a progress bar.

    Returns:
        A :class:`FeatureSet`.
    """
    from keras_gan.evaluation import features as features_lib

    extractor = features_lib.get_extractor(extractor)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if callable(source):
        if num_samples is None or int(num_samples) < 1:
            raise ValueError(f"num_samples must be >= 1 when source is a generator callable, got {num_samples}.")
        total = int(num_samples)

        def batches():
            for i, start in enumerate(range(0, total, batch_size)):
                yield source(min(batch_size, total - start), _batch_seed(seed, i))
    else:
        array = np.asarray(source)
        if num_samples is not None and int(num_samples) < len(array):
            if int(num_samples) < 1:
                raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
            rows = np.sort(np.random.default_rng(seed).choice(len(array), int(num_samples), replace=False))
            array = array[rows]
        total = len(array)
        if total == 0:
            raise ValueError("source holds no samples.")

        def batches():
            for start in range(0, total, batch_size):
                yield array[start : start + batch_size]

    stats = FeatureStatistics()
    feats, probs = [], []
    bar = keras.utils.Progbar(total, unit_name="image", verbose=1 if verbose else 0)
    done = 0
    for images in batches():
        out = extractor(np.asarray(images))
        stats.update(out.features)
        if keep_features:
            feats.append(out.features.astype(np.float32, copy=False))
        if keep_probabilities and out.probabilities is not None:
            probs.append(out.probabilities.astype(np.float32, copy=False))
        done += len(out.features)
        bar.update(done)
    return FeatureSet(
        statistics=stats,
        features=np.concatenate(feats) if feats else None,
        probabilities=np.concatenate(probs) if probs else None,
    )


def _check_metrics(metrics):
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be a non-empty subset of {METRICS}, got {metrics}.")
    return metrics


def compare(
    fake,
    real,
    metrics=METRICS,
    kid_subsets=100,
    kid_subset_size=1000,
    is_splits=10,
    k=3,
    seed=0,
    dc_k=5,
):
    """Metrics of one :class:`FeatureSet` (``fake``) against another (``real``).

    Precision and recall use equally many samples from both sets (a random
    subset of the larger one, drawn with ``seed``), as in Kynkaanniemi et al.
    The Inception Score is that of ``fake`` alone.

    Args:
        fake, real: :class:`FeatureSet` from :func:`extract_features`.
        metrics: names from :data:`METRICS`.
        kid_subsets, kid_subset_size: see :func:`kid`.
        is_splits: see :func:`inception_score` (capped at the sample count).
        k: see :func:`precision_recall`.
        seed: seed of the KID subsets and the precision/recall subsample.
        dc_k: see :func:`density_coverage` (5, as Naeem et al.).

    Returns:
        A dict with some of ``fid``, ``kid_mean``, ``kid_std``, ``is_mean``,
        ``is_std``, ``precision``, ``recall``, ``density``, ``coverage``.
    """
    metrics = _check_metrics(metrics)
    result = {}
    if "fid" in metrics:
        result["fid"] = fid(fake.statistics, real.statistics)
    needs_features = set(FEATURE_METRICS) & set(metrics)
    if needs_features and (fake.features is None or real.features is None):
        raise ValueError(f"{', '.join(sorted(needs_features))} need features: extract with keep_features=True.")
    if "kid" in metrics:
        result["kid_mean"], result["kid_std"] = kid(fake.features, real.features, kid_subsets, kid_subset_size, seed)
    if "is" in metrics:
        if fake.probabilities is None:
            raise ValueError("The Inception Score needs class probabilities; this extractor has no classifier head.")
        result["is_mean"], result["is_std"] = inception_score(
            fake.probabilities, min(int(is_splits), len(fake.probabilities))
        )
    if "precision_recall" in metrics or "density_coverage" in metrics:
        n = min(len(fake.features), len(real.features))
        rng = np.random.default_rng(seed)
        pick = lambda x: x if len(x) == n else x[np.sort(rng.choice(len(x), n, replace=False))]  # noqa: E731
        real_n, fake_n = pick(real.features), pick(fake.features)  # the same subsample for all four
        if "precision_recall" in metrics:
            result.update(precision_recall(real_n, fake_n, k=k))
        if "density_coverage" in metrics:
            result.update(density_coverage(real_n, fake_n, k=dc_k))
    return result


def evaluate(
    generated,
    real,
    extractor="digits",
    num_samples=None,
    metrics=METRICS,
    batch_size=500,
    seed=0,
    kid_subsets=100,
    kid_subset_size=1000,
    is_splits=10,
    k=3,
    verbose=1,
):
    """Scores generated samples against real ones: the evaluation core.

    Args:
        generated: a callable ``generate(n, seed) -> images in [-1, 1]``
            (e.g. ``model.generate``), an image array, or a :class:`FeatureSet`.
        real: an image array (all of it is used) or a :class:`FeatureSet`.
        extractor: a :class:`~keras_gan.evaluation.features.FeatureExtractor` or a name
            from :data:`keras_gan.evaluation.features.EXTRACTORS`.
        num_samples: generated samples (required for a callable; a random
            subset of an array).
        metrics: names from :data:`METRICS`; ``"is"`` is skipped when the
            extractor has no classifier head.
        batch_size: images per extractor batch (and per generator call).
        seed: seed of the generated batches, KID subsets and subsamples.
        kid_subsets, kid_subset_size, is_splits, k: see :func:`compare`.
        verbose: 1 shows progress bars.

    Returns:
        A dict of the metric values (see :func:`compare`) plus ``settings``:
        the extractor's settings, sample counts, seed and metric parameters.

    Example:

    >>> real, _ = keras_gan.data.load_arrays("digits", "test")
    >>> evaluate(model.generate, real, num_samples=1437)["fid"]
    """
    from keras_gan.evaluation import features as features_lib

    metrics = _check_metrics(metrics)
    extractor = features_lib.get_extractor(extractor)
    if extractor.num_classes is None:
        metrics = tuple(m for m in metrics if m != "is")
    keep = bool(set(FEATURE_METRICS) & set(metrics))
    options = dict(extractor=extractor, batch_size=batch_size, seed=seed, keep_features=keep, verbose=verbose)
    real_set = real if isinstance(real, FeatureSet) else extract_features(real, **options)
    fake_set = generated if isinstance(generated, FeatureSet) else extract_features(
        generated, num_samples=num_samples, **options
    )
    result = compare(fake_set, real_set, metrics, kid_subsets, kid_subset_size, is_splits, k, seed)
    result["settings"] = {
        "extractor": extractor.settings(),
        "metrics": list(metrics),
        "num_generated": int(fake_set.count),
        "num_real": int(real_set.count),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "kid_subsets": int(kid_subsets),
        "kid_subset_size": int(min(kid_subset_size, fake_set.count, real_set.count)),
        "is_splits": int(min(is_splits, fake_set.count)),
        "precision_recall_k": int(k),
        "precision_recall_samples": int(min(fake_set.count, real_set.count)),
        "density_coverage_k": 5,
    }
    return result


# --------------------------------------------------------------- callback
class EvaluationCallback(keras.callbacks.Callback):
    """Evaluates the generator every ``every`` epochs during ``fit``.

    The numbers are written into the epoch's ``logs`` (so they land in the
    ``History`` object and in any logger placed after this callback), under
    ``prefix + name``: ``eval_fid``, ``eval_kid_mean``... plus
    ``eval_epoch``. Epochs in between are not evaluated and add no key, so in
    ``History`` the ``eval_*`` lists have one entry per evaluation; the last
    epoch is always evaluated. All results are also kept in :attr:`results`.

    For 2-D mixtures pass ``centers`` and ``std`` instead of ``real``: the
    callback then logs :func:`mode_metrics` (``eval_modes_covered``,
    ``eval_high_quality_fraction``, ``eval_reverse_kl``).

    Args:
        real: real images (array in ``[-1, 1]``), for image metrics.
        extractor: extractor name or instance (default ``"digits"``).
        every: evaluate every this many epochs.
        num_samples: generated samples per evaluation.
        metrics: names from :data:`METRICS` (default FID and KID).
        seed: generation seed (the same noise at every evaluation).
        centers, std, threshold: the mixture, for :func:`mode_metrics`.
        prefix: prefix of the log keys.
        batch_size: images per batch.
        verbose: 1 prints a line per evaluation.

    Example:

    >>> real, _ = keras_gan.data.load_arrays("digits", "test")
    >>> cb = EvaluationCallback(real, every=5, num_samples=500)
    >>> history = gan.fit(dataset, epochs=20, callbacks=[cb])
    >>> history.history["eval_fid"]
    """

    def __init__(
        self,
        real=None,
        extractor="digits",
        every=1,
        num_samples=1000,
        metrics=("fid", "kid"),
        seed=0,
        centers=None,
        std=None,
        threshold=3.0,
        prefix="eval_",
        batch_size=500,
        verbose=1,
    ):
        super().__init__()
        if (real is None) == (centers is None):
            raise ValueError("Pass either `real` (images) or `centers` and `std` (a 2-D mixture), not both.")
        if centers is not None and std is None:
            raise ValueError("`std` is required with `centers`.")
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}.")
        if int(num_samples) < 2:
            raise ValueError(f"num_samples must be >= 2, got {num_samples}.")
        self.real = real
        self.extractor = extractor
        self.every = int(every)
        self.num_samples = int(num_samples)
        self.metrics = _check_metrics(metrics) if real is not None else None
        self.seed = int(seed)
        self.centers, self.std, self.threshold = centers, std, threshold
        self.prefix = prefix
        self.batch_size = int(batch_size)
        self.verbose = verbose
        self.results = []
        self._real_set = None

    def _evaluate(self):
        generate = self.model.generate
        if self.centers is not None:
            samples = generate(self.num_samples, self.seed)
            out = mode_metrics(samples, self.centers, self.std, self.threshold)
            return {k: v for k, v in out.items() if k != "mode_counts"}
        from keras_gan.evaluation import features as features_lib

        if not isinstance(self.extractor, features_lib.FeatureExtractor):
            self.extractor = features_lib.get_extractor(self.extractor)
        if self._real_set is None:  # the real side is extracted once
            keep = "kid" in self.metrics or "precision_recall" in self.metrics
            self._real_set = extract_features(
                self.real, self.extractor, batch_size=self.batch_size, keep_features=keep, verbose=0
            )
        out = evaluate(
            generate, self._real_set, self.extractor, self.num_samples, self.metrics,
            batch_size=self.batch_size, seed=self.seed, verbose=0,
        )
        out.pop("settings")
        return out

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every != 0 and (last is None or epoch + 1 != last):
            return
        out = self._evaluate()
        self.results.append({"epoch": int(epoch), **out})
        if logs is not None:
            logs[self.prefix + "epoch"] = int(epoch)
            for key, value in out.items():
                logs[self.prefix + key] = value
        if self.verbose:
            text = ", ".join(f"{k} {v:.4g}" for k, v in out.items())
            print(f"\nEvaluation after epoch {epoch + 1}: {text}", flush=True)
