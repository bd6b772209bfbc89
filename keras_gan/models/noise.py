"""Latent noise: priors drawn from counter-based (stateless) random numbers.

Every draw is a pure function of a seed pair ``(model seed, counter)``, where
the counter combines an optimizer's iteration count with a stream index.
Noise is therefore fresh at every update, identical in a resumed run and in
one that never stopped, and, under ``tf.distribute``, sliced per replica from
one global draw so that N replicas use exactly the noise one device would.
"""

from keras import ops

from keras_gan.models import _backend

PRIORS = ("uniform", "normal")


def draw_latent(prior, shape, seed):
    """Draws latent vectors from a prior with the backend's stateless generator.

    On TensorFlow the algorithm is Philox (fixed, not ``auto_select``) and
    normals come from the inverse CDF of uniforms, so that XLA, CPU, GPU and
    exported graphs draw the same numbers for the same seed. JAX and torch
    use their own generators: the same seed gives the same vectors on one
    backend, different ones across backends.

    Args:
        prior: ``"uniform"`` (U(-1, 1)) or ``"normal"`` (N(0, I)).
        shape: output shape (ints, or scalar tensors on TensorFlow).
        seed: integer tensor of shape ``[2]``.

    Returns:
        A float32 tensor of ``shape``.

    Raises:
        ValueError: for an unknown prior.

    Example:

    >>> import numpy as np
    >>> z = draw_latent("uniform", [4, 3], np.array([0, 1]))
    >>> tuple(z.shape)
    (4, 3)
    """
    if prior == "uniform":
        return _backend.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0)
    if prior == "normal":
        # Inverse CDF of uniforms: tf.random.stateless_normal draws different numbers
        # under XLA than on the CPU kernels; this form draws the same everywhere.
        u = _backend.stateless_uniform(shape, seed, minval=1e-7, maxval=1.0)
        return _backend.ndtri(u)
    raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")


def replica_noise(seed, counter, local_n, draw):
    """This replica's slice of a global noise batch seeded by ``(seed, counter)``.

    Every replica draws the same global batch of ``local_n * replicas`` rows
    and keeps rows ``[r * local_n, (r + 1) * local_n)``: replicas differ, and N
    replicas use exactly the noise one device would for the global batch. Off
    ``tf.distribute`` (one device, or JAX's SPMD step over the global batch)
    this is the whole draw.

    Args:
        seed: integer model seed.
        counter: integer scalar tensor that differs for every draw (a step
            counter combined with a stream index).
        local_n: rows this replica needs.
        draw: ``draw(num_rows, seed_tensor_of_shape_2) -> tensor``.

    Returns:
        ``local_n`` rows of the global draw.
    """
    num_replicas, replica_id = _backend.replica_context()
    seed_pair = ops.stack([ops.cast(int(seed), counter.dtype), counter])
    if num_replicas == 1:
        return draw(local_n, seed_pair)
    global_noise = draw(local_n * num_replicas, seed_pair)
    start = ops.cast(replica_id, "int32") * local_n
    return global_noise[start : start + local_n]
