"""Run configuration: YAML files in ``configs/`` loaded into validated dataclasses.

A config has three sections, ``data``, ``model`` and ``train``. Every key has
a type and, where it matters, a set of allowed values or a lower bound. An
unknown key, a wrong type or a bad value raises :class:`~keras_gan.errors.UsageError`
with one line naming the key and what is allowed, before any training starts.
The defaults are the main job: the DCGAN on the embedded digits
(``configs/dcgan_digits.yaml`` spells them out).

Example:

>>> cfg = from_dict({"train": {"epochs": 3}})
>>> cfg.train.epochs, cfg.data.name
(3, 'digits')
>>> cfg = apply_overrides(cfg, ["model.latent_dim=64"])
"""

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field

import yaml

from keras_gan.errors import UsageError


MAX_SEED = 2**32 - 1  # what TensorFlow's, NumPy's and Keras' seeded generators accept


def _opt(default, choices=None, minimum=None, doc=""):
    return field(default=default, metadata={"choices": choices, "minimum": minimum, "doc": doc})


@dataclass
class DataConfig:
    """What to train on."""

    name: str = _opt(
        "digits", doc="'digits', 'mnist5k', 'stacked_mnist', 'ring8', 'grid25', 'folder' (with data.path) or a prepared tfds image dataset"
    )
    split: str = _opt("train")
    image_size: typing.Optional[int] = _opt(None, minimum=2, doc="resize side; null keeps the native size")
    batch_size: int = _opt(64, minimum=1, doc="M: samples per discriminator minibatch")
    num_samples: int = _opt(100_000, minimum=1, doc="size of a 2-D mixture's sample set")
    data_dir: typing.Optional[str] = _opt(None, doc="tfds data directory")
    path: typing.Optional[str] = _opt(None, doc="folder: the directory of images (class subfolders = labels)")
    channels: typing.Optional[int] = _opt(None, choices=(None, 1, 3),
                                          doc="1 grayscale, 3 RGB (converted as needed); null keeps the data's own")
    holdout_fraction: float = _opt(0.1, minimum=0.0, doc="folder: fraction held out as the 'test' split")
    small_images: str = _opt("upscale", choices=("upscale", "error"),
                             doc="folder: images smaller than image_size are upscaled (with a warning) or an error")


@dataclass
class ModelConfig:
    """The two players."""

    architecture: str = _opt("dcgan", choices=("dcgan", "mlp", "vae"))
    latent_dim: int = _opt(100, minimum=1)
    prior: str = _opt("uniform", choices=("uniform", "normal"))
    base_filters: int = _opt(64, minimum=1, doc="dcgan: width of G's last hidden layer / D's first")
    discriminator_filters: typing.Optional[int] = _opt(
        None, minimum=1, doc="dcgan: width of D's first convolution, doubled per layer (null: base_filters)")
    kernel_size: int = _opt(5, minimum=1)
    num_upsamplings: typing.Optional[int] = _opt(2, minimum=1, doc="dcgan: stride-2 layers; null = automatic")
    discriminator_batch_norm: bool = _opt(True)
    synchronized_batch_norm: bool = _opt(False, doc="sync batch statistics across replicas")
    hidden_units: int = _opt(128, minimum=1, doc="mlp: hidden width")
    num_layers: int = _opt(3, minimum=1, doc="mlp: hidden layers")
    conditional: bool = _opt(False, doc="class-conditional GAN on the dataset's labels")
    num_packed: int = _opt(1, minimum=1, doc="PacGAN: samples the discriminator judges at once")
    spectral_norm: bool = _opt(False, doc="spectral normalization in the discriminator")
    ema_decay: typing.Optional[float] = _opt(None, minimum=0.0, doc="moving average of G's weights")
    beta: float = _opt(1.0, minimum=0.0, doc="vae: weight of the KL term (1 = the ELBO)")


