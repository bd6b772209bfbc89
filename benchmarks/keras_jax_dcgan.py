"""The keras-gan DCGAN training step on the Keras JAX backend, for GPUs where TensorFlow is not installed.

The networks are keras_gan's own builders (``keras_gan/networks.py`` imports
only Keras, so it is loaded here without the TensorFlow-based package); the
step is algorithm 13.1 with K = 1 written as a jit-compiled stateless JAX
function: one discriminator update (real and fresh fake images, cross-entropy)
and one generator update (non-saturating loss), Adam(2e-4, 0.5, 0.999).

Usage (on the GPU machine, with keras, namex and optree installed next to JAX):

    KERAS_BACKEND=jax python benchmarks/keras_jax_dcgan.py --batch 64 256 1024 --precision float32 mixed_bfloat16

Prints one JSON line per (precision, batch): images/s (median of timed steps), seconds per step, device.
Compare with the PyTorch peer on the same machine in the same run:
``python benchmarks/torch_dcgan.py 64 3 64 4 BATCH STEPS`` (CUDA if available).
"""

import argparse
import importlib.util
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def _networks():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "keras_gan", "networks.py")
    spec = importlib.util.spec_from_file_location("keras_gan_networks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(batch, precision, steps, size=64, channels=3, base=64, n=4, latent=100):
    import jax
    import jax.numpy as jnp
    import keras

    keras.mixed_precision.set_dtype_policy(precision)
    networks = _networks()
    keras.utils.set_random_seed(0)
    g = networks.dcgan_generator((size, size, channels), latent, base, 5, n)
    d = networks.dcgan_discriminator((size, size, channels), base, 5, n)
    opt_g = keras.optimizers.Adam(2e-4, beta_1=0.5)
    opt_d = keras.optimizers.Adam(2e-4, beta_1=0.5)
    opt_g.build(g.trainable_variables)
    opt_d.build(d.trainable_variables)

    def logits(d_tv, d_ntv, x):
        out, d_ntv = d.stateless_call(d_tv, d_ntv, x, training=True)
        return out.astype(jnp.float32), d_ntv

    def d_loss(d_tv, d_ntv, g_tv, g_ntv, real, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        real_l, d_ntv = logits(d_tv, d_ntv, real)
        fake_l, d_ntv = logits(d_tv, d_ntv, jax.lax.stop_gradient(fake))
        loss = jnp.mean(jax.nn.softplus(-real_l)) + jnp.mean(jax.nn.softplus(fake_l))
        return loss, (d_ntv, g_ntv)

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        fake_l, d_ntv = logits(d_tv, d_ntv, fake)
        return jnp.mean(jax.nn.softplus(-fake_l)), (g_ntv, d_ntv)

    @jax.jit
    def step(state, real, key):
        g_tv, g_ntv, d_tv, d_ntv, g_opt, d_opt = state
        k1, k2 = jax.random.split(key)
        z = jax.random.uniform(k1, (real.shape[0], latent), minval=-1.0, maxval=1.0)
        (dl, (d_ntv, g_ntv)), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv, g_tv, g_ntv, real, z)
        d_tv, d_opt = opt_d.stateless_apply(d_opt, grads, d_tv)
        z = jax.random.uniform(k2, (real.shape[0], latent), minval=-1.0, maxval=1.0)
        (gl, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(g_tv, g_ntv, d_tv, d_ntv, z)
        g_tv, g_opt = opt_g.stateless_apply(g_opt, grads, g_tv)
        return (g_tv, g_ntv, d_tv, d_ntv, g_opt, d_opt), dl + gl

    state = (
        [v.value for v in g.trainable_variables], [v.value for v in g.non_trainable_variables],
        [v.value for v in d.trainable_variables], [v.value for v in d.non_trainable_variables],
        [v.value for v in opt_g.variables], [v.value for v in opt_d.variables],
    )
    real = jax.random.uniform(jax.random.PRNGKey(1), (batch, size, size, channels), minval=-1.0, maxval=1.0)
    key = jax.random.PRNGKey(0)
    for _ in range(3):  # compile and warm up
        key, sub = jax.random.split(key)
        state, loss = step(state, real, sub)
    jax.block_until_ready(loss)
    times = []
    for _ in range(steps):
        key, sub = jax.random.split(key)
        t = time.perf_counter()
        state, loss = step(state, real, sub)
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"framework": "keras-jax", "precision": precision, "batch": batch, "images_per_second": batch / median,
            "seconds_per_step": median, "device": str(jax.devices()[0]), "keras": keras.__version__,
            "jax": jax.__version__, "final_loss": float(loss)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--precision", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--base", type=int, default=64)
    args = parser.parse_args()
    n = {64: 4, 32: 3, 16: 2, 8: 1}.get(args.size, 4)
    channels = 3 if args.size > 8 else 1
    for precision in args.precision:
        for batch in args.batch:
            print(json.dumps(measure(batch, precision, args.steps, args.size, channels, args.base, n)), flush=True)


if __name__ == "__main__":
    main()
