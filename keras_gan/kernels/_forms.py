"""What the TensorFlow and JAX convolution-form choosers share (``keras_gan.kernels._tf``, ``keras_gan.kernels._jax``).

The ``KERAS_GAN_CONV_FORMS`` mode, the stride-2 "same" padding and sub-pixel index arithmetic, the CPU part
of a machine key, and :func:`pick`: take a shape's form from this process, else from the on-disk cache, else
time the candidates and keep the fastest if it beats the stock form by 10%. The cache is one JSON file per
backend in ``~/.cache/keras_gan`` (``KERAS_GAN_CACHE_DIR`` moves it), ``{machine key: {shape key: form}}``.
Imports nothing heavy: the JAX side runs on machines without TensorFlow.
"""

import json
import logging
import os
import tempfile

import numpy as np

from keras_gan.files import cache_folder
from keras_gan.kernels import _machine

MODES = ("autotune", "static", "plain")
ENV = "KERAS_GAN_CONV_FORMS"
MARGIN = 0.9  # an alternative form must take at most 90% of the stock form's time

_log = logging.getLogger(__name__)


def mode(forced=None):
    """The form-choice mode: ``forced`` if given, else ``KERAS_GAN_CONV_FORMS`` (default ``autotune``).

    Raises:
        ValueError: for a value other than ``autotune``, ``static`` or ``plain``.
    """
    value = forced or os.environ.get(ENV, "autotune").strip().lower() or "autotune"
    if value not in MODES:
        raise ValueError(f"{ENV}={os.environ.get(ENV)!r} is not allowed; expected one of {', '.join(MODES)}.")
    return value


def same_output_hw(in_hw, strides=(2, 2)):
    """``(height, width)`` of a "same" convolution's output: each side of ``in_hw`` over its stride, rounded up.

    >>> same_output_hw((7, 8))
    (4, 4)
    """
    return tuple(-(-size // stride) for size, stride in zip(in_hw, strides))


def same_padding(size, kernel, stride):
    """``(before, after)`` padding of a "same" convolution (TensorFlow's rule: the smaller half before)."""
    (out,) = same_output_hw((size,), (stride,))
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def subpixel_indices(kernel):
    """For the stride-2 SAME transposed convolution: the kernel tap feeding each (window offset, phase).

    Output row ``2m + r`` sums input rows ``m + d`` times kernel row
    ``a = r + p - 2d`` (``p`` = the forward convolution's top padding). Returns
    the window offsets ``d`` and an index array ``[len(d), 2]`` into the
    kernel rows, where ``kernel`` (one past the last row) means zero.
    """
    p = max(kernel - 2, 0) // 2  # SAME, stride 2, even size: total padding kernel - 2, the smaller half on top
    offsets = sorted({(r + p - a) // 2 for r in (0, 1) for a in range(kernel) if (r + p - a) % 2 == 0})
    index = np.full((len(offsets), 2), kernel, dtype=np.int32)
    for i, d in enumerate(offsets):
        for r in (0, 1):
            a = r + p - 2 * d
            if 0 <= a < kernel:
                index[i, r] = a
    return offsets, index


def subpixel_taps(kernel):
    """:func:`subpixel_indices` as one index per (row offset, column offset, row phase, column phase).

    Returns:
        ``(offsets, taps)``: ``taps`` ``[len(offsets), len(offsets), 2, 2]`` int32, the flat index
        ``row * kernel + column`` of the kernel tap, or ``kernel * kernel`` where either is a zero tap.

    Example:

    >>> offsets, taps = subpixel_taps(5)
    >>> offsets, taps.shape, int(taps[1, 1, 0, 0])   # offset 0 in both directions, phase (0, 0): tap (1, 1)
    ([-1, 0, 1], (3, 3, 2, 2), 6)
    """
    offsets, index = subpixel_indices(kernel)
    rows, cols = index[:, None, :, None], index[None, :, None, :]
    taps = np.where((rows < kernel) & (cols < kernel), rows * kernel + cols, kernel * kernel)
    return offsets, taps.astype(np.int32)


def cpu_key():
    """The CPU part of a machine key: model name and the vector extensions that change the kernels."""
    cpu, have = _machine.cpu_model_and_flags()
    return f"{cpu}|" + "+".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in have)


def _path(filename):
    return os.path.join(cache_folder(), filename)


def _read(filename):
    """The cache file's ``{machine key: {shape key: form}}``; ``{}`` if missing, unreadable or of another shape."""
    try:
        with open(_path(filename)) as fh:
            everything = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(everything, dict):
        return {}
    return {k: v for k, v in everything.items() if isinstance(v, dict)}


def _load(filename, fingerprint):
    return dict(_read(filename).get(fingerprint, {}))


def _save(filename, fingerprint, key, form):
    """Adds one choice to the cache (read, merge, write to a temporary name, rename); a read-only home is no error."""
    target = _path(filename)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        everything = _read(filename)  # a file of another shape (a list, a damaged entry) is written anew
        everything.setdefault(fingerprint, {})[key] = form
        stem = os.path.splitext(filename)[0]
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{stem}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(everything, fh, indent=1, sort_keys=True)
        os.replace(tmp, target)
    except OSError as err:  # the choice still holds for this process
        _log.debug("conv form cache not written (%s): %s", target, err)


def pick(key, forms, stock, time_forms, choices, disk, filename, fingerprint):
    """The form for ``key``: this process's choice, else the cached one, else the fastest by timing.

    Args:
        key: the shape key.
        forms: the candidate forms (``stock`` among them).
        stock: the stock form, kept unless another takes at most ``MARGIN`` of its time.
        time_forms: ``time_forms() -> {form: seconds}`` over ``forms``, called only when nothing is cached.
        choices: this process's ``{key: form}`` (updated).
        disk: ``{"loaded": bool, "entries": dict}``, the cache file's entries for this machine, read once.
        filename: the cache file's name.
        fingerprint: ``fingerprint() -> str``, the machine key.

    Returns:
        The chosen form (also written to ``choices`` and, when timed, to the cache file).
    """
    if key in choices:
        return choices[key]
    if not disk["loaded"]:
        disk["loaded"] = True
        disk["entries"] = _load(filename, fingerprint())
    form = disk["entries"].get(key)
    if form not in forms:
        seconds = time_forms()
        fastest = min(seconds, key=seconds.get)
        form = fastest if seconds[fastest] <= MARGIN * seconds[stock] else stock
        _log.info("conv form %s: %s (%s)", key, form, ", ".join(f"{f} {1e3 * s:.2f} ms" for f, s in seconds.items()))
        _save(filename, fingerprint(), key, form)
    choices[key] = form
    return form
