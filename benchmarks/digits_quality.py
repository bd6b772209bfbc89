"""Digits-FID of trained digits runs, averaged over several draws of generated samples, and class coverage.

``keras-gan evaluate`` scores one draw of 1,437 generated digits against the 360 ``test`` digits; with
so few images one draw moves by about +-0.4 FID, as much as the settings compared in the README's
quality table. This script scores each run's last checkpoint over ``--draws`` draws (noise seeds
1000, 1001, ...), with the same extractor (the embedded digits classifier) and the same
:func:`keras_gan.evaluation.metrics.fid`, and reports the smallest share of any class among the generated
digits (by the classifier's argmax; 0.1 each for balanced digits) as the coverage check.

Usage::

    python benchmarks/digits_quality.py RUN_DIR [RUN_DIR ...] --json FILE [--draws 5]
"""

import argparse
import json
import os

import numpy as np


def score(run_dir, extractor, real_features, draws):
    """FID per draw and the mean smallest class share of one run's last checkpoint."""
    from keras_gan.training import checkpointing

    model = checkpointing.load_keras_file(checkpointing.list_checkpoints(run_dir)[-1].path)
    fids, smallest = [], []
    from keras_gan.evaluation import metrics

    for d in range(draws):
        out = extractor(model.generate(1437, seed=1000 + d))  # as many as the train split, as evaluate does
        fids.append(metrics.fid(real_features, out.features))
        counts = np.bincount(out.probabilities.argmax(axis=1), minlength=out.probabilities.shape[1])
        smallest.append(counts.min() / counts.sum())
    return {"fid_mean": float(np.mean(fids)), "fid_sd": float(np.std(fids, ddof=1)) if draws > 1 else 0.0,
            "fids": [float(f) for f in fids], "smallest_class_share": float(np.mean(smallest))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories written by keras-gan train (digits)")
    parser.add_argument("--draws", type=int, default=5, help="draws of generated samples per run (default 5)")
    parser.add_argument("--json", required=True, help="output JSON file")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws {args.draws} must be >= 1")
    from keras_gan import data, models
    from keras_gan.evaluation import features
    from keras_gan.evaluation import metrics  # noqa: F401 (models: the classes load_model needs)
    from keras_gan.files import write_json

    extractor = features.get_extractor("digits")
    test, _ = data.load_arrays("digits", "test")
    train, _ = data.load_arrays("digits", "train")
    real = extractor(test).features
    train_out = extractor(train)
    counts = np.bincount(train_out.probabilities.argmax(axis=1), minlength=train_out.probabilities.shape[1])
    report = {"baseline_train_vs_test_fid": float(metrics.fid(real, train_out.features)),
              "real_train_smallest_class_share": float(counts.min() / counts.sum()), "draws": args.draws,
              "runs": {}}
    print(f"real train vs test: FID {report['baseline_train_vs_test_fid']:.2f}, smallest class share of the real "
          f"train digits {report['real_train_smallest_class_share']:.3f}")
    for run in args.runs:
        r = score(run, extractor, real, args.draws)
        report["runs"][os.path.abspath(run)] = r
        print(f"{run}: FID {r['fid_mean']:.2f} +- {r['fid_sd']:.2f} over {args.draws} draws, "
              f"smallest class share {r['smallest_class_share']:.3f}", flush=True)
    write_json(args.json, report)


if __name__ == "__main__":
    main()
