"""Forward and reverse KL fits of one Gaussian to two modes (notes 6.3.4, figure 13.11).

Target ``p = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)``; model ``q = N(mu, sigma^2)``,
``sigma`` a ``tfp.util.TransformedVariable`` (softplus), fitted by Adam:

* forward KL ``KL(p || q)``: minimize ``-E_p[log q(x)]`` over a fixed sample
  of ``p`` (the entropy of ``p`` is a constant). The optimum is the moment
  match ``mu = E_p[x] = 0``, ``sigma^2 = Var_p[x] = 0.5^2 + 2^2``: q covers
  both modes and puts its peak where ``p`` has almost no mass.
* reverse KL ``KL(q || p)``: ``tfp.vi.monte_carlo_variational_loss`` with
  ``tfp.vi.kl_reverse`` (reparameterized samples of ``q``). q locks onto the
  mode nearest to its start, ``mu ~ +-2``, ``sigma ~ 0.5``, and ignores the other
  (mode seeking: the GAN generator's drive toward mode collapse, since
  ``L(G|D*)`` is dominated by ``KL(p_theta || p_r)``).

Note: the notes' formulas for the two KLs swap the expectations (they write
the forward KL as an expectation under ``p_theta``); here forward is
``KL(p_r || p_theta) = E_{p_r}[log p_r / p_theta]`` (the standard meaning,
and the one the notes' conclusions describe).
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

from keras_gan import divergences
from keras_gan.analysis._common import claim

tfd = tfp.distributions

TITLE = "Forward vs reverse KL (fig. 13.11): one Gaussian fitted to two modes"

MODES, MODE_STD = (-2.0, 2.0), 0.5
STARTS = {"reverse_from_left": -0.5, "reverse_from_right": 0.5}
FORWARD_START = 0.5


def target():
    """The two-mode target as a TFP mixture (float64)."""
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=np.array([0.5, 0.5])),
        tfd.Normal(loc=np.array(MODES), scale=np.array([MODE_STD, MODE_STD])),
    )


def moment_match():
    """``(mean, std)`` of the target: the forward-KL optimum among Gaussians."""
    mean = float(np.mean(MODES))
    variance = MODE_STD**2 + float(np.mean((np.array(MODES) - mean) ** 2))
    return mean, math.sqrt(variance)


def _surrogate(loc):
    scale = tfp.util.TransformedVariable(np.float64(1.0), tfp.bijectors.Softplus(), name="scale")
    return tfd.Normal(loc=tf.Variable(np.float64(loc), name="loc"), scale=scale)


def run(quick=False, seed=0, log=print):
    """Fits ``q`` by forward KL and by reverse KL and compares the fits.

    Args:
        quick: fewer steps and samples (the test suite's setting).
        seed: seed of the samples.
        log: progress printer.

    Returns:
        The JSON-ready result: settings, curves, numbers and claims.
    """
    steps = 400 if quick else 1500
    num_data = 20_000 if quick else 100_000
    mc_samples = 256 if quick else 1000
    p = target()
    data = p.sample(num_data, seed=(seed, 0))

    def fit(q, loss_fn, name):
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.05, steps, alpha=0.02))
        variables = list(q.trainable_variables)

        @tf.function
        def step(i):
            with tf.GradientTape() as tape:
                loss = loss_fn(q, i)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        path = [(float(q.mean()), float(q.stddev()))]
        for i in range(steps):
            step(tf.constant(i, tf.int32))
            if i % max(steps // 100, 1) == 0 or i == steps - 1:
                path.append((float(q.mean()), float(q.stddev())))
        log(f"[kl-asymmetry] {name}: mu = {path[-1][0]:+.3f}, sigma = {path[-1][1]:.3f}")
        return path

    def forward_loss(q, i):
        return -tf.reduce_mean(q.log_prob(data))  # KL(p || q) up to the entropy of p

    def reverse_loss(q, i):
        return tfp.vi.monte_carlo_variational_loss(
            p.log_prob, q, sample_size=mc_samples, discrepancy_fn=tfp.vi.kl_reverse,
            seed=tf.stack([seed + 1, i]),
        )

    log(f"[kl-asymmetry] fitting N(mu, sigma^2) to the two-mode target, {steps} Adam steps per fit")
    fits = {}
    q = _surrogate(FORWARD_START)
    fits["forward"] = {"start": FORWARD_START, "path": fit(q, forward_loss, "forward KL"), "q": q}
    for name, start in STARTS.items():
        q = _surrogate(start)
        fits[name] = {"start": start, "path": fit(q, reverse_loss, f"reverse KL from mu = {start}"), "q": q}

    # Both divergences at every fit (Monte Carlo: no closed form for a mixture).
    for i, fitted in enumerate(fits.values()):
        q = fitted.pop("q")
        fitted["mu"], fitted["sigma"] = float(q.mean()), float(q.stddev())
        fixed = tfd.Normal(np.float64(fitted["mu"]), np.float64(fitted["sigma"]))
        fitted["forward_kl"] = divergences.kl_divergence(p, fixed, num_samples=200_000, seed=seed + 10 + i)
        fitted["reverse_kl"] = divergences.kl_divergence(fixed, p, num_samples=200_000, seed=seed + 20 + i)

    mm_mean, mm_std = moment_match()
    forward = fits["forward"]
    reverse = [fits[name] for name in STARTS]
    forward_error = max(abs(forward["mu"] - mm_mean), abs(forward["sigma"] - mm_std))
    # Reverse fits: distance to the nearest mode and to the mode's width.
    reverse_error = max(
        max(min(abs(r["mu"] - m) for m in MODES), abs(r["sigma"] - MODE_STD)) for r in reverse
    )
    distinct_modes = sorted({int(np.argmin([abs(r["mu"] - m) for m in MODES])) for r in reverse})
    claims = [
        claim(
            "forward_is_moment_match",
            f"forward KL fit equals the moment match mu = {mm_mean}, sigma = {mm_std:.4f} within 0.05",
            forward_error, 0.05, forward_error < 0.05,
        ),
        claim(
            "reverse_locks_onto_a_mode",
            f"each reverse KL fit sits on one mode: |mu - mode| and |sigma - {MODE_STD}| below 0.1",
            reverse_error, 0.1, reverse_error < 0.1,
        ),
        claim(
            "reverse_kl_is_log2",
            "at a reverse fit on one mode, KL(q||p) = log 2 (q matches half of p; the other half is ignored) "
            "within 0.01",
            max(abs(r["reverse_kl"] - math.log(2.0)) for r in reverse), 0.01,
            max(abs(r["reverse_kl"] - math.log(2.0)) for r in reverse) < 0.01,
        ),
        claim(
            "reverse_mode_depends_on_start",
            "reverse KL fits started on either side of 0 lock onto different modes",
            len(distinct_modes), 2, len(distinct_modes) == 2,
        ),
        claim(
            "asymmetry",
            "each fit wins on its own objective: forward fit has the smaller KL(p||q), reverse fits the "
            "smaller KL(q||p)",
            [forward["forward_kl"], min(r["forward_kl"] for r in reverse),
             forward["reverse_kl"], max(r["reverse_kl"] for r in reverse)],
            None,
            forward["forward_kl"] < min(r["forward_kl"] for r in reverse)
            and forward["reverse_kl"] > max(r["reverse_kl"] for r in reverse),
        ),
    ]
    x = np.linspace(-5.0, 5.0, 801)
    return {
        "title": TITLE,
        "settings": {
            "target": f"0.5 N({MODES[0]}, {MODE_STD}^2) + 0.5 N({MODES[1]}, {MODE_STD}^2)",
            "model": "N(mu, sigma^2), sigma = softplus(raw) via tfp.util.TransformedVariable",
            "forward": f"minimize -mean log q(x) over {num_data} samples of p",
            "reverse": f"tfp.vi.monte_carlo_variational_loss(kl_reverse), {mc_samples} samples per step",
            "optimizer": "Adam, cosine decay from 0.05",
            "steps": steps,
            "starts": {"forward": FORWARD_START, **STARTS},
        },
        "numbers": {
            "moment_match": {"mu": mm_mean, "sigma": mm_std},
            "fits": {name: {k: v for k, v in f.items() if k != "path"} for name, f in fits.items()},
            "reverse_kl_of_one_mode": math.log(2.0),
        },
        "curves": {
            "x": x,
            "target": np.exp(p.log_prob(x).numpy()),
            "paths": {name: f["path"] for name, f in fits.items()},
        },
        "claims": claims,
    }


def plot(result, figure):
    """The target density with the fitted Gaussians, and the fits' paths in (mu, sigma)."""
    c, fits = result["curves"], result["numbers"]["fits"]
    mm = result["numbers"]["moment_match"]
    left, right = figure.subplots(1, 2)
    x = np.asarray(c["x"])
    left.fill_between(x, c["target"], color="gray", alpha=0.3, label="target p (two modes)")
    styles = {
        "forward": ("tab:blue", "-", "forward KL(p||q): covers both modes"),
        "reverse_from_left": ("tab:red", "-", "reverse KL(q||p), start mu = -0.5"),
        "reverse_from_right": ("tab:orange", "--", "reverse KL(q||p), start mu = +0.5"),
    }
    for name, (color, ls, label) in styles.items():
        f = fits[name]
        left.plot(x, stats.norm.pdf(x, f["mu"], f["sigma"]), color=color, ls=ls, lw=2,
                  label=f"{label}: N({f['mu']:+.2f}, {f['sigma']:.2f}$^2$)")
    left.plot(x, stats.norm.pdf(x, mm["mu"], mm["sigma"]), color="black", ls=":", lw=1.5,
              label=f"moment match N({mm['mu']:.0f}, {mm['sigma']:.2f}$^2$)")
    left.set_xlabel("x")
    left.set_ylabel("density")
    left.legend(fontsize=7.5, loc="upper left")
    left.set_ylim(0, 1.35)
    for name, (color, ls, _) in styles.items():
        path = np.asarray(c["paths"][name])
        right.plot(path[:, 0], path[:, 1], color=color, ls=ls, lw=1.5)
        right.plot(path[0, 0], path[0, 1], "o", color=color, ms=5)
        right.plot(path[-1, 0], path[-1, 1], "*", color=color, ms=12)
    right.plot([mm["mu"]], [mm["sigma"]], "kx", ms=10, label="moment match")
    for mode in (-2.0, 2.0):
        right.plot([mode], [0.5], "k+", ms=12)
    right.set_xlabel("$\\mu$")
    right.set_ylabel("$\\sigma$")
    right.set_title("fits in parameter space (o start, * end, + modes)", fontsize=10)
    right.legend(fontsize=8)
