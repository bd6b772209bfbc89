"""``keras-gan bench inference``: generator speed in Keras, a SavedModel and ONNX Runtime, side by side.

One process exports the generator to both formats (in a temporary directory),
loads them back, checks they match the Keras model, and times every runtime on
the same latents: latency per call (median and 90th percentile) and images per
second, at each batch size. Every call ends with the images in a numpy array
on the host, so all runtimes pay the same copy. The runtimes take turns
(``--rounds``), so that on a shared CPU they all meet the same background load.

Runtimes:

* ``keras-eager``: ``generator(z, training=False)``, what a notebook does;
* ``keras-function``: the same call in a ``tf.function`` (traced once);
* ``savedmodel``: ``tf.saved_model.load(...).signatures["serving_default"]``,
  the graph TF Serving runs (without the server's RPC cost);
* ``onnxruntime``: ``InferenceSession.run`` on the CPU execution provider, the
  session made by ``keras_gan.export.onnx_session`` (the session options that
  ``keras-gan sample --onnx`` and ``export/onnx_client.py`` use);
* ``onnxruntime-tf2onnx`` (with ``--baseline``): the graph as tf2onnx converts
  the TensorFlow forms (``export_onnx(..., optimize=False)``, what releases
  before the ONNX rewrites exported) in a session with ONNX Runtime's default
  options (spinning as ``--spin`` says), to measure the rewrites and options
  in the same run.
"""

import os
import platform
import statistics
import tempfile
import time

HELP = "Inference speed (images/s, latency) of a generator in Keras, SavedModel and ONNX Runtime."

RUNTIMES = ("keras-eager", "keras-function", "savedmodel", "onnxruntime")
BASELINE = "onnxruntime-tf2onnx"


def add_arguments(parser):
    parser.add_argument("--run", default=None,
                        help="run directory (default: the default DCGAN, 8x8x1, latent 100, base_filters 64).")
    parser.add_argument("--json", default=None, help="write the results to this JSON file.")
    parser.add_argument("--batch-sizes", default="1,64", help="comma-separated batch sizes (default 1,64).")
    parser.add_argument("--min-time", type=float, default=2.0,
                        help="seconds of timed calls per runtime and batch size (default 2).")
    parser.add_argument("--min-calls", type=int, default=20, help="at least this many timed calls (default 20).")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5).")
    parser.add_argument("--rounds", type=int, default=5,
                        help="the runtimes take turns this many times per batch size, each turn 1/rounds of "
                             "--min-time, so that all meet the same background load (default 5).")
    parser.add_argument("--threads", type=int, default=0,
                        help="ONNX Runtime intra-op threads (default 0: the cores this process may use).")
    parser.add_argument("--spin", action="store_true",
                        help="let ONNX Runtime's idle threads spin (its default; off here because on a shared "
                             "CPU a descheduled spinning worker stalls every parallel op).")
    parser.add_argument("--baseline", action="store_true",
                        help=f"also time {BASELINE}: the ONNX graph as tf2onnx converts it, without the export's "
                             "rewrites, in a session with ONNX Runtime's default options (before/after in one run).")


def _parse_batch_sizes(text):
    from keras_gan.errors import UsageError

    try:
        sizes = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--batch-sizes must be comma-separated integers >= 1, got {text!r}.")
    return sizes


def _time_calls(fn, warmup, min_time, min_calls):
    """Per-call latencies in seconds: ``warmup`` untimed calls, then at least ``min_calls`` and ``min_time``."""
    for _ in range(warmup):
        fn()
    latencies = []
    start = time.perf_counter()
    while len(latencies) < min_calls or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
    return latencies


def _time_alternating(fns, warmup, min_time, min_calls, rounds):
    """``{name: (latencies, per-round medians)}``: the runtimes take turns, ``rounds`` times.

    Each turn times at least ``min_time / rounds`` seconds and ``min_calls / rounds``
    calls, so every runtime meets the same background load (other jobs on a
    shared CPU come and go within seconds) and gets at least ``min_time`` and
    ``min_calls`` in all.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {name: ([], []) for name in fns}
    per_calls = -(-min_calls // rounds)
    for _ in range(rounds):
        for name, fn in fns.items():
            latencies = _time_calls(fn, 0, min_time / rounds, per_calls)
            out[name][0].extend(latencies)
            out[name][1].append(statistics.median(latencies))
    return out


def _summarize(latencies, batch):
    ordered = sorted(latencies)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {
        "calls": len(latencies),
        "latency_ms_median": 1e3 * statistics.median(latencies),
        "latency_ms_p90": 1e3 * p90,
        "latency_ms_mean": 1e3 * statistics.fmean(latencies),
        "images_per_second": batch * len(latencies) / sum(latencies),  # sustained: total images / total time
        "images_per_second_at_median": batch / statistics.median(latencies),  # typical call
    }


def _baseline_session(path, threads, spin):
    """The session the benchmark used before ``export.onnx_session``: ONNX Runtime's defaults but threads/spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _runners(generator, saved_model_dir, onnx_path, threads, spin, baseline_path=None):
    """``{runtime: (prepare(z) -> input, call(input) -> numpy)}``."""
    import tensorflow as tf

    from keras_gan import export

    traced = tf.function(lambda z: generator(z, training=False), autograph=False)
    serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    session = export.onnx_session(onnx_path, threads=threads, spin=spin)
    runners = {
        "keras-eager": (tf.constant, lambda z: generator(z, training=False).numpy()),
        "keras-function": (tf.constant, lambda z: traced(z).numpy()),
        "savedmodel": (tf.constant, lambda z: serve(z=z)["images"].numpy()),
        "onnxruntime": (lambda z: z, lambda z: session.run(["images"], {"z": z})[0]),
    }
    if baseline_path:
        base = _baseline_session(baseline_path, threads, spin)
        runners[BASELINE] = (lambda z: z, lambda z: base.run(["images"], {"z": z})[0])
    return runners


