"""Adversarial losses as pure functions of discriminator logits.

Every function takes the discriminator's raw outputs (logits, before any
sigmoid) and returns a per-example loss of shape ``[batch]``; the model
averages it over the global batch, so the same functions work on one device
and under ``tf.distribute``; they are written with ``keras.ops``, so they run
on every Keras backend. The discriminator of the notes outputs
``D(x) = sigmoid(logit)``, the probability that ``x`` is real.

Names follow ``<name>_generator_loss`` / ``<name>_discriminator_loss``;
:func:`get` looks a pair up by name.
"""

import keras
from keras import ops


def minimax_discriminator_loss(real_logits, fake_logits):
    """Cross-entropy loss of the discriminator (notes, eq. 13.x).

    ``-log D(x) - log(1 - D(G(z)))`` per example, computed stably as
    ``softplus(-real) + softplus(fake)``.

    Args:
        real_logits: logits of D on real samples, shape ``[batch]``/``[batch, 1]``.
        fake_logits: logits of D on generated samples, same batch size.

    Returns:
        Per-example loss, shape ``[batch]``.

    Example:

    >>> float(minimax_discriminator_loss([0.0], [0.0])[0])  # 2 log 2
    1.3862943649291992
    """
    real_logits = _flat(real_logits)
    fake_logits = _flat(fake_logits)
    return ops.softplus(-real_logits) + ops.softplus(fake_logits)


def minimax_generator_loss(fake_logits):
    """The notes' original (saturating) generator loss: minimize ``log(1 - D(G(z)))``.

    Its gradient vanishes when D confidently rejects the fakes (notes 6.3.4).
    ``log(1 - sigmoid(l)) = -softplus(l)``.

    Args:
        fake_logits: logits of D on generated samples.

    Returns:
        Per-example loss ``-softplus(fake_logits)``, shape ``[batch]``.

    Example:

    >>> round(float(minimax_generator_loss([0.0])[0]), 6)  # log(1/2)
    -0.693147
    """
    return -ops.softplus(_flat(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss: minimize ``-log D(G(z))``.

    Same fixed point as the minimax loss, but strong gradients when D rejects
    the fakes (Goodfellow et al. 2014, section 3).

    Args:
        fake_logits: logits of D on generated samples.

    Returns:
        Per-example loss ``softplus(-fake_logits)``, shape ``[batch]``.
    """
    return ops.softplus(-_flat(fake_logits))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """WGAN critic loss ``f(G(z)) - f(x)`` (Arjovsky et al. 2017, eq. 3).

    Args:
        real_logits: critic outputs on real samples.
        fake_logits: critic outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return _flat(fake_logits) - _flat(real_logits)


def wasserstein_generator_loss(fake_logits):
    """WGAN generator loss ``-f(G(z))``.

    Args:
        fake_logits: critic outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return -_flat(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge loss ``relu(1 - D(x)) + relu(1 + D(G(z)))`` (Lim & Ye 2017; Miyato et al. 2018).

    Args:
        real_logits: discriminator outputs on real samples.
        fake_logits: discriminator outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return ops.relu(1.0 - _flat(real_logits)) + ops.relu(1.0 + _flat(fake_logits))


def hinge_generator_loss(fake_logits):
    """Generator side of the hinge loss: ``-D(G(z))``.

    Args:
        fake_logits: discriminator outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return -_flat(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits):
    """LSGAN discriminator loss ``(D(x) - 1)^2 / 2 + D(G(z))^2 / 2`` (Mao et al. 2017, eq. 9, a=0, b=c=1).

    Args:
        real_logits: discriminator outputs on real samples.
        fake_logits: discriminator outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return 0.5 * ops.square(_flat(real_logits) - 1.0) + 0.5 * ops.square(_flat(fake_logits))


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss ``(D(G(z)) - 1)^2 / 2``.

    Args:
        fake_logits: discriminator outputs on generated samples.

    Returns:
        Per-example loss, shape ``[batch]``.
    """
    return 0.5 * ops.square(_flat(fake_logits) - 1.0)


# name -> (discriminator loss, generator loss, D output is a probability logit)
_LOSSES = {
    "minimax": (minimax_discriminator_loss, minimax_generator_loss, True),
    "non_saturating": (minimax_discriminator_loss, non_saturating_generator_loss, True),
    "wasserstein": (wasserstein_discriminator_loss, wasserstein_generator_loss, False),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss, False),
    "least_squares": (least_squares_discriminator_loss, least_squares_generator_loss, False),
}

NAMES = tuple(_LOSSES)


def get(name):
    """Looks up a loss pair by name.

    Args:
        name: one of ``minimax``, ``non_saturating``, ``wasserstein``,
            ``hinge``, ``least_squares``.

    Returns:
        ``(discriminator_loss_fn, generator_loss_fn, sigmoid_output)`` where
        ``sigmoid_output`` says whether ``sigmoid(logit)`` is a probability
        that the sample is real (cross-entropy losses).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example:

    >>> d_loss, g_loss, is_prob = get("non_saturating")
    """
    if name not in _LOSSES:
        raise ValueError(f"Unknown loss {name!r}; expected one of {', '.join(NAMES)}.")
    return _LOSSES[name]


def _flat(logits):
    logits = ops.convert_to_tensor(logits)
    if keras.backend.standardize_dtype(logits.dtype) != "float32":
        logits = ops.cast(logits, "float32")  # losses in float32 under mixed precision
    return ops.reshape(logits, [-1])
