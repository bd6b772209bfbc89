"""The optimal discriminator and the generator's loss at it (notes 6.3.4).

Claims checked:

1. A discriminator trained to convergence on two fixed 1-D distributions
   approaches ``D*(x) = p_r(x) / (p_r(x) + p_theta(x))``: the maximum
   absolute error over a grid covering both distributions is small.
2. At ``D*`` the minimax objective (the generator's loss ``L(G | D*)``)
   equals ``2 JS(p_r, p_theta) - 2 log 2``: the objective is integrated on a
   fine grid with the TFP densities and :mod:`keras_gan.losses`, JS by
   adaptive quadrature with scipy's densities; they agree to 1e-3.

The real distribution is a two-mode Gaussian mixture and the model
distribution a single Gaussian, so ``D*`` is not monotone.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import integrate, stats

from keras_gan import divergences, losses, networks
from keras_gan.analysis._common import claim

tfd = tfp.distributions

TITLE = "Optimal discriminator D* = p_r / (p_r + p_theta) and L(G|D*) = 2 JS - 2 log 2"

# p_r = 0.5 N(-1.5, 0.6^2) + 0.5 N(1.5, 0.6^2); p_theta = N(0.3, 1.2^2).
REAL_MODES, REAL_STD = (-1.5, 1.5), 0.6
MODEL_MEAN, MODEL_STD = 0.3, 1.2
GRID = (-3.5, 3.5)  # both densities are above 1% of their peak on most of it
MIN_DENSITY = 0.01  # D* is compared where (p_r + p_theta) / 2 exceeds this


def _distributions():
    """``(p_r, p_theta)`` as float64 TFP distributions."""
    real = tfd.MixtureSameFamily(
        tfd.Categorical(probs=np.array([0.5, 0.5])),
        tfd.Normal(loc=np.array(REAL_MODES), scale=np.full(2, REAL_STD)),
    )
    return real, tfd.Normal(np.float64(MODEL_MEAN), np.float64(MODEL_STD))


def _scipy_pdfs():
    def real_pdf(x):
        return 0.5 * stats.norm.pdf(x, REAL_MODES[0], REAL_STD) + 0.5 * stats.norm.pdf(x, REAL_MODES[1], REAL_STD)

    return real_pdf, stats.norm(MODEL_MEAN, MODEL_STD).pdf


def js_by_quadrature():
    """JS(p_r, p_theta) in nats by adaptive quadrature on scipy's densities."""
    real_pdf, model_pdf = _scipy_pdfs()

    def integrand(x):
        p, q = real_pdf(x), model_pdf(x)
        m = 0.5 * (p + q)
        return 0.5 * (p * math.log(p / m) if p > 0 else 0.0) + 0.5 * (q * math.log(q / m) if q > 0 else 0.0)

    return integrate.quad(integrand, -np.inf, np.inf, limit=400, epsabs=1e-12)[0]


def objective_on_grid(logit_fn, num_points=40001, bound=12.0):
    """``E_r[log D] + E_theta[log(1 - D)]`` by the trapezoid rule, ``D = sigmoid(logit_fn(x))``.

    ``log D = -softplus(-l)`` is minus the non-saturating generator loss and
    ``log(1 - D) = -softplus(l)`` the minimax generator loss of
    :mod:`keras_gan.losses`.
    """
    real, model = _distributions()
    x = np.linspace(-bound, bound, num_points)
    logits = tf.cast(tf.reshape(logit_fn(x), [-1]), tf.float64)
    log_d = -tf.cast(losses.non_saturating_generator_loss(logits), tf.float64)
    log_one_minus_d = tf.cast(losses.minimax_generator_loss(logits), tf.float64)
    p_r = np.exp(real.log_prob(x).numpy())
    p_theta = np.exp(model.log_prob(x).numpy())
    integrand = p_r * log_d.numpy() + p_theta * log_one_minus_d.numpy()
    return float(np.trapezoid(integrand, x))