@dataclass
class TrainConfig:
    """Algorithm 13.1 and its optimizers."""

    epochs: int = _opt(300, minimum=1)
    loss: str = _opt(
        "non_saturating", choices=("minimax", "non_saturating", "wasserstein", "hinge", "least_squares")
    )
    d_steps: int = _opt(1, minimum=1, doc="K: discriminator steps per generator step")
    optimizer: str = _opt("adam", choices=("adam", "rmsprop"))
    g_learning_rate: float = _opt(2e-4, minimum=0.0)
    d_learning_rate: float = _opt(2e-4, minimum=0.0)
    beta_1: float = _opt(0.5, minimum=0.0, doc="Adam's beta_1, in [0, 1)")
    beta_2: float = _opt(0.999, minimum=0.0, doc="Adam's beta_2, in [0, 1)")
    gradient_penalty: float = _opt(0.0, minimum=0.0, doc="WGAN-GP lambda")
    r1_gamma: float = _opt(0.0, minimum=0.0)
    clip_weights: typing.Optional[float] = _opt(None, minimum=0.0, doc="WGAN weight clipping bound")
    seed: int = _opt(0, minimum=0, doc="seeds the weights, the noise and the shuffling; at most 2**32 - 1")
    backend: typing.Optional[str] = _opt(
        None, choices=(None, "jax", "tensorflow", "torch"),
        doc="Keras backend when neither --backend nor KERAS_BACKEND is given (null: tensorflow)")
    strategy: str = _opt(
        "default", choices=("default", "mirrored", "multiworker", "tpu", "data_parallel", "model_parallel"),
        doc="TensorFlow: tf.distribute strategy (multiworker reads TF_CONFIG); JAX: keras.distribution")
    model_parallel_size: typing.Optional[int] = _opt(
        None, minimum=1, doc="model_parallel: devices each weight is sharded over (null: all)")
    tpu: typing.Optional[str] = _opt(None, doc="TPU name or grpc:// address for strategy 'tpu' (null: local/auto)")
    mixed_precision: typing.Optional[str] = _opt(None, choices=(None, "mixed_float16", "mixed_bfloat16"))
    jit_compile: typing.Optional[bool] = _opt(None, doc="null: the backend's default (JAX jitted, others not)")
    steps_per_execution: int = _opt(
        1, minimum=1, doc="steps per call of the compiled step; the trainer takes the divisor of the epoch's "
                          "steps nearest to it by ratio (training.runs.execution_steps), so that a call never "
                          "spans two epochs (torch: 1, the only count Keras' torch trainer runs)")
    intra_op_threads: typing.Optional[int] = _opt(
        None, minimum=1, doc="TensorFlow: threads one op may use (null: TensorFlow's default, one per core); "
                             "1 is faster for small models such as the digits DCGAN (README, Speed)")
    sample_every: int = _opt(1, minimum=1, doc="epochs between sample grids")
    checkpoint_every: int = _opt(1, minimum=1, doc="epochs between checkpoints")
    checkpoint_every_steps: typing.Optional[int] = _opt(
        None, minimum=1, doc="training steps between mid-epoch checkpoints (null: epoch ends only)")
    step_timeout: typing.Optional[float] = _opt(
        300.0, minimum=1.0, doc="multiworker: seconds without a finished step before a worker exits (76)")
    keep_checkpoints: int = _opt(2, minimum=1)
    num_sample_images: int = _opt(64, minimum=1)
    augment: typing.Optional[str] = _opt(None, choices=(None, "diffaugment", "ada"),
                                         doc="augmentation of D's inputs (real and fake): DiffAugment or ADA")
    augment_policy: typing.Optional[str] = _opt(
        None, doc="comma-separated; diffaugment: color, translation, cutout; ada: blit, color (null: all)"
    )
    ada_target: float = _opt(0.6, minimum=0.0, doc="ada: target of r_t = E[sign(D(real))]")
    ada_kimg: float = _opt(500.0, minimum=0.0, doc="ada: thousands of real images for p to move by 1")