def _format_table(results):
    lines = [f"{'runtime':<20}{'batch':>6}{'median ms':>11}{'p90 ms':>9}{'img/s (median)':>16}"
             f"{'img/s (mean)':>14}{'max|diff|':>11}"]
    for r in results:
        lines.append(
            f"{r['runtime']:<20}{r['batch_size']:>6}{r['latency_ms_median']:>11.3f}{r['latency_ms_p90']:>9.3f}"
            f"{r['images_per_second_at_median']:>16.0f}{r['images_per_second']:>14.0f}"
            f"{r['max_abs_diff_vs_keras']:>11.2g}"
        )
    return "\n".join(lines)


def run(args):
    from keras_gan.errors import UsageError

    sizes = _parse_batch_sizes(args.batch_sizes)
    if args.min_time < 0 or args.min_calls < 1 or args.warmup < 0 or args.threads < 0 or args.rounds < 1:
        raise UsageError("--min-time and --warmup must be >= 0, --min-calls and --rounds >= 1, --threads >= 0.")

    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    import keras
    import keras_gan
    from keras_gan import export, models, networks
    from keras_gan.training import runs

    if args.run:
        print(f"[1/4] loading {args.run}")
        _, model = runs.load_run(args.run)
        source = {"run": os.path.abspath(args.run)}
    else:
        print("[1/4] building the default DCGAN (8x8x1, latent 100, base_filters 64, num_upsamplings 2)")
        model = models.DCGAN(image_shape=(8, 8, 1), base_filters=64, num_upsamplings=2)
        source = {"model": "DCGAN(image_shape=(8, 8, 1), latent_dim=100, base_filters=64, num_upsamplings=2)"}
    if len(model.generator.inputs) != 1:
        raise UsageError("bench inference times unconditional generators; this run's generator takes labels.")
    ema = getattr(model, "ema_generator", None)
    generator = ema if ema is not None else model.generator  # what export exports

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        print("[2/4] exporting to SavedModel and ONNX")
        sm_dir = export.export_saved_model(model, os.path.join(tmp, "saved_model"))
        onnx_path = export.export_onnx(model, os.path.join(tmp, "generator.onnx"))
        baseline_path = None
        if getattr(args, "baseline", False):
            baseline_path = export.export_onnx(model, os.path.join(tmp, "generator_tf2onnx.onnx"), optimize=False)
        runners = _runners(generator, sm_dir, onnx_path, args.threads, args.spin, baseline_path)
        names = [n for n in RUNTIMES + (BASELINE,) if n in runners]
        rewrites = export.read_metadata(onnx_path).get("graph_rewrites", [])
        print(f"[3/4] timing {', '.join(names)} at batch sizes {sizes}")
        for batch in sizes:
            z = model.sample_latent(batch, seed=batch).numpy()
            reference = generator(tf.constant(z), training=False).numpy()
            fns, diffs = {}, {}
            for name in names:
                prepare, call = runners[name]
                x = prepare(z)
                diffs[name] = float(np.max(np.abs(call(x) - reference)))
                fns[name] = lambda call=call, x=x: call(x)
            timed = _time_alternating(fns, args.warmup, args.min_time, args.min_calls, args.rounds)
            for name in names:
                latencies, round_medians = timed[name]
                row = {"runtime": name, "batch_size": batch, **_summarize(latencies, batch),
                       "round_medians_ms": [1e3 * m for m in round_medians],
                       "max_abs_diff_vs_keras": diffs[name]}
                results.append(row)
                print(f"  {name:<20} batch {batch:>4}: {row['latency_ms_median']:.3f} ms median, "
                      f"{row['images_per_second']:.0f} images/s")

    from keras_gan.bench.throughput import machine_info

    machine = machine_info()
    table = f"machine: {machine['summary']}\n" + _format_table(results)
    print("[4/4] results\n" + table)
    report = {
        "benchmark": "inference",
        "source": source,
        "latent_dim": model.latent_dim,
        "image_shape": list(generator.output.shape[1:]),
        "generator_parameters": networks.num_parameters(generator),
        "settings": {"batch_sizes": sizes, "min_time_s": args.min_time, "min_calls": args.min_calls,
                     "warmup": args.warmup, "rounds": args.rounds,
                     "onnxruntime_intra_op_threads": args.threads or export.onnx_threads(),
                     "onnxruntime_spinning": bool(args.spin), "onnx_graph_rewrites": rewrites},
        "machine": machine,
        "environment": {
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "processor": platform.processor(),
            "python": platform.python_version(), "keras_gan": keras_gan.__version__,
            "keras": keras.__version__, "tensorflow": tf.__version__, "onnxruntime": ort.__version__,
            "tf_devices": [d.name for d in tf.config.list_logical_devices()],
            # Other processes share the CPU: the load average says how busy it was.
            "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "results": results,
        "table": table,
    }
    if args.json:
        runs.write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0
