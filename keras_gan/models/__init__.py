"""Models: the adversarial model of algorithm 13.1, its factories, and the VAE.

* :class:`AdversarialModel`, :func:`GAN`, :func:`DCGAN` (``adversarial.py``);
* :class:`VAE`, :func:`vae_encoder`, :func:`vae_decoder`, :func:`density_report` (``vae.py``);
* :func:`draw_latent`, :func:`replica_noise`, :data:`PRIORS` (``noise.py``);
* ``_backend.py``: the per-backend part of the training step (private).

Every model trains under ``model.fit`` on the JAX, TensorFlow and PyTorch
backends of Keras 3.

Example:

>>> from keras_gan import models
>>> gan = models.GAN(data_dim=2)
>>> gan.compile(loss="non_saturating")
"""

from keras_gan.models.adversarial import DCGAN, GAN, AdversarialModel
from keras_gan.models.noise import PRIORS, draw_latent, replica_noise
from keras_gan.models.vae import VAE, density_report, vae_decoder, vae_encoder

__all__ = [
    "AdversarialModel", "GAN", "DCGAN", "VAE", "vae_encoder", "vae_decoder", "density_report",
    "draw_latent", "replica_noise", "PRIORS",
]
