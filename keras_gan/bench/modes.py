"""``keras-gan bench modes``: the mode-collapse benchmark on ring8 and grid25.

Each variant is a shipped config (``configs/<variant>_ring8.yaml``), trained
on both mixtures for a fixed number of generator steps and several seeds,
then scored by the VEEGAN / PacGAN protocol (:func:`keras_gan.evaluation.metrics.mode_metrics`):
2,500 samples; a sample is high quality within 3 std of its nearest mode; a
mode is covered if it has one high-quality sample; reverse KL of the mode
histogram. Prints a table, writes JSON (per variant and dataset: mean and std
over seeds of modes covered, % high quality, reverse KL and wall time) and a
PNG of seed 0's samples over the true modes for every variant.
"""

import glob
import json
import math
import os
import time

HELP = "Mode-collapse benchmark: train GAN variants on ring8 and grid25, report modes covered / HQ / reverse KL."

DATASETS = ("ring8", "grid25")
PUBLISHED = {
    "ring8": "plain GAN 1/8 (VEEGAN) to 6.3/8 (PacGAN); PacGAN4 7.8/8, 95.9% HQ, reverse KL 0.07",
    "grid25": "PacGAN4 24.8/25, 93.6% HQ, reverse KL 0.04",
}
#: Generator steps per run when ``--steps`` is not given.
DEFAULT_STEPS = 5000
#: Variants that need a longer run than :data:`DEFAULT_STEPS` (the EMA
#: generator reaches >= 90% high quality on grid25 only after about 12,500 steps).
STEPS = {"nsgan_ema": 15000}


def variants():
    """Names of the shipped variant configs (``configs/<name>_ring8.yaml``)."""
    from keras_gan import config

    return sorted(os.path.basename(p)[: -len("_ring8.yaml")] for p in glob.glob(os.path.join(config.configs_dir(), "*_ring8.yaml")))


def add_arguments(parser):
    parser.add_argument("--variants", nargs="+", default=None, help=f"variants to run (default: all shipped).")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant and dataset (default 3).")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"generator steps per run for every variant (default {DEFAULT_STEPS}; "
                             f"{', '.join(f'{v} {n}' for v, n in STEPS.items())}).")
    parser.add_argument("--num-samples", type=int, default=2500, help="samples scored per run (default 2500).")
    parser.add_argument("--json", required=True, help="output JSON file (a PNG is written beside it).")


def run_one(variant, dataset, seed, steps, num_samples=2500):
    """Trains one variant on one mixture and scores it.

    Args:
        variant: a shipped variant name (see :func:`variants`).
        dataset: ``"ring8"`` or ``"grid25"``.
        seed: training seed.
        steps: generator steps.
        num_samples: samples to score.

    Returns:
        ``(metrics dict with wall_seconds, samples array)``.
    """
    import keras

    from keras_gan import config, data
    from keras_gan.evaluation import metrics
    from keras_gan.training import runs

    cfg = config.load(f"{variant}_ring8")
    cfg = config.apply_overrides(cfg, [f"data.name={dataset}", f"train.seed={seed}"])
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    probe_steps = cfg.data.num_samples // (cfg.data.batch_size * cfg.train.d_steps)
    ds, steps_per_epoch, shape = data.training_dataset(
        dataset, batch_size=cfg.data.batch_size, d_steps=cfg.train.d_steps, seed=seed,
        epochs=math.ceil(steps / probe_steps), num_samples=cfg.data.num_samples,
    )
    model = runs.compile_model(runs.build_model(cfg, shape), cfg, steps)
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    samples = model.generate(num_samples, seed=10_000 + seed)
    wall = time.perf_counter() - start
    mix = data.MIXTURES[dataset]
    result = metrics.mode_metrics(samples, mix["centers"], mix["std"])
    result["wall_seconds"] = wall
    return result, samples


def _summary(values):
    import numpy as np

    values = np.asarray(values, float)
    return {"mean": float(values.mean()), "std": float(values.std()), "values": values.tolist()}


