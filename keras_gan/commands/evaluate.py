"""``keras-gan evaluate``: score a trained run against held-out real data, offline.

Image runs get FID, KID, Inception Score, precision/recall and density/coverage on features of
an extractor (``digits``: the embedded classifier, the default for digits
runs; ``inception``: InceptionV3 from a local weights file). 2-D mixture runs
(``ring8``, ``grid25``) get the mode-collapse metrics (modes covered, high
quality fraction, reverse KL).

Every number comes with a baseline that makes it readable: the same metrics
between two disjoint real splits (by default the ``train`` split against the
``test`` split, with as many ``train`` samples as generated ones), i.e. what
a generator that reproduced the data distribution exactly would score.

Example::

    keras-gan evaluate --run runs/dcgan_digits --json runs/dcgan_digits/evaluation.json
"""

import os

from keras_gan.commands import _args
from keras_gan.errors import UsageError

HELP = ("Score a trained run (FID, KID, IS, precision/recall, density/coverage or mode coverage) against held-out "
        "real data.")

_DEFAULT_MAX_SAMPLES = 10_000
_DEFAULT_MIXTURE_SAMPLES = 2_500  # VEEGAN / PacGAN draw 2,500 samples
_METRIC_CHOICES = ("fid", "kid", "is", "precision_recall", "density_coverage")


def add_arguments(parser):
    """Adds the ``evaluate`` options to an argparse parser."""
    parser.add_argument("--run", required=True, metavar="DIR", help="run directory written by `keras-gan train`")
    parser.add_argument(
        "--num-samples", type=int, default=None, metavar="N",
        help="generated samples (default: as many as the baseline split holds, at most 10000; "
        "2500 for 2-D mixtures)",
    )
    parser.add_argument(
        "--extractor", choices=("digits", "mnist5k", "inception"), default=None,
        help="feature extractor (default: digits for digits runs, mnist5k for mnist5k runs, inception otherwise)",
    )
    parser.add_argument(
        "--inception-weights", default=None, metavar="PATH",
        help="local InceptionV3 weights file for --extractor inception "
        "(default: $KERAS_GAN_INCEPTION_WEIGHTS); nothing is downloaded",
    )
    parser.add_argument("--epoch", type=int, default=None, help="checkpoint epoch of --run (default: latest)")
    parser.add_argument("--real-split", default="test", help="held-out real split to compare with (default: test)")
    parser.add_argument(
        "--baseline-split", default=None,
        help="real split scored against --real-split as the baseline (default: train, or test when "
        "--real-split is not test; 'none' skips it)",
    )
    parser.add_argument(
        "--metrics", default=",".join(_METRIC_CHOICES),
        help=f"comma-separated image metrics (default: all of {','.join(_METRIC_CHOICES)})",
    )
    parser.add_argument("--seed", type=_args.seed, default=0, help="seed of the generated noise and of the subsets")
    parser.add_argument("--batch-size", type=int, default=500, help="images per batch (default: 500)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default: 100)")
    parser.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size, capped at the sample count")
    parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default: 10)")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="where to write the results (default: DIR/evaluation.json)"
    )


def _load_run(run_dir, epoch=None):
    from keras_gan.training import runs

    return runs.load_run(run_dir, epoch)


def _load_real(name, split, image_size=None, data_dir=None, num_samples=None, source=None):
    from keras_gan import data

    kwargs = {"image_size": image_size, "data_dir": data_dir, **(source or {})}
    if num_samples is not None:
        kwargs["num_samples"] = num_samples
    return data.load_arrays(name, split, **kwargs)[0]


def _mixtures():
    from keras_gan import data

    return data.MIXTURES


