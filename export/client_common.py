"""Shared, dependency-free helpers of the keras_gan deployment clients.

The REST, gRPC and ONNX Runtime clients in this folder validate every batch
with :func:`validate_batch` before it leaves the machine, so a bad request
fails here with one clear message instead of as a server stack trace. This
module uses only the Python standard library (numpy and Pillow only inside
:func:`save_grid`), and none of the clients imports keras_gan.
"""

import json
import math
import os
import random
import tempfile

DEFAULT_MAX_BATCH_SIZE = 1024
PRIORS = ("uniform", "normal")
_FLOAT32_MAX = 3.4028234663852886e38


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value):
    # numpy integers are not ``int`` subclasses: accept anything with __index__.
    if isinstance(value, bool):
        return False
    try:
        value.__index__()
        return True
    except (AttributeError, TypeError):
        return False


def validate_batch(z, labels=None, latent_dim=None, conditional=False, num_classes=None,
                   max_batch_size=DEFAULT_MAX_BATCH_SIZE):
    """Checks a batch of latents (and labels) against what the model accepts.

    Args:
        z: a sequence of rows, each a sequence of ``latent_dim`` numbers
            (a numpy array ``[batch, latent_dim]`` works too).
        labels: one integer class per row for a conditional model, else None.
        latent_dim: the model's latent size (from the signature or metadata).
        conditional: whether the model takes a ``label`` input.
        num_classes: number of classes, if known (labels must lie in ``[0, num_classes)``).
        max_batch_size: the largest batch one request may hold.

    Returns:
        ``(z, labels)`` as lists: rows of Python floats, and Python ints or None.

    Raises:
        ValueError: naming the bad value and what is allowed.
    """
    dtype = getattr(z, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "f") != "f":
        raise ValueError(f"z has dtype {dtype}; expected floating-point numbers (float32).")
    if hasattr(z, "tolist"):
        z = z.tolist()
    if isinstance(z, (str, bytes)) or not hasattr(z, "__len__"):
        raise ValueError(f"z must be a 2-D list [batch, {latent_dim}] of numbers, got {type(z).__name__}.")
    batch = len(z)
    if batch == 0:
        raise ValueError("z is empty: send at least one row.")
    if batch > max_batch_size:
        raise ValueError(
            f"batch of {batch} is too large: at most {max_batch_size} rows per request; split it into "
            "several requests."
        )
    rows = []
    for i, row in enumerate(z):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise ValueError(
                f"z[{i}] is {row!r} ({type(row).__name__}); z must be 2-D: [batch, {latent_dim}] numbers."
            )
        if latent_dim is not None and len(row) != latent_dim:
            raise ValueError(
                f"z[{i}] has {len(row)} values, but the model's latent size is {latent_dim}."
            )
        for j, value in enumerate(row):
            if not _is_number(value):
                raise ValueError(
                    f"z[{i}][{j}] is {value!r} ({type(value).__name__}); z must hold numbers (float32)."
                )
            if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
                raise ValueError(f"z[{i}][{j}] is {value}; z must be finite float32 values.")
        rows.append([float(v) for v in row])
    if not conditional:
        if labels is not None:
            raise ValueError("labels were given, but the model is not conditional (it has no 'label' input).")
        return rows, None
    return rows, validate_labels(labels, batch, num_classes)


def validate_labels(labels, batch, num_classes=None):
    """Checks the labels of a conditional model: ``batch`` integers in ``[0, num_classes)``.

    Returns:
        The labels as a list of Python ints.

    Raises:
        ValueError: naming the bad label and what is allowed.
    """
    if labels is None:
        raise ValueError("The model is conditional: give one integer label per row of z.")
    if hasattr(labels, "tolist"):
        labels = labels.tolist()
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__") or len(labels) != batch:
        raise ValueError(f"labels must be a list of {batch} integers (one per row of z), got {labels!r}.")
    out = []
    for i, label in enumerate(labels):
        if not _is_integer(label):
            raise ValueError(f"labels[{i}] is {label!r} ({type(label).__name__}); labels must be integers (int32).")
        label = int(label)
        if label < 0 or label >= 2**31 or (num_classes is not None and label >= num_classes):
            allowed = f"[0, {num_classes})" if num_classes is not None else "[0, 2**31)"
            raise ValueError(f"labels[{i}] is {label}, outside {allowed}.")
        out.append(label)
    return out


