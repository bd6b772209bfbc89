"""Feature extractors for sample-quality metrics (FID, KID, IS, precision/recall).

An extractor maps a batch of images in ``[-1, 1]`` (NHWC) to feature vectors
and, when it has a classifier head, to class probabilities (for the Inception
Score). Three are built in:

* ``"digits"`` (:class:`DigitsExtractor`): a small CNN classifier trained
  deterministically on the embedded digits' training split and cached on
  disk. It runs anywhere with no network, so digits runs get digits-FID,
  digits-KID, digits-IS and precision/recall out of the box. Features are its
  64-unit penultimate layer; probabilities are its softmax over the 10 digits.
* ``"mnist5k"`` (:class:`Mnist5kExtractor`): the same recipe at 28x28,
  trained on the 4,000 training digits of ``mnist5k`` (128-d features); the
  default for mnist5k runs.
* ``"inception"`` (:class:`InceptionExtractor`): InceptionV3 from
  ``keras.applications`` with weights read from a local file (2048-d pool
  features; ImageNet probabilities when the file holds the top). No machine
  here can download the weights, so this extractor never tries to: it checks
  the file first and fails with a message that says how to get it.

Example:

>>> extractor = get_extractor("digits")  # trains once (~10 s), then cached
>>> out = extractor(images)  # images: [n, 8, 8, 1] in [-1, 1]
>>> out.features.shape, out.probabilities.shape
((n, 64), (n, 10))
"""

import collections
import hashlib
import json
import os
import sys
import warnings
import zipfile

import numpy as np

#: Names accepted by :func:`get_extractor`.
EXTRACTORS = ("digits", "mnist5k", "inception")

#: What an extractor returns for a batch: features ``[n, d]`` (float32) and
#: class probabilities ``[n, classes]`` (or ``None`` without a classifier head).
ExtractorOutput = collections.namedtuple("ExtractorOutput", ["features", "probabilities"])

# Bump when the digits classifier's architecture or training changes: it is
# part of the cache key, so an old cached model is never reused by mistake.
_DIGITS_CLASSIFIER_VERSION = 1
_DIGITS_EPOCHS = 60
_DIGITS_BATCH_SIZE = 64
_DIGITS_FEATURE_DIM = 64

INCEPTION_WEIGHTS_ENV = "KERAS_GAN_INCEPTION_WEIGHTS"
_INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
_INCEPTION_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + _INCEPTION_FILE
)


def cache_dir():
    """The directory where keras-gan caches models it builds itself.

    ``KERAS_GAN_CACHE`` if set (this folder's own older name), else keras-gan's cache folder
    (:func:`keras_gan.files.cache_folder`: ``KERAS_GAN_CACHE_DIR``, else ``~/.cache/keras_gan``), where the
    convolution forms and JAX's compiled programs are kept too.
    """
    from keras_gan.files import cache_folder

    return os.environ.get("KERAS_GAN_CACHE") or cache_folder()


class FeatureExtractor:
    """Base class: images in ``[-1, 1]`` NHWC -> :data:`ExtractorOutput`.

    Subclasses set :attr:`name`, :attr:`feature_dim` and :attr:`num_classes`
    and implement :meth:`__call__` and :meth:`settings`.
    """

    name = None
    feature_dim = None
    num_classes = None

    def __call__(self, images):
        """Features (and probabilities) of one batch.

        Args:
            images: array ``[n, height, width, channels]`` in ``[-1, 1]``.

        Returns:
            :data:`ExtractorOutput` of numpy float32 arrays.
        """
        raise NotImplementedError

    def settings(self):
        """A JSON-able dict of everything that changes the numbers (stored beside each score)."""
        return {"name": self.name, "feature_dim": self.feature_dim, "num_classes": self.num_classes}


def _inference(model, x):
    """``model``'s outputs on ``x`` as float32 numpy arrays (a tuple), with no gradient taped on any backend.

    ``np.asarray`` of a torch output failed ("Can't call numpy() on Tensor that requires grad"): a torch
    evaluation ended in that traceback.
    """
    import keras

    from keras_gan.models import _backend

    with _backend.inference():
        out = model(x, training=False)
    out = out if isinstance(out, (list, tuple)) else (out,)
    return tuple(np.asarray(keras.ops.convert_to_numpy(o), np.float32) for o in out)


def _check_images(images, argument="images"):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{argument} must be a batch of images [n, height, width, 1 or 3] in [-1, 1], got shape {images.shape}."
        )
    return images.astype(np.float32, copy=False)


