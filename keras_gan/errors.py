"""Errors the command line turns into one clear line and exit code 2."""


class UsageError(ValueError):
    """Bad input from the user: a config key, a value, a path or a dataset name.

    The message names the bad value and what is allowed. ``keras-gan`` prints
    it on one line and exits with code 2, before any work starts.
    """


def first_line(error, limit=300, empty="(no message)"):
    """The first line of ``error``'s message, at most ``limit`` characters (``empty`` if it has none).

    For the one-line messages that replace a traceback.
    """
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else empty


class DatasetNotPreparedError(UsageError):
    """A tensorflow-datasets dataset that has not been downloaded and prepared here."""


class DatasetDamagedError(UsageError):
    """A prepared tensorflow-datasets dataset whose files are missing or cut short (one keras-gan cannot rebuild)."""
