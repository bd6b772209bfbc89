"""Latent noise: priors drawn from counter-based (stateless) random numbers.

Every draw is a pure function of a seed pair ``(model seed, counter)``, where
the counter combines an optimizer's iteration count with a stream index.
Noise is therefore fresh at every update, identical in a resumed run and in
one that never stopped, and, under ``tf.distribute``, sliced per replica from
one global draw so that N replicas use exactly the noise one device would.
"""

import numpy as np
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
    seed_pair = _backend.seed_pair(seed, counter)
    if num_replicas == 1:
        return draw(local_n, seed_pair)
    global_noise = draw(local_n * num_replicas, seed_pair)
    start = ops.cast(replica_id, "int32") * local_n
    return global_noise[start : start + local_n]


#: The mean of each prior (U(-1, 1) and N(0, I)): where truncation pulls the latent vectors.
PRIOR_MEANS = {"uniform": 0.0, "normal": 0.0}


def truncate(z, psi, prior):
    """The truncation trick: latent vectors pulled toward the prior's mean, ``mean + psi (z - mean)``.

    As StyleGAN's ``--trunc`` and StudioGAN's truncation factor apply it (to the latent the generator
    takes): ``psi = 1`` leaves ``z`` as drawn, ``psi = 0`` gives every sample the mean vector, values
    in between trade variety for typicality.

    Args:
        z: ``[n, latent_dim]`` array.
        psi: the factor, in ``[0, 1]`` (values above 1 extrapolate, as published).
        prior: ``"uniform"`` or ``"normal"``.

    Returns:
        A float32 numpy array of ``z``'s shape.

    Example:

    >>> truncate(np.array([[1.0, -0.5]]), 0.5, "uniform")
    array([[ 0.5 , -0.25]], dtype=float32)
    """
    if prior not in PRIOR_MEANS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")
    psi = float(psi)
    if not psi >= 0.0:
        raise ValueError(f"psi must be >= 0, got {psi}.")
    mean = PRIOR_MEANS[prior]
    return (mean + psi * (np.asarray(z, np.float32) - mean)).astype(np.float32)


def interpolate(z0, z1, steps, prior):
    """``steps`` latent vectors from ``z0`` to ``z1`` (both included): spherical for a normal prior, linear for uniform.

    A normal prior's mass lies near the sphere of radius ``sqrt(latent_dim)``; the straight line between
    two draws passes closer to the origin than any draw (White 2016, "Sampling Generative Networks"), so
    the walk follows the great circle, its norm interpolated linearly. A uniform prior's box is convex:
    the straight line stays inside it.

    Args:
        z0, z1: ``[latent_dim]`` arrays.
        steps: frames, >= 2.
        prior: ``"uniform"`` or ``"normal"``.

    Returns:
        A float32 array ``[steps, latent_dim]`` whose first row is ``z0`` and last ``z1``.

    Example:

    >>> path = interpolate(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3, "normal")
    >>> [[round(float(v), 4) for v in row] for row in path]
    [[1.0, 0.0], [0.7071, 0.7071], [0.0, 1.0]]
    """
    if prior not in PRIOR_MEANS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}.")
    a, b = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if prior == "uniform":
        path = (1 - t) * a + t * b
    else:
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        ua, ub = a / max(na, 1e-12), b / max(nb, 1e-12)
        omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
        if omega < 1e-6:  # (anti)parallel: the straight line
            direction = (1 - t) * ua + t * ub
        else:
            direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
        path = direction * ((1 - t) * na + t * nb)
    path[0], path[-1] = a, b  # exact endpoints
    return path.astype(np.float32)
