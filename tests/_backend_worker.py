"""Runs one backend check in a fresh process (the backend is fixed when Keras is imported).

python tests/_backend_worker.py grads OUT.npz             gradients of the D and G losses (with the R1 term)
python tests/_backend_worker.py step OUT.npz [STRATEGY]   weights after one fit step (JAX: data_parallel / model_parallel)

The networks start from the same weights on every backend (drawn with numpy), so results can be compared.
"""

import sys

import numpy as np


def _model(conv=False):
    import keras

    from keras_gan import models

    if conv:
        model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=4, num_upsamplings=2,
                             discriminator_batch_norm=False)
    else:
        model = models.GAN(data_dim=2, latent_dim=3, hidden_units=8, num_layers=2)
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(keras.ops.convert_to_tensor((0.3 * rng.standard_normal(tuple(w.shape))).astype("float32"))
                 if "moving_variance" not in w.path and "gamma" not in w.path else np.ones(w.shape, "float32"))
    return model


def grads(out):
    from keras import ops

    from keras_gan.models import _backend

    result = {}
    for conv in (False, True):
        model = _model(conv)
        model.compile(loss="non_saturating", r1_gamma=2.0)
        rng = np.random.default_rng(1)
        shape = (6, 8, 8, 1) if conv else (6, 2)
        x = ops.convert_to_tensor(rng.uniform(-1, 1, shape).astype("float32"))
        z = ops.convert_to_tensor(rng.uniform(-1, 1, (6, model.latent_dim)).astype("float32"))
        d_vars, g_vars = model.discriminator.trainable_variables, model.generator.trainable_variables

        def d_loss():
            real, fake = model._d(x, None), model._d(ops.stop_gradient(model._g(z, None)), None)
            loss = ops.mean(model._d_loss_fn(real, fake)) + model._penalties(x, x)  # R1: second order
            return loss, None

        def g_loss():
            return ops.mean(model._g_loss_fn(model._d(model._g(z, None), None))), None

        for tag, fn, variables in (("d", d_loss, d_vars), ("g", g_loss, g_vars)):
            loss, _, gs = _backend.value_and_grad(fn, variables, model._model_variables)
            result[f"{conv}_{tag}_loss"] = ops.convert_to_numpy(loss)
            for i, g in enumerate(gs):
                result[f"{conv}_{tag}_{i}"] = ops.convert_to_numpy(g)
    np.savez(out, **result)


def step(out, strategy="default"):
    import keras

    from keras_gan.training import trainer

    dist = trainer.make_strategy(strategy, model_parallel_size=2 if strategy == "model_parallel" else None)
    with dist.scope():
        model = _model()
        model.compile(loss="wasserstein", gradient_penalty=1.0, d_steps=2,
                      g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    x = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")
    model.fit(x, batch_size=16, shuffle=False, epochs=1, verbose=0)
    result = {f"w{i}": np.array(w) for i, w in enumerate(model.weights)}
    result["replicas"] = dist.num_replicas_in_sync
    if dist.distribution is not None:
        kernel = model.discriminator.trainable_variables[0]
        result["kernel_sharding"] = str(kernel.value.sharding.spec)
    np.savez(out, **result)


if __name__ == "__main__":
    {"grads": grads, "step": step}[sys.argv[1]](*sys.argv[2:])
