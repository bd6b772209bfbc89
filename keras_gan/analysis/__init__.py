"""The notes' GAN theory (6.3.4-6.3.5) reproduced as numbers and figures.

Each experiment is one module with ``TITLE``, ``run(quick, seed, log) -> dict``
(the numbers, curves and checked claims), ``plot(result, figure)`` and
optionally ``FIGSIZE``; this registry runs one by name and writes
``<name>.json`` and ``<name>.png``.

=========================  ====================================================
name                       claim
=========================  ====================================================
``optimal-discriminator``  a trained D approaches D* = p_r / (p_r + p_theta);
                           L(G|D*) = 2 JS - 2 log 2
``disjoint-supports``      for distributions moved apart by theta: JS = log 2
                           and KL = inf for every theta != 0, W1 = |theta|
``vanishing-gradients``    as D improves, the minimax generator gradient
                           vanishes, the non-saturating one does not (fig. 13.10)
``kl-asymmetry``           forward KL covers both modes (the moment match),
                           reverse KL locks onto one (fig. 13.11)
``wasserstein-training``   GAN vs WGAN-GP on a 2-D ring: W1 tracks sample
                           quality, the JS estimate saturates at log 2
=========================  ====================================================

Example:

>>> from keras_gan import analysis
>>> result = analysis.run("disjoint-supports", "/tmp/out", quick=True)  # doctest: +SKIP
>>> [c["holds"] for c in result["claims"]]  # doctest: +SKIP
[True, True, True]
"""

import importlib
import os

_MODULES = {
    "optimal-discriminator": "optimal_discriminator",
    "disjoint-supports": "disjoint_supports",
    "vanishing-gradients": "vanishing_gradients",
    "kl-asymmetry": "kl_asymmetry",
    "wasserstein-training": "wasserstein_training",
}

NAMES = tuple(_MODULES)


def get(name):
    """The module of experiment ``name``.

    Args:
        name: one of :data:`NAMES`.

    Returns:
        The experiment's module (with ``TITLE``, ``run`` and ``plot``).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    if name not in _MODULES:
        raise ValueError(f"Unknown experiment {name!r}; expected one of {', '.join(NAMES)}.")
    return importlib.import_module(f"keras_gan.analysis.{_MODULES[name]}")


def run(name, out_dir, quick=False, seed=0, log=print):
    """Runs experiment ``name`` and writes ``out_dir/<name>.json`` and ``out_dir/<name>.png``.

    Args:
        name: one of :data:`NAMES`.
        out_dir: output directory (created if missing).
        quick: small settings that run in seconds (used by the tests); the
            claims' tolerances are looser where fewer steps make them so.
        seed: seed of everything random in the experiment.
        log: called with one line per stage of progress.

    Returns:
        The result dict written to the JSON file: ``experiment``, ``title``,
        ``quick``, ``seed``, ``settings``, ``numbers``, ``curves``,
        ``claims`` (each with ``statement``, ``value``, ``threshold``,
        ``holds``), ``seconds``, and the written ``files``.

    Raises:
        ValueError: for an unknown name.
    """
    import time

    from keras_gan.analysis import _common

    module = get(name)
    start = time.perf_counter()
    body = module.run(quick=bool(quick), seed=int(seed), log=log)
    result = {"experiment": name, "quick": bool(quick), "seed": int(seed), **body}
    result["seconds"] = round(time.perf_counter() - start, 2)
    json_path = os.path.join(out_dir, f"{name}.json")
    png_path = os.path.join(out_dir, f"{name}.png")
    result["files"] = {"json": json_path, "png": png_path}
    figure = _common.new_figure(*getattr(module, "FIGSIZE", (11, 4.2)))
    module.plot(result, figure)
    figure.suptitle(result["title"] + (" (quick mode)" if quick else ""), fontsize=11)
    _common.save_figure(figure, png_path)
    _common.write_json(json_path, result)
    log(f"[{name}] wrote {png_path} and {json_path} ({result['seconds']:.1f} s)")
    return _common.to_jsonable(result)
