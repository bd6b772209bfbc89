"""``keras-gan bench NAME``: benchmarks that print ratios against a peer measured in the same run."""

import importlib
import pkgutil

HELP = "Run a benchmark (each prints a table and writes JSON; see `keras-gan bench NAME --help`)."


def _benchmarks():
    from keras_gan import bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def add_arguments(parser):
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME")
    sub.required = True
    for name in _benchmarks():
        module = importlib.import_module(f"keras_gan.bench.{name}")
        # help is %-formatted by argparse (a bare "10%" broke `keras-gan bench --help`), the description is not
        p = sub.add_parser(name.replace("_", "-"), help=module.HELP.replace("%", "%%"),
                           description=module.HELP)  # stacked-mnist
        module.add_arguments(p)
        p.set_defaults(_bench_run=module.run)


def run(args):
    import sys

    from keras_gan.commands import _paths

    module = sys.modules[args._bench_run.__module__]
    if getattr(args, "json", None) is not None:  # every benchmark's --json, checked before minutes of work
        _paths.json_file("--json", args.json)
    if getattr(module, "STARTS_KERAS", True):  # throughput's parent only spawns workers: no Keras there
        from keras_gan import backends

        backends.start_quietly()  # no CUDA start-up lines on a machine without a GPU
    return args._bench_run(args)
