"""Parity: an export's images against the Keras generator's on the same inputs."""

import os

import numpy as np

from keras_gan.export._common import _draw_latent, _forward, _resolve, read_metadata
from keras_gan.export.loading import load_saved_model_generator, onnx_generate


def _probe_inputs(spec, num, seed):
    z = _draw_latent(num, seed, spec.latent_dim, spec.prior).numpy()
    labels = np.arange(num, dtype=np.int32) % (spec.num_classes or 1) if spec.conditional else None
    return z, labels


def _keras_outputs(spec, uint8, z, labels):
    import tensorflow as tf

    forward = _forward(spec, uint8)
    return forward(tf.constant(z), None if labels is None else tf.constant(labels)).numpy()


def _max_abs_diff(a, b):
    if a.shape != b.shape:
        raise RuntimeError(f"Exported output shape {b.shape} differs from the Keras output shape {a.shape}.")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _verify(spec, uint8, run_exported, atol, what):
    """Raises if the export's output differs from the Keras model's on a probe batch."""
    z, labels = _probe_inputs(spec, 7, seed=1234)
    expected = _keras_outputs(spec, uint8, z, labels)
    diff = _max_abs_diff(expected, run_exported(z, labels))
    limit = 1.0 if uint8 else atol  # uint8: rounding at a .5 boundary may differ by one level
    if not diff <= limit:
        raise RuntimeError(
            f"The {what} export does not match the Keras generator: max |difference| = {diff:.3g} "
            f"> {limit:g} on a batch of 7. Nothing was replaced."
        )
    return diff


def check_parity(model_or_generator, path, batch_sizes=(1, 7, 64), seed=0, prior=None):
    """Measures how far an export's outputs are from the Keras generator's.

    Args:
        model_or_generator: what was exported (see :func:`export_saved_model`).
        path: the SavedModel directory or the ``.onnx`` file.
        batch_sizes: batch sizes to compare at.
        seed: seed of the probe latents (and labels cycle through the classes).
        prior: the prior, for a bare generator (default: the export's).

    Returns:
        ``{batch_size: max absolute difference}`` (uint8 exports compare in
        pixel levels).

    Example:

    >>> check_parity(model, "/tmp/gan")  # doctest: +SKIP
    {1: 0.0, 7: 0.0, 64: 0.0}
    """
    metadata = read_metadata(path)
    if prior is None and not hasattr(model_or_generator, "latent_dim"):
        prior = metadata["prior"]  # a bare generator: probe with the export's prior
    spec = _resolve(model_or_generator, prior, metadata.get("num_classes"))
    uint8 = metadata["output"]["dtype"] == "uint8"
    if os.path.isfile(os.fspath(path)):
        run = lambda z, labels: onnx_generate(path, z, labels)  # noqa: E731
    else:
        run = load_saved_model_generator(path)
    result = {}
    for batch in batch_sizes:
        z, labels = _probe_inputs(spec, int(batch), seed)
        result[int(batch)] = _max_abs_diff(_keras_outputs(spec, uint8, z, labels), run(z, labels))
    return result