@dataclass
class Config:
    """A whole run: ``data``, ``model`` and ``train`` sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self):
        """The config as plain nested dicts (what ``config.yaml`` holds)."""
        return dataclasses.asdict(self)


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def _section_class(name):
    return {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}[name]


def _allowed_keys(cls):
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _coerce(key, f, value):
    tp = f.type
    optional = typing.get_origin(tp) is typing.Union
    if optional:
        if value is None:
            return None
        tp = [a for a in typing.get_args(tp) if a is not type(None)][0]
    elif value is None:
        raise UsageError(f"config: {key} must not be null; expected {tp.__name__}.")
    if tp is bool:
        if not isinstance(value, bool):
            raise UsageError(f"config: {key} = {value!r} is not a boolean; expected true or false.")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"config: {key} = {value!r} is not an integer.")
    elif tp is float:
        given = value
        if isinstance(value, str):  # YAML 1.1 (PyYAML) reads 4e-4 as a string: take what Python reads as a number
            try:
                value = float(value)
            except ValueError:
                raise UsageError(f"config: {key} = {value!r} is not a number.") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"config: {key} = {value!r} is not a number.")
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"config: {key} = {given!r} is not a finite number.")
    elif tp is str:
        if not isinstance(value, str):
            raise UsageError(f"config: {key} = {value!r} is not a string.")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        raise UsageError(f"config: {key} = {value!r} is not allowed; expected one of {', '.join(str(c) for c in choices if c is not None)}.")
    minimum = f.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise UsageError(f"config: {key} = {value!r} is out of range; expected a value >= {minimum}.")
    return value


def from_dict(raw):
    """Builds a validated :class:`Config` from nested dicts; missing keys take defaults.

    Args:
        raw: ``{"data": {...}, "model": {...}, "train": {...}}`` (any section may be missing).

    Returns:
        A :class:`Config`.

    Raises:
        UsageError: for an unknown section or key, a wrong type or a bad value.
    """
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UsageError(f"config: expected a mapping with sections data, model, train; got {type(raw).__name__}.")
    sections = {}
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise UsageError(f"config: unknown section {name!r}; allowed: {', '.join(_SECTIONS)}.")
        values = values or {}
        if not isinstance(values, dict):
            raise UsageError(f"config: section {name!r} must be a mapping of keys to values.")
        cls = _section_class(name)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in fields:
                raise UsageError(f"config: unknown key '{name}.{key}'; allowed keys in {name}: {_allowed_keys(cls)}.")
            kwargs[key] = _coerce(f"{name}.{key}", fields[key], value)
        sections[name] = cls(**kwargs)
    cfg = Config(**sections)
    _check_consistency(cfg)
    return cfg


#: Augmentations each ``train.augment`` mode knows, in the order they are applied.
AUGMENT_POLICIES = {"diffaugment": ("color", "translation", "cutout"), "ada": ("blit", "color")}


def parse_augment_policy(mode, policy, key="train.augment_policy"):
    """The augmentations of a policy string, e.g. ``"translation,cutout"`` -> ``("translation", "cutout")``.

    Args:
        mode: ``"diffaugment"`` or ``"ada"``.
        policy: comma-separated names, or ``None`` for all of the mode's augmentations.
        key: the name shown in error messages.

    Returns:
        A tuple of names in the order given.

    Raises:
        UsageError: for an unknown mode, an empty policy, an unknown or repeated name.
    """
    if mode not in AUGMENT_POLICIES:
        raise UsageError(f"config: train.augment = {mode!r} is not allowed; expected one of "
                         f"{', '.join(AUGMENT_POLICIES)}.")
    allowed = AUGMENT_POLICIES[mode]
    if policy is None:
        return allowed
    if not isinstance(policy, str):
        raise UsageError(f"config: {key} = {policy!r} is not a string; expected names from {', '.join(allowed)}.")
    names = tuple(n.strip() for n in policy.split(","))
    if not any(names) or not all(names):
        raise UsageError(f"config: {key} = {policy!r} has an empty name; expected comma-separated names from "
                         f"{', '.join(allowed)} (for {mode}).")
    for n in names:
        if n not in allowed:
            raise UsageError(f"config: {key} = {policy!r}: unknown augmentation {n!r} for {mode}; allowed: "
                             f"{', '.join(allowed)}.")
    if len(set(names)) != len(names):
        raise UsageError(f"config: {key} = {policy!r} names an augmentation twice.")
    return names


def _check_consistency(cfg):
    d, t = cfg.data, cfg.train
    if d.name == "folder" and not d.path:
        raise UsageError("config: data.name = 'folder' needs data.path, a directory of PNG/JPEG/BMP/GIF images "
                         "(or use `keras-gan train --data DIR`).")
    if d.path is not None and d.name != "folder":
        raise UsageError(f"config: data.path = {d.path!r} is read only with data.name = 'folder', "
                         f"got data.name = {d.name!r}.")
    if not d.holdout_fraction < 1.0:
        raise UsageError(f"config: data.holdout_fraction = {d.holdout_fraction} is out of range; "
                         "expected a value in [0, 1).")
    if t.augment is None and t.augment_policy is not None:
        raise UsageError(f"config: train.augment_policy = {t.augment_policy!r} needs train.augment "
                         "(diffaugment or ada).")
    if t.augment is not None:
        parse_augment_policy(t.augment, t.augment_policy)
        if d.name in ("ring8", "grid25"):
            raise UsageError(f"config: train.augment = {t.augment!r} augments images; data.name = {d.name!r} is 2-D data.")
    if not t.ada_target <= 1.0:
        raise UsageError(f"config: train.ada_target = {t.ada_target} is out of range; expected a value in [0, 1].")
    if not t.ada_kimg > 0.0:
        raise UsageError(f"config: train.ada_kimg = {t.ada_kimg} is out of range; expected a value > 0.")
    for key in ("beta_1", "beta_2"):
        if not getattr(t, key) < 1.0:
            raise UsageError(f"config: train.{key} = {getattr(t, key)} is out of range; expected a value in [0, 1).")
    if t.seed > MAX_SEED:
        raise UsageError(f"config: train.seed = {t.seed} is out of range; expected a value in [0, {MAX_SEED}].")
    if cfg.model.ema_decay is not None and cfg.model.ema_decay >= 1.0:
        raise UsageError(f"config: model.ema_decay = {cfg.model.ema_decay} is out of range; expected a value in [0, 1).")
    if cfg.model.conditional and cfg.model.num_packed > 1:
        raise UsageError("config: model.conditional = true cannot be combined with model.num_packed > 1.")
    if cfg.data.batch_size % cfg.model.num_packed:
        raise UsageError(
            f"config: data.batch_size = {cfg.data.batch_size} must be a multiple of model.num_packed = "
            f"{cfg.model.num_packed}."
        )
    if cfg.model.discriminator_filters is not None and cfg.model.architecture != "dcgan":
        raise UsageError(f"config: model.discriminator_filters = {cfg.model.discriminator_filters} sets the DCGAN's "
                         f"discriminator; model.architecture = {cfg.model.architecture!r} has none of its own "
                         "(mlp: model.hidden_units).")
    if cfg.model.architecture == "mlp" and cfg.data.name not in ("ring8", "grid25"):
        raise UsageError(
            f"config: model.architecture = 'mlp' needs 2-D data (data.name 'ring8' or 'grid25'), "
            f"got data.name = {cfg.data.name!r}."
        )
    if cfg.model.architecture == "vae":
        if cfg.data.name in ("ring8", "grid25"):
            raise UsageError(
                f"config: model.architecture = 'vae' needs image data, got data.name = {cfg.data.name!r}."
            )
        if cfg.model.prior != "normal" or cfg.model.conditional:
            raise UsageError(
                "config: model.architecture = 'vae' needs model.prior = 'normal' and model.conditional = false."
            )
    if cfg.model.architecture == "dcgan" and cfg.data.name in ("ring8", "grid25"):
        raise UsageError(
            f"config: data.name = {cfg.data.name!r} is 2-D data; use model.architecture = 'mlp'."
        )
    if cfg.model.architecture in ("dcgan", "vae") and cfg.data.image_size is not None:
        _check_image_size(cfg.data.image_size, cfg.model.num_upsamplings)


def check_native_size(name, size, n):
    """Checks that a DCGAN (or the VAE's mirror of it) with ``n`` stride-2 layers makes images of ``name``'s native side.

    The trainer calls it once the data set's shape is known, when ``data.image_size`` is ``null``
    (a side set in the config is checked when the config is read).

    Args:
        name: the data set's name, for the message.
        size: its images' side.
        n: ``model.num_upsamplings`` (``None``: automatic).

    Raises:
        UsageError: naming the layer counts that fit this side, and the image sizes that fit ``n``.
    """
    if _fits(size, n):
        return
    if n is None:
        raise UsageError(f"config: the native {size}x{size} images of {name!r} fit no DCGAN: the side is doubled by "
                         "stride-2 layers, so it must be even; set data.image_size to an even side.")
    fits = _layers_that_fit(size)
    listed = ", ".join(map(str, fits[:-1])) + " or " * (len(fits) > 1) + str(fits[-1]) if fits else ""
    other = (f"model.num_upsamplings = {listed} (or null) fits them" if fits
             else "an odd side fits no number of stride-2 layers")
    raise UsageError(f"config: model.num_upsamplings = {n} does not fit the native {size}x{size} images of {name!r}: "
                     f"the side must be a multiple of 2**{n} = {2**n}; {other}, or set data.image_size to a "
                     f"multiple of {2**n}.")


def _fits(size, n):
    """A DCGAN (or the VAE's mirror of it) doubles a map ``n`` times: the side must be a multiple of ``2**n``;
    automatic (``None``): the most doublings from a map of at least 4x4, which an odd side has none of."""
    return size % 2 == 0 if n is None else size % 2**n == 0


def _layers_that_fit(size):
    """The numbers of stride-2 layers (1 to 7) whose ``2**n`` divides ``size``."""
    return [k for k in range(1, 8) if size % 2**k == 0]


def _check_image_size(size, n):
    """``data.image_size`` against ``model.num_upsamplings`` (:func:`_fits`), when the config is read."""
    if _fits(size, n):
        return
    if n is None:
        raise UsageError(f"config: data.image_size = {size} fits no DCGAN: the side is doubled by stride-2 "
                         f"layers, so it must be even (e.g. {size - 1} or {size + 1}).")
    step = 2**n
    below, above = size - size % step, size - size % step + step
    near = ", ".join(str(v) for v in (below, above) if v >= 2)
    fits = _layers_that_fit(size)
    other = (f"; or model.num_upsamplings = {' or '.join(map(str, fits))} for this size" if fits
             else "; an odd size fits no number of stride-2 layers")
    raise UsageError(f"config: data.image_size = {size} does not fit model.num_upsamplings = {n}: the side "
                     f"must be a multiple of 2**{n} = {step} (nearest: {near}){other}.")


def load(path):
    """Loads and validates a YAML config file.

    Args:
        path: a YAML file, or the name of a file in ``configs/`` (``dcgan_mnist``).

    Returns:
        A :class:`Config`.

    Raises:
        UsageError: for a missing file, bad YAML, or an invalid config.
    """
    resolved = resolve_path(path)
    try:
        with open(resolved) as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as e:
        raise UsageError(f"config: {resolved} is not valid YAML: {str(e).splitlines()[0]}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config: {resolved} is not a text (UTF-8) YAML file.") from None
    return from_dict(raw)


def configs_dir():
    """The folder of shipped configs (``configs/`` at the top of the repository)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def resolve_path(path):
    """A config path: the file itself, or ``configs/<path>[.yaml]``."""
    candidates = [path, os.path.join(configs_dir(), path), os.path.join(configs_dir(), f"{path}.yaml")]
    for c in candidates:
        if os.path.isfile(c):
            return c
    shipped = sorted(n[:-5] for n in os.listdir(configs_dir()) if n.endswith(".yaml")) if os.path.isdir(configs_dir()) else []
    raise UsageError(f"config: no such file {path!r}; give a YAML path or one of: {', '.join(shipped)}.")


def apply_overrides(cfg, overrides):
    """Applies ``section.key=value`` overrides (values parsed as YAML).

    Args:
        cfg: a :class:`Config`.
        overrides: strings like ``"train.epochs=5"`` or ``"data.image_size=null"``.

    Returns:
        A new validated :class:`Config`.

    Raises:
        UsageError: for a malformed override or an invalid result.
    """
    raw = cfg.to_dict()
    for item in overrides or ():
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise UsageError(f"--set {item!r}: expected section.key=value, e.g. train.epochs=5.")
        key, value = item.split("=", 1)
        section, name = key.strip().split(".", 1)
        if section not in raw:
            raise UsageError(f"--set {item!r}: unknown section {section!r}; allowed: {', '.join(_SECTIONS)}.")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value
        raw[section][name] = parsed
    return from_dict(raw)


def to_yaml(cfg):
    """The config as YAML text."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