# ------------------------------------------------- embedded digit classifiers
# One recipe for the digits (8x8) and mnist5k (28x28) classifiers: a small CNN
# trained deterministically on the dataset's train split, cached on disk.
# Bump a version when its architecture or training changes: it is part of the
# cache key, so an old cached model is never reused by mistake.
_CLASSIFIERS = {
    "digits": {
        "version": _DIGITS_CLASSIFIER_VERSION, "epochs": _DIGITS_EPOCHS, "batch_size": _DIGITS_BATCH_SIZE,
        "feature_dim": _DIGITS_FEATURE_DIM, "shape": (8, 8, 1), "label": "digits",
    },
    "mnist5k": {
        "version": 1, "epochs": 30, "batch_size": 64, "feature_dim": 128, "shape": (28, 28, 1), "label": "mnist5k",
    },
}


def _dataset_arrays(name):
    """(x_train, y_train, x_test, y_test) of an embedded dataset, in [-1, 1]."""
    from keras_gan import data

    x_train, y_train = data.load_arrays(name, "train")
    x_test, y_test = data.load_arrays(name, "test")
    return x_train, y_train, x_test, y_test


def _digits_data():
    """(x_train, y_train, x_test, y_test) of the embedded digits, in [-1, 1]."""
    return _dataset_arrays("digits")


def _shift_augment(images, rng):
    """Moves each image by a random offset in {-1, 0, 1}^2 pixels, filling with background (-1)."""
    # A one-pixel jitter; keras.layers.RandomTranslation would draw from TF's
    # global state, this draws from the caller's seeded numpy generator.
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    dy, dx = rng.integers(0, 3, len(images)), rng.integers(0, 3, len(images))
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    for oy in range(3):
        for ox in range(3):
            rows = (dy == oy) & (dx == ox)
            out[rows] = padded[rows, oy : oy + height, ox : ox + width]
    return out


def _build_digits_classifier(seed):
    import keras
    from keras import layers

    def init(i):
        return keras.initializers.GlorotUniform(seed=seed * 100 + i)

    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init(0), name="conv1")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(1), name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.5, seed=seed, name="dropout")(x)
    x = layers.Dense(_DIGITS_FEATURE_DIM, activation="relu", kernel_initializer=init(2), name="features")(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer=init(3), name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_classifier")


def _build_mnist5k_classifier(seed):
    """28x28: 3x3 convs 32 (stride 2) and 64 (stride 2), dropout 0.5, 128-unit features, softmax over 10."""
    import keras
    from keras import layers

    def init(i):
        return keras.initializers.GlorotUniform(seed=seed * 100 + i)

    inputs = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(0), name="conv1")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(1), name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.5, seed=seed, name="dropout")(x)
    x = layers.Dense(_CLASSIFIERS["mnist5k"]["feature_dim"], activation="relu", kernel_initializer=init(2),
                     name="features")(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer=init(3), name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist5k_classifier")


_BUILDERS = {"digits": _build_digits_classifier, "mnist5k": _build_mnist5k_classifier}


def train_classifier(name, epochs=None, seed=0, verbose=0):
    """Trains the embedded classifier of ``name`` (``"digits"`` or ``"mnist5k"``) deterministically.

    Adam, random one-pixel shifts, on ``keras_gan.data.load_arrays(name, "train")``.
    The order of the examples comes from a numpy generator seeded by ``seed``
    and every initializer and dropout layer has its own seed, so no global
    random state is read or changed.

    Args:
        name: ``"digits"`` or ``"mnist5k"``.
        epochs: passes over the training split (default: the classifier's own, 60 for digits, 30 for mnist5k).
        seed: seed of the initializers, dropout and example order.
        verbose: Keras verbosity of the training.

    Returns:
        ``(model, metadata)``: the trained ``keras.Model`` and a dict with its
        test accuracy (on the ``test`` split), sizes and settings.
    """
    import keras

    spec = _classifier_spec(name)
    epochs = spec["epochs"] if epochs is None else int(epochs)
    seed = int(seed)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    x_train, y_train, x_test, y_test = _dataset_arrays(name)
    model = _BUILDERS[name](seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # The epochs' shuffles and one-pixel shifts are drawn up front from one seeded
    # numpy generator and fed in order (shuffle=False): no global random state.
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x_train)) for _ in range(epochs)])
    model.fit(_shift_augment(x_train[order], rng), y_train[order], batch_size=spec["batch_size"], epochs=1,
              shuffle=False, verbose=verbose)
    probs = model.predict(x_test, batch_size=512, verbose=0)
    test_accuracy = float(np.mean(np.argmax(probs, axis=1) == y_test))
    train_accuracy = float(np.mean(np.argmax(model.predict(x_train, batch_size=512, verbose=0), axis=1) == y_train))
    metadata = {
        "version": spec["version"],
        "data": f"keras_gan.data.load_arrays('{name}', 'train') / ('{name}', 'test')",
        "train_size": int(len(x_train)),
        "test_size": int(len(x_test)),
        "epochs": epochs,
        "batch_size": spec["batch_size"],
        "seed": seed,
        "augmentation": "random shift in {-1, 0, 1}^2 pixels",
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        "feature_layer": "features",
        "feature_dim": spec["feature_dim"],
        "keras_version": keras.__version__,
    }
    return model, metadata