def _check_args(args):
    if not os.path.isdir(args.run):
        raise UsageError(f"--run {args.run!r} is not a directory; pass a run directory written by `keras-gan train`.")
    for flag, value, minimum in (
        ("--num-samples", args.num_samples, 2), ("--batch-size", args.batch_size, 1),
        ("--kid-subsets", args.kid_subsets, 1), ("--kid-subset-size", args.kid_subset_size, 2),
        ("--is-splits", args.is_splits, 1),
    ):
        if value is not None and value < minimum:
            raise UsageError(f"{flag} must be >= {minimum}, got {value}.")
    from keras_gan.commands import _paths

    if args.json is not None:
        _paths.output_file("--json", args.json)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    bad = [m for m in metrics if m not in _METRIC_CHOICES]
    if bad or not metrics:
        raise UsageError(f"--metrics {args.metrics!r}: allowed names are {', '.join(_METRIC_CHOICES)}.")
    baseline = args.baseline_split
    if baseline is None:
        baseline = "train" if args.real_split == "test" else "test"
    if baseline.lower() == "none":
        baseline = None
    if baseline is not None and baseline == args.real_split:
        raise UsageError(f"--baseline-split {baseline!r} must differ from --real-split {args.real_split!r}.")
    return metrics, baseline


def _fmt(value, std=None):
    text = f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    if std is not None:
        text += f" ± {std:.2e}" if abs(std) < 1e-3 and std != 0 else f" ± {std:.4f}"
    return text


def _print_table(columns, rows):
    """Prints rows of (label, value per column) under the column headers."""
    widths = [max(len(r[0]) for r in rows + [("metric",)])] + [
        max(len(columns[i]), *(len(r[i + 1]) for r in rows)) for i in range(len(columns))
    ]
    header = ["metric", *columns]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _image_rows(results):
    """Table rows for image metrics: results is a list of dicts, one per column."""
    rows = []
    labels = (
        ("FID (lower is better)", "fid", None),
        ("KID (lower is better)", "kid_mean", "kid_std"),
        ("Inception Score (of the left set)", "is_mean", "is_std"),
        ("precision (higher is better)", "precision", None),
        ("recall (higher is better)", "recall", None),
        ("density (about 1 for real data)", "density", None),
        ("coverage (higher is better)", "coverage", None),
    )
    for label, key, std_key in labels:
        if key in results[0]:
            rows.append((label, *(_fmt(r[key], r.get(std_key) if std_key else None) for r in results)))
    return rows


def _evaluate_mixture(args, config, model, name, baseline_split):
    from keras_gan.evaluation import metrics

    spec = _mixtures()[name]
    n = args.num_samples or _DEFAULT_MIXTURE_SAMPLES
    print(f"Generating {n} samples (seed {args.seed}) ...", flush=True)
    generated = metrics.mode_metrics(model.generate(n, args.seed), spec["centers"], spec["std"])
    columns, results = ["generated"], [generated]
    baseline = None
    if baseline_split is not None:
        real = _load_real(name, args.real_split, num_samples=n)
        baseline = metrics.mode_metrics(real, spec["centers"], spec["std"])
        columns.append(f"real {args.real_split} (baseline)")
        results.append(baseline)
    rows = [
        ("modes covered", *(f"{r['modes_covered']} / {r['num_modes']}" for r in results)),
        ("high-quality samples", *(f"{100 * r['high_quality_fraction']:.1f}%" for r in results)),
        ("reverse KL (nats)", *(f"{r['reverse_kl']:.4f}" for r in results)),
    ]
    _print_table(columns, rows)
    return {
        "kind": "mixture",
        "num_samples": n,
        "threshold_std": 3.0,
        "mixture": {"centers": [list(map(float, c)) for c in spec["centers"]], "std": float(spec["std"])},
        "real_split": args.real_split if baseline is not None else None,
        "generated": generated,
        "baseline": baseline,
    }


