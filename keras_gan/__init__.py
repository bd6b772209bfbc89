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
_LAZY = ("analysis", "backends", "config", "data", "divergences", "evaluation", "export", "kernels", "losses",
         "models", "networks", "optimizers", "training")

#: Modules that moved into the package's folders (issue 29), importable under their old names too: the same
#: module objects, so ``from keras_gan.metrics import evaluate`` and ``keras_gan.runs.load_run`` keep working.
MOVED = {
    "callbacks": "training.callbacks",
    "checkpointing": "training.checkpointing",
    "features": "evaluation.features",
    "image_folder": "data.image_folder",
    "images": "evaluation.images",
    "metrics": "evaluation.metrics",
    "runs": "training.runs",
    "trainer": "training.trainer",
    "vae": "models.vae",
    "vae_analysis": "analysis.vae",
}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return importlib.import_module(f"keras_gan.{name}")
    if name in MOVED:
        return importlib.import_module(f"keras_gan.{MOVED[name]}")
    raise AttributeError(f"module 'keras_gan' has no attribute {name!r}")


def _install_moved_module_finder():
    """``import keras_gan.<old name>`` yields the moved module itself (no copy, no second import)."""
    import importlib
    import importlib.abc
    import importlib.util
    import sys

    class _Alias(importlib.abc.Loader):
        def __init__(self, target):
            self.target = target

        def create_module(self, spec):
            return importlib.import_module(self.target)

        def exec_module(self, module):
            pass

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            prefix, _, name = fullname.partition(".")
            if prefix != __name__ or name not in MOVED:
                return None
            return importlib.util.spec_from_loader(fullname, _Alias(f"{__name__}.{MOVED[name]}"))

    if not any(type(f).__name__ == "_Finder" and getattr(f, "package", None) == __name__ for f in sys.meta_path):
        finder = _Finder()
        finder.package = __name__
        sys.meta_path.append(finder)


_install_moved_module_finder()