def _classifier_spec(name):
    if name not in _CLASSIFIERS:
        raise ValueError(f"No embedded classifier for {name!r}; allowed: {', '.join(_CLASSIFIERS)}.")
    return _CLASSIFIERS[name]


def train_digits_classifier(epochs=_DIGITS_EPOCHS, seed=0, verbose=0):
    """Trains the digits classifier deterministically (same seed, same weights).

    A small CNN (two 3x3 convolutions, dropout 0.5, a 64-unit dense layer, a
    softmax over 10 digits) trained with Adam, with random one-pixel shifts, on the embedded digits' training split
    (``keras_gan.data.load_arrays("digits", "train")``, 1,437 images); see :func:`train_classifier`.

    Args:
        epochs: passes over the training split.
        seed: seed of the initializers, dropout and example order.
        verbose: Keras verbosity of the training.

    Returns:
        ``(model, metadata)``: the trained ``keras.Model`` and a dict with its
        test accuracy (on the 360-image ``test`` split), sizes and settings.

    Example:

    >>> model, meta = train_digits_classifier()
    >>> meta["test_accuracy"] > 0.9
    True
    """
    return train_classifier("digits", epochs=epochs, seed=seed, verbose=verbose)


def _cache_key(name, epochs, seed):
    x_train, y_train, _, _ = _dataset_arrays(name)
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x_train, np.float32).tobytes())
    digest.update(np.ascontiguousarray(y_train, np.int64).tobytes())
    digest.update(f"v{_classifier_spec(name)['version']}-e{epochs}-s{seed}".encode())
    return digest.hexdigest()[:16]


def _digits_cache_key(epochs, seed):
    return _cache_key("digits", epochs, seed)


def load_classifier(name, directory=None, epochs=None, seed=0, verbose=1):
    """The cached embedded classifier of ``name``, trained and cached on first use.

    The cache holds ``<name>_classifier-<key>.keras`` and a ``.json`` beside
    it with the test accuracy and the training settings. The key hashes the
    training data, the classifier version, ``epochs`` and ``seed``; both files
    are written atomically (temp file, then ``os.replace``), the JSON last, so
    a half-written cache is never read; one that cannot be read (cut short
    or replaced since) is trained again, with one line on stderr that names it.

    Args:
        name: ``"digits"`` or ``"mnist5k"``.
        directory: cache directory (default :func:`cache_dir`).
        epochs: training epochs (part of the cache key; default: the classifier's own).
        seed: training seed (part of the cache key).
        verbose: print a line when training.

    Returns:
        ``(model, metadata)`` as in :func:`train_classifier`.
    """
    import keras

    from keras_gan.errors import first_line

    spec = _classifier_spec(name)
    epochs = spec["epochs"] if epochs is None else int(epochs)
    directory = directory or cache_dir()
    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, f"{name}_classifier-{_cache_key(name, epochs, seed)}")
    model_path, meta_path = stem + ".keras", stem + ".json"
    if os.path.exists(model_path) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                metadata = json.load(f)
            if not isinstance(metadata, dict):
                raise ValueError(f"{os.path.basename(meta_path)} holds no JSON object")
            if not zipfile.is_zipfile(model_path):  # Keras would say "File not found"
                raise ValueError(f"{os.path.basename(model_path)} is not a complete .keras (zip) file")
            return keras.saving.load_model(model_path, compile=False), metadata
        except Exception as err:  # a cut-short or foreign file: this cache is rebuilt, as on first use
            why = first_line(err, 160, type(err).__name__)
            print(f"the cached {spec['label']} classifier {stem}.* cannot be read ({why}): training it again",
                  file=sys.stderr, flush=True)
    if verbose:
        print(f"Training the {spec['label']} feature classifier (once; cached in {directory}) ...", flush=True)
    if name == "digits":  # looked up at call time, so a patched train_digits_classifier is the one used
        model, metadata = train_digits_classifier(epochs=epochs, seed=seed)
    else:
        model, metadata = train_classifier(name, epochs=epochs, seed=seed)
    from keras_gan import files

    with files.atomic_path(model_path) as tmp:
        model.save(tmp)
    files.write_json(meta_path, metadata)
    if verbose:
        print(f"{spec['label'].capitalize()} classifier test accuracy: {metadata['test_accuracy']:.4f}", flush=True)
    return model, metadata


