"""``keras-gan train``: train a GAN from a config, with a resumable run directory.

Exit codes: 0 done; 1 stopped by a NaN/inf loss (the last good checkpoint is kept);
2 bad input (one line naming it); 75 stopped by SIGTERM or SIGINT after writing a
checkpoint (rerun with ``--resume``); 76 a worker of a multi-worker run was lost
or hung past ``train.step_timeout`` (restart every worker with ``--resume``); the same for a lost
process of a multi-process JAX run (``KERAS_DISTRIBUTION_*``, see :func:`keras_gan.backends.process_group`). On ``--resume`` only the keys in
:data:`keras_gan.training.checkpointing.RESUME_OVERRIDES` may be changed with ``--set``.
"""

import contextlib
import json
import os
import sys

HELP = "Train a GAN from a config (default: DCGAN on the embedded digits)."


def add_arguments(parser):
    parser.add_argument("--config", default=None,
                        help="YAML file or name in configs/ (default: dcgan_digits, the embedded digits).")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set train.d_steps=3 (repeatable).")
    parser.add_argument("--epochs", type=int, default=None, help="shorthand for --set train.epochs=N.")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="train on a folder of PNG/JPEG/BMP/GIF images, class subfolders as labels "
                             "(shorthand for --set data.name=folder --set data.path=DIR; train.intra_op_threads "
                             "goes back to TensorFlow's default unless set).")
    parser.add_argument("--backend", default=None, choices=("jax", "tensorflow", "torch"),
                        help="Keras backend (default: KERAS_BACKEND, else the config's train.backend, "
                             "else tensorflow).")
    parser.add_argument("--strategy", default=None,
                        choices=("default", "mirrored", "multiworker", "tpu", "data_parallel", "model_parallel"),
                        help="shorthand for --set train.strategy=...: tf.distribute on TensorFlow "
                             "(mirrored, multiworker reads TF_CONFIG, tpu), keras.distribution on JAX "
                             "(data_parallel, model_parallel).")
    parser.add_argument("--tpu", default=None, help="TPU name or grpc:// address for --strategy tpu.")
    parser.add_argument("--output", default=None,
                        help="run directory (default: runs/<config name>, or runs/<config name>-N, the first "
                             "that holds no run yet).")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --output from its last checkpoint.")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="0: nothing while training; 1: one progress bar for the whole run (the default on a "
                             "terminal); 2: Keras' one line per epoch (the default when the output is a file or pipe).")
    parser.add_argument("--quiet", action="store_true", help="shorthand for --verbose 2.")


def _resolve(args):
    from keras_gan import config as config_lib
    from keras_gan.training import checkpointing
    from keras_gan.training import runs
    from keras_gan.errors import UsageError

    name = os.path.splitext(os.path.basename(args.config))[0] if args.config else "dcgan_digits"
    run_dir = args.output or os.path.join("runs", name)
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.strategy is not None:
        overrides.append(f"train.strategy={args.strategy}")
    if args.tpu is not None:
        overrides.append(f"train.tpu={args.tpu}")
    if getattr(args, "data", None) is not None:
        # One thread per op (the digits config's setting) suits only small images: a folder run starts from
        # TensorFlow's default, and a --set of the user's still wins.
        overrides = ["train.intra_op_threads=null"] + overrides
        overrides += ["data.name=folder", f"data.path={json.dumps(args.data)}"]  # JSON quoting is YAML
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UsageError(f"--output {run_dir!r} is a file; expected a run directory (created if missing).")
    if args.resume:
        if args.config:
            raise UsageError("--resume takes the config saved in the run directory; drop --config.")
        if not os.path.isdir(run_dir):
            raise UsageError(f"--resume: {run_dir!r} does not exist; give the --output of the run to continue.")
        stored = runs.load_config(run_dir)
        cfg = config_lib.apply_overrides(stored, overrides)
        checkpointing.check_resume_config(stored, cfg, run_dir)  # only keys that keep the model and data
        if not checkpointing.list_checkpoints(run_dir):
            raise UsageError(f"--resume: {run_dir!r} has no checkpoint to resume from.")
    else:
        cfg = config_lib.load(args.config or "dcgan_digits")  # no --config: exactly configs/dcgan_digits.yaml
        cfg = config_lib.apply_overrides(cfg, overrides)
        if checkpointing.list_checkpoints(run_dir):
            if args.output:
                raise UsageError(
                    f"--output {run_dir!r} already holds a run; pass --resume to continue it or choose another "
                    "--output."
                )
            run_dir = _next_free_run_dir(run_dir)  # the README's command run again: a new run beside the last
    return cfg, run_dir


def _next_free_run_dir(taken):
    """``taken-2``, ``taken-3``, ...: the first that holds no run and is not a file (nothing is overwritten)."""
    from keras_gan.training import checkpointing

    n = 2
    while True:
        candidate = f"{taken}-{n}"
        if not (os.path.exists(candidate) and (not os.path.isdir(candidate)
                                               or checkpointing.list_checkpoints(candidate))):
            return candidate
        n += 1


