"""What both export formats share: the generator's spec, its traced functions, metadata, checks."""

import dataclasses
import datetime
import json
import os
import shutil
import uuid
from typing import Optional

import numpy as np

METADATA_FILENAME = "keras_gan_metadata.json"
METADATA_FORMAT = "keras_gan.export/1"
DEFAULT_OPSET = 17
DEFAULT_MAX_BATCH_SIZE = 1024
PRIORS = ("uniform", "normal")
_Z, _LABEL, _IMAGES = "z", "label", "images"


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

