"""Atomic file writes: every file keras-gan writes goes to a temporary name beside it and is renamed.

A killed process never leaves a half-written checkpoint, history, picture or JSON file behind, and a
reader never sees one (``os.replace`` is atomic on one file system).

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.json")
>>> write_json(path, {"a": 1})
>>> import json; json.load(open(path))
{'a': 1}
"""

import contextlib
import json
import os
import tempfile


def cache_folder():
    """keras-gan's cache folder (the convolution forms, JAX's compiled programs): ``KERAS_GAN_CACHE_DIR``, else
    ``~/.cache/keras_gan``. Not created here.

    Example:

    >>> cache_folder() == (os.environ.get("KERAS_GAN_CACHE_DIR") or os.path.expanduser("~/.cache/keras_gan"))
    True
    """
    return os.environ.get("KERAS_GAN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "keras_gan")


def probe_writable(folder):
    """Makes and removes a file in ``folder``; raises ``OSError`` where that fails.

    Not ``os.access``: root passes that check on read-only mounts and ``/proc``.

    Example:

    >>> probe_writable(tempfile.mkdtemp())
    """
    fd, probe = tempfile.mkstemp(prefix=".keras_gan_probe_", dir=folder)
    os.close(fd)
    os.remove(probe)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside ``path``; renames it to ``path`` if the block succeeds.

    Args:
        path: the final file path.

    Example:

    >>> with atomic_path("/tmp/x.json") as tmp:  # doctest: +SKIP
    ...     open(tmp, "w").write("{}")
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, obj):
    """Writes ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, sort_keys=False)
            fh.write("\n")


def write_text(path, text):
    """Writes ``text`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