def validate_sample_args(batch_size, seed, max_batch_size=DEFAULT_MAX_BATCH_SIZE):
    """Checks the arguments of the ``sample`` signature; returns ``(batch_size, seed)`` as ints."""
    if not _is_integer(batch_size) or not 1 <= int(batch_size) <= max_batch_size:
        raise ValueError(f"batch_size must be an integer from 1 to {max_batch_size}, got {batch_size!r}.")
    if not _is_integer(seed) or not -(2**63) <= int(seed) < 2**63:
        raise ValueError(f"seed must be an integer (int64), got {seed!r}.")
    return int(batch_size), int(seed)


def add_server_arguments(parser, server, out):
    """The command-line options the REST and gRPC clients share.

    Args:
        parser: an ``argparse.ArgumentParser``.
        server: default server address.
        out: default output file, with its description.
    """
    parser.add_argument("--server", default=server, help="TF Serving address")
    parser.add_argument("--model", default="gan", help="model name in TF Serving")
    parser.add_argument("--version", type=int, default=None, help="model version (default: the served one)")
    parser.add_argument("--num", type=int, default=16, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--labels", default=None, help="comma-separated class labels (conditional models)")
    parser.add_argument("--prior", default="uniform", choices=PRIORS,
                        help="prior of the latents drawn here (the model's prior; see its metadata)")
    parser.add_argument("--server-noise", action="store_true",
                        help="let the 'sample' signature draw the latents from the model's prior")
    parser.add_argument("--max-batch-size", type=int, default=DEFAULT_MAX_BATCH_SIZE)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--out", default=out[0], help=out[1])


def draw_latent(num, latent_dim, prior="uniform", seed=0):
    """Draws ``num`` latent rows from the prior with Python's ``random`` (stdlib only).

    The library draws its own noise with TensorFlow's stateless generator; use
    the ``sample`` signature when you need exactly the library's latents.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")
    rng = random.Random(seed)
    draw = (lambda: rng.uniform(-1.0, 1.0)) if prior == "uniform" else (lambda: rng.gauss(0.0, 1.0))
    return [[draw() for _ in range(latent_dim)] for _ in range(num)]


def parse_labels(text):
    """``"1,2,3"`` -> ``[1, 2, 3]``, with a clear error for anything else."""
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--labels must be comma-separated integers, got {text!r}.") from None


def write_json(path, data):
    """Writes JSON atomically (temporary file in the same directory, then os.replace)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_grid(images, path, info=None, pad=1):
    """Writes images as a PNG grid, and beside it a JSON file with the numbers behind it.

    Args:
        images: array-like ``[n, height, width, channels]``, float in
            ``[-1, 1]`` or uint8 in ``[0, 255]``.
        path: the PNG file; the JSON goes to the same name with ``.json``.
        info: extra JSON-serializable fields for the JSON file (inputs, model...).
        pad: gray pixels between images.

    Returns:
        ``(png_path, json_path)``.
    """
    import numpy as np
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [n, height, width, 1 or 3], got shape {images.shape}.")
    if images.dtype != np.uint8:
        images = np.clip(np.round((images.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    n, h, w, c = images.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.full([rows * (h + pad) - pad, cols * (w + pad) - pad, c], 128, np.uint8)
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = r * (h + pad), q * (w + pad)
        grid[top : top + h, left : left + w] = images[k]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    os.close(fd)
    try:
        Image.fromarray(grid[..., 0] if c == 1 else grid).save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    json_path = os.path.splitext(path)[0] + ".json"
    write_json(json_path, {
        **(info or {}),
        "grid": {"rows": rows, "cols": cols, "pad": pad, "image_shape": [h, w, c], "num_images": n},
        "images_uint8": images.tolist(),
    })
    return path, json_path