def run(args):
    from keras_gan.errors import UsageError

    known = variants()
    chosen = args.variants or known
    for v in chosen:
        if v not in known:
            raise UsageError(f"--variants: unknown variant {v!r}; shipped: {', '.join(known)}.")
    if args.seeds < 1 or (args.steps is not None and args.steps < 1) or args.num_samples < 1:
        raise UsageError("--seeds, --steps and --num-samples must be >= 1.")

    from keras_gan import config, data
    from keras_gan.bench import runnable_variants
    from keras_gan.training import runs

    chosen, skipped = runnable_variants({v: config.load(f"{v}_ring8") for v in chosen})
    total = len(chosen) * len(args.datasets) * args.seeds
    steps = {v: args.steps or STEPS.get(v, DEFAULT_STEPS) for v in chosen}
    results, pictures, done = {}, {}, 0
    started = time.perf_counter()
    for variant in chosen:
        for dataset in args.datasets:
            per_seed = []
            for seed in range(args.seeds):
                metrics, samples = run_one(variant, dataset, seed, steps[variant], args.num_samples)
                per_seed.append(metrics)
                if seed == 0:
                    pictures[(variant, dataset)] = samples
                done += 1
                print(f"[{done}/{total}] {variant:10s} {dataset:6s} seed {seed}: "
                      f"{metrics['modes_covered']}/{metrics['num_modes']} modes, "
                      f"{100 * metrics['high_quality_fraction']:.1f}% HQ, reverse KL {metrics['reverse_kl']:.3f}, "
                      f"{metrics['wall_seconds']:.0f} s (elapsed {time.perf_counter() - started:.0f} s)", flush=True)
            results.setdefault(variant, {})[dataset] = {
                "modes_covered": _summary([m["modes_covered"] for m in per_seed]),
                "num_modes": per_seed[0]["num_modes"],
                "high_quality_percent": _summary([100 * m["high_quality_fraction"] for m in per_seed]),
                "reverse_kl": _summary([m["reverse_kl"] for m in per_seed]),
                "wall_seconds": _summary([m["wall_seconds"] for m in per_seed]),
                "all_modes_every_seed": all(m["modes_covered"] == m["num_modes"] for m in per_seed),
            }
    report = {
        "protocol": {"samples": args.num_samples, "high_quality_radius_std": 3.0, "steps": steps,
                     "seeds": args.seeds, "datasets": {d: {"num_modes": len(data.MIXTURES[d]["centers"]),
                                                          "std": data.MIXTURES[d]["std"]} for d in args.datasets}},
        "published": PUBLISHED,
        "results": results,
        "skipped": skipped,
        "total_seconds": time.perf_counter() - started,
    }
    runs.write_json(args.json, report)
    png = args.json[: -len(".json")] + ".png"
    _plot(pictures, chosen, args.datasets, png)
    print(_table(results, args.datasets))
    print(f"wrote {args.json} and {png} ({report['total_seconds']:.0f} s in all)")
    return 0


def _table(results, datasets):
    lines = []
    header = f"{'variant':12s}" + "".join(f" | {d + ' modes':>14s} {'HQ %':>11s} {'rev KL':>13s}" for d in datasets)
    lines.append(header)
    lines.append("-" * len(header))
    for variant, per in results.items():
        row = f"{variant:12s}"
        for d in datasets:
            r = per[d]
            row += (f" | {r['modes_covered']['mean']:5.2f}±{r['modes_covered']['std']:4.2f}/{r['num_modes']:<2d}"
                    f" {r['high_quality_percent']['mean']:5.1f}±{r['high_quality_percent']['std']:4.1f}"
                    f" {r['reverse_kl']['mean']:6.3f}±{r['reverse_kl']['std']:5.3f}")
        lines.append(row)
    return "\n".join(lines)


def _plot(pictures, chosen, datasets, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_gan import data
    from keras_gan.files import atomic_path

    fig, axes = plt.subplots(len(datasets), len(chosen), figsize=(2.6 * len(chosen), 2.6 * len(datasets)),
                             squeeze=False)
    for i, dataset in enumerate(datasets):
        centers = data.MIXTURES[dataset]["centers"]
        for j, variant in enumerate(chosen):
            ax = axes[i][j]
            samples = pictures[(variant, dataset)]
            ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3)
            ax.scatter(centers[:, 0], centers[:, 1], s=30, facecolors="none", edgecolors="tab:red", linewidths=0.8)
            lim = 1.6 if dataset == "ring8" else 5.5
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(variant, fontsize=9)
            if j == 0:
                ax.set_ylabel(dataset, fontsize=9)
    fig.suptitle("2,500 samples (blue) over the true modes (red), seed 0", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
