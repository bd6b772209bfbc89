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

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import uuid
from typing import Optional

import numpy as np

METADATA_FILENAME = "keras_gan_metadata.json"
METADATA_FORMAT = "keras_gan.export/1"
DEFAULT_OPSET = 17
DEFAULT_MAX_BATCH_SIZE = 1024
PRIORS = ("uniform", "normal")

_Z, _LABEL, _IMAGES = "z", "label", "images"


# --------------------------------------------------------------- the generator
@dataclasses.dataclass
class _Spec:
    """What an export needs to know about a generator."""

    generator: "keras.Model"  # noqa: F821 (keras is imported lazily)
    latent_dim: int
    prior: str
    conditional: bool
    label_rank: Optional[int]  # 1 or 2 for a conditional generator, else None
    num_classes: Optional[int]
    sample_shape: list
    source: str  # "generator" or "ema_generator"
    model_info: dict


def _resolve(model_or_generator, prior=None, num_classes=None):
    """Finds the generator, latent size, prior and conditioning of what is exported."""
    import keras

    model = model_or_generator
    model_info = {"class": type(model).__name__, "name": getattr(model, "name", None)}
    if hasattr(model, "generator") and hasattr(model, "latent_dim"):
        # An AdversarialModel (or anything shaped like one): export the EMA
        # generator when training kept one, else the generator.
        ema = getattr(model, "ema_generator", None)
        generator, source = (ema, "ema_generator") if ema is not None else (model.generator, "generator")
        latent_dim = int(model.latent_dim)
        model_prior = getattr(model, "prior", "uniform")
        if prior is not None and prior != model_prior:
            raise ValueError(
                f"prior={prior!r} contradicts the model's prior {model_prior!r}; "
                "leave prior=None to use the model's."
            )
        prior = model_prior
        for key in ("loss_name", "d_steps", "gradient_penalty", "r1_gamma", "clip_weights", "seed"):
            if getattr(model, key, None) is not None:
                model_info[key] = getattr(model, key)
    elif isinstance(model, keras.Model):
        generator, source, latent_dim = model, "generator", None
        prior = "uniform" if prior is None else prior
    else:
        raise ValueError(
            "model_or_generator must be a keras_gan AdversarialModel or a generator keras.Model, "
            f"got {type(model).__name__}."
        )
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")

    inputs = getattr(generator, "inputs", None)
    if not inputs or len(inputs) not in (1, 2):
        raise ValueError(
            "The generator must be a built functional keras.Model with one input z [batch, latent_dim] "
            f"or two inputs [z, label]; got inputs={inputs!r}."
        )
    z_in = inputs[0]
    if len(z_in.shape) != 2 or z_in.shape[-1] is None or "float" not in str(z_in.dtype):
        raise ValueError(
            f"The generator's first input must be z, float [batch, latent_dim]; got shape {z_in.shape} "
            f"and dtype {z_in.dtype}."
        )
    if latent_dim is not None and latent_dim != int(z_in.shape[-1]):
        raise ValueError(
            f"The model's latent_dim={latent_dim} does not match its generator's input size {z_in.shape[-1]}."
        )
    latent_dim = int(z_in.shape[-1])

    conditional, label_rank = len(inputs) == 2, None
    if conditional:
        label_in = inputs[1]
        label_rank = len(label_in.shape)
        if "int" not in str(label_in.dtype) or not (
            label_rank == 1 or (label_rank == 2 and label_in.shape[-1] == 1)
        ):
            raise ValueError(
                "A conditional generator's second input must be an integer label of shape [batch] "
                f"(or [batch, 1]); got shape {label_in.shape} and dtype {label_in.dtype}."
            )
        if num_classes is None:
            num_classes = _infer_num_classes(generator, label_in)
    elif num_classes is not None:
        raise ValueError(f"num_classes={num_classes} was given, but the generator has no label input.")
    if num_classes is not None and int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")

    outputs = generator.outputs
    if len(outputs) != 1 or any(d is None for d in outputs[0].shape[1:]):
        raise ValueError(
            f"The generator must have one output with a static shape but for the batch; got {outputs!r}."
        )
    sample_shape = [int(d) for d in outputs[0].shape[1:]]
    return _Spec(
        generator, latent_dim, prior, conditional, label_rank,
        None if num_classes is None else int(num_classes), sample_shape, source, model_info,
    )


