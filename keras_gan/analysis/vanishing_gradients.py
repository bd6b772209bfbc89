"""Vanishing generator gradients as the discriminator improves (notes 6.3.4, figure 13.10).

The generator is held fixed (a randomly initialized MLP, whose samples sit
near the origin, away from the data: a ring of 8 Gaussians). The
discriminator is trained step by step, and after each block of steps the
norm of the generator's gradient is measured under two losses of
:mod:`keras_gan.losses` on the same fixed noise batch:

* minimax: ``E log(1 - D(G(z)))``, whose gradient carries a factor ``D(G(z))``;
* non-saturating: ``-E log D(G(z))``, whose gradient carries ``1 - D(G(z))``.

Claims checked (as in Arjovsky & Bottou 2017, figure 2):

1. The minimax gradient norm falls by orders of magnitude (by at least 100x
   from its value at the untrained discriminator).
2. The non-saturating gradient norm does not vanish (it stays above 1/10
   of its initial value).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_gan import losses, networks
from keras_gan.analysis._common import RING_MODES, RING_RADIUS, RING_STD, claim, ring_samples

TITLE = "Vanishing gradients (fig. 13.10): generator gradient norm while D trains, G fixed"

def run(quick=False, seed=0, log=print):
    """Trains D against a fixed G and records the generator's gradient norms.

    Args:
        quick: fewer steps and one seed (the test suite's setting).
        seed: base seed (runs use ``seed, seed + 1, ...``).
        log: progress printer.

    Returns:
        The JSON-ready result: settings, curves, numbers and claims.
    """
    steps = 1000 if quick else 3000
    num_runs = 1 if quick else 3
    batch = 256
    num_points = 21 if quick else 41
    # Measure at steps 0 and then roughly evenly on a log scale.
    checkpoints = sorted(set(np.unique(np.geomspace(1, steps, num_points - 1).astype(int)).tolist()) | {0})

    runs = []
    for r in range(num_runs):
        run_seed = seed + r
        keras.utils.set_random_seed(run_seed)
        gen = networks.mlp_generator(data_dim=2, latent_dim=2, hidden_units=128, num_layers=3)
        disc = networks.mlp_discriminator(data_dim=2, hidden_units=128, num_layers=3)
        optimizer = keras.optimizers.Adam(1e-3, beta_1=0.5)
        real = tf.constant(ring_samples(steps * batch, run_seed))
        z_eval = tf.random.stateless_normal([1024, 2], seed=[run_seed, 1])

        @tf.function
        def d_step(step):
            x = real[step * batch : (step + 1) * batch]
            z = tf.random.stateless_normal([batch, 2], seed=tf.stack([run_seed + 1000, step]))
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(
                    losses.minimax_discriminator_loss(disc(x, training=True), disc(gen(z), training=True))
                )
            grads = tape.gradient(loss, disc.trainable_variables)
            optimizer.apply_gradients(zip(grads, disc.trainable_variables))

        @tf.function
        def generator_gradient_norms():
            with tf.GradientTape(persistent=True) as tape:
                logits = disc(gen(z_eval, training=False), training=False)
                minimax = tf.reduce_mean(losses.minimax_generator_loss(logits))
                non_saturating = tf.reduce_mean(losses.non_saturating_generator_loss(logits))
            g_vars = gen.trainable_variables
            norms = [tf.linalg.global_norm(tape.gradient(loss, g_vars)) for loss in (minimax, non_saturating)]
            return norms[0], norms[1], tf.reduce_mean(tf.sigmoid(logits))

        record = {"step": [], "minimax": [], "non_saturating": [], "d_fake": []}
        log(f"[vanishing-gradients] run {r + 1}/{num_runs}: {steps} discriminator steps against a fixed G")
        for step in range(steps + 1):
            if step in checkpoints:
                minimax, non_saturating, d_fake = (float(v) for v in generator_gradient_norms())
                record["step"].append(step)
                record["minimax"].append(minimax)
                record["non_saturating"].append(non_saturating)
                record["d_fake"].append(d_fake)
            if step < steps:
                d_step(tf.constant(step, tf.int32))
        log(
            f"[vanishing-gradients] run {r + 1}: minimax |grad| {record['minimax'][0]:.3g} -> "
            f"{record['minimax'][-1]:.3g}, non-saturating {record['non_saturating'][0]:.3g} -> "
            f"{record['non_saturating'][-1]:.3g}, mean D(G(z)) -> {record['d_fake'][-1]:.2e}"
        )
        runs.append(record)

    minimax = np.array([r["minimax"] for r in runs])
    non_saturating = np.array([r["non_saturating"] for r in runs])
    minimax_ratio = minimax[:, -1] / minimax[:, 0]
    non_saturating_ratio = non_saturating[:, -1] / non_saturating[:, 0]
    worst_minimax = float(minimax_ratio.max())
    worst_non_saturating = float(non_saturating_ratio.min())
    claims = [
        claim(
            "minimax_vanishes",
            "the minimax generator gradient norm falls at least 100x (final / initial < 1e-2 in every run)",
            worst_minimax, 1e-2, worst_minimax < 1e-2,
        ),
        claim(
            "non_saturating_persists",
            "the non-saturating generator gradient norm does not vanish (final / initial > 0.1 in every run)",
            worst_non_saturating, 0.1, worst_non_saturating > 0.1,
        ),
    ]
    return {
        "title": TITLE,
        "settings": {
            "data": f"ring of {RING_MODES} Gaussians, radius {RING_RADIUS}, std {RING_STD}",
            "generator": "keras_gan.networks.mlp_generator(2, latent_dim=2, 128 units, 3 layers), random, fixed",
            "discriminator": "keras_gan.networks.mlp_discriminator(2, 128 units, 3 layers)",
            "optimizer": "Adam(1e-3, beta_1=0.5)",
            "discriminator_loss": "keras_gan.losses.minimax_discriminator_loss",
            "generator_losses": "keras_gan.losses.minimax_generator_loss, non_saturating_generator_loss",
            "steps": steps,
            "batch": batch,
            "runs": num_runs,
            "gradient_batch": 1024,
        },
        "numbers": {
            "minimax_final_over_initial": minimax_ratio,
            "non_saturating_final_over_initial": non_saturating_ratio,
            "minimax_orders_of_magnitude": (-np.log10(minimax_ratio)),
            "final_mean_d_fake": [r["d_fake"][-1] for r in runs],
        },
        "curves": {"runs": runs},
        "claims": claims,
    }


def plot(result, figure):
    """Gradient norms on a log scale against discriminator steps, and mean D(G(z))."""
    runs = result["curves"]["runs"]
    left, right = figure.subplots(1, 2)
    for loss, color, label in (
        ("minimax", "tab:red", "minimax: $E \\log(1 - D(G(z)))$"),
        ("non_saturating", "tab:blue", "non-saturating: $-E \\log D(G(z))$"),
    ):
        values = np.array([r[loss] for r in runs])
        steps = np.maximum(np.asarray(runs[0]["step"]), 0.5)  # step 0 drawn at 0.5 on the log axis
        for i, row in enumerate(values):
            left.plot(steps, row, color=color, lw=1, alpha=0.35 if len(runs) > 1 else 1.0,
                      label=None if len(runs) > 1 or i else label)
        if len(runs) > 1:
            left.plot(steps, np.exp(np.log(values).mean(0)), color=color, lw=2.2, label=label + " (geom. mean)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("discriminator steps (G fixed; step 0 at 0.5)")
    left.set_ylabel("$\\|\\nabla_\\theta\\, \\mathcal{L}_G\\|$")
    left.legend(fontsize=8, loc="lower left")
    numbers = result["numbers"]
    orders = np.asarray(numbers["minimax_orders_of_magnitude"], float)
    left.set_title(f"minimax gradient falls {orders.min():.1f}-{orders.max():.1f} orders of magnitude", fontsize=10)
    for r in runs:
        right.plot(np.maximum(np.asarray(r["step"]), 0.5), r["d_fake"], color="black", lw=1)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("discriminator steps")
    right.set_ylabel("mean $D(G(z))$")
    right.set_title("D rejects the fixed fakes ever more confidently", fontsize=10)