def _evaluate_images(args, config, model, name, baseline_split, metric_names):
    from keras_gan.evaluation import features
    from keras_gan.evaluation import metrics

    # The embedded classifiers score the datasets they were trained on; anything else needs Inception.
    extractor_name = args.extractor or (name if name in ("digits", "mnist5k") else "inception")
    image_size = getattr(config.data, "image_size", None)
    data_dir = getattr(config.data, "data_dir", None)
    try:
        if extractor_name == "inception":
            extractor = features.get_extractor("inception", weights=args.inception_weights)
        else:
            extractor = features.get_extractor(extractor_name)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    if extractor.num_classes is None and "is" in metric_names:
        print("Note: this extractor has no classifier head; skipping the Inception Score.", flush=True)
        metric_names = tuple(m for m in metric_names if m != "is")
    keep = bool(set(metrics.FEATURE_METRICS) & set(metric_names))
    options = dict(extractor=extractor, batch_size=args.batch_size, seed=args.seed, keep_features=keep)

    from keras_gan import data

    source = data.source_options(config.data) if name == "folder" else None
    real = _load_real(name, args.real_split, image_size, data_dir, source=source)
    baseline_images = None
    if baseline_split is not None:
        baseline_images = _load_real(name, baseline_split, image_size, data_dir, source=source)
    n = args.num_samples
    if n is None:
        n = min(len(baseline_images), _DEFAULT_MAX_SAMPLES) if baseline_images is not None else _DEFAULT_MAX_SAMPLES

    print(f"[1/3] Features of the real {args.real_split!r} split ({len(real)} images, extractor {extractor.name}) ...",
          flush=True)
    real_set = metrics.extract_features(real, **options)
    print(f"[2/3] Generating {n} samples (seed {args.seed}) and extracting their features ...", flush=True)
    fake_set = metrics.extract_features(model.generate, num_samples=n, **options)
    params = dict(
        metrics=metric_names, kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size,
        is_splits=args.is_splits, seed=args.seed,
    )
    generated = metrics.compare(fake_set, real_set, **params)
    columns, results = [f"generated vs {args.real_split}"], [generated]
    baseline, num_baseline = None, None
    if baseline_images is not None:
        num_baseline = min(n, len(baseline_images))
        print(f"[3/3] Baseline: {num_baseline} real {baseline_split!r} images vs the {args.real_split!r} split ...",
              flush=True)
        base_set = metrics.extract_features(baseline_images, num_samples=num_baseline, **options)
        baseline = metrics.compare(base_set, real_set, **params)
        columns.append(f"{baseline_split} vs {args.real_split} (baseline)")
        results.append(baseline)
    print()
    _print_table(columns, _image_rows(results))
    return {
        "kind": "images",
        "extractor": extractor.settings(),
        "num_samples": int(n),
        "real_split": args.real_split,
        "num_real": int(real_set.count),
        "num_baseline": num_baseline,
        "metrics": list(metric_names),
        "batch_size": args.batch_size,
        "kid_subsets": args.kid_subsets,
        "kid_subset_size": int(min(args.kid_subset_size, n, real_set.count)),
        "is_splits": int(min(args.is_splits, n)),
        "precision_recall_k": 3,
        "precision_recall_samples": int(min(n, real_set.count)),
        "density_coverage_k": 5,
        "generated": generated,
        "baseline": baseline,
    }


def run(args):
    """Runs ``keras-gan evaluate``; returns the exit code."""
    metric_names, baseline_split = _check_args(args)
    from keras_gan import backends

    backends.start_quietly()  # no CUDA start-up lines on a machine without a GPU
    config, model = _load_run(args.run, args.epoch)
    name = config.data.name
    print(f"Evaluating run {args.run} (dataset {name!r}) ...", flush=True)
    if name in _mixtures():
        payload = _evaluate_mixture(args, config, model, name, baseline_split)
    else:
        payload = _evaluate_images(args, config, model, name, baseline_split, metric_names)
    payload = {
        "run": os.path.abspath(args.run),
        "epoch": getattr(model, "epoch", args.epoch),
        "dataset": name,
        "image_size": getattr(config.data, "image_size", None),
        "seed": args.seed,
        "baseline_split": baseline_split,
        **payload,
    }
    path = args.json or os.path.join(args.run, "evaluation.json")
    from keras_gan.training import runs

    runs.write_json(path, payload)
    print(f"Wrote {path}")
    return 0