def _infer_num_classes(generator, label_input):
    """The ``input_dim`` of the Embedding that reads the label, or None if there is not exactly one."""
    import keras

    found = []
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Embedding):
            try:
                reads_label = layer.input is label_input
            except (AttributeError, ValueError):
                reads_label = False
            if reads_label:
                found.append(int(layer.input_dim))
    return found[0] if len(found) == 1 else None


# ------------------------------------------------------------ traced functions
def _draw_latent(num, seed, latent_dim, prior):
    """``z`` as :meth:`AdversarialModel.sample_latent` draws it (stateless, seeded by ``[seed, 0]``)."""
    import tensorflow as tf

    from keras_gan.models import draw_latent

    shape = tf.stack([tf.cast(num, tf.int32), tf.constant(latent_dim, tf.int32)])
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return draw_latent(prior, shape, seed)


def _forward(spec, uint8):
    """``(z, label) -> images``, batch norm in inference mode, float32 or uint8 output."""
    import tensorflow as tf

    def forward(z, label=None):
        if spec.conditional:
            if spec.label_rank == 2:
                label = tf.expand_dims(label, -1)
            images = spec.generator([z, label], training=False)
        else:
            images = spec.generator(z, training=False)
        images = tf.cast(images, tf.float32)
        if uint8:
            images = tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)
        return images

    return forward


def _input_signature(spec):
    import tensorflow as tf

    signature = [tf.TensorSpec([None, spec.latent_dim], tf.float32, name=_Z)]
    if spec.conditional:
        signature.append(tf.TensorSpec([None], tf.int32, name=_LABEL))
    return signature


def _serving_function(spec, uint8):
    """The ``serving_default`` tf.function: named inputs, a dict output ``{"images"}``."""
    import tensorflow as tf

    forward = _forward(spec, uint8)
    if spec.conditional:
        def serve(z, label):
            return {_IMAGES: forward(z, label)}
    else:
        def serve(z):
            return {_IMAGES: forward(z)}
    return tf.function(serve, input_signature=_input_signature(spec), autograph=False)


def _sampling_function(spec, uint8, max_batch_size):
    """The ``sample`` tf.function: ``(batch_size, seed[, label]) -> {"images", "z"}``."""
    import tensorflow as tf

    forward = _forward(spec, uint8)

    def draw(batch_size, seed, checks):
        checks = [
            tf.debugging.assert_greater_equal(batch_size, 1, message="batch_size must be >= 1"),
            tf.debugging.assert_less_equal(
                batch_size, max_batch_size, message=f"batch_size must be <= {max_batch_size}"
            ),
        ] + checks
        with tf.control_dependencies(checks):
            return _draw_latent(batch_size, seed, spec.latent_dim, spec.prior)

    batch_spec = tf.TensorSpec([], tf.int32, name="batch_size")
    seed_spec = tf.TensorSpec([], tf.int64, name="seed")
    if spec.conditional:
        def sample(batch_size, seed, label):
            same = tf.debugging.assert_equal(
                tf.shape(label)[0], batch_size, message="label must hold batch_size labels"
            )
            z = draw(batch_size, seed, [same])
            return {_IMAGES: forward(z, label), _Z: z}

        signature = [batch_spec, seed_spec, tf.TensorSpec([None], tf.int32, name=_LABEL)]
    else:
        def sample(batch_size, seed):
            z = draw(batch_size, seed, [])
            return {_IMAGES: forward(z), _Z: z}

        signature = [batch_spec, seed_spec]
    return tf.function(sample, input_signature=signature, autograph=False)


