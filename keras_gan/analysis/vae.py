"""``keras-gan analyze vae-vs-gan``: the VAE and the default DCGAN side by side on the digits.

Section 6.1 of the notes: a generative model estimates densities and draws
samples. Both models here are trained on the embedded 8x8 digits (train
split) with their shipped configs (``configs/vae_digits.yaml`` and the
default ``configs/dcgan_digits.yaml``), then compared on what each can do:

* sampling, for both: sample grids, digits-FID and precision/recall
  (:func:`keras_gan.evaluation.metrics.evaluate` with the ``digits`` extractor, against
  the held-out test split);
* density estimation, for the VAE only: the importance-weighted ``log p(x)``
  on the test split, in nats per example and bits per dimension (a GAN has
  no density to report).

Writes ``vae-vs-gan.png`` and ``vae-vs-gan.json`` (the numbers behind the
picture) in ``out_dir``.

Example:

>>> from keras_gan.analysis import vae as vae_analysis
>>> result = vae_analysis.run("/tmp/out", quick=True)  # doctest: +SKIP
>>> result["vae"]["density"]["bits_per_dim"]  # doctest: +SKIP
"""

import os
import time

NAME = "vae-vs-gan"
TITLE = "VAE vs DCGAN on the 8x8 digits: samples, digits-FID, precision/recall, held-out log p(x)"

_CONFIGS = {"vae": "vae_digits", "dcgan": "dcgan_digits"}
# The DCGAN as docs/vae.md measured it: the main job's recipe before issue 26 made it a third of the work.
_PINNED = {"dcgan": ["data.batch_size=64", "train.epochs=300", "model.ema_decay=0.999"]}


def _train(key, quick, seed, log):
    """Builds, compiles and fits one model from its shipped config; returns (model, config, seconds)."""
    import keras

    from keras_gan import config as config_lib
    from keras_gan import data
    from keras_gan.training import runs

    cfg = config_lib.load(_CONFIGS[key])
    overrides = list(_PINNED.get(key, [])) + [f"train.seed={seed}"] + (["train.epochs=3"] if quick else [])
    cfg = config_lib.apply_overrides(cfg, overrides)
    keras.utils.set_random_seed(seed)
    ds, steps, shape = data.training_dataset(
        cfg.data.name, cfg.data.split, cfg.data.batch_size, cfg.data.image_size, cfg.train.d_steps,
        seed=seed, epochs=cfg.train.epochs,
    )
    model = runs.compile_model(runs.build_model(cfg, shape), cfg, steps)
    log(f"[{NAME}] training {key} ({_CONFIGS[key]}, {cfg.train.epochs} epochs)")
    start = time.time()
    history = model.fit(ds, epochs=cfg.train.epochs, steps_per_epoch=steps, verbose=0).history
    seconds = time.time() - start
    last = {k: float(v[-1]) for k, v in history.items()}
    log(f"[{NAME}] {key}: {seconds:.0f} s, last epoch {last}")
    return model, cfg, seconds, last


def run(out_dir, quick=False, seed=0, log=print):
    """Trains the VAE and the DCGAN on the digits and compares them; writes the PNG and JSON.

    Args:
        out_dir: folder for ``vae-vs-gan.png`` and ``vae-vs-gan.json``.
        quick: 3 epochs each, fewer evaluation and importance samples (for tests).
        seed: seed of training, sampling and evaluation.
        log: progress printer (one line per stage).

    Returns:
        The dict written to the JSON: per model the config name, epochs,
        training seconds, last training metrics, ``metrics`` (``fid``,
        ``precision``, ``recall`` and the evaluation settings); for the VAE
        also ``density`` (see :func:`keras_gan.vae.density_report`).
    """
    from keras_gan import data, vae
    from keras_gan.evaluation import metrics
    from keras_gan.analysis import _common

    real_test, _ = data.load_arrays("digits", "test")
    num_generated = 360 if quick else 1437
    num_importance = 50 if quick else 1000
    result = {"name": NAME, "title": TITLE, "quick": bool(quick), "seed": int(seed),
              "real": {"dataset": "digits", "split": "test", "num": int(len(real_test))}}
    samples = {}
    for key in ("vae", "dcgan"):
        model, cfg, seconds, last = _train(key, quick, seed, log)
        log(f"[{NAME}] evaluating {key}: digits-FID and precision/recall on {num_generated} samples")
        scores = metrics.evaluate(
            model.generate, real_test, extractor="digits", num_samples=num_generated,
            metrics=("fid", "precision_recall"), seed=seed, verbose=0,
        )
        entry = {"config": _CONFIGS[key], "epochs": cfg.train.epochs, "train_seconds": seconds,
                 "last_epoch": last, "metrics": scores}
        if key == "vae":
            log(f"[{NAME}] held-out log p(x) of the VAE, K = {num_importance}")
            entry["density"] = vae.density_report(model, real_test, num_samples=num_importance, seed=seed)
            entry["likelihood_scale"] = float(model.likelihood_scale())
        result[key] = entry
        samples[key] = model.generate(64, seed=seed)
    result["samples_seed"] = int(seed)

    os.makedirs(out_dir, exist_ok=True)
    _common.save_figure(_plot(result, samples), os.path.join(out_dir, f"{NAME}.png"))
    _common.write_json(os.path.join(out_dir, f"{NAME}.json"), result)
    log(f"[{NAME}] wrote {os.path.join(out_dir, NAME)}.png and .json")
    return _common.to_jsonable(result)


def _plot(result, samples):
    import numpy as np
    from matplotlib.figure import Figure

    from keras_gan.evaluation.images import grid

    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.1]})
    for ax, key, label in ((axes[0], "vae", "VAE"), (axes[1], "dcgan", "DCGAN")):
        m = result[key]["metrics"]
        ax.imshow(grid(samples[key], ncols=8)[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"{label} samples ({result[key]['epochs']} epochs)\n"
                     f"FID {m['fid']:.2f}  P {m['precision']:.2f}  R {m['recall']:.2f}", fontsize=9)
        ax.axis("off")
    ax = axes[2]
    names = ["FID / 10", "precision", "recall"]
    x = np.arange(len(names))
    for i, (key, label) in enumerate((("vae", "VAE"), ("dcgan", "DCGAN"))):
        m = result[key]["metrics"]
        ax.bar(x + (i - 0.5) * 0.38, [m["fid"] / 10, m["precision"], m["recall"]], width=0.38, label=label)
    ax.set_xticks(x, names)
    ax.legend(fontsize=8)
    d = result["vae"]["density"]
    ax.set_title(f"VAE held-out log p(x): {d['log_likelihood_nats']:.1f} nats/example\n"
                 f"({d['bits_per_dim']:.3f} bits/dim, K = {d['num_samples']}; a GAN has no density)", fontsize=9)
    fig.suptitle(TITLE + (" [quick]" if result["quick"] else ""), fontsize=10)
    fig.tight_layout()
    return fig
