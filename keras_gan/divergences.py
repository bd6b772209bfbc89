"""Divergences and distances between two distributions: KL, JS and Wasserstein.

Two kinds of inputs:

* **TFP distributions** (``tfp.distributions.Distribution``):
  :func:`kl_divergence` uses TFP's closed form (``tfd.kl_divergence``) where
  one is registered and a Monte Carlo estimate otherwise;
  :func:`js_divergence` is exact for two ``Categorical`` and Monte Carlo
  otherwise; :func:`gaussian_wasserstein2` is the closed form of W2 between
  Gaussians.
* **Samples** (arrays ``[n]`` or ``[n, d]``): :func:`wasserstein1` and its
  three methods (:func:`wasserstein1_1d`, :func:`wasserstein1_exact`,
  :func:`sliced_wasserstein1`), and the plug-in estimators
  :func:`kl_divergence_from_samples` / :func:`js_divergence_from_samples`
  (histogram or Gaussian kernel density).

Conventions. Everything is in nats. ``JS(p, q) = KL(p, m) / 2 + KL(q, m) / 2``
with ``m = (p + q) / 2``, so ``0 <= JS <= log 2`` (the notes' 6.3.4 and
``scipy.spatial.distance.jensenshannon(p, q) ** 2``). TFP's Csiszar function
``tfp.vi.jensen_shannon(logu, self_normalized=True)`` integrates to
``KL(p, m) + KL(q, m)``, twice this value. Infinite divergences (for example
KL between distributions with disjoint supports) are returned as ``inf``,
never as NaN.

TFP has no Wasserstein distance: the W1 and W2 functions here are written
with TensorFlow ops (and ``scipy.optimize.linear_sum_assignment`` for the
exact assignment). Divergences are computed in float64 and returned as
Python floats (numpy arrays for batched distributions).

The module also holds :class:`DivergenceTracker`, a Keras callback that logs
sliced W1 and JS between generated and real samples after every epoch.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LOG2 = math.log(2.0)
ESTIMATORS = ("histogram", "kde")

__all__ = [
    "DivergenceTracker",
    "ESTIMATORS",
    "LOG2",
    "gaussian_wasserstein2",
    "js_divergence",
    "js_divergence_from_samples",
    "kl_divergence",
    "kl_divergence_from_samples",
    "sliced_wasserstein1",
    "wasserstein1",
    "wasserstein1_1d",
    "wasserstein1_exact",
]


# ----------------------------------------------------------------------------
# Divergences between TFP distributions
# ----------------------------------------------------------------------------
def kl_divergence(p, q, num_samples=100_000, seed=0):
    """Kullback-Leibler divergence ``KL(p || q) = E_p[log p(x) - log q(x)]`` in nats.

    Uses TFP's closed form (``tfd.kl_divergence``) when one is registered for
    the pair of types (Normal, MultivariateNormal*, Categorical, Uniform,
    Blockwise, ...), and otherwise the Monte Carlo estimate
    ``mean_i [log p(x_i) - log q(x_i)]`` over ``num_samples`` draws ``x_i ~ p``.
    The result is ``inf`` when ``p`` puts mass where ``q`` has none.

    Args:
        p: a ``tfp.distributions.Distribution`` (the first argument of KL).
        q: a ``tfp.distributions.Distribution`` with the same event shape.
        num_samples: draws from ``p`` for the Monte Carlo estimate.
        seed: integer seed of the Monte Carlo draws.

    Returns:
        A Python float (a numpy array for batched distributions), clipped at 0.

    Raises:
        ValueError: if ``p`` or ``q`` is not a TFP distribution or
            ``num_samples < 1``.

    Example:

    >>> import tensorflow_probability as tfp
    >>> tfd = tfp.distributions
    >>> round(kl_divergence(tfd.Normal(0.0, 1.0), tfd.Normal(1.0, 1.0)), 4)
    0.5
    """
    _check_distribution("p", p)
    _check_distribution("q", q)
    try:
        kl = tf.cast(tfd.kl_divergence(p, q), tf.float64)
    except NotImplementedError:
        num_samples = _check_positive_int("num_samples", num_samples)
        x = p.sample(num_samples, seed=_stateless_seed(seed))
        log_p = tf.cast(p.log_prob(x), tf.float64)
        log_q = tf.cast(q.log_prob(x), tf.float64)
        # A draw where p itself has zero density adds 0 log 0 = 0 (not inf - inf = NaN).
        terms = tf.where(tf.math.equal(log_p, -np.inf), tf.zeros_like(log_p), log_p - log_q)
        kl = tf.reduce_mean(terms, axis=0)
    return _result(tf.maximum(kl, 0.0))


def js_divergence(p, q, num_samples=100_000, seed=0):
    """Jensen-Shannon divergence ``KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``, in nats.

    The value lies in ``[0, log 2]``: ``log 2`` exactly when the supports are
    disjoint (notes 6.3.4). This is half of what ``tfp.vi.jensen_shannon``
    with ``self_normalized=True`` integrates to, and equals
    ``scipy.spatial.distance.jensenshannon(p, q) ** 2`` (natural log).

    Two ``tfd.Categorical`` over the same categories are computed exactly
    through TFP's closed-form KL to the mixture. Otherwise the estimate is
    Monte Carlo from both sides, ``num_samples`` draws each:
    ``JS = E_p[log(2p / (p + q))] / 2 + E_q[log(2q / (p + q))] / 2``, every
    term of which is at most ``log 2``, so it stays finite and exact for
    disjoint supports.

    Args:
        p: a ``tfp.distributions.Distribution``.
        q: a ``tfp.distributions.Distribution`` with the same event shape.
        num_samples: draws from each of ``p`` and ``q`` for the Monte Carlo estimate.
        seed: integer seed of the Monte Carlo draws.

    Returns:
        A Python float in ``[0, log 2]`` (a numpy array for batched distributions).

    Raises:
        ValueError: if ``p`` or ``q`` is not a TFP distribution or
            ``num_samples < 1``.

    Example:

    >>> import tensorflow_probability as tfp
    >>> tfd = tfp.distributions
    >>> p = tfd.Categorical(probs=[1.0, 0.0])
    >>> q = tfd.Categorical(probs=[0.0, 1.0])
    >>> round(js_divergence(p, q), 6)  # disjoint supports: log 2
    0.693147
    """
    _check_distribution("p", p)
    _check_distribution("q", q)
    if isinstance(p, tfd.Categorical) and isinstance(q, tfd.Categorical):
        probs_p = tf.cast(p.probs_parameter(), tf.float64)
        probs_q = tf.cast(q.probs_parameter(), tf.float64)
        m = tfd.Categorical(probs=0.5 * (probs_p + probs_q))
        js = 0.5 * tfd.kl_divergence(tfd.Categorical(probs=probs_p), m) + 0.5 * tfd.kl_divergence(
            tfd.Categorical(probs=probs_q), m
        )
    else:
        num_samples = _check_positive_int("num_samples", num_samples)
        halves = []
        for i, (a, b) in enumerate(((p, q), (q, p))):
            x = a.sample(num_samples, seed=_stateless_seed(seed, i))
            log_a = tf.cast(a.log_prob(x), tf.float64)
            log_b = tf.cast(b.log_prob(x), tf.float64)
            # log(2a / (a + b)) = log 2 - softplus(log b - log a): log 2 where b = 0.
            halves.append(tf.reduce_mean(LOG2 - tf.nn.softplus(log_b - log_a), axis=0))
        js = 0.5 * (halves[0] + halves[1])
    return _result(tf.clip_by_value(js, 0.0, LOG2))


def gaussian_wasserstein2(p, q):
    """Closed-form Wasserstein-2 distance between two Gaussians.

    ``W2^2 = ||mu_p - mu_q||^2 + Tr(S_p + S_q - 2 (S_p^{1/2} S_q S_p^{1/2})^{1/2})``
    (Dowson & Landau 1982); in 1-D ``W2 = sqrt((mu_p - mu_q)^2 + (s_p - s_q)^2)``.
    TFP has no Wasserstein distance: this is written with TF ops; the matrix
    square roots come from symmetric eigendecompositions (not ``sqrtm``).

    Args:
        p: ``tfd.Normal`` or a ``tfd.MultivariateNormal*`` (any subclass of
            ``tfd.MultivariateNormalLinearOperator``).
        q: the same kind of distribution, same event shape.

    Returns:
        W2 as a Python float (a numpy array for batched distributions).

    Raises:
        ValueError: if ``p`` or ``q`` is not a Gaussian TFP distribution, or
            their event shapes differ.

    Example:

    >>> import tensorflow_probability as tfp
    >>> tfd = tfp.distributions
    >>> gaussian_wasserstein2(tfd.Normal(0.0, 1.0), tfd.Normal(3.0, 5.0))
    5.0
    """
    for name, dist in (("p", p), ("q", q)):
        if not isinstance(dist, (tfd.Normal, tfd.MultivariateNormalLinearOperator)):
            raise ValueError(
                f"{name} must be a tfd.Normal or tfd.MultivariateNormal* distribution, "
                f"got {type(dist).__name__}."
            )
    if isinstance(p, tfd.Normal) != isinstance(q, tfd.Normal) or p.event_shape != q.event_shape:
        raise ValueError(
            f"p and q must have the same event shape, got {p.event_shape} and {q.event_shape}."
        )
    mean_p, mean_q = (tf.cast(d.mean(), tf.float64) for d in (p, q))
    if isinstance(p, tfd.Normal):
        std_p, std_q = (tf.cast(d.stddev(), tf.float64) for d in (p, q))
        return _result(tf.sqrt(tf.square(mean_p - mean_q) + tf.square(std_p - std_q)))
    cov_p, cov_q = (tf.cast(d.covariance(), tf.float64) for d in (p, q))
    root_p = _sqrtm_psd(cov_p)
    middle = root_p @ cov_q @ root_p
    middle = 0.5 * (middle + tf.linalg.matrix_transpose(middle))  # symmetric up to rounding
    # Tr((S_p^1/2 S_q S_p^1/2)^1/2) = sum of the square roots of its eigenvalues.
    cross = tf.reduce_sum(tf.sqrt(tf.maximum(tf.linalg.eigvalsh(middle), 0.0)), -1)
    w2_squared = (
        tf.reduce_sum(tf.square(mean_p - mean_q), -1)
        + tf.linalg.trace(cov_p)
        + tf.linalg.trace(cov_q)
        - 2.0 * cross
    )
    return _result(tf.sqrt(tf.maximum(w2_squared, 0.0)))


# ----------------------------------------------------------------------------
# Wasserstein-1 from samples
# ----------------------------------------------------------------------------
def wasserstein1(x, y, max_exact_samples=2048):
    """Exact Wasserstein-1 distance between two empirical distributions.

    ``W1 = min over couplings E ||x - y||_2``, the earth mover's distance of
    the notes' 6.3.5 between the uniform distributions on the two sample
    sets. In 1-D it uses sorted samples (:func:`wasserstein1_1d`, any sizes);
    in higher dimensions an optimal assignment (:func:`wasserstein1_exact`,
    equal sizes up to ``max_exact_samples``). For larger sets use
    :func:`sliced_wasserstein1`, which is a different (smaller) quantity.

    Args:
        x: samples ``[n]`` or ``[n, d]``.
        y: samples ``[m]`` or ``[m, d]``.
        max_exact_samples: largest ``n`` solved by assignment (cost ``O(n^3)``).

    Returns:
        W1 as a Python float.

    Raises:
        ValueError: on bad shapes, or in ``d > 1`` when ``n != m`` or
            ``n > max_exact_samples``.

    Example:

    >>> wasserstein1([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    x, y = _samples("x", x), _samples("y", y)
    _check_same_dim(x, y)
    if x.shape[1] == 1:
        return wasserstein1_1d(x[:, 0], y[:, 0])
    return wasserstein1_exact(x, y, max_samples=max_exact_samples)


def wasserstein1_1d(x, y):
    """Exact W1 between two 1-D empirical distributions, from sorted samples.

    ``W1 = integral |F_x(t) - F_y(t)| dt`` over the empirical CDFs; for equal
    sizes this is the mean absolute difference of the sorted samples. Written
    with TF ops (TFP has no Wasserstein distance); equals
    ``scipy.stats.wasserstein_distance(x, y)``.

    Args:
        x: 1-D samples ``[n]`` (or ``[n, 1]``).
        y: 1-D samples ``[m]`` (or ``[m, 1]``).

    Returns:
        W1 as a Python float.

    Raises:
        ValueError: if the samples are not 1-D or are empty.

    Example:

    >>> wasserstein1_1d([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    1.0
    """
    x, y = _samples("x", x), _samples("y", y)
    for name, s in (("x", x), ("y", y)):
        if s.shape[1] != 1:
            raise ValueError(f"{name} must hold 1-D samples [n] or [n, 1], got shape {tuple(s.shape)}.")
    return float(_w1_sorted(tf.transpose(x), tf.transpose(y))[0])


def wasserstein1_exact(x, y, max_samples=2048):
    """Exact W1 between two equal-size sample sets by optimal assignment.

    Between uniform distributions on ``n`` points each, an optimal coupling
    is a permutation (Birkhoff-von Neumann), so
    ``W1 = min over permutations s of mean_i ||x_i - y_s(i)||_2``. The cost
    matrix is computed with TF ops, the assignment by
    ``scipy.optimize.linear_sum_assignment`` (``O(n^3)``).

    Args:
        x: samples ``[n, d]`` (or ``[n]``).
        y: samples ``[n, d]`` (or ``[n]``), the same number as ``x``.
        max_samples: largest ``n`` accepted.

    Returns:
        W1 as a Python float.

    Raises:
        ValueError: if the sizes differ, exceed ``max_samples``, or the
            dimensions differ.

    Example:

    >>> wasserstein1_exact([[0.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 0.0]])
    1.0
    """
    from scipy.optimize import linear_sum_assignment

    x, y = _samples("x", x), _samples("y", y)
    _check_same_dim(x, y)
    n, m = int(x.shape[0]), int(y.shape[0])
    if n != m:
        raise ValueError(
            f"wasserstein1_exact needs as many samples in x as in y, got {n} and {m}; "
            "subsample the larger set, or use sliced_wasserstein1."
        )
    if n > max_samples:
        raise ValueError(
            f"{n} samples exceed max_samples={max_samples} of the O(n^3) assignment; "
            "subsample, raise max_samples, or use sliced_wasserstein1."
        )
    cost = _pairwise_distances(x, y).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def sliced_wasserstein1(x, y, num_projections=256, seed=0, directions=None):
    """Sliced Wasserstein-1 distance: W1 averaged over 1-D projections.

    ``SW1 = E_{u ~ Uniform(sphere)} W1(u.x, u.y)``, estimated with
    ``num_projections`` random unit directions; each projected W1 is exact
    (sorted samples). Any sample sizes, cost ``O(P (n + m) log(n + m))``.
    In 1-D it equals W1; in ``d`` dimensions it is smaller than W1 (for a
    translation by ``t`` in 2-D, ``SW1 = 2 |t| / pi``) but is a true metric
    that goes to 0 exactly when the distributions match. Written with TF ops.

    Args:
        x: samples ``[n, d]`` (or ``[n]``).
        y: samples ``[m, d]`` (or ``[m]``).
        num_projections: number of random directions.
        seed: seed of the directions (the same seed gives the same directions).
        directions: optional ``[P, d]`` directions to use instead of random
            ones (normalized to unit length).

    Returns:
        SW1 as a Python float.

    Raises:
        ValueError: on bad shapes, ``num_projections < 1`` or zero directions.

    Example:

    >>> sliced_wasserstein1([[0.0], [1.0]], [[2.0], [3.0]])
    2.0
    """
    x, y = _samples("x", x), _samples("y", y)
    _check_same_dim(x, y)
    dim = int(x.shape[1])
    if directions is None:
        num_projections = _check_positive_int("num_projections", num_projections)
        directions = tf.random.stateless_normal(
            [num_projections, dim], _stateless_seed(seed), dtype=tf.float64
        )
    else:
        directions = tf.convert_to_tensor(np.asarray(directions, np.float64))
        if directions.shape.rank != 2 or directions.shape[1] != dim:
            raise ValueError(
                f"directions must have shape [P, {dim}], got {tuple(directions.shape)}."
            )
    norms = tf.norm(directions, axis=1, keepdims=True)
    if bool(tf.reduce_any(norms == 0.0)):
        raise ValueError("directions must be non-zero vectors.")
    directions = directions / norms
    # Projections [P, n] and [P, m]: one exact 1-D W1 per row.
    per_direction = _w1_sorted(
        tf.matmul(directions, x, transpose_b=True), tf.matmul(directions, y, transpose_b=True)
    )
    return float(tf.reduce_mean(per_direction))


# ----------------------------------------------------------------------------
# KL and JS from samples
# ----------------------------------------------------------------------------
def kl_divergence_from_samples(x, y, estimator="histogram", bins=32, value_range=None, bandwidth="scott"):
    """Plug-in estimate of ``KL(p || q)`` from samples ``x ~ p`` and ``y ~ q``.

    Estimators (name one with ``estimator``):

    * ``"histogram"``: both sample sets are binned on the same grid
      (``bins`` per dimension over ``value_range``; values outside go to the
      edge bins) and the KL of the two bin distributions is computed exactly
      (TFP's ``Categorical`` KL). It is ``inf`` when a bin holds samples of
      ``x`` but none of ``y``.
    * ``"kde"``: each set gets a Gaussian kernel density estimate (a TFP
      ``MixtureSameFamily`` with one Gaussian per sample), and
      ``KL = mean_i [log p_hat(x_i) - log q_hat(x_i)]`` (resubstitution,
      clipped at 0). Always finite.

    Args:
        x: samples of ``p``, ``[n]`` or ``[n, d]``.
        y: samples of ``q``, ``[m]`` or ``[m, d]``.
        estimator: ``"histogram"`` or ``"kde"``.
        bins: histogram bins per dimension.
        value_range: histogram range, ``(low, high)`` for all dimensions or
            one pair per dimension; default: the joint min and max of ``x``
            and ``y``.
        bandwidth: KDE kernel: ``"scott"`` or ``"silverman"`` (the factor
            times each set's covariance, as ``scipy.stats.gaussian_kde``), or
            a positive float, the standard deviation of an isotropic kernel.

    Returns:
        The estimate in nats, a Python float.

    Raises:
        ValueError: for an unknown estimator, bad shapes, bins or bandwidth.

    Example:

    >>> x, y = [0.1, 0.2, 0.8], [0.1, 0.7, 0.8]  # bins hold (2, 1) and (1, 2)
    >>> round(kl_divergence_from_samples(x, y, bins=2, value_range=(0, 1)), 6)  # log(2) / 3
    0.231049
    """
    x, y = _samples("x", x), _samples("y", y)
    _check_same_dim(x, y)
    estimator = _check_estimator(estimator)
    if estimator == "histogram":
        p, q = _histograms(x, y, bins, value_range)
        return kl_divergence(p, q)
    log_p, log_q = _kde_log_densities(x, y, bandwidth, at=x)
    terms = log_p - log_q
    return float(tf.maximum(tf.reduce_mean(terms), 0.0))


def js_divergence_from_samples(x, y, estimator="histogram", bins=32, value_range=None, bandwidth="scott"):
    """Plug-in estimate of the Jensen-Shannon divergence from samples, in nats.

    Same estimators and arguments as :func:`kl_divergence_from_samples`:

    * ``"histogram"``: exact JS of the two bin distributions (in
      ``[0, log 2]``; ``log 2`` when no bin holds samples of both sets).
    * ``"kde"``: with Gaussian KDEs ``p_hat``, ``q_hat`` and
      ``m_hat = (p_hat + q_hat) / 2``,
      ``JS = mean_i log(p_hat / m_hat)(x_i) / 2 + mean_j log(q_hat / m_hat)(y_j) / 2``.

    Args:
        x: samples of ``p``, ``[n]`` or ``[n, d]``.
        y: samples of ``q``, ``[m]`` or ``[m, d]``.
        estimator: ``"histogram"`` or ``"kde"``.
        bins: histogram bins per dimension.
        value_range: histogram range (see :func:`kl_divergence_from_samples`).
        bandwidth: KDE kernel (see :func:`kl_divergence_from_samples`).

    Returns:
        The estimate, a Python float in ``[0, log 2]``.

    Raises:
        ValueError: for an unknown estimator, bad shapes, bins or bandwidth.

    Example:

    >>> round(js_divergence_from_samples([0.1, 0.2], [0.8, 0.9], bins=2, value_range=(0, 1)), 6)
    0.693147
    """
    x, y = _samples("x", x), _samples("y", y)
    _check_same_dim(x, y)
    estimator = _check_estimator(estimator)
    if estimator == "histogram":
        p, q = _histograms(x, y, bins, value_range)
        return js_divergence(p, q)
    halves = []
    for own, at in ((0, x), (1, y)):  # E_p[log p_hat / m_hat] at x, E_q[log q_hat / m_hat] at y
        log_densities = tf.stack(_kde_log_densities(x, y, bandwidth, at=at))
        log_m = tf.reduce_logsumexp(log_densities, axis=0) - LOG2
        halves.append(tf.reduce_mean(log_densities[own] - log_m))
    return float(tf.clip_by_value(0.5 * (halves[0] + halves[1]), 0.0, LOG2))


# ----------------------------------------------------------------------------
# Training callback
# ----------------------------------------------------------------------------
class DivergenceTracker(keras.callbacks.Callback):
    """Logs sliced W1 and JS between generated and real samples after every epoch.

    At the end of each epoch it draws ``num_samples`` samples with
    ``model.generate(num_samples, seed=seed)`` (the same noise every epoch,
    so epochs compare) and adds two entries to the epoch's ``logs``:

    * ``sliced_w1``: :func:`sliced_wasserstein1` with ``num_projections``
      fixed random directions;
    * ``js``: :func:`js_divergence_from_samples` with the histogram
      estimator, ``bins`` per dimension over the range of the real samples
      (padded by 10%; generated samples outside it count in the edge bins).

    The entries reach ``model.fit``'s history and, when a
    ``keras.callbacks.TensorBoard`` comes after this callback in the list,
    TensorBoard. Meant for low-dimensional data (the 2-D mixtures): the
    histogram has ``bins ** d`` cells.

    Args:
        real_samples: real data, a numpy array ``[N, d]`` or a ``tf.data``
            dataset of such batches (or of ``(batch, labels)`` tuples); the
            first ``num_samples`` rows are used.
        num_samples: samples of each kind per estimate.
        num_projections: directions of the sliced W1.
        bins: histogram bins per dimension of the JS estimate.
        seed: seed of the generator's noise and of the directions.
        prefix: prepended to the log keys (for example ``"val_"``).

    Example:

    >>> tracker = DivergenceTracker(real_samples, num_samples=1000)  # doctest: +SKIP
    >>> history = gan.fit(dataset, epochs=10, callbacks=[tracker])  # doctest: +SKIP
    >>> history.history["sliced_w1"], history.history["js"]  # doctest: +SKIP
    """

    def __init__(self, real_samples, num_samples=1000, num_projections=128, bins=32, seed=0, prefix=""):
        super().__init__()
        self.num_samples = _check_positive_int("num_samples", num_samples)
        self.num_projections = _check_positive_int("num_projections", num_projections)
        self.bins = _check_positive_int("bins", bins)
        self.seed = int(seed)
        self.prefix = str(prefix)
        real = _collect(real_samples, self.num_samples)
        if real.ndim != 2 or real.shape[0] < 2 or real.shape[1] > 3:
            raise ValueError(
                "real_samples must hold at least 2 low-dimensional samples [N, d] with d <= 3, "
                f"got shape {real.shape}."
            )
        self.real_samples = real
        low, high = real.min(axis=0), real.max(axis=0)
        pad = 0.1 * np.maximum(high - low, 1e-6)
        self.value_range = np.stack([low - pad, high + pad], axis=1)

    def on_train_begin(self, logs=None):
        if not callable(getattr(self.model, "generate", None)):
            raise ValueError(
                "DivergenceTracker needs a model with generate(num, seed) "
                f"(keras_gan.models.AdversarialModel), got {type(self.model).__name__}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        fake = np.asarray(self.model.generate(self.num_samples, seed=self.seed), np.float64)
        fake = fake.reshape(fake.shape[0], -1)
        logs[self.prefix + "sliced_w1"] = sliced_wasserstein1(
            fake, self.real_samples, num_projections=self.num_projections, seed=self.seed
        )
        logs[self.prefix + "js"] = js_divergence_from_samples(
            fake, self.real_samples, bins=self.bins, value_range=self.value_range
        )


# ----------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------
def _check_distribution(name, dist):
    if not isinstance(dist, tfd.Distribution):
        raise ValueError(
            f"{name} must be a tfp.distributions.Distribution, got {type(dist).__name__}; "
            "for samples use the *_from_samples functions."
        )


def _check_positive_int(name, value):
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def _check_estimator(estimator):
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}.")
    return estimator


def _stateless_seed(seed, stream=0):
    # A pair of ints: the stateless seed accepted by TFP's sample() and tf.random.stateless_*.
    return (int(seed), int(stream))


def _result(tensor):
    value = np.asarray(tensor, np.float64)
    return float(value) if value.ndim == 0 else value


def _samples(name, values):
    """Samples as a float64 tensor ``[n, d]`` (1-D input becomes ``[n, 1]``)."""
    array = np.asarray(values, np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty samples of shape [n] or [n, d], got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds non-finite values (NaN or inf).")
    return tf.constant(array)


def _check_same_dim(x, y):
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}.")


def _w1_sorted(a, b):
    """Exact 1-D W1 per row between rows of ``a`` ``[P, n]`` and ``b`` ``[P, m]``.

    Integrates ``|F_a - F_b|`` between consecutive points of the merged
    sample, as scipy.stats.wasserstein_distance does; written by hand because
    TFP has no Wasserstein distance.
    """
    a = tf.sort(a, axis=-1)
    b = tf.sort(b, axis=-1)
    merged = tf.sort(tf.concat([a, b], axis=-1), axis=-1)
    left = merged[:, :-1]
    widths = merged[:, 1:] - left
    cdf_a = tf.cast(tf.searchsorted(a, left, side="right"), tf.float64) / tf.cast(tf.shape(a)[-1], tf.float64)
    cdf_b = tf.cast(tf.searchsorted(b, left, side="right"), tf.float64) / tf.cast(tf.shape(b)[-1], tf.float64)
    return tf.reduce_sum(tf.abs(cdf_a - cdf_b) * widths, axis=-1)


def _pairwise_distances(x, y):
    """Euclidean distances ``[n, m]`` without an ``[n, m, d]`` intermediate."""
    sq = (
        tf.reduce_sum(tf.square(x), 1)[:, None]
        + tf.reduce_sum(tf.square(y), 1)[None, :]
        - 2.0 * tf.matmul(x, y, transpose_b=True)
    )
    return tf.sqrt(tf.maximum(sq, 0.0))


def _sqrtm_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    values, vectors = tf.linalg.eigh(0.5 * (matrix + tf.linalg.matrix_transpose(matrix)))
    return (vectors * tf.sqrt(tf.maximum(values, 0.0))[..., None, :]) @ tf.linalg.matrix_transpose(vectors)


def _histograms(x, y, bins, value_range):
    """Both sample sets binned on one grid, as two ``tfd.Categorical``."""
    bins = _check_positive_int("bins", bins)
    dim = int(x.shape[1])
    if bins**dim > 2**22:
        raise ValueError(
            f"bins={bins} in {dim} dimensions makes {bins ** dim} cells (more than 2**22); "
            "lower bins or use estimator='kde'."
        )
    if value_range is None:
        both = tf.concat([x, y], axis=0)
        ranges = np.stack([tf.reduce_min(both, 0).numpy(), tf.reduce_max(both, 0).numpy()], axis=1)
    else:
        ranges = np.asarray(value_range, np.float64)
        if ranges.shape == (2,):
            ranges = np.tile(ranges, (dim, 1))
        if ranges.shape != (dim, 2) or not np.all(ranges[:, 1] >= ranges[:, 0]):
            raise ValueError(
                f"value_range must be (low, high) or one (low, high) per dimension ({dim}) "
                f"with low <= high, got {value_range!r}."
            )
    ranges = ranges.copy()
    flat = ranges[:, 1] == ranges[:, 0]
    ranges[flat] += [-0.5, 0.5]  # a constant coordinate gets a unit-wide range

    def cell_counts(samples):
        index = tf.zeros([tf.shape(samples)[0]], tf.int32)
        for k in range(dim):
            # Bin index per coordinate; values outside the range go to the edge bins.
            coord = tf.histogram_fixed_width_bins(samples[:, k], ranges[k], nbins=bins)
            index = index * bins + coord
        return tf.cast(tf.math.bincount(index, minlength=bins**dim, maxlength=bins**dim), tf.float64)

    counts_x, counts_y = cell_counts(x), cell_counts(y)
    return (
        tfd.Categorical(probs=counts_x / tf.reduce_sum(counts_x)),
        tfd.Categorical(probs=counts_y / tf.reduce_sum(counts_y)),
    )


def _kde(samples, bandwidth):
    """Gaussian KDE of ``samples`` ``[n, d]`` as a TFP mixture (one kernel per sample)."""
    n, dim = int(samples.shape[0]), int(samples.shape[1])
    if isinstance(bandwidth, str):
        if bandwidth == "scott":
            factor = n ** (-1.0 / (dim + 4))
        elif bandwidth == "silverman":
            factor = (n * (dim + 2) / 4.0) ** (-1.0 / (dim + 4))
        else:
            raise ValueError(f"bandwidth must be 'scott', 'silverman' or a positive float, got {bandwidth!r}.")
        if n < 2:
            raise ValueError(f"a '{bandwidth}' bandwidth needs at least 2 samples, got {n}.")
        # As scipy.stats.gaussian_kde: kernel covariance = factor^2 * sample covariance.
        centered = samples - tf.reduce_mean(samples, 0, keepdims=True)
        cov = tf.matmul(centered, centered, transpose_a=True) / (n - 1)
        scale_tril = factor * tf.linalg.cholesky(cov + 1e-12 * tf.eye(dim, dtype=tf.float64))
    else:
        if isinstance(bandwidth, bool) or not float(bandwidth) > 0:
            raise ValueError(f"bandwidth must be 'scott', 'silverman' or a positive float, got {bandwidth!r}.")
        scale_tril = float(bandwidth) * tf.eye(dim, dtype=tf.float64)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=tf.zeros([n], tf.float64)),
        components_distribution=tfd.MultivariateNormalTriL(loc=samples, scale_tril=scale_tril),
    )


