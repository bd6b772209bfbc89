"""Shared helpers of the analysis experiments: claims, atomic JSON and PNG writes."""

import json
import os
import tempfile

import numpy as np


def claim(name, statement, value, threshold, holds):
    """One checked statement of an experiment, as stored in its JSON.

    Args:
        name: short key, e.g. ``"max_abs_error"``.
        statement: the claim in words, with the comparison it makes.
        value: the measured number (or list of numbers).
        threshold: the tolerance it is compared with.
        holds: whether the claim holds for this run.

    Returns:
        A JSON-ready dict.
    """
    return {
        "name": name,
        "statement": statement,
        "value": to_jsonable(value),
        "threshold": to_jsonable(threshold),
        "holds": bool(holds),
    }


def to_jsonable(value):
    """numpy scalars and arrays (nested in dicts, lists, tuples) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return value


def write_json(path, data):
    """Writes ``data`` as indented JSON, atomically (temp file + ``os.replace``).

    Infinite values are written as ``Infinity`` (what Python's ``json`` writes
    and reads back); NaN as ``NaN``.
    """
    text = json.dumps(to_jsonable(data), indent=2, allow_nan=True) + "\n"
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def save_figure(figure, path, dpi=120):
    """Saves a matplotlib ``Figure`` as PNG, atomically."""
    _atomic_write(path, lambda f: figure.savefig(f, format="png", dpi=dpi))


def new_figure(width, height):
    """A matplotlib ``Figure`` on the Agg canvas (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _atomic_write(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
