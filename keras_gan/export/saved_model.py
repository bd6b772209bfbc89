"""Writing a generator as a TF Serving SavedModel (``<path>/<version>/``, two signatures)."""

import os
import shutil
import tempfile
import json


from keras_gan.export._common import (
    DEFAULT_MAX_BATCH_SIZE, METADATA_FILENAME, _IMAGES, _LABEL, _Z, _check_common, _metadata, _replace_dir,
    _resolve, _sampling_function, _serving_function,
)
from keras_gan.export.loading import _LoadedSavedModel
from keras_gan.export.parity import _verify


def export_saved_model(
    model_or_generator,
    path,
    version=1,
    uint8=False,
    prior=None,
    num_classes=None,
    training_config=None,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    verify=True,
    atol=1e-4,
):
    """Exports a generator as a TF Serving SavedModel at ``<path>/<version>/``.

    Signatures (see the module docstring): ``serving_default`` maps ``z``
    (float32 ``[None, latent_dim]``) and, for a conditional generator,
    ``label`` (int32 ``[None]``) to ``{"images": ...}``; ``sample`` maps
    ``batch_size`` (int32 scalar) and ``seed`` (int64 scalar) (and ``label``)
    to ``{"images": ..., "z": ...}``, drawing ``z`` from the model's prior.
    The metadata is the asset ``assets/keras_gan_metadata.json``.

    Args:
        model_or_generator: an ``AdversarialModel`` (its ``ema_generator`` if
            it has one, else its ``generator``; latent size and prior from
            the model) or a generator ``keras.Model`` with input ``z`` or
            inputs ``[z, label]`` (conditional).
        path: the model's base directory (what TF Serving's ``base_path``
            points to); created if missing.
        version: the version subdirectory, an integer >= 1. An existing
            version is kept until the new one is complete and verified, then
            swapped by two renames (a served model is better rolled out
            under a new version number, which TF Serving picks up).
        uint8: output uint8 images in ``[0, 255]`` instead of float32 in ``[-1, 1]``.
        prior: ``"uniform"`` or ``"normal"`` for a bare generator (default
            ``"uniform"``); must agree with an ``AdversarialModel``'s prior.
        num_classes: classes of a conditional generator (default: the
            ``input_dim`` of the Embedding that reads the label, if any).
        training_config: JSON-serializable dict stored in the metadata
            (for example the run's config).
        max_batch_size: largest ``batch_size`` the ``sample`` signature
            accepts (it allocates the batch itself); clients check it too.
        verify: load the export and compare it with the Keras generator on a
            probe batch before moving it into place.
        atol: largest max-absolute difference that ``verify`` accepts. The
            gate catches broken exports (a wrong batch-norm mode is off by
            1e-2 or more); measured differences are far smaller (0 for the
            SavedModel; about 7e-6 for ONNX at 64x64x3 with 128 base filters).

    Returns:
        The path of the version directory, ``<path>/<version>``.

    Raises:
        ValueError: for a model or argument that cannot be exported.
        RuntimeError: if ``verify`` finds the export does not match.

    Example:

    >>> model = keras_gan.models.DCGAN(image_shape=(8, 8, 1), base_filters=8)
    >>> export_saved_model(model, "/tmp/models/gan", version=1)  # doctest: +SKIP
    '/tmp/models/gan/1'
    """
    import tensorflow as tf

    spec = _resolve(model_or_generator, prior, num_classes)
    _check_common(version, max_batch_size, uint8, spec)
    version = int(version)
    path = os.path.abspath(os.fspath(path))
    final_dir = os.path.join(path, str(version))
    metadata = _metadata(
        spec, uint8, int(max_batch_size), training_config, "saved_model",
        {"signatures": {
            "serving_default": {"inputs": [_Z, _LABEL] if spec.conditional else [_Z], "outputs": [_IMAGES]},
            "sample": {
                "inputs": ["batch_size", "seed"] + ([_LABEL] if spec.conditional else []),
                "outputs": [_IMAGES, _Z],
            },
        }, "version": version},
    )

    from keras_gan.kernels import _tf as _conv

    module = tf.Module(name="keras_gan_generator")
    module.generator = spec.generator
    module.serve = _serving_function(spec, uint8)
    module.sample = _sampling_function(spec, uint8, int(max_batch_size))
    with _conv._forward_only():  # the trained forward forms, without custom gradients a server never needs
        signatures = {
            "serving_default": module.serve.get_concrete_function(),
            "sample": module.sample.get_concrete_function(),
        }

    os.makedirs(path, exist_ok=True)
    # Hidden, non-numeric names: TF Serving only loads numbered version directories.
    tmp_dir = tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=path)
    try:
        with tempfile.TemporaryDirectory() as meta_dir:
            meta_path = os.path.join(meta_dir, METADATA_FILENAME)
            with open(meta_path, "w") as f:
                json.dump(metadata, f, indent=2)
            module.metadata_file = tf.saved_model.Asset(meta_path)
            with _conv._forward_only():
                tf.saved_model.save(module, tmp_dir, signatures=signatures)
        if verify:
            loaded = _LoadedSavedModel(tmp_dir)
            _verify(spec, uint8, loaded, atol, "SavedModel")
        _replace_dir(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir

