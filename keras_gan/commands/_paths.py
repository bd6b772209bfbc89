"""Checks of the command line's paths, and files that fail to load turned into one clear line.

Every function raises :class:`~keras_gan.errors.UsageError` (exit 2, one line on
stderr) naming the option, the path and what is wrong with it.
"""

import contextlib
import os

from keras_gan.errors import UsageError, first_line
from keras_gan.files import probe_writable


def output_dir(flag, path):
    """``path`` may be used as an output directory (created if missing); returns it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path!r} is a file; expected a directory (created if missing).")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag} {path!r} cannot be created: {e.strerror}.") from None
    try:
        probe_writable(path)
    except OSError as e:
        raise UsageError(f"{flag} {path!r} is not writable: {e.strerror}.") from None
    return path


def output_file(flag, path):
    """``path`` may be written as a file (its folder is created if missing); returns it."""
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path!r} is a directory; expected a file name.")
    output_dir(flag, os.path.dirname(os.path.abspath(path)))
    return path


def json_file(flag, path):
    """``path`` names a ``.json`` file that may be written; returns it.

    Checked before a long job starts (a benchmark runs for minutes), so that a
    bad name does not throw its results away at the end.
    """
    if not path.endswith(".json"):
        raise UsageError(f"{flag} must name a .json file, got {path!r}.")
    return output_file(flag, path)


def input_file(flag, path, kind="file"):
    """``path`` exists and is a regular file; returns it."""
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r} does not exist.")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path!r} is a directory; expected {kind}.")
    return path


def input_dir(flag, path, kind="a directory"):
    """``path`` exists and is a directory; returns it."""
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r} does not exist.")
    if not os.path.isdir(path):
        raise UsageError(f"{flag} {path!r} is a file; expected {kind}.")
    return path


@contextlib.contextmanager
def loading(flag, path, kind):
    """Turns any error while loading ``path`` into a :class:`UsageError` naming it.

    A truncated or foreign file fails inside protobuf, ONNX Runtime, h5py,
    zipfile or TensorFlow with their own exception types; the user gets
    ``FLAG PATH is not a readable KIND: <first line of the reason>``.
    """
    try:
        yield
    except UsageError:
        raise
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 -- the whole point: one line, not a traceback
        raise UsageError(f"{flag} {path!r} is not a readable {kind}: {type(e).__name__}: {first_line(e)}") from None
