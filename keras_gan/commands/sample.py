"""``keras-gan sample``: samples from a run, a ``.keras`` file, a SavedModel or an ONNX file.

A grid of ``--num`` samples from ``--seed``; or one sample per seed of ``--seeds 0-35`` (as
stylegan2-ada-pytorch's ``gen_images.py --seeds``); ``--truncation PSI`` pulls every latent vector
toward the prior's mean; ``--label K`` fixes the class of a conditional model; ``--interpolate N``
walks N frames between the latent vectors of consecutive seeds (spherically for a normal prior,
linearly for a uniform one) into an animated ``.gif`` or a ``.png`` strip. A JSON file beside the
output records the source, seeds, truncation and label, so the picture can be made again.
"""

import os
import re

from keras_gan.commands import _args

MAX_SAMPLES = 10_000  # one picture: a 100 x 100 grid

HELP = ("Write samples (a PNG grid, or an interpolation GIF) and their JSON from a run directory, a .keras file "
        "or an exported generator.")


def add_arguments(parser):
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run directory written by keras-gan train.")
    src.add_argument("--keras", help="a .keras model file (a checkpoint of a run).")
    src.add_argument("--saved-model", help="exported SavedModel directory (the base or a version directory).")
    src.add_argument("--onnx", help="exported ONNX file.")
    parser.add_argument("--num", type=int, default=64, help="number of samples from --seed (default 64).")
    parser.add_argument("--seed", type=_args.seed, default=0, help="latent seed (default 0).")
    parser.add_argument("--seeds", default=None, metavar="LIST",
                        help="one sample per seed instead, e.g. 0-35 or 1,5,9-12 (with --interpolate: the "
                             "seeds the walk passes through).")
    parser.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                        help="pull each latent vector toward the prior's mean: mean + PSI (z - mean); 1 keeps "
                             "it (default), 0 gives the mean sample.")
    parser.add_argument("--label", type=int, default=None,
                        help="class of every sample, for a conditional model (default: classes in turn; "
                             "0 for an interpolation).")
    parser.add_argument("--interpolate", type=int, default=None, metavar="N",
                        help="N frames from each seed's latent vector to the next (seeds from --seeds, "
                             "default --seed and --seed + 1); --out .gif (animated) or .png (a strip).")
    parser.add_argument("--epoch", type=int, default=None, help="checkpoint epoch of --run (default: latest).")
    parser.add_argument("--out", default=None,
                        help="output file (default samples.png; walk.gif with --interpolate).")


def parse_seeds(text):
    """Seeds from ``"0-35"``, ``"1,5,9-12"`` (ranges inclusive, as stylegan2-ada-pytorch's ``--seeds``).

    Example:

    >>> parse_seeds("1,5,9-11")
    [1, 5, 9, 10, 11]
    """
    from keras_gan.errors import UsageError

    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UsageError(f"--seeds {text!r}: {part!r} is not a seed or a range; expected e.g. 0-35 or 1,5,9-12.")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise UsageError(f"--seeds {text!r}: the range {part!r} runs backwards; expected LOW-HIGH.")
        seeds.extend(range(lo, hi + 1))
    if len(seeds) > MAX_SAMPLES:
        raise UsageError(f"--seeds {text!r} names {len(seeds)} seeds; at most {MAX_SAMPLES:,}.")
    return seeds


class _Model:
    """A GAN loaded into Keras (a run or a .keras file)."""

    def __init__(self, model, source, reference=None):
        from keras_gan.errors import UsageError

        if not hasattr(model, "generate_from"):
            raise UsageError(f"{next(iter(source.values()))!r} holds a {type(model).__name__}, not a GAN generator "
                             "with a latent prior.")
        self.model, self.source, self.reference = model, source, reference
        self.latent_dim, self.prior, self.num_classes = model.latent_dim, model.prior, model.num_classes
        self.images = len(model.generator.output_shape) == 4

    def draw(self, num, seed):
        import numpy as np
        from keras import ops

        return np.asarray(ops.convert_to_numpy(self.model.sample_latent(num, seed)), np.float32)

    def generate(self, z, labels):
        return self.model.generate_from(z, labels)


class _Exported:
    """A SavedModel or ONNX generator."""

    def __init__(self, path, flag, kind):
        from keras_gan import export
        from keras_gan.commands import _paths

        self.path, self.flag, self.kind = path, flag, kind
        with _paths.loading(flag, path, kind):
            metadata = export.read_metadata(path)
        self.latent_dim, self.prior = int(metadata["latent_dim"]), metadata["prior"]
        self.num_classes = metadata.get("num_classes") if metadata["conditional"] else None
        self.conditional = bool(metadata["conditional"])
        self.images = True
        self.reference = None
        self.source = {"saved_model" if flag == "--saved-model" else "onnx": os.path.abspath(path)}

    def draw(self, num, seed):
        from keras_gan import export

        return export.draw_exported_latents(self.path, num, seed)

    def generate(self, z, labels):
        from keras_gan import export
        from keras_gan.commands import _paths

        with _paths.loading(self.flag, self.path, self.kind):
            samples = export.generate_exported(self.path, z, labels=labels)
        if samples.dtype.name == "uint8":
            samples = samples.astype("float32") / 127.5 - 1.0
        return samples


