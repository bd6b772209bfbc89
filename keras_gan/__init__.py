"""keras-gan: generative adversarial networks for Keras 3.

The package trains GANs with ``model.fit`` (algorithm 13.1 of the lecture
notes: K discriminator steps, then one generator step), on any
``tf.distribute`` strategy, and exports trained generators to SavedModel and
ONNX.

Example:

>>> import keras_gan
>>> model = keras_gan.models.DCGAN(image_shape=(8, 8, 1), base_filters=16)
>>> model.compile(d_steps=1)  # doctest: +SKIP
"""

import os as _os

# The library is built on tf.distribute, tf.data and TFP: it needs the
# TensorFlow backend of Keras 3.
_backend = _os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        f"keras_gan needs the TensorFlow backend of Keras, but KERAS_BACKEND={_backend!r}. "
        "Unset KERAS_BACKEND or set it to 'tensorflow'."
    )
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from keras_gan import losses  # noqa: E402,F401
from keras_gan import networks  # noqa: E402,F401
from keras_gan import models  # noqa: E402,F401

# Heavier submodules load on first use: keras_gan.data, keras_gan.metrics, keras_gan.export, ...
_LAZY = ("analysis", "callbacks", "config", "data", "divergences", "export", "features", "images", "metrics",
         "optimizers", "runs", "trainer", "vae")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"keras_gan.{name}")
    raise AttributeError(f"module 'keras_gan' has no attribute {name!r}")
