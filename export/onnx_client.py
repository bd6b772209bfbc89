#!/usr/bin/env python3
"""ONNX Runtime client for a keras_gan generator: draws latents, runs the model, writes a PNG grid.

Needs ``onnxruntime``, ``numpy`` and ``Pillow``, not keras_gan. The latent
size, prior, number of classes and largest batch come from the model's
metadata properties (written by ``keras_gan.export.export_onnx``). Latents
are drawn with numpy from the model's prior (``--z-file`` gives your own,
a ``.npy`` array ``[batch, latent_dim]``). Beside the PNG a JSON file holds
the inputs and the pixel values.

Example::

    python export/onnx_client.py generator.onnx --num 16 --seed 0 --out grid.png
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_common  # noqa: E402


def cpu_threads():
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def session_options(threads=0, spin=False):
    """The session options of ``keras_gan.export.onnx_session_options`` (copied: this kit never imports keras_gan).

    All graph optimizations, sequential execution with one inter-op thread,
    ``threads`` intra-op threads (0: every core this process may use), idle
    threads sleep instead of spinning unless ``spin`` (a spinning worker that
    the OS deschedules stalls every parallel operation on a shared CPU).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = int(threads) if threads else cpu_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return options


def read_metadata(session):
    """The keras_gan metadata of a loaded model (each property value is JSON)."""
    props = session.get_modelmeta().custom_metadata_map
    if "latent_dim" not in props:
        raise ValueError(
            "The ONNX model has no keras_gan metadata (latent_dim): export it with keras_gan.export.export_onnx."
        )
    return {key: json.loads(value) for key, value in props.items()}


def build_feed(z, labels, metadata, max_batch_size=None):
    """Validates a batch against the model's metadata and builds the ONNX Runtime feed.

    Args:
        z: ``[batch, latent_dim]`` numbers.
        labels: one integer per row for a conditional model, else None.
        metadata: the dict of :func:`read_metadata`.
        max_batch_size: largest batch (default: the metadata's).

    Returns:
        ``{"z": float32 [batch, latent_dim](, "label": int32 [batch])}``.

    Raises:
        ValueError: naming what is wrong with the batch.
    """
    rows, labels = client_common.validate_batch(
        z, labels, metadata["latent_dim"], metadata["conditional"], metadata.get("num_classes"),
        max_batch_size or metadata.get("max_batch_size") or client_common.DEFAULT_MAX_BATCH_SIZE,
    )
    feed = {"z": np.asarray(rows, np.float32)}
    if labels is not None:
        feed["label"] = np.asarray(labels, np.int32)
    return feed


def draw_latent(num, metadata, seed):
    """``num`` latents from the model's prior, with numpy's default generator."""
    rng = np.random.default_rng(seed)
    shape = [num, metadata["latent_dim"]]
    if metadata["prior"] == "uniform":
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    if metadata["prior"] == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    raise ValueError(f"Unknown prior {metadata['prior']!r} in the model's metadata.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("--num", type=int, default=16, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--labels", default=None,
                        help="comma-separated labels (conditional models; default: classes in turn)")
    parser.add_argument("--z-file", default=None, help=".npy latents [batch, latent_dim] instead of --num/--seed")
    parser.add_argument("--out", default="grid.png", help="PNG grid (a JSON file of the numbers goes beside it)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: all cores)")
    parser.add_argument("--spin", action="store_true", help="let ONNX Runtime's idle threads spin")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    try:
        if not os.path.isfile(args.model):
            raise ValueError(f"model {args.model!r} is not a file.")
        if args.threads < 0:
            raise ValueError(f"--threads must be >= 0, got {args.threads}.")
        try:
            session = ort.InferenceSession(args.model, session_options(args.threads, args.spin),
                                           providers=["CPUExecutionProvider"])
        except Exception as err:  # a truncated or foreign file: one line, not a traceback
            raise ValueError(f"model {args.model!r} is not a readable ONNX model: {type(err).__name__}: "
                             f"{(str(err).strip().splitlines() or ['?'])[0][:300]}") from None
        metadata = read_metadata(session)
        if args.z_file is not None:
            try:
                z = np.load(args.z_file, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise ValueError(f"--z-file {args.z_file!r} is not a readable .npy file: {err}") from None
        else:
            if args.num < 1:
                raise ValueError(f"--num must be >= 1, got {args.num}.")
            z = draw_latent(args.num, metadata, args.seed)
        labels = client_common.parse_labels(args.labels)
        if metadata["conditional"] and labels is None:
            labels = [i % (metadata.get("num_classes") or 1) for i in range(len(z))]
        feed = build_feed(z, labels, metadata)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images = session.run(["images"], feed)[0]
    if images.ndim != 4:
        print(f"error: the model outputs shape {images.shape}, not images; nothing to draw.", file=sys.stderr)
        return 2
    png, js = client_common.save_grid(images, args.out, {
        "model": os.path.abspath(args.model), "seed": args.seed, "z_file": args.z_file,
        "prior": metadata["prior"], "latent_dim": metadata["latent_dim"], "labels": labels,
        "z": feed["z"].tolist(), "output_dtype": images.dtype.name,
    })
    print(f"wrote {png} and {js} ({len(images)} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
