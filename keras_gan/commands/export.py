"""``keras-gan export``: a run's generator to SavedModel (TF Serving) and ONNX (ONNX Runtime).

Writes, under ``--out`` (default ``<run>/export``)::

    saved_model/<version>/   the TF Serving model (base_path: saved_model/)
    generator.onnx           the ONNX model
    export.json              paths, metadata and the measured parity with Keras

Each format is checked against the Keras generator at batch sizes 1, 7 and 64
after it is written; a failed export leaves the previous one in place. The
command runs on the TensorFlow backend whatever ``KERAS_BACKEND`` says: a
checkpoint trained on JAX or torch loads there (``.keras`` files are
backend-neutral).
"""

import os

HELP = "Export a run's generator to SavedModel (TF Serving) and ONNX, and check they match Keras."

FORMATS = ("savedmodel", "onnx")


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="run directory written by keras-gan train.")
    parser.add_argument("--format", default="savedmodel,onnx",
                        help="comma-separated formats: savedmodel, onnx (default both).")
    parser.add_argument("--out", default=None, help="output directory (default <run>/export).")
    parser.add_argument("--uint8", action="store_true",
                        help="output uint8 images in [0, 255] instead of float32 in [-1, 1].")
    parser.add_argument("--version", type=int, default=1,
                        help="SavedModel version directory (default 1; TF Serving serves the highest).")
    parser.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default: latest).")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17, at most 18).")
    parser.add_argument("--max-batch-size", type=int, default=None,
                        help="largest batch of the 'sample' signature and the clients (default 1024).")


def _parse_formats(text):
    from keras_gan.errors import UsageError

    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise UsageError(f"--format {text!r}: allowed values are {', '.join(FORMATS)} (comma-separated).")
    return list(dict.fromkeys(formats))


def _config_dict(cfg):
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    import dataclasses

    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else None


def run(args):
    from keras_gan import backends
    from keras_gan.errors import UsageError

    # SavedModel and ONNX are written through TensorFlow; a .keras checkpoint trained on
    # any backend loads on it (KERAS_BACKEND is overridden for this command).
    os.environ.pop("KERAS_BACKEND", None)
    backends.select("tensorflow")

    formats = _parse_formats(args.format)
    if args.version < 1:
        raise UsageError(f"--version must be an integer >= 1, got {args.version}.")
    if args.opset is not None and not 13 <= args.opset <= 18:
        raise UsageError(f"--opset must be from 13 to 18, got {args.opset}.")
    if args.max_batch_size is not None and args.max_batch_size < 1:
        raise UsageError(f"--max-batch-size must be >= 1, got {args.max_batch_size}.")
    if not os.path.isdir(args.run):
        raise UsageError(f"--run {args.run!r} is not a directory.")
    backends.start_quietly()  # no CUDA start-up lines on a machine without a GPU

    from keras_gan import export
    from keras_gan.training import runs

    out = os.path.abspath(args.out or os.path.join(args.run, "export"))
    from keras_gan.commands import _paths

    _paths.output_dir("--out", out)
    print(f"[1/{len(formats) + 2}] loading {args.run}")
    cfg, model = runs.load_run(args.run, args.epoch)
    if args.uint8 and len(model.generator.output.shape) != 4:
        raise UsageError("--uint8 needs an image generator; this run's generator outputs "
                         f"{tuple(model.generator.output.shape)}.")
    options = {"uint8": args.uint8, "training_config": _config_dict(cfg)}
    if args.max_batch_size is not None:
        options["max_batch_size"] = args.max_batch_size

    summary = {"run": os.path.abspath(args.run), "epoch": getattr(model, "epoch", None), "formats": {}}
    for step, fmt in enumerate(formats, start=2):
        if fmt == "savedmodel":
            path = export.export_saved_model(model, os.path.join(out, "saved_model"), version=args.version,
                                             **options)
        else:
            onnx_options = dict(options, opset=args.opset) if args.opset is not None else options
            path = export.export_onnx(model, os.path.join(out, "generator.onnx"), **onnx_options)
        parity = export.check_parity(model, path, batch_sizes=(1, 7, 64))
        worst = max(parity.values())
        print(f"[{step}/{len(formats) + 2}] {fmt}: {path} (max |export - keras| = {worst:.2g} at batch 1, 7, 64)")
        summary["formats"][fmt] = {"path": path, "max_abs_diff": {str(k): v for k, v in parity.items()},
                                   "metadata": export.read_metadata(path)}
    runs.write_json(os.path.join(out, "export.json"), summary)
    print(f"[{len(formats) + 2}/{len(formats) + 2}] wrote {os.path.join(out, 'export.json')}")
    if "savedmodel" in formats:
        print("serve with TF Serving (see export/README.md):\n"
              f"  docker run --rm -p 8501:8501 -p 8500:8500 -v {os.path.join(out, 'saved_model')}:/models/gan "
              "-e MODEL_NAME=gan tensorflow/serving")
    return 0
