"""``keras-gan bench stacked-mnist``: mode collapse at the scale the literature measures it (1,000 modes).

Each listed config is the mnist5k DCGAN of ``configs/dcgan_mnist5k.yaml`` (figure 13.9 at 28x28) trained on
``stacked_mnist`` (three mnist5k digits as the channels of one 28x28x3 image) with its variant's settings, for a
fixed number of generator steps and several seeds; then ``--num-samples`` samples (26,000, as VEEGAN and PacGAN)
are classified channel by channel with the embedded mnist5k classifier
(:func:`keras_gan.evaluation.metrics.stacked_mnist_modes`): modes covered of 1,000, the reverse KL of the mode
histogram to uniform, and the share of confidently classified samples. ``--quick`` is a smoke run that fits a test.
"""

import time

HELP = "Stacked MNIST (1,000 modes): train DCGAN, PacGAN2/4, hinge+SN, EMA; report modes covered and reverse KL."

#: The variants: overrides of configs/dcgan_mnist5k.yaml (data.name = stacked_mnist).
VARIANTS = {
    "dcgan": [],
    "pacgan2": ["model.num_packed=2"],
    "pacgan4": ["model.num_packed=4"],
    "hinge_sn": ["train.loss=hinge", "model.spectral_norm=true", "model.discriminator_batch_norm=false"],
    "dcgan_ema": ["model.ema_decay=0.999"],
}
#: Published figures, each under its own protocol (cited as published, not re-run here).
PUBLISHED = {
    "DCGAN (PacGAN, Lin et al. 2018, Table 3; 26,000 samples)": "about 99 of 1,000 modes, reverse KL 3.4",
    "PacDCGAN2 (same table)": "1,000 modes, reverse KL about 0.06",
    "R3GAN (Huang et al. 2024)": "all 1,000 modes",
}
DEFAULT_STEPS = 2000


def add_arguments(parser):
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="variants to train (default: all).")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per variant (default 2).")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"generator steps per run (default {DEFAULT_STEPS}).")
    parser.add_argument("--num-samples", type=int, default=26000, help="samples classified per run (default 26,000).")
    parser.add_argument("--base-filters", type=int, default=None,
                        help="override model.base_filters (default: the config's 64).")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 20 steps, base 8, 1 seed, 2,600 samples (fits a test).")
    parser.add_argument("--json", required=True, help="output JSON file.")


def run_one(variant, seed, steps, num_samples, base_filters=None):
    """Trains one variant on stacked_mnist and counts its modes; returns the metrics and wall time."""
    import keras

    from keras_gan import config, data
    from keras_gan.evaluation import metrics
    from keras_gan.training import runs

    overrides = ["data.name=stacked_mnist", f"train.seed={seed}"] + VARIANTS[variant]
    if base_filters:
        overrides.append(f"model.base_filters={base_filters}")
    cfg = config.apply_overrides(config.load("dcgan_mnist5k"), overrides)
    start = time.perf_counter()
    per_epoch = data.training_dataset("stacked_mnist", batch_size=cfg.data.batch_size, d_steps=cfg.train.d_steps,
                                      seed=seed)[1]
    ds, _, shape = data.training_dataset("stacked_mnist", batch_size=cfg.data.batch_size, d_steps=cfg.train.d_steps,
                                         seed=seed, epochs=-(-steps // per_epoch))
    keras.utils.set_random_seed(seed)
    model = runs.compile_model(runs.build_model(cfg, shape), cfg, steps)
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)  # shuffled by (seed, epoch)
    train_seconds = time.perf_counter() - start
    samples = model.generate(num_samples, seed=10_000 + seed)
    result = metrics.stacked_mnist_modes(samples)
    result.update(train_seconds=train_seconds, wall_seconds=time.perf_counter() - start)
    return result


def _summary(values):
    import numpy as np

    values = np.asarray(values, float)
    return {"mean": float(values.mean()), "std": float(values.std()), "values": values.tolist()}


def run(args):
    from keras_gan.errors import UsageError
    from keras_gan.files import write_json

    if args.quick:
        args.steps, args.seeds, args.num_samples, args.base_filters = 20, 1, 2600, args.base_filters or 8
    for flag, value in (("--seeds", args.seeds), ("--steps", args.steps), ("--num-samples", args.num_samples)):
        if value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}.")
    from keras_gan import config
    from keras_gan.bench import runnable_variants

    base = config.load("dcgan_mnist5k")
    args.variants, skipped = runnable_variants({v: config.apply_overrides(base, VARIANTS[v]) for v in args.variants})
    total, done, started = len(args.variants) * args.seeds, 0, time.perf_counter()
    results = {}
    for variant in args.variants:
        per_seed = []
        for seed in range(args.seeds):
            r = run_one(variant, seed, args.steps, args.num_samples, args.base_filters)
            per_seed.append(r)
            done += 1
            print(f"[{done}/{total}] {variant:10s} seed {seed}: {r['modes_covered']}/1000 modes, reverse KL "
                  f"{r['reverse_kl']:.3f}, confident {100 * r['confident_fraction']:.1f}%, {r['wall_seconds']:.0f} s "
                  f"(elapsed {time.perf_counter() - started:.0f} s)", flush=True)
        results[variant] = {
            "overrides": VARIANTS[variant],
            "modes_covered": _summary([r["modes_covered"] for r in per_seed]),
            "reverse_kl": _summary([r["reverse_kl"] for r in per_seed]),
            "confident_percent": _summary([100 * r["confident_fraction"] for r in per_seed]),
            "train_seconds": _summary([r["train_seconds"] for r in per_seed]),
        }
    report = {
        "protocol": {"config": "configs/dcgan_mnist5k.yaml with data.name=stacked_mnist", "steps": args.steps,
                     "seeds": args.seeds, "samples": args.num_samples, "base_filters": args.base_filters or 64,
                     "classifier": "embedded mnist5k classifier, per channel", "confidence": 0.5,
                     "quick": bool(args.quick)},
        "published": PUBLISHED,
        "results": results,
        "skipped": skipped,
        "total_seconds": time.perf_counter() - started,
    }
    write_json(args.json, report)
    print(f"{'variant':10s} | {'modes of 1,000':>16s} | {'reverse KL':>13s} | {'confident %':>12s}")
    for variant, r in results.items():
        print(f"{variant:10s} | {r['modes_covered']['mean']:8.1f} ± {r['modes_covered']['std']:5.1f} | "
              f"{r['reverse_kl']['mean']:6.3f} ± {r['reverse_kl']['std']:4.3f} | "
              f"{r['confident_percent']['mean']:6.1f} ± {r['confident_percent']['std']:3.1f}")
    print("published (their own protocols): " + "; ".join(f"{k}: {v}" for k, v in PUBLISHED.items()))
    print(f"wrote {args.json} ({report['total_seconds']:.0f} s in all)")
    return 0