def _prepare(cfg, run_dir):
    """After Keras has started on its backend: reads an image folder (a bad one fails here, before the run
    directory exists) and makes the run directory; returns it.

    Not in :func:`_resolve`: ``keras_gan.data`` imports TensorFlow and tensorflow-datasets, which before the
    backend is chosen would fix Keras on TensorFlow (``--data DIR --backend jax`` failed) and print
    TensorFlow's start-up lines outside :class:`~keras_gan.backends.quiet_native_start`.
    """
    from keras_gan.commands import _paths

    if cfg.data.name == "folder":
        from keras_gan.data import image_folder

        image_folder.read(cfg.data.path, cfg.data.image_size, cfg.data.channels, cfg.data.small_images)
    return _paths.output_dir("--output", run_dir)


def run(args):
    import time

    started = time.perf_counter()
    cfg, run_dir = _resolve(args)  # validates the config before Keras is imported
    from keras_gan import backends

    # Fixes the backend for this process: Keras is imported only after this line.
    backend = backends.select(backends.choose(args.backend, cfg.train.backend), cfg.train.strategy)
    with backends.quiet_native_start():  # TensorFlow's C++ start-up lines, dropped where they are no news
        backends.import_keras()  # the backend first: torch's triton segfaults when imported after TensorFlow

        from keras_gan.training import plan, trainer

        group = backends.start_processes(backend)  # KERAS_DISTRIBUTION_*: keras.distribution.initialize
        backends.start_devices(backend)
    existed = os.path.isdir(run_dir)
    run_dir = _prepare(cfg, run_dir)
    verbose = args.verbose if args.verbose is not None else 2 if args.quiet or not sys.stdout.isatty() else 1
    try:
        resolved = plan.resolve(cfg, backend)  # data source, classes, threads: before anything is written
        result = trainer.train(resolved, run_dir, resume=args.resume, verbose=verbose)
    except Exception as e:  # noqa: BLE001 -- a lost worker of the cluster: one line, exit 76
        if not existed:  # a run that failed before writing anything (data not prepared...) leaves no empty folder
            with contextlib.suppress(OSError):
                os.rmdir(run_dir)
        from keras_gan.training.callbacks import StepWatchdog
        from keras_gan.training.checkpointing import cluster_error

        line = cluster_error(e)
        if line is None:
            raise
        print(f"keras-gan train: error: {line}", file=sys.stderr, flush=True)
        if group is not None:
            # JAX's distributed client would wait at exit for the lost process (and then abort): end now.
            sys.stdout.flush()
            os._exit(StepWatchdog.EXIT_STALLED)
        return StepWatchdog.EXIT_STALLED
    if group is not None and group[1]:
        return _exit_code(result)  # process 0 alone reports: the others' run directory is a scratch copy
    if result.interrupted:
        from keras_gan.training.checkpointing import EXIT_INTERRUPTED

        i = result.interrupted
        print(f"keras-gan train: stopped by {i['signal']} after epoch {i['epoch']} step {i['step']}; "
              f"checkpoint {i['checkpoint']}; resume with: keras-gan train --output {run_dir} --resume",
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    if result.failed:
        print(f"keras-gan train: {result.failed}", file=sys.stderr)
        return 1
    print(summary(run_dir, result, cfg, time.perf_counter() - started))
    return 0


def _exit_code(result):
    from keras_gan.training.checkpointing import EXIT_INTERRUPTED

    return EXIT_INTERRUPTED if result.interrupted else 1 if result.failed else 0


def _duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _grids_phrase(every):
    """How often a run writes a sample grid, as the summary says it (``train.sample_every``)."""
    return "one grid per epoch" if every == 1 else f"one grid every {every} epochs and at the end"


def summary(run_dir, result, cfg, seconds=None):
    """The lines printed at the end of a run: time, steps, where its files are, and what to run next.

    Args:
        run_dir: the run directory.
        result: the :class:`~keras_gan.training.trainer.TrainResult`.
        cfg: the run's config.
        seconds: the command's time (default: the training call's, ``result.seconds``).

    Returns:
        The text (the first line is ``run directory: ...``, as before this summary existed).
    """
    steps = (result.epochs - result.initial_epoch) * result.steps_per_epoch - result.initial_step
    samples = os.path.join(run_dir, "samples")
    grids = sorted(f for f in os.listdir(samples) if f.endswith(".png")) if os.path.isdir(samples) else []
    lines = [
        f"run directory: {run_dir} (epochs {result.initial_epoch + 1}..{result.epochs}, "
        f"last checkpoint {result.last_checkpoint})",
        f"  done in {_duration(result.seconds if seconds is None else seconds)}: {steps} generator steps of batch {cfg.data.batch_size} "
        f"({result.steps_per_epoch} per epoch, {cfg.train.d_steps} discriminator step(s) each)",
        f"  samples      {os.path.join(samples, grids[-1]) if grids else samples} ({_grids_phrase(cfg.train.sample_every)}, "
        f"JSON beside each)",
        f"  checkpoint   {result.last_checkpoint}",
        f"  history      {os.path.join(run_dir, 'history.json')}",
        f"  TensorBoard  tensorboard --logdir {os.path.join(run_dir, 'logs')}",
        "  next:",
        f"    keras-gan evaluate --run {run_dir}",
        f"    keras-gan sample --run {run_dir} --out samples.png",
        f"    keras-gan export --run {run_dir}",
    ]
    return "\n".join(lines)