def load_digits_classifier(directory=None, epochs=_DIGITS_EPOCHS, seed=0, verbose=1):
    """The cached digits classifier, trained and cached on first use (:func:`load_classifier` for ``"digits"``).

    Returns:
        ``(model, metadata)`` as in :func:`train_digits_classifier`.
    """
    return load_classifier("digits", directory, epochs=epochs, seed=seed, verbose=verbose)


class DigitsExtractor(FeatureExtractor):
    """Features of the embedded digits classifier (offline; the default for digits).

    Images of another size or with 3 channels are converted to grayscale and
    resized to 8x8 (antialiased bilinear) first, so digits runs at any
    ``image_size`` can be scored; the features mean something only for
    digit-like images.

    Args:
        model: a trained classifier (default: :func:`load_digits_classifier`).
        metadata: its metadata dict (stored in :meth:`settings`).
        directory: cache directory for :func:`load_digits_classifier`.
        verbose: print a line if the classifier must be trained.

    Example:

    >>> out = DigitsExtractor()(images)
    """

    name = "digits"
    num_classes = 10

    def __init__(self, model=None, metadata=None, directory=None, verbose=1):
        import keras

        if model is None:
            model, metadata = load_classifier(self.name, directory, verbose=verbose)
        self.metadata = dict(metadata or {})
        self._model = keras.Model(
            model.inputs[0], [model.get_layer("features").output, model.outputs[0]], name=f"{self.name}_features"
        )
        self.feature_dim = int(self._model.outputs[0].shape[-1])
        self._shape = tuple(_CLASSIFIERS[self.name]["shape"])

    def __call__(self, images):
        import tensorflow as tf

        images = _check_images(images)
        if images.shape[1:] != self._shape:
            x = tf.convert_to_tensor(images)
            if x.shape[-1] == 3:
                x = tf.image.rgb_to_grayscale(x)
            images = tf.image.resize(x, self._shape[:2], antialias=True).numpy()
        features, probs = _inference(self._model, images)
        return ExtractorOutput(features, probs)

    def settings(self):
        return {
            **super().settings(),
            "input": f"grayscale {self._shape[0]}x{self._shape[1]} in [-1, 1] (antialiased bilinear resize when needed)",
            "classifier": {k: self.metadata.get(k) for k in ("version", "test_accuracy", "epochs", "seed")},
        }


class Mnist5kExtractor(DigitsExtractor):
    """Features of the embedded mnist5k classifier (offline; the default for mnist5k runs).

    The same recipe as :class:`DigitsExtractor` at 28x28: a CNN trained on
    mnist5k's 4,000 training digits (:func:`load_classifier` ``("mnist5k")``),
    128-d features, softmax over the 10 digits. Other sizes and RGB are
    converted to grayscale 28x28 first.

    Example:

    >>> out = Mnist5kExtractor()(images)  # images: [n, 28, 28, 1] in [-1, 1]
    """

    name = "mnist5k"
    num_classes = 10