def _check(args):
    from keras_gan.errors import UsageError

    if not 1 <= args.num <= MAX_SAMPLES:
        raise UsageError(f"--num must be from 1 to {MAX_SAMPLES:,} (one grid), got {args.num}.")
    if not args.truncation >= 0:
        raise UsageError(f"--truncation must be >= 0 (1 keeps the latent vectors, 0 gives the mean), "
                         f"got {args.truncation}.")
    if args.interpolate is not None and args.interpolate < 2:
        raise UsageError(f"--interpolate must be >= 2 frames, got {args.interpolate}.")
    out = args.out or ("walk.gif" if args.interpolate else "samples.png")
    allowed = (".gif", ".png") if args.interpolate else (".png",)
    if not out.lower().endswith(allowed):
        raise UsageError(f"--out must be a {' or '.join(allowed)} file{' with --interpolate' if args.interpolate else ''}"
                         f", got {out!r}.")
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    if args.interpolate and seeds is not None and len(seeds) < 2:
        raise UsageError(f"--interpolate needs at least two seeds to walk between; --seeds {args.seeds!r} names one.")
    return out, seeds


def _open(args):
    from keras_gan.commands import _paths

    if args.run:
        _paths.input_dir("--run", args.run, "a run directory written by keras-gan train")
        from keras_gan import data
        from keras_gan.training import runs

        cfg, model = runs.load_run(args.run, args.epoch)
        reference = data.MIXTURES[cfg.data.name]["centers"] if cfg.data.name in data.MIXTURES else None
        return _Model(model, {"run": os.path.abspath(args.run), "epoch": model.epoch}, reference)
    if args.keras:
        _paths.input_file("--keras", args.keras, "a .keras file")
        from keras_gan.training import checkpointing

        return _Model(checkpointing.load_keras_file(args.keras, what="--keras"),
                      {"keras": os.path.abspath(args.keras)})
    if args.saved_model:
        _paths.input_dir("--saved-model", args.saved_model, "a SavedModel directory")
        return _Exported(args.saved_model, "--saved-model", "SavedModel")
    _paths.input_file("--onnx", args.onnx, "an .onnx file")
    return _Exported(args.onnx, "--onnx", "ONNX model")


def _labels(source, label, default):
    from keras_gan.errors import UsageError

    conditional = source.num_classes is not None or getattr(source, "conditional", False)
    if label is None:
        return default if conditional else None
    if not conditional:
        raise UsageError(f"--label {label}: the model is not conditional.")
    if source.num_classes is not None and not 0 <= label < source.num_classes:
        raise UsageError(f"--label {label} is out of range; expected 0..{source.num_classes - 1}.")
    return label


def run(args):
    import numpy as np

    from keras_gan.commands import _paths
    from keras_gan.errors import UsageError
    from keras_gan.evaluation import images
    from keras_gan.files import write_json

    out, seeds = _check(args)
    _paths.output_file("--out", out)
    from keras_gan import backends

    backends.start_quietly()  # no CUDA start-up lines on a machine without a GPU
    from keras_gan.models import noise
    source = _open(args)
    if args.interpolate and not source.images:
        raise UsageError("--interpolate draws image frames; this generator makes 2-D points.")
    record = {**source.source, "truncation": args.truncation}
    if args.interpolate:
        walk = seeds if seeds is not None else [args.seed, args.seed + 1]
        keys = np.concatenate([source.draw(1, s) for s in walk])
        keys = noise.truncate(keys, args.truncation, source.prior)
        z = np.concatenate([noise.interpolate(a, b, args.interpolate, source.prior)[(0 if i == 0 else 1):]
                            for i, (a, b) in enumerate(zip(keys[:-1], keys[1:]))])
        label = _labels(source, args.label, 0)
        frames = source.generate(z, label)
        images.save_frames(frames, out)
        record.update(seeds=walk, frames_per_segment=args.interpolate, frames=len(frames), label=label,
                      prior=source.prior, path="spherical" if source.prior == "normal" else "linear")
        message = f"wrote {out} ({len(frames)} frames through seeds {walk})"
    else:
        if seeds is not None:  # one sample per seed: the vector sample_latent(1, seed) draws
            z = np.concatenate([source.draw(1, s) for s in seeds])
            record.update(seeds=seeds)
        else:
            z = source.draw(args.num, args.seed)
            record.update(num=args.num, seed=args.seed)
        z = noise.truncate(z, args.truncation, source.prior)
        label = _labels(source, args.label, None)
        samples = source.generate(z, label)
        images.save_samples(samples, out, reference=source.reference)
        record.update(label=label, shape=list(samples.shape[1:]))
        message = (f"wrote {out} ({len(samples)} samples, "
                   + (f"seeds {args.seeds}" if seeds is not None else f"seed {args.seed}")
                   + (f", truncation {args.truncation}" if args.truncation != 1.0 else "") + ")")
    write_json(os.path.splitext(out)[0] + ".json", record)
    print(message)
    return 0
