"""Distributions with disjoint supports: JS and KL are blind to distance, W1 is not.

The notes' 6.3.5 and Example 1 of the WGAN paper (Arjovsky et al. 2017):
``Z ~ U(0, 1)``, ``P_0`` is the law of ``(0, Z)`` and ``P_theta`` the law of
``(theta, Z)``, two parallel segments in the plane at distance ``|theta|``.

Claims checked, over a grid of ``theta`` in ``[-1, 1]``:

1. ``JS(P_0, P_theta) = log 2`` for every ``theta != 0`` (and 0 at 0), so its
   gradient with respect to ``theta`` is zero: the generator learns nothing.
2. ``KL(P_0 || P_theta) = +inf`` for every ``theta != 0``.
3. ``W1(P_0, P_theta) = |theta|``, estimated from independent samples by
   exact optimal assignment, within the sampling error of ``n`` points.

Each segment is a TFP ``Blockwise([Deterministic(theta), Uniform(0, 1)])``;
KL is TFP's closed form (``Blockwise`` sums the KL of its parts), JS the
Monte Carlo estimate of :func:`keras_gan.divergences.js_divergence` (exact
here: every term is ``log 2`` or 0), W1 :func:`keras_gan.divergences.wasserstein1_exact`.
"""

import math

import numpy as np
import tensorflow_probability as tfp

from keras_gan import divergences
from keras_gan.analysis._common import claim

tfd = tfp.distributions

TITLE = "Disjoint supports (WGAN Example 1): JS = log 2, KL = inf for every theta != 0, W1 = |theta|"


def segment(theta):
    """The law of ``(theta, Z)``, ``Z ~ U(0, 1)``, as a TFP distribution on the plane."""
    return tfd.Blockwise(
        [tfd.Deterministic(np.float64(theta)), tfd.Uniform(np.float64(0.0), np.float64(1.0))]
    )


def run(quick=False, seed=0, log=print):
    """Computes JS, KL and W1 between ``P_0`` and ``P_theta`` over a grid of ``theta``.

    Args:
        quick: a coarser grid and fewer samples (the test suite's setting).
        seed: seed of the samples.
        log: progress printer.

    Returns:
        The JSON-ready result: settings, curves, numbers and claims.
    """
    half = 4 if quick else 20
    thetas = np.arange(-half, half + 1) / half  # includes 0 exactly
    num_samples = 256 if quick else 1000
    base = segment(0.0)
    js, kl, w1, w1_sliced = [], [], [], []
    log(f"[disjoint-supports] {len(thetas)} values of theta, {num_samples} samples per W1 estimate")
    for i, theta in enumerate(thetas):
        moved = segment(theta)
        js.append(divergences.js_divergence(base, moved, num_samples=2000, seed=seed + i))
        kl.append(divergences.kl_divergence(base, moved))
        x = base.sample(num_samples, seed=(seed, 2 * i)).numpy()
        y = moved.sample(num_samples, seed=(seed, 2 * i + 1)).numpy()
        w1.append(divergences.wasserstein1_exact(x, y, max_samples=num_samples))
        w1_sliced.append(divergences.sliced_wasserstein1(x, y, num_projections=256, seed=seed))
    js, kl, w1 = np.array(js), np.array(kl), np.array(w1)
    nonzero = thetas != 0
    js_error = float(np.max(np.abs(js[nonzero] - math.log(2.0))))
    kl_all_infinite = bool(np.all(np.isinf(kl[nonzero])))
    w1_error = float(np.max(np.abs(w1 - np.abs(thetas))))
    # The slope of W1 against |theta| (least squares): 1 for the true W1.
    slope = float(np.polyfit(np.abs(thetas), w1, 1)[0])
    # Two independent n-samples of U(0, 1) are ~1 / sqrt(n) apart in W1 at theta = 0.
    w1_limit = 2.0 / math.sqrt(num_samples)
    log(
        f"[disjoint-supports] max |JS - log 2| = {js_error:.2e} (theta != 0), KL infinite: {kl_all_infinite}, "
        f"max |W1 - |theta|| = {w1_error:.4f}"
    )
    claims = [
        claim(
            "js_is_log2",
            "JS(P_0, P_theta) = log 2 for every theta != 0 (max deviation < 1e-9), and 0 at theta = 0",
            js_error, 1e-9, js_error < 1e-9 and js[~nonzero][0] < 1e-9,
        ),
        claim(
            "kl_is_infinite",
            "KL(P_0 || P_theta) = +inf for every theta != 0, and 0 at theta = 0",
            kl_all_infinite, True, kl_all_infinite and kl[~nonzero][0] == 0.0,
        ),
        claim(
            "w1_is_abs_theta",
            f"W1(P_0, P_theta) = |theta| within 2 / sqrt(n) = {w1_limit:.3f} (sampling error of n = "
            f"{num_samples} points)",
            w1_error, w1_limit, w1_error < w1_limit,
        ),
    ]
    return {
        "title": TITLE,
        "settings": {
            "P_theta": "law of (theta, Z), Z ~ U(0, 1): tfd.Blockwise([Deterministic(theta), Uniform(0, 1)])",
            "js": "keras_gan.divergences.js_divergence (Monte Carlo, 2000 draws per side)",
            "kl": "keras_gan.divergences.kl_divergence (TFP closed form)",
            "w1": "keras_gan.divergences.wasserstein1_exact on independent samples",
            "num_samples": num_samples,
        },
        "numbers": {
            "max_abs_js_minus_log2": js_error,
            "kl_infinite_for_all_nonzero_theta": kl_all_infinite,
            "max_abs_w1_minus_abs_theta": w1_error,
            "w1_slope_against_abs_theta": slope,
            "w1_at_zero": float(w1[~nonzero][0]),
        },
        "curves": {
            "theta": thetas,
            "js": js,
            "kl": kl,
            "w1": w1,
            "sliced_w1": w1_sliced,
        },
        "claims": claims,
    }


