"""The ``keras-gan`` command line: one entry point, one subcommand per job.

``keras-gan train | sample | export | evaluate | analyze | bench | launch``; each takes
``--help``. Bad input gives one line on stderr and exit code 2; a full or failing disk one line and exit
code 74 (sysexits' EX_IOERR); too little memory one line and exit code 71 (EX_OSERR).
"""

import argparse
import gc
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
    except Exception as e:  # a full disk or too little memory: the machine's limits, not a bug to trace back
        why = _storage_fault(e)
        if why is not None:
            print(f"keras-gan {args.command}: error: {why} (files written before are kept; the one being written "
                  "was not kept)", file=sys.stderr)
            return EXIT_STORAGE
        why = _memory_fault(e)
        if why is None:
            raise
        print(f"keras-gan {args.command}: error: {why}; make the model or the batch smaller (data.image_size, "
              "data.batch_size, model.base_filters) or use a machine with more memory", file=sys.stderr)
        return EXIT_MEMORY
    return int(code or 0)


def program():
    """The ``keras-gan`` program (its console script): :func:`main` on ``sys.argv``, with less garbage collection.

    Python's garbage collector is off while TensorFlow and Keras are imported, whose objects are then frozen
    (:func:`keras_gan.backends.pause_collector_until_keras`: 0.4-0.5 s of a short run on a 2-core AMD EPYC).
    Python's shutdown runs full collections over every object the process made, and after TensorFlow, Keras
    and a traced training step those took 1.0-1.2 s at the end of each command there (0.1 s frozen): so the
    objects are frozen again once the command is done, and the shutdown skips them; the command has closed
    what it wrote by then. :func:`main`, which tests and scripts call in their own processes, does neither.

    Returns:
        The exit code.
    """
    from keras_gan import backends

    backends.pause_collector_until_keras()
    code = main()
    gc.freeze()
    return code


#: Exit code when a tensor does not fit in memory (sysexits' EX_OSERR).
EXIT_MEMORY = 71

_OOM_WORDS = ("OOM when allocating", "RESOURCE_EXHAUSTED: Out of memory", "can't allocate memory",
              "out of memory")


def _memory_fault(error):
    """One line for an allocation that failed (TensorFlow's, XLA's, PyTorch's or Python's), else ``None``."""
    import math
    import re

    text = str(error)
    if not (isinstance(error, MemoryError) or any(w in text for w in _OOM_WORDS)):
        return None
    shape = re.search(r"shape\[([0-9, ]+)\]", text)
    if shape:
        dims = [int(d) for d in shape.group(1).split(",") if d.strip()]
        size = 4 * math.prod(dims)
        shown = ", ".join(map(str, dims))
        return f"out of memory: a tensor of shape [{shown}] ({size / 2**30:,.1f} GiB as float32) does not fit"
    return f"out of memory ({type(error).__name__})"


#: Exit code when a file cannot be written for lack of space or permission (sysexits' EX_IOERR).
EXIT_STORAGE = 74

_STORAGE_ERRNOS = {"ENOSPC": "no space left on device", "EDQUOT": "disk quota exceeded",
                   "EROFS": "read-only file system", "EFBIG": "file too large", "EIO": "input/output error"}


def _storage_fault(error):
    """One line for an error that a full or failing disk caused (Python's or TensorFlow's), else ``None``.

    Every file keras-gan writes goes to a temporary name first (``keras_gan.files.atomic_path``), so such a fault
    leaves the earlier files as they were; the traceback added nothing for the user but the message.
    """
    import errno
    import os

    for code, words in _STORAGE_ERRNOS.items():
        number = getattr(errno, code, None)
        if isinstance(error, OSError) and number is not None and error.errno == number:
            where = error.filename or ""
            if where and not os.path.isdir(where):
                where = os.path.dirname(where) or where
            return f"{words} while writing {where!r}" if where else words
        if number is not None and os.strerror(number) in str(error):  # TensorFlow's ops quote the OS's text
            return f"{words} ({type(error).__name__} while writing a file)"
    return None


if __name__ == "__main__":
    sys.exit(main())