# --------------------------------------------------------------- inception
class InceptionExtractor(FeatureExtractor):
    """InceptionV3 (``keras.applications``) pool features from a local weights file.

    Preprocessing (stored in :meth:`settings`): images in ``[-1, 1]`` are
    quantized to uint8 like saved PNGs, grayscale is repeated to RGB, then
    resized to 299x299 with antialiased bilinear filtering, then scaled by
    ``keras.applications.inception_v3.preprocess_input``. Features are the
    2048-d global average pool. If the file holds the classifier top (the
    ``..._kernels.h5`` file, not ``..._notop.h5``), the 1000 ImageNet softmax
    probabilities give the Inception Score.

    These are Keras's ImageNet weights, not the TF-slim graph of the original
    FID code, so scores are comparable between runs here, not with papers.

    Args:
        weights: path of the weights file (``.h5`` from keras-applications, or
            a ``.weights.h5`` saved by Keras); default: the environment variable
            ``KERAS_GAN_INCEPTION_WEIGHTS``.
        batch_size: images per forward pass.

    Raises:
        FileNotFoundError: if no weights file is given or it does not exist
            (no download is ever attempted).
        ValueError: if the file does not hold InceptionV3 weights.
    """

    name = "inception"
    feature_dim = 2048

    def __init__(self, weights=None, batch_size=64):
        import keras
        import tensorflow as tf

        weights = weights or os.environ.get(INCEPTION_WEIGHTS_ENV)
        if not weights or not os.path.isfile(weights):
            got = f"{weights!r} does not exist" if weights else f"no path given and {INCEPTION_WEIGHTS_ENV} is unset"
            raise FileNotFoundError(
                f"The inception extractor needs InceptionV3 weights in a local file ({got}); this machine "
                f"cannot download them. Fetch {_INCEPTION_URL} where there is network access, copy it here "
                f"and pass its path (--inception-weights PATH or {INCEPTION_WEIGHTS_ENV}=PATH), "
                "or use --extractor digits for digits runs."
            )
        self.weights = os.path.abspath(weights)
        self.batch_size = int(batch_size)
        # The path was checked above, so keras.applications loads it and never downloads.
        try:
            with warnings.catch_warnings():  # a `_notop` file warns before it fails here
                warnings.simplefilter("ignore")
                base = keras.applications.InceptionV3(include_top=True, weights=self.weights)
            self._model = keras.Model(base.inputs[0], [base.get_layer("avg_pool").output, base.outputs[0]])
            self.num_classes = 1000
        except ValueError:  # no classifier top in the file: features only, no Inception Score
            try:
                base = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=self.weights)
            except ValueError as error:
                raise ValueError(
                    f"weights={weights!r} is not an InceptionV3 weights file "
                    f"(keras.applications could not load it: {str(error).splitlines()[0]})"
                ) from None
            self._model = keras.Model(base.inputs[0], [base.outputs[0]])
            self.num_classes = None
        # The image preprocessing is TensorFlow's on every backend (one graph); the network runs on Keras'
        # backend through _inference (a Keras model called inside tf.function failed on JAX and torch).
        self._preprocess = tf.function(
            self._preprocess_impl, input_signature=[tf.TensorSpec([None, None, None, None], tf.float32)]
        )

    def _preprocess_impl(self, images):
        import tensorflow as tf

        x = tf.round((tf.clip_by_value(images, -1.0, 1.0) + 1.0) * 127.5)  # uint8 quantization, as in saved PNGs
        x = tf.cond(tf.shape(x)[-1] == 1, lambda: tf.tile(x, [1, 1, 1, 3]), lambda: x)
        x = tf.image.resize(x, (299, 299), method="bilinear", antialias=True)
        return x / 127.5 - 1.0  # keras.applications.inception_v3.preprocess_input, written out

    def _forward(self, images):
        return _inference(self._model, self._preprocess(images).numpy())

    def __call__(self, images):
        images = _check_images(images)
        feats, probs = [], []
        for start in range(0, len(images), self.batch_size):
            out = self._forward(images[start : start + self.batch_size])
            feats.append(np.asarray(out[0], np.float32))
            if self.num_classes:
                probs.append(np.asarray(out[1], np.float32))
        features = np.concatenate(feats) if feats else np.zeros((0, self.feature_dim), np.float32)
        probabilities = None
        if self.num_classes:
            probabilities = np.concatenate(probs) if probs else np.zeros((0, self.num_classes), np.float32)
        return ExtractorOutput(features, probabilities)

    def settings(self):
        return {
            **super().settings(),
            "weights": os.path.basename(self.weights),
            "preprocessing": "uint8 quantization, gray->RGB, antialiased bilinear resize to 299x299, "
            "inception_v3.preprocess_input",
            "features": "avg_pool (2048)",
        }


def get_extractor(name="digits", **kwargs):
    """An extractor by name.

    Args:
        name: ``"digits"``, ``"mnist5k"`` or ``"inception"`` (or a :class:`FeatureExtractor`, returned as is).
        **kwargs: passed to the extractor (``weights=`` for inception).

    Returns:
        A :class:`FeatureExtractor`.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(name, FeatureExtractor):
        return name
    if name == "digits":
        return DigitsExtractor(**kwargs)
    if name == "mnist5k":
        return Mnist5kExtractor(**kwargs)
    if name == "inception":
        return InceptionExtractor(**kwargs)
    raise ValueError(f"Unknown extractor {name!r}; allowed: {', '.join(EXTRACTORS)}.")
