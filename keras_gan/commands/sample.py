"""``keras-gan sample``: a grid of samples from a run, a SavedModel or an ONNX file."""

import json
import os

HELP = "Write a PNG grid of samples (and its JSON) from a run directory or an exported generator."


def add_arguments(parser):
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run directory written by keras-gan train.")
    src.add_argument("--saved-model", help="exported SavedModel directory (the base or a version directory).")
    src.add_argument("--onnx", help="exported ONNX file.")
    parser.add_argument("--num", type=int, default=64, help="number of samples (default 64).")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0).")
    parser.add_argument("--label", type=int, default=None,
                        help="class of every sample, for a conditional model (default: classes in turn).")
    parser.add_argument("--epoch", type=int, default=None, help="checkpoint epoch of --run (default: latest).")
    parser.add_argument("--out", default="samples.png", help="output PNG (default samples.png).")


def run(args):
    from keras_gan.errors import UsageError

    if args.num < 1:
        raise UsageError(f"--num must be >= 1, got {args.num}.")
    if not args.out.lower().endswith(".png"):
        raise UsageError(f"--out must be a .png file, got {args.out!r}.")
    from keras_gan.commands import _paths

    _paths.output_file("--out", args.out)
    if args.run:
        _paths.input_dir("--run", args.run, "a run directory written by keras-gan train")
    from keras_gan.evaluation import images
    from keras_gan.training import runs

    reference = None
    if args.run:
        cfg, model = runs.load_run(args.run, args.epoch)
        if args.label is not None and not model.num_classes:
            raise UsageError(f"--label {args.label}: the model in {args.run!r} is not conditional.")
        if args.label is not None and not 0 <= args.label < model.num_classes:
            raise UsageError(f"--label {args.label} is out of range; expected 0..{model.num_classes - 1}.")
        samples = model.generate(args.num, seed=args.seed, labels=args.label)
        source = {"run": os.path.abspath(args.run), "epoch": model.epoch}
        from keras_gan import data

        if cfg.data.name in data.MIXTURES:
            reference = data.MIXTURES[cfg.data.name]["centers"]
    else:
        from keras_gan import export

        path = args.saved_model or args.onnx
        if args.saved_model:
            _paths.input_dir("--saved-model", path, "a SavedModel directory")
        else:
            _paths.input_file("--onnx", path, "an .onnx file")
        flag, kind = ("--saved-model", "SavedModel") if args.saved_model else ("--onnx", "ONNX model")
        with _paths.loading(flag, path, kind):
            samples = export.sample_exported(path, args.num, args.seed, labels=args.label)
        if samples.dtype.name == "uint8":
            samples = samples.astype("float32") / 127.5 - 1.0
        source = {"saved_model" if args.saved_model else "onnx": os.path.abspath(path)}
    images.save_samples(samples, args.out, reference=reference)
    runs.write_json(args.out[:-4] + ".json", {**source, "num": args.num, "seed": args.seed, "label": args.label,
                                              "shape": list(samples.shape[1:])})
    print(f"wrote {args.out} ({args.num} samples, seed {args.seed})")
    return 0