# ------------------------------------------------------------------- metadata
def _metadata(spec, uint8, max_batch_size, training_config, fmt, extra=None):
    import keras
    import tensorflow as tf

    import keras_gan

    images = len(spec.sample_shape) == 3
    inputs = {_Z: {"dtype": "float32", "shape": [None, spec.latent_dim]}}
    if spec.conditional:
        inputs[_LABEL] = {"dtype": "int32", "shape": [None], "num_classes": spec.num_classes}
    metadata = {
        "format": METADATA_FORMAT,
        "export_format": fmt,
        "latent_dim": spec.latent_dim,
        "prior": spec.prior,
        "prior_params": (
            {"minval": -1.0, "maxval": 1.0} if spec.prior == "uniform" else {"mean": 0.0, "stddev": 1.0}
        ),
        "noise": (
            f"z = tf.random.stateless_{spec.prior}([num, latent_dim], seed=[seed, 0]"
            + (", minval=-1, maxval=1)" if spec.prior == "uniform" else ")")
        ),
        "image_shape": spec.sample_shape,
        "conditional": spec.conditional,
        "num_classes": spec.num_classes,
        "inputs": inputs,
        "output": {
            "name": _IMAGES,
            "dtype": "uint8" if uint8 else "float32",
            # Image generators end in tanh; other outputs (2-D mixtures) are unbounded.
            "range": [0, 255] if uint8 else ([-1.0, 1.0] if images else None),
            "layout": "NHWC" if images else None,
            "shape": [None] + spec.sample_shape,
        },
        "max_batch_size": max_batch_size,
        "source": spec.source,
        "model": spec.model_info,
        "training_config": training_config,
        "versions": {
            "keras_gan": keras_gan.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    metadata.update(extra or {})
    # Round-trip through JSON now, so that a config that is not JSON fails before any write.
    try:
        return json.loads(json.dumps(metadata))
    except TypeError as err:
        raise ValueError(f"training_config must be JSON-serializable: {err}") from None


def read_metadata(path):
    """Reads the metadata of an export.

    Args:
        path: a SavedModel directory (the versioned ``<path>/<version>`` or its
            parent, whose highest version is read) or an ``.onnx`` file.

    Returns:
        The metadata dict (``latent_dim``, ``prior``, ``image_shape``,
        ``conditional``, ``num_classes``, ``output``, ``versions``, ...).

    Example:

    >>> read_metadata("/tmp/gan")["latent_dim"]  # doctest: +SKIP
    100
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path={path!r} does not exist: expected a SavedModel directory or an .onnx file.")
    if os.path.isfile(path):
        import onnx

        props = onnx.load(path, load_external_data=False).metadata_props
        if not props:
            raise ValueError(f"{path} has no keras_gan metadata: it was not written by keras_gan.export.")
        return {p.key: json.loads(p.value) for p in props}
    version_dir = _saved_model_version_dir(path)
    meta_path = os.path.join(version_dir, "assets", METADATA_FILENAME)
    if not os.path.exists(meta_path):
        raise ValueError(f"{version_dir} has no {METADATA_FILENAME}: it was not written by keras_gan.export.")
    with open(meta_path) as f:
        return json.load(f)


def _saved_model_version_dir(path):
    """``path`` if it holds a saved_model.pb, else its highest numeric version."""
    path = os.fspath(path)
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(d) for d in (os.listdir(path) if os.path.isdir(path) else []) if d.isdigit()
                      and os.path.exists(os.path.join(path, d, "saved_model.pb")))
    if not versions:
        raise ValueError(
            f"path={path!r} is neither a SavedModel directory nor a directory of numbered versions "
            "(<path>/<version>/saved_model.pb)."
        )
    return os.path.join(path, str(versions[-1]))


# ------------------------------------------------------------------ checking
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


# -------------------------------------------------------------- atomic writes
def _replace_dir(tmp_dir, final_dir):
    """Moves a finished ``tmp_dir`` to ``final_dir``, keeping the old one until the new one is in place."""
    old = None
    if os.path.exists(final_dir):
        # Two renames, not one: POSIX cannot rename a directory over a non-empty one.
        old = os.path.join(os.path.dirname(final_dir), f".{os.path.basename(final_dir)}.old-{uuid.uuid4().hex}")
        os.rename(final_dir, old)
    try:
        os.rename(tmp_dir, final_dir)
    except BaseException:
        if old is not None:
            os.rename(old, final_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -------------------------------------------------------------------- export
def _check_common(version, max_batch_size, uint8, spec):
    if uint8 and len(spec.sample_shape) != 3:
        raise ValueError(
            f"uint8=True needs an image generator (output [batch, height, width, channels]); "
            f"this one outputs [batch, {', '.join(map(str, spec.sample_shape))}]."
        )
    if int(max_batch_size) < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}.")
    if version is not None and (isinstance(version, bool) or int(version) != version or int(version) < 1):
        raise ValueError(f"version must be an integer >= 1, got {version!r}.")


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

    module = tf.Module(name="keras_gan_generator")
    module.generator = spec.generator
    module.serve = _serving_function(spec, uint8)
    module.sample = _sampling_function(spec, uint8, int(max_batch_size))
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
            tf.saved_model.save(module, tmp_dir, signatures=signatures)
        if verify:
            loaded = _LoadedSavedModel(tmp_dir)
            _verify(spec, uint8, loaded, atol, "SavedModel")
        _replace_dir(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def export_onnx(
    model_or_generator,
    path,
    opset=DEFAULT_OPSET,
    uint8=False,
    prior=None,
    num_classes=None,
    training_config=None,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    verify=True,
    atol=1e-4,
    optimize=True,
):
    """Exports a generator to an ONNX file through tf2onnx.

    The graph is the traced ``training=False`` function of the generator
    (batch norm in inference mode): inputs ``z`` (float32 ``[batch,
    latent_dim]``) and, for a conditional generator, ``label`` (int32
    ``[batch]``); output ``images``; the batch dimension is dynamic and named
    ``batch``. The model passes ``onnx.checker`` (full check) and holds the
    metadata as metadata properties (JSON-encoded values). ONNX has no
    sampling signature: draw ``z`` from the prior in ``metadata["prior"]``.

    The graph is written in the forms ONNX Runtime runs fastest, which are
    not TensorFlow's (measured: docs/export.md, "Inference speed"): the
    stride-2 convolutions are traced as the stock TensorFlow ops (ONNX
    ``ConvTranspose`` / ``Conv``, whatever ``KERAS_GAN_CONV_FORMS`` says),
    then ``keras_gan._onnx_graph.optimize`` turns those on tiny feature maps
    into one matrix product each and folds batch norm and the layout changes
    into the matrix products' weights. The rewrites are listed in the
    metadata property ``graph_rewrites``.

    Args:
        model_or_generator: see :func:`export_saved_model`.
        path: the ``.onnx`` file to write (replaced atomically).
        opset: ONNX opset (tf2onnx 1.17 supports up to 18).
        uint8, prior, num_classes, training_config, max_batch_size, verify,
            atol: as in :func:`export_saved_model` (``verify`` runs ONNX Runtime).
        optimize: False writes the graph as tf2onnx converts the TensorFlow
            forms (the forms ``KERAS_GAN_CONV_FORMS`` chooses, no rewrites):
            the previous releases' export, kept for comparison.

    Returns:
        ``path``.

    Raises:
        ValueError: for a model or argument that cannot be exported.
        RuntimeError: if ``verify`` finds the export does not match.

    Example:

    >>> export_onnx(model, "/tmp/gan.onnx")  # doctest: +SKIP
    '/tmp/gan.onnx'
    """
    try:
        import onnx
        import tf2onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"export_onnx needs tf2onnx and onnx: pip install keras-gan (it installs tf2onnx and onnx) ({err}).") from err

    spec = _resolve(model_or_generator, prior, num_classes)
    _check_common(None, max_batch_size, uint8, spec)
    if isinstance(opset, bool) or int(opset) != opset or not 13 <= int(opset) <= 18:
        raise ValueError(f"opset must be an integer from 13 to 18 (tf2onnx {tf2onnx.__version__}), got {opset!r}.")
    path = os.path.abspath(os.fspath(path))
    metadata = _metadata(spec, uint8, int(max_batch_size), training_config, "onnx", {"opset": int(opset)})

    fn = _serving_function(spec, uint8)
    if optimize:
        from keras_gan import _onnx_graph
        from keras_gan.kernels import _tf as _conv

        with _conv._forced_mode("plain"):  # ONNX ConvTranspose / Conv; _onnx_graph picks the faster forms
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=int(opset))
    else:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=int(opset))
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    if optimize:
        original = onnx.ModelProto()
        original.CopyFrom(proto)
        try:
            proto, rewrites = _onnx_graph.optimize(proto)
        except Exception as err:  # noqa: BLE001 - a speed rewrite must never cost the export
            import warnings

            proto, rewrites = original, [f"none: the rewrite failed ({type(err).__name__}: {err})"]
            warnings.warn(f"export_onnx: graph rewrites skipped, {rewrites[0][6:]}", RuntimeWarning, stacklevel=2)
        metadata["graph_rewrites"] = rewrites
    proto.doc_string = (
        f"keras_gan generator: {_Z} [batch, {spec.latent_dim}] ({spec.prior} prior)"
        + (f", {_LABEL} [batch]" if spec.conditional else "")
        + f" -> {_IMAGES} [batch, {', '.join(map(str, spec.sample_shape))}] {metadata['output']['dtype']}"
    )
    onnx.helper.set_model_props(proto, {key: json.dumps(value) for key, value in metadata.items()})
    onnx.checker.check_model(proto, full_check=True)

    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        onnx.save(proto, tmp_path)
        if verify:
            session = onnx_session(tmp_path)
            _verify(spec, uint8, lambda z, labels: _onnx_run(session, z, labels), atol, "ONNX")
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


# ---------------------------------------------------------------------- load
def _check_inputs(z, label, latent_dim, conditional, num_classes=None):
    """Validates a batch before it reaches a runtime; returns (z float32, label int32 or None)."""
    z = np.asarray(z)
    if z.dtype.kind not in "fiu" or z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"z must be a float array [batch, {latent_dim}], got dtype {z.dtype} and shape {z.shape}.")
    z = z.astype(np.float32)
    if not conditional:
        if label is not None:
            raise ValueError("label was given, but this generator is not conditional.")
        return z, None
    if label is None:
        raise ValueError("This generator is conditional: pass label, an int array [batch].")
    label = np.asarray(label)
    if label.dtype.kind not in "iu" or label.shape != (z.shape[0],):
        raise ValueError(
            f"label must be an int array [{z.shape[0]}] (one per row of z), got dtype {label.dtype} "
            f"and shape {label.shape}."
        )
    if num_classes is not None and label.size and (label.min() < 0 or label.max() >= num_classes):
        raise ValueError(f"label values must be in [0, {num_classes}), got {label.min()}..{label.max()}.")
    return z, label.astype(np.int32)


class _LoadedSavedModel:
    """A SavedModel generator loaded with ``tf.saved_model.load``; call it as ``(z, label=None) -> numpy``."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = _saved_model_version_dir(path)
        self.metadata = read_metadata(self.path)
        self._loaded = tf.saved_model.load(self.path)
        self._serve = self._loaded.signatures["serving_default"]
        self._sample = self._loaded.signatures["sample"]
        self.latent_dim = int(self.metadata["latent_dim"])
        self.conditional = bool(self.metadata["conditional"])

    def __call__(self, z, label=None):
        import tensorflow as tf

        z, label = _check_inputs(z, label, self.latent_dim, self.conditional, self.metadata.get("num_classes"))
        feed = {_Z: tf.constant(z)}
        if label is not None:
            feed[_LABEL] = tf.constant(label)
        return self._serve(**feed)[_IMAGES].numpy()

    def sample(self, batch_size, seed, label=None):
        """Calls the ``sample`` signature: ``(images, z)`` for ``batch_size`` latents drawn with ``seed``."""
        import tensorflow as tf

        feed = {"batch_size": tf.constant(int(batch_size), tf.int32), "seed": tf.constant(int(seed), tf.int64)}
        if self.conditional:
            feed[_LABEL] = tf.constant(np.asarray(label, np.int32))
        out = self._sample(**feed)
        return out[_IMAGES].numpy(), out[_Z].numpy()


def load_saved_model_generator(path):
    """Loads an exported SavedModel generator with ``tf.saved_model.load``.

    Args:
        path: the version directory, or the base directory (its highest
            numbered version is loaded).

    Returns:
        A callable ``(z, label=None) -> numpy images`` (the ``serving_default``
        signature) with attributes ``metadata``, ``latent_dim``,
        ``conditional``, ``path`` and a method ``sample(batch_size, seed,
        label=None) -> (images, z)`` (the ``sample`` signature).

    Example:

    >>> g = load_saved_model_generator("/tmp/models/gan")  # doctest: +SKIP
    >>> g(np.zeros([2, g.latent_dim], np.float32)).shape  # doctest: +SKIP
    (2, 8, 8, 1)
    """
    return _LoadedSavedModel(path)


_ONNX_SESSIONS = {}


def onnx_threads():
    """The CPU cores this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def onnx_session_options(threads=None, spin=False):
    """The ONNX Runtime session options of every keras_gan ONNX session.

    Used by the export check, :func:`onnx_generate` (``keras-gan sample
    --onnx``) and ``keras-gan bench inference``; ``export/onnx_client.py``
    sets the same (it cannot import keras_gan; a test compares them).

    * graph optimizations ``ORT_ENABLE_ALL`` (constant folding, Conv/Gemm +
      activation fusion, the NCHWc layout for convolutions);
    * sequential execution, one inter-op thread (the generator is a chain:
      nothing runs in parallel);
    * ``intra_op_num_threads``: ``threads``, default the cores this process
      may use (:func:`onnx_threads`);
    * ``session.intra_op.allow_spinning`` off unless ``spin``: an idle worker
      sleeps instead of spinning; on a CPU shared with other jobs a spinning
      worker that is descheduled stalls every parallel operation (measured:
      docs/export.md).

    Args:
        threads: intra-op threads; None or 0 for :func:`onnx_threads`.
        spin: let idle intra-op threads spin (ONNX Runtime's own default).

    Returns:
        An ``onnxruntime.SessionOptions``.
    """
    import onnxruntime as ort

    if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 0):
        raise ValueError(f"threads must be an integer >= 0, got {threads!r}.")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = int(threads) if threads else onnx_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return options


def onnx_session(path, threads=None, spin=False):
    """An ONNX Runtime CPU session of ``path`` with :func:`onnx_session_options`.

    Example:

    >>> session = onnx_session("/tmp/gan.onnx")  # doctest: +SKIP
    >>> session.run(["images"], {"z": np.zeros([2, 100], np.float32)})[0].shape  # doctest: +SKIP
    (2, 8, 8, 1)
    """
    import onnxruntime as ort

    return ort.InferenceSession(os.fspath(path), onnx_session_options(threads, spin),
                                providers=["CPUExecutionProvider"])


def _onnx_session(path):
    """An :func:`onnx_session`, cached per file version (path, mtime, size)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _ONNX_SESSIONS:
        if len(_ONNX_SESSIONS) >= 8:
            _ONNX_SESSIONS.clear()
        _ONNX_SESSIONS[key] = onnx_session(path)
    return _ONNX_SESSIONS[key]


def _onnx_run(session, z, label=None):
    names = [i.name for i in session.get_inputs()]
    latent_dim = session.get_inputs()[0].shape[1]
    num_classes = json.loads(session.get_modelmeta().custom_metadata_map.get("num_classes", "null"))
    z, label = _check_inputs(z, label, latent_dim, _LABEL in names, num_classes)
    feed = {_Z: z}
    if label is not None:
        feed[_LABEL] = label
    return session.run([_IMAGES], feed)[0]


def onnx_generate(path, z, label=None):
    """Runs an exported ONNX generator in ONNX Runtime.

    Args:
        path: the ``.onnx`` file.
        z: latents, float array ``[batch, latent_dim]``.
        label: int array ``[batch]`` for a conditional generator, else None.

    Returns:
        Images as a numpy array (float32 in ``[-1, 1]`` or uint8).

    Raises:
        ValueError: if ``z`` or ``label`` do not fit the model.

    Example:

    >>> onnx_generate("/tmp/gan.onnx", np.zeros([2, 100], np.float32)).shape  # doctest: +SKIP
    (2, 8, 8, 1)
    """
    return _onnx_run(_onnx_session(os.fspath(path)), z, label)


def sample_exported(path, num, seed, labels=None):
    """Generates ``num`` samples from an export, drawing ``z`` as the library does.

    ``z`` is drawn from the export's prior with the same stateless generator as
    :meth:`AdversarialModel.sample_latent`, so the result equals
    ``model.generate(num, seed)`` of the exported model (up to the parity
    tolerance).

    Args:
        path: a SavedModel directory (base or version) or an ``.onnx`` file.
        num: number of samples, >= 1.
        seed: integer seed.
        labels: for a conditional generator: an int (one class for all), a
            sequence of ``num`` ints, or None (classes in turn,
            ``i % num_classes``).

    Returns:
        A numpy array ``[num, *image_shape]``: float32 in ``[-1, 1]``, or
        uint8 in ``[0, 255]`` if the export was made with ``uint8=True``.

    Example:

    >>> sample_exported("/tmp/models/gan", num=16, seed=0).shape  # doctest: +SKIP
    (16, 8, 8, 1)
    """
    if isinstance(num, bool) or int(num) != num or int(num) < 1:
        raise ValueError(f"num must be an integer >= 1, got {num!r}.")
    num, seed = int(num), int(seed)
    path = os.fspath(path)
    metadata = read_metadata(path)
    z = _draw_latent(num, seed, int(metadata["latent_dim"]), metadata["prior"]).numpy()
    label = None
    if metadata["conditional"]:
        num_classes = metadata.get("num_classes")
        if labels is None:
            if num_classes is None:
                raise ValueError("labels is required: the export does not record its number of classes.")
            label = np.arange(num) % num_classes
        elif np.ndim(labels) == 0:
            label = np.full([num], int(labels))
        else:
            label = np.asarray(labels)
            if label.shape != (num,):
                raise ValueError(f"labels must hold num={num} labels, got shape {label.shape}.")
        label = label.astype(np.int32)
    elif labels is not None:
        raise ValueError(f"labels was given, but the export at {path} is not conditional.")

    run = (lambda zz, ll: onnx_generate(path, zz, ll)) if os.path.isfile(path) else load_saved_model_generator(path)
    step = int(metadata.get("max_batch_size") or DEFAULT_MAX_BATCH_SIZE)
    out = [
        run(z[i : i + step], None if label is None else label[i : i + step]) for i in range(0, num, step)
    ]
    return np.concatenate(out, axis=0)
