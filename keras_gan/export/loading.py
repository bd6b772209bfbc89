"""Loading exports back and running them: SavedModel, ONNX Runtime sessions, sampling."""

import json
import os

import numpy as np

from keras_gan.export._common import (
    DEFAULT_MAX_BATCH_SIZE, _IMAGES, _LABEL, _Z, _check_inputs, _draw_latent,
    _saved_model_version_dir, read_metadata,
)


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


_ONNX_SESSIONS = {}


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
    return generate_exported(path, draw_exported_latents(path, int(num), int(seed)), labels)


def draw_exported_latents(path, num, seed):
    """``num`` latent vectors drawn as :func:`sample_exported` draws them for ``seed`` (the library's generator).

    Args:
        path: a SavedModel directory or an ``.onnx`` file.
        num: number of vectors.
        seed: integer seed.

    Returns:
        A float32 numpy array ``[num, latent_dim]``, equal to the exported model's ``sample_latent(num, seed)``.
    """
    metadata = read_metadata(os.fspath(path))
    return _draw_latent(int(num), int(seed), int(metadata["latent_dim"]), metadata["prior"]).numpy()


def generate_exported(path, z, labels=None):
    """Runs an exported generator on given latent vectors, in batches of the export's largest batch.

    Args:
        path: a SavedModel directory (base or version) or an ``.onnx`` file.
        z: ``[num, latent_dim]`` latent vectors.
        labels: for a conditional generator: an int, ``num`` ints, or None (classes in turn).

    Returns:
        A numpy array ``[num, *image_shape]`` (float32 in ``[-1, 1]``, or uint8 for a ``uint8=True`` export).

    Example:

    >>> z = draw_exported_latents("/tmp/models/gan", 4, seed=0)  # doctest: +SKIP
    >>> generate_exported("/tmp/models/gan", z * 0.7).shape  # doctest: +SKIP
    (4, 8, 8, 1)
    """
    path = os.fspath(path)
    metadata = read_metadata(path)
    z = np.asarray(z, np.float32)
    latent_dim = int(metadata["latent_dim"])
    if z.ndim != 2 or z.shape[1] != latent_dim or len(z) < 1:
        raise ValueError(f"z must be [num >= 1, {latent_dim}], got shape {z.shape}.")
    num = len(z)
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
