"""Export trained generators to SavedModel (TF Serving) and ONNX (ONNX Runtime).

A deployed GAN is its generator. This module writes it in the two formats that
production teams serve, and reads the exports back:

* :func:`export_saved_model` writes the TF Serving layout ``<path>/<version>/``
  with two signatures (inputs and outputs named explicitly, dynamic batch):

  - ``serving_default``: ``z`` (float32 ``[None, latent_dim]``) and, for a
    conditional generator, ``label`` (int32 ``[None]``) -> ``{"images": ...}``;
  - ``sample``: ``batch_size`` (int32 scalar), ``seed`` (int64 scalar) and, for
    a conditional generator, ``label`` (int32 ``[None]``) -> ``{"images", "z"}``.
    The model draws ``z`` from its own prior, so a client need not know it.

* :func:`export_onnx` converts the same traced ``training=False`` function with
  tf2onnx (inputs ``z`` / ``label``, output ``images``, dynamic batch).

Both formats carry the same metadata (latent size, prior, image shape, library
versions, training config): a JSON asset ``assets/keras_gan_metadata.json`` in
the SavedModel, the model's metadata properties in ONNX (one property per key,
each value JSON-encoded). Read it with :func:`read_metadata`.

Images are float32 in ``[-1, 1]``, NHWC, or with ``uint8=True`` uint8 in
``[0, 255]`` (``round((x + 1) * 127.5)``).

Noise: ``z`` for ``num`` samples with ``seed`` is
``tf.random.stateless_uniform([num, latent_dim], seed=[seed, 0], -1, 1)``
(uniform prior) or ``tf.random.stateless_normal(...)`` (normal prior), exactly
as :meth:`keras_gan.models.AdversarialModel.sample_latent` draws it, so
``sample_exported(path, n, seed)`` returns the images ``model.generate(n, seed)``
returns.

Writes are atomic: each export is built in a hidden temporary directory (or
file) beside its target, checked against the Keras model, and only then moved
into place; an export that fails leaves the previous one untouched.

Example:

>>> import keras_gan
>>> from keras_gan import export
>>> model = keras_gan.models.DCGAN(image_shape=(8, 8, 1), base_filters=8)
>>> export.export_saved_model(model, "/tmp/gan")  # doctest: +SKIP
'/tmp/gan/1'
>>> export.export_onnx(model, "/tmp/gan.onnx")  # doctest: +SKIP
'/tmp/gan.onnx'
>>> export.sample_exported("/tmp/gan.onnx", num=16, seed=0).shape  # doctest: +SKIP
(16, 8, 8, 1)
"""

from keras_gan.export._common import (  # noqa: F401
    DEFAULT_MAX_BATCH_SIZE, DEFAULT_OPSET, METADATA_FILENAME, METADATA_FORMAT, PRIORS, read_metadata,
)
from keras_gan.export.loading import (  # noqa: F401
    draw_exported_latents, generate_exported, load_saved_model_generator, onnx_generate, onnx_session,
    onnx_session_options, onnx_threads, sample_exported,
)
from keras_gan.export.onnx_file import export_onnx  # noqa: F401
from keras_gan.export.parity import check_parity  # noqa: F401
from keras_gan.export.saved_model import export_saved_model  # noqa: F401

__all__ = ["export_saved_model", "export_onnx", "check_parity", "read_metadata", "load_saved_model_generator",
           "onnx_session", "onnx_session_options", "onnx_threads", "onnx_generate", "sample_exported",
           "generate_exported", "draw_exported_latents",
           "METADATA_FILENAME", "METADATA_FORMAT", "DEFAULT_OPSET", "DEFAULT_MAX_BATCH_SIZE", "PRIORS"]