def plot(result, figure):
    """Plots JS, KL (inf drawn as markers at the top) and W1 against theta."""
    c = result["curves"]
    theta = np.asarray(c["theta"], float)
    kl = np.asarray(c["kl"], float)
    w1 = np.asarray(c["w1"], float)
    left, right = figure.subplots(1, 2)
    left.plot(theta, c["js"], "o", color="tab:blue", ms=4, label="JS$(P_0, P_\\theta)$ (a jump at 0)")
    left.axhline(math.log(2.0), color="tab:blue", ls=":", lw=1)
    left.text(theta[0], math.log(2.0) + 0.02, "log 2", color="tab:blue", fontsize=8)
    left.plot(theta, w1, "s-", color="tab:green", ms=3, label="W1 (exact assignment, samples)")
    left.plot(theta, np.abs(theta), color="black", lw=1, ls="--", label="$|\\theta|$")
    left.plot(theta, c["sliced_w1"], color="tab:olive", lw=1, label="sliced W1 (a smaller metric, also ~ $|\\theta|$)")
    left.set_xlabel("$\\theta$")
    left.set_ylabel("nats / distance")
    left.set_title("JS is flat at log 2 (zero gradient); W1 = |theta|", fontsize=10)
    left.legend(fontsize=8, loc="upper center")
    left.set_ylim(-0.05, 1.25)
    top = 1.0
    finite = np.isfinite(kl)
    right.plot(theta[finite], kl[finite], "o", color="tab:red", label="KL finite (theta = 0)")
    right.plot(theta[~finite], np.full((~finite).sum(), top), "^", color="tab:red", label="KL = +inf")
    right.set_ylim(-0.05, top + 0.15)
    right.set_yticks([0.0, top], ["0", "+inf"])
    right.set_xlabel("$\\theta$")
    right.set_title("KL$(P_0 \\| P_\\theta)$ = +inf for every $\\theta \\neq 0$", fontsize=10)
    right.legend(fontsize=8, loc="center right")