def run(quick=False, seed=0, log=print):
    """Trains a discriminator on fixed ``p_r``, ``p_theta`` and compares it with D*.

    Args:
        quick: fewer training steps (the test suite's setting).
        seed: seed of the network's initialization and of the samples.
        log: progress printer.

    Returns:
        The JSON-ready result: settings, curves, numbers and claims.
    """
    steps = 2000 if quick else 10000
    batch = 512
    keras.utils.set_random_seed(seed)
    real, model = _distributions()
    disc = networks.mlp_discriminator(data_dim=1, hidden_units=64, num_layers=3)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function
    def train_step(step):
        # Fresh samples every step; TFP's stateless seeds are int32 pairs.
        x_real = tf.cast(real.sample([batch, 1], seed=tf.stack([seed, 2 * step])), tf.float32)
        x_fake = tf.cast(model.sample([batch, 1], seed=tf.stack([seed, 2 * step + 1])), tf.float32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                losses.minimax_discriminator_loss(disc(x_real, training=True), disc(x_fake, training=True))
            )
        grads = tape.gradient(loss, disc.trainable_variables)
        optimizer.apply_gradients(zip(grads, disc.trainable_variables))

    def learned_logits(x):
        return disc(x[:, None].astype("float32"))

    log(f"[optimal-discriminator] training an MLP discriminator for {steps} steps (batch {batch})")
    value_curve = []  # V(D_t) integrated on the grid: rises to V(D*) = 2 JS - 2 log 2
    checkpoints = set(np.unique(np.geomspace(1, steps, 40).astype(int)).tolist())  # even on a log axis
    for step in range(1, steps + 1):
        train_step(tf.constant(step, tf.int32))
        if step in checkpoints:
            value_curve.append((step, objective_on_grid(learned_logits, num_points=4001)))
    log(f"[optimal-discriminator] final objective V(D) = {value_curve[-1][1]:.5f}")

    # Claim 1: learned D against D* on a grid where both distributions live.
    grid = np.linspace(*GRID, 701)
    log_p_r = real.log_prob(grid).numpy()
    log_p_theta = model.log_prob(grid).numpy()
    d_star = 1.0 / (1.0 + np.exp(log_p_theta - log_p_r))
    d_learned = keras.ops.convert_to_numpy(keras.ops.sigmoid(disc(grid[:, None].astype("float32")))).ravel()
    mixture = 0.5 * (np.exp(log_p_r) + np.exp(log_p_theta))
    inside = mixture >= MIN_DENSITY
    error = np.abs(d_learned - d_star)
    max_abs_error = float(error[inside].max())
    mean_abs_error = float(np.trapezoid(error * mixture, grid) / np.trapezoid(mixture, grid))

    # Claim 2: L(G | D*) = 2 JS - 2 log 2.
    js = js_by_quadrature()
    theory = 2.0 * js - 2.0 * math.log(2.0)

    def star_logits(x):
        return real.log_prob(x) - model.log_prob(x)

    loss_at_star = objective_on_grid(star_logits)
    loss_at_learned = objective_on_grid(learned_logits)
    js_monte_carlo = divergences.js_divergence(real, model, num_samples=200_000, seed=seed)
    log(
        f"[optimal-discriminator] max |D - D*| = {max_abs_error:.4f}; L(G|D*) = {loss_at_star:.6f}, "
        f"2 JS - 2 log 2 = {theory:.6f}"
    )

    error_limit = 0.05
    claims = [
        claim(
            "max_abs_error",
            f"trained D is within {error_limit} of D* = p_r / (p_r + p_theta) wherever (p_r + p_theta) / 2 >= "
            f"{MIN_DENSITY} on [{GRID[0]}, {GRID[1]}]",
            max_abs_error, error_limit, max_abs_error < error_limit,
        ),
        claim(
            "loss_at_optimum",
            "|L(G|D*) - (2 JS - 2 log 2)| < 1e-3, JS by quadrature",
            abs(loss_at_star - theory), 1e-3, abs(loss_at_star - theory) < 1e-3,
        ),
        claim(
            "learned_below_optimum",
            "the trained D does not beat D*: L(G|D) <= L(G|D*) (D* maximizes the objective), within 1e-6",
            loss_at_star - loss_at_learned, -1e-6, loss_at_learned <= loss_at_star + 1e-6,
        ),
    ]
    return {
        "title": TITLE,
        "settings": {
            "p_real": f"0.5 N({REAL_MODES[0]}, {REAL_STD}^2) + 0.5 N({REAL_MODES[1]}, {REAL_STD}^2)",
            "p_model": f"N({MODEL_MEAN}, {MODEL_STD}^2)",
            "discriminator": "keras_gan.networks.mlp_discriminator(data_dim=1, hidden_units=64, num_layers=3)",
            "loss": "keras_gan.losses.minimax_discriminator_loss",
            "optimizer": "Adam, cosine decay from 2e-3 to 1e-4",
            "steps": steps,
            "batch": batch,
            "grid": list(GRID),
            "min_density": MIN_DENSITY,
        },
        "numbers": {
            "max_abs_error": max_abs_error,
            "mean_abs_error_weighted": mean_abs_error,
            "js_quadrature": js,
            "js_monte_carlo": js_monte_carlo,
            "two_js_minus_two_log2": theory,
            "loss_at_d_star": loss_at_star,
            "loss_at_learned_d": loss_at_learned,
            "loss_at_d_star_minus_theory": loss_at_star - theory,
        },
        "curves": {
            "x": grid,
            "p_real": np.exp(log_p_r),
            "p_model": np.exp(log_p_theta),
            "d_star": d_star,
            "d_learned": d_learned,
            "compared": inside,
            "objective_steps": [s for s, _ in value_curve],
            "objective_values": [v for _, v in value_curve],
        },
        "claims": claims,
    }


