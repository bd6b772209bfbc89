"""Shared helpers of the analysis experiments: claims, atomic JSON and PNG writes."""

import json
import os
import tempfile

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


# The ring of 8 Gaussians of VEEGAN (Srivastava et al. 2017): radius 2, std 0.02.
RING_MODES, RING_RADIUS, RING_STD = 8, 2.0, 0.02


def ring_centers(modes=RING_MODES, radius=RING_RADIUS):
    """Mode centers of the ring, ``[modes, 2]``."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_samples(num, seed, modes=RING_MODES, radius=RING_RADIUS, std=RING_STD):
    """``num`` samples of the ring (equal weights), float32 ``[num, 2]``."""
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)[rng.integers(0, modes, size=num)]
    return (centers + std * rng.normal(size=(num, 2))).astype("float32")


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
