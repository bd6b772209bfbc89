"""The ``keras-gan`` command line: one entry point, one subcommand per job.

``keras-gan train | sample | export | evaluate | analyze | bench | launch``; each takes
``--help``. Bad input gives one line on stderr and exit code 2.
"""

import argparse
import importlib
import sys

from keras_gan.errors import UsageError

# subcommand -> module in keras_gan.commands (HELP, add_arguments, run)
COMMANDS = ("train", "sample", "export", "evaluate", "analyze", "bench", "launch")


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-gan", description="Train, sample, evaluate and export GANs built on Keras 3."
    )
    from keras_gan import __version__

    parser.add_argument("--version", action="version", version=f"keras-gan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"keras_gan.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"keras_gan.commands.{name}":
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _check_environment():
    """Refuses a bad value of an environment variable keras-gan reads, before any work starts."""
    from keras_gan.kernels import _forms

    try:
        _forms.mode()
    except ValueError as e:
        raise UsageError(str(e)) from None


def main(argv=None):
    """Runs the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_environment()
        code = args._run(args)
    except UsageError as e:
        print(f"keras-gan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-gan {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
