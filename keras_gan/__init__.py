"""keras-gan: generative adversarial networks for Keras 3.

The package trains GANs with ``model.fit`` (algorithm 13.1 of the lecture
notes: K discriminator steps, then one generator step) on the JAX,
TensorFlow and PyTorch backends of Keras 3 (``tf.distribute`` strategies on
TensorFlow, ``keras.distribution`` on JAX), and exports trained generators to
SavedModel and ONNX.

The backend is Keras' own choice (``KERAS_BACKEND``, or ``~/.keras/keras.json``);
``keras-gan train --backend NAME`` sets it for a run. Submodules load on first
use, so importing ``keras_gan`` does not import Keras (or pick its backend).

Example:

>>> import keras_gan
>>> model = keras_gan.models.DCGAN(image_shape=(8, 8, 1), base_filters=16)
>>> model.compile(d_steps=1)  # doctest: +SKIP
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.2.0"

# Every submodule loads on first use: keras_gan.models, keras_gan.data, keras_gan.export, ...
_LAZY = ("analysis", "backends", "callbacks", "config", "data", "divergences", "export", "features", "images",
         "losses", "metrics", "models", "networks", "optimizers", "runs", "trainer")


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return importlib.import_module(f"keras_gan.{name}")
    if name == "vae":  # the VAE moved into keras_gan.models; keep the old name working
        return importlib.import_module("keras_gan.models.vae")
    raise AttributeError(f"module 'keras_gan' has no attribute {name!r}")
