"""Datasets: tensorflow-datasets images, the embedded digits, and 2-D mixtures.

* Any tfds image dataset by name (``mnist``, ``fashion_mnist``, ``cifar10``,
  ``celeb_a``...), once prepared on this machine. A dataset that is not
  prepared fails at once with a message that says how to prepare it (tfds
  would otherwise try to download it and hang on a machine with no network).
* ``digits``: the 1,797 real 8x8 handwritten digits that scikit-learn ships,
  wrapped in a tfds ``GeneratorBasedBuilder`` and prepared locally with no
  network, so the default goes through tfds like every other dataset. Split:
  the first 1,437 images are ``train``, the last 360 ``test``.
* ``ring8`` and ``grid25``: the 2-D Gaussian mixtures of the mode-collapse
  benchmarks (PacGAN: a ring of 8 modes of radius 1, std 0.01; a 5x5 grid on
  ``{-4, -2, 0, 2, 4}^2``, std 0.05).

Images come out as float32 in ``[-1, 1]``, NHWC.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_gan.errors import DatasetNotPreparedError, UsageError

DIGITS_TRAIN_SIZE = 1437

_RING = np.array([[np.cos(a), np.sin(a)] for a in 2 * np.pi * np.arange(8) / 8])
_GRID = np.array([[x, y] for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)])

#: The 2-D mixtures: mode centers and per-coordinate standard deviation.
MIXTURES = {
    "ring8": {"centers": _RING, "std": 0.01},
    "grid25": {"centers": _GRID, "std": 0.05},
}

#: Splits of the mixtures, each drawn with its own seed.
_MIXTURE_SPLIT_SEEDS = {"train": 1, "test": 2}


class Digits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits as a tfds dataset (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "The 1,797 UCI digits shipped with scikit-learn; 1,437 train / 360 test."}

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data ships with scikit-learn
        return {"train": self._generate_examples(0, DIGITS_TRAIN_SIZE), "test": self._generate_examples(DIGITS_TRAIN_SIZE, None)}

    def _generate_examples(self, start, stop):
        from sklearn.datasets import load_digits

        digits = load_digits()
        # Pixel values are 0..16; scale to 0..255.
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        for i in range(start, stop if stop is not None else len(images)):
            yield i, {"image": images[i], "label": int(digits.target[i])}


def data_dir():
    """Where tfds datasets are read and the digits are prepared.

    ``KERAS_GAN_DATA_DIR`` if set, else ``TFDS_DATA_DIR``, else tfds's default
    (``~/tensorflow_datasets``).
    """
    return os.environ.get("KERAS_GAN_DATA_DIR") or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser(
        "~/tensorflow_datasets"
    )


def _builder(name, directory=None):
    directory = directory or data_dir()
    try:
        builder = tfds.builder(name, data_dir=directory)
    except tfds.core.registered.DatasetNotFoundError:
        raise UsageError(
            f"Unknown dataset {name!r}: expected 'digits', one of {sorted(MIXTURES)}, or a "
            "tensorflow-datasets image dataset name (see tfds.list_builders())."
        ) from None
    if not builder.is_prepared():
        if name == "digits":
            builder.download_and_prepare()  # local: reads scikit-learn's copy, no network
        else:
            raise DatasetNotPreparedError(
                f"Dataset {name!r} is not prepared in {directory} and this machine may not download it. "
                f"Prepare it where there is network access with "
                f"`python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}').download_and_prepare()\"`, "
                f"then copy ~/tensorflow_datasets/{name} to {directory} (or set KERAS_GAN_DATA_DIR)."
            )
    return builder


def _check_split(name, split, available):
    base = split.split("[")[0]
    if base not in available:
        raise UsageError(f"Dataset {name!r} has no split {split!r}; available: {', '.join(sorted(available))}.")


def _mixture_samples(name, split, num_samples):
    mix = MIXTURES[name]
    _check_split(name, split, _MIXTURE_SPLIT_SEEDS)
    rng = np.random.default_rng(_MIXTURE_SPLIT_SEEDS[split])
    modes = rng.integers(0, len(mix["centers"]), size=num_samples)
    samples = mix["centers"][modes] + mix["std"] * rng.standard_normal((num_samples, 2))
    return samples.astype(np.float32), modes.astype(np.int32)


def _image_source(name, split, image_size, directory):
    """(dataset of (image float32 in [-1, 1], label), number of examples, image shape)."""
    builder = _builder(name, directory)
    _check_split(name, split, builder.info.splits.keys())
    features = builder.info.features
    image_key = "image" if "image" in features else None
    if image_key is None:
        raise UsageError(f"Dataset {name!r} has no 'image' feature; keras-gan trains on image datasets.")
    label_key = "label" if "label" in features else None
    ds = builder.as_dataset(split=split, shuffle_files=False)
    shape = features[image_key].shape
    size = int(image_size) if image_size else None
    channels = shape[-1]

    def convert(example):
        image = tf.cast(example[image_key], tf.float32)
        if size is not None and (shape[0] != size or shape[1] != size):
            image = _center_square(image)
            image = tf.image.resize(image, (size, size), antialias=True)
        image = image / 127.5 - 1.0
        label = tf.cast(example[label_key], tf.int32) if label_key else tf.constant(-1, tf.int32)
        return image, label

    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    num = builder.info.splits[split].num_examples
    out_shape = (size or shape[0], size or shape[1], channels)
    return ds, num, out_shape


def _center_square(image):
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(h, w)
    return tf.image.crop_to_bounding_box(image, (h - side) // 2, (w - side) // 2, side, side)


def _source(name, split, image_size=None, num_samples=100_000, directory=None):
    if name in MIXTURES:
        samples, modes = _mixture_samples(name, split, num_samples)
        return tf.data.Dataset.from_tensor_slices((samples, modes)), len(samples), (2,)
    return _image_source(name, split, image_size, directory)


def _finish(ds, with_labels):
    return ds if with_labels else ds.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE)


def load(
    name="digits",
    split="train",
    batch_size=64,
    image_size=None,
    d_steps=1,
    shuffle=True,
    seed=0,
    with_labels=False,
    num_samples=100_000,
    data_dir=None,
):
    """One epoch of a dataset, batched for algorithm 13.1.

    Every batch holds ``d_steps * batch_size`` examples: the model's
    ``train_step`` splits it into ``d_steps`` fresh minibatches of
    ``batch_size`` for the discriminator steps. The last partial batch is
    dropped so that every step sees full minibatches.

    Args:
        name: ``"digits"``, ``"ring8"``, ``"grid25"`` or a prepared tfds image dataset.
        split: split name (``"train"``, ``"test"``, or a tfds slice like ``"train[:90%]"``).
        batch_size: M, samples per discriminator minibatch.
        image_size: resize (after a center square crop) to this side; ``None`` keeps the native size.
        d_steps: K, discriminator steps per generator step.
        shuffle: shuffle the examples (differently each epoch, reproducibly from ``seed``).
        seed: shuffle seed.
        with_labels: yield ``(images, labels)`` instead of images.
        num_samples: size of a 2-D mixture's sample set.
        data_dir: tfds data directory (default: :func:`data_dir`).

    Returns:
        A ``tf.data.Dataset`` of float32 batches in ``[-1, 1]`` (images NHWC, or ``[batch, 2]`` points).

    Raises:
        UsageError: for an unknown dataset or split, or bad sizes.
        DatasetNotPreparedError: for a tfds dataset that is not prepared here.

    Example:

    >>> ds = load("digits", batch_size=32, d_steps=2)
    >>> next(iter(ds)).shape
    TensorShape([64, 8, 8, 1])
    """
    _check_sizes(batch_size, d_steps)
    ds, num, _ = _source(name, split, image_size, num_samples, data_dir)
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(num, 10_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size * d_steps, drop_remainder=True)
    return _finish(ds, with_labels).prefetch(tf.data.AUTOTUNE)


def training_dataset(
    name="digits",
    split="train",
    batch_size=64,
    image_size=None,
    d_steps=1,
    seed=0,
    start_epoch=0,
    epochs=1,
    with_labels=False,
    num_samples=100_000,
    data_dir=None,
):
    """Epochs ``start_epoch .. epochs - 1`` of a dataset, epoch ``e`` shuffled by ``(seed, e)`` alone.

    A run resumed at epoch ``e`` therefore sees the same batches as a run that
    never stopped. Pass it to ``fit`` with ``steps_per_epoch``.

    Args:
        name, split, batch_size, image_size, d_steps, seed, with_labels,
        num_samples, data_dir: as in :func:`load`.
        start_epoch: the first epoch to deliver.
        epochs: one past the last epoch to deliver.

    Returns:
        ``(dataset, steps_per_epoch, sample_shape)``.
    """
    _check_sizes(batch_size, d_steps)
    ds, num, shape = _source(name, split, image_size, num_samples, data_dir)
    per_step = batch_size * d_steps
    steps = num // per_step
    if steps < 1:
        raise UsageError(
            f"batch_size * d_steps = {per_step} is larger than the {num} examples of {name!r} {split!r}."
        )
    ds = ds.cache()
    buffer = min(num, 10_000)
    # One dataset per epoch with a Python-int seed (a tensor seed breaks tf.data's
    # seed logic when the global seed is 0), joined by a balanced concatenation.
    parts = [
        ds.shuffle(buffer, seed=int(seed) * 1_000_003 + e, reshuffle_each_iteration=False).batch(
            per_step, drop_remainder=True
        )
        for e in range(int(start_epoch), max(int(epochs), int(start_epoch) + 1))
    ]
    while len(parts) > 1:
        parts = [a.concatenate(b) for a, b in zip(parts[::2], parts[1::2])] + parts[len(parts) // 2 * 2 :]
    return _finish(parts[0], with_labels).prefetch(tf.data.AUTOTUNE), steps, shape


def load_arrays(name="digits", split="train", image_size=None, num_samples=100_000, data_dir=None):
    """A whole split as numpy arrays (for evaluation and analysis).

    Args:
        name, split, image_size, num_samples, data_dir: as in :func:`load`.

    Returns:
        ``(samples, labels)``: float32 samples in ``[-1, 1]`` and int32 labels
        (mode index for mixtures; ``None`` for an unlabelled dataset).
    """
    ds, _, _ = _source(name, split, image_size, num_samples, data_dir)
    xs, ys = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    labels = np.concatenate(ys)
    return np.concatenate(xs), (None if (labels < 0).all() else labels)


def num_classes(name, data_dir=None):
    """Number of classes of a dataset's ``label`` feature (mixtures: number of modes), or ``None``."""
    if name in MIXTURES:
        return len(MIXTURES[name]["centers"])
    features = _builder(name, data_dir).info.features
    return features["label"].num_classes if "label" in features else None


def _check_sizes(batch_size, d_steps):
    if int(batch_size) < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}.")
    if int(d_steps) < 1:
        raise UsageError(f"d_steps must be >= 1, got {d_steps}.")
