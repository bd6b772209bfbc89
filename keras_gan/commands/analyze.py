"""``keras-gan analyze``: the notes' GAN theory reproduced as a figure and numbers.

``keras-gan analyze EXPERIMENT --out DIR`` runs one experiment of
:mod:`keras_gan.analysis` (or ``all`` of them) and writes
``DIR/<experiment>.png`` with ``DIR/<experiment>.json`` (numbers, curves and
the checked claims). The exit code is 0 when every claim holds, 1 otherwise.
The command runs on the TensorFlow backend whatever ``KERAS_BACKEND`` says: the
experiments compute their divergences with TensorFlow Probability and train
with ``tf.GradientTape`` (under ``KERAS_BACKEND=jax`` or ``torch`` they ended
in a traceback).
"""

import os

from keras_gan.analysis import NAMES as _THEORY  # the registry itself imports nothing heavy
from keras_gan.commands import _args

# The theory experiments, plus the VAE-vs-GAN comparison of seed section 6.1/6.2.
EXPERIMENTS = _THEORY + ("vae-vs-gan",)

HELP = "Reproduce a claim of the notes' GAN theory (6.3.4-6.3.5) as a PNG figure and its JSON."


def add_arguments(parser):
    parser.add_argument(
        "experiment",
        metavar="EXPERIMENT",
        help=f"one of: {', '.join(EXPERIMENTS)}, or all.",
    )
    parser.add_argument("--out", required=True, help="output directory for <experiment>.png and .json.")
    parser.add_argument(
        "--quick", action="store_true", help="small settings that run in seconds (as in the test suite)."
    )
    parser.add_argument("--seed", type=_args.seed, default=0, help="seed of everything random (default 0).")


def run(args):
    from keras_gan.errors import UsageError

    if args.experiment != "all" and args.experiment not in EXPERIMENTS:
        raise UsageError(
            f"unknown experiment {args.experiment!r}; expected one of {', '.join(EXPERIMENTS)}, or all."
        )
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a file; expected a directory (created if missing).")

    from keras_gan import backends

    os.environ.pop("KERAS_BACKEND", None)  # as keras-gan export: the experiments are TensorFlow programs
    backends.select("tensorflow")
    backends.start_quietly()
    from keras_gan import analysis

    names = EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    failed = []
    for name in names:
        if name == "vae-vs-gan":
            from keras_gan.analysis import vae as vae_analysis

            result = vae_analysis.run(args.out, quick=args.quick, seed=args.seed, log=_print)
        else:
            result = analysis.run(name, args.out, quick=args.quick, seed=args.seed, log=_print)
        for item in result.get("claims", []):
            status = "holds" if item["holds"] else "FAILS"
            print(f"[{name}] {status}: {item['statement']} (value {_short(item['value'])})", flush=True)
            if not item["holds"]:
                failed.append(f"{name}/{item['name']}")
    if failed:
        print(f"claims that failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


def _print(line):
    print(line, flush=True)


def _short(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