def _kde_log_densities(x, y, bandwidth, at, chunk=1024):
    """``log p_hat(at)`` and ``log q_hat(at)`` with KDEs of ``x`` and ``y``."""
    kde_p, kde_q = _kde(x, bandwidth), _kde(y, bandwidth)
    log_p, log_q = [], []
    for start in range(0, int(at.shape[0]), chunk):  # bounds the [chunk, n] kernel matrix
        block = at[start : start + chunk]
        log_p.append(kde_p.log_prob(block))
        log_q.append(kde_q.log_prob(block))
    return tf.concat(log_p, 0), tf.concat(log_q, 0)


def _collect(real_samples, num):
    """The first ``num`` rows of an array or a ``tf.data`` dataset, as float64 ``[num, d]``."""
    if isinstance(real_samples, tf.data.Dataset):
        rows, total = [], 0
        for batch in real_samples:
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            batch = np.asarray(batch, np.float64)
            rows.append(batch.reshape(batch.shape[0], -1))
            total += batch.shape[0]
            if total >= num:
                break
        if not rows:
            raise ValueError("real_samples is an empty dataset.")
        array = np.concatenate(rows, 0)
    else:
        array = np.asarray(real_samples, np.float64)
        if array.ndim == 1:
            array = array[:, None]
    return array[:num]