def plot(result, figure):
    """Draws D* and the trained D over the densities, and the objective during training."""
    c, n = result["curves"], result["numbers"]
    left, right = figure.subplots(1, 2)
    x = np.asarray(c["x"])
    left.fill_between(x, c["p_real"], alpha=0.25, color="tab:blue", label="$p_r$ (real)")
    left.fill_between(x, c["p_model"], alpha=0.25, color="tab:orange", label=r"$p_\theta$ (model)")
    left.plot(x, c["d_star"], color="black", lw=2, label=r"$D^*(x) = p_r / (p_r + p_\theta)$")
    left.plot(x, c["d_learned"], color="tab:red", lw=1.5, ls="--", label="trained D(x)")
    inside = x[np.asarray(c["compared"], bool)]
    for edge in (inside.min(), inside.max()):
        left.axvline(edge, color="gray", lw=0.8, ls=":")
    left.set_xlabel("x (dotted: range where the error is measured)")
    left.set_ylim(0, 1.02)
    left.set_title(f"max |D - D*| = {n['max_abs_error']:.3f}")
    left.legend(loc="upper right", fontsize=8)
    right.plot(
        c["objective_steps"], c["objective_values"], color="tab:red", lw=1, label="V(D) of the trained D (integrated)"
    )
    right.axhline(n["two_js_minus_two_log2"], color="black", lw=2, label=r"$2\,JS - 2\log 2$ (quadrature)")
    right.axhline(-2 * math.log(2), color="gray", ls=":", label=r"$-2\log 2$ (D = 1/2)")
    right.set_xscale("log")
    right.set_xlabel("discriminator step (log scale)")
    right.set_ylabel(r"$E_r[\log D] + E_\theta[\log(1 - D)]$")
    right.set_title(
        f"L(G|D*) = {n['loss_at_d_star']:.5f}, 2 JS - 2 log 2 = {n['two_js_minus_two_log2']:.5f}", fontsize=9
    )
    right.legend(loc="lower right", fontsize=8)
