"""The on-disk cache of timed convolution forms, shared by the TensorFlow and JAX form choosers.

One JSON file per backend in ``~/.cache/keras_gan`` (``KERAS_GAN_CACHE_DIR`` moves it), holding
``{machine fingerprint: {shape key: form}}``. Imports nothing heavy (the JAX side runs without TensorFlow).
"""

import json
import logging
import os
import tempfile

_log = logging.getLogger(__name__)


def path(filename):
    """The cache file ``filename`` in ``KERAS_GAN_CACHE_DIR`` or ``~/.cache/keras_gan``."""
    folder = os.environ.get("KERAS_GAN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "keras_gan")
    return os.path.join(folder, filename)


def load(filename, fingerprint):
    """The entries saved for ``fingerprint`` (a machine class) in ``filename``; ``{}`` if none or unreadable."""
    try:
        with open(path(filename)) as fh:
            return dict(json.load(fh).get(fingerprint, {}))
    except (OSError, ValueError, AttributeError):
        return {}


def save(filename, fingerprint, key, form):
    """Adds one choice to the cache (read, merge, write to a temporary name, rename); a read-only home is no error."""
    target = path(filename)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            with open(target) as fh:
                everything = json.load(fh)
        except (OSError, ValueError):
            everything = {}
        everything.setdefault(fingerprint, {})[key] = form
        stem = os.path.splitext(filename)[0]
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{stem}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(everything, fh, indent=1, sort_keys=True)
        os.replace(tmp, target)
    except OSError as err:  # the choice still holds for this process
        _log.debug("conv form cache not written (%s): %s", target, err)
