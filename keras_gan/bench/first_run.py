"""``keras-gan bench first-run``: the main job from the command to the prompt, against the previous default.

Times what a newcomer waits for (issue 26): ``keras-gan train`` with no arguments, each run in its own
process with a private, empty ``HOME`` (so the digits are prepared and the convolution forms timed inside
the run, as on a fresh machine) and then again with that ``HOME`` kept (a second run of the same command).
The peer is the previous default's recipe (300 epochs at batch 64, moving average 0.999, G's learning rate
2e-4: three times the work) run by the same code, alternating with the default (default empty, previous
empty, default warm, previous warm, per round), so a machine whose speed drifts affects both. Each run's
time is split, from the run's own TensorBoard log, into: start-up (the command to ``fit``'s first callback:
imports, the config check, data preparation, building), the first epoch (tracing and the form timing
included), the other epochs, and the end (last grid and checkpoint, the summary, the interpreter's exit).

The ``train`` command runs with ``--verbose 1`` (the one progress bar a terminal shows) but its output
goes to a pipe, where Keras' bar prints once instead of redrawing.

Example::

    keras-gan bench first-run --json first_run.json            # one round: four runs (4 minutes on a 2-core Xeon)
    keras-gan bench first-run --epochs 2 --json quick.json     # the default at 2 epochs, the peer at 6
"""

import os
import shutil
import site
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HELP = ("The main job (`keras-gan train`) from the command to the prompt, empty and warm caches, "
        "vs the previous default.")
STARTS_KERAS = False  # the parent only spawns `keras-gan train` processes

#: the previous default's recipe (issue 26's "today"), as flags on top of today's config
PREVIOUS = ("--set", "data.batch_size=64", "--set", "model.ema_decay=0.999", "--set", "train.g_learning_rate=2e-4")
#: the previous recipe's work per epoch of today's (each run gets --epochs: the default N, the previous 3N)
PREVIOUS_WORK = 3
#: removed from each run's environment, as a newcomer has none of them: caches outside the private HOME (JAX's
#: compiled programs included), and a fixed convolution-form mode (the default times the forms)
_CACHE_ENV = ("KERAS_GAN_CACHE_DIR", "KERAS_GAN_DATA_DIR", "TFDS_DATA_DIR", "XDG_CACHE_HOME", "KERAS_HOME",
              "KERAS_GAN_CONV_FORMS", "JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE")


def add_arguments(parser):
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of the four runs (default 1; a round took 4 minutes on a 2-core AVX-512 "
                             "Xeon and should take about 12 on the slowest class).")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the default run (default: configs/dcgan_digits.yaml's); the previous "
                             "recipe runs three times as many (300 for the default's 100), the same ratio of work.")
    parser.add_argument("--no-peer", action="store_true", help="time only the default (two runs a round).")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default=None,
                        help="Keras backend of every run (`keras-gan train --backend`; default: what `keras-gan "
                             "train` picks, TensorFlow unless KERAS_BACKEND says otherwise).")
    parser.add_argument("--json", required=True, help="output JSON file.")


def _varint(buf, i):
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def event_times(path):
    """``(wall_time, step)`` of every event in a TensorBoard event file, in file order.

    Read by hand (the TFRecord framing and the two scalar fields of ``Event``): tensorboard's own
    reader imports TensorFlow, about 4 s and its log lines, in a process that must stay light.

    Args:
        path: an ``events.out.tfevents.*`` file.

    Returns:
        A list of ``(float wall_time, int step)``.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    out, i = [], 0
    while i + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, i)
        record = data[i + 12:i + 12 + length]  # after the length and its CRC
        i += 12 + length + 4  # and the record's CRC
        wall, step, j = None, 0, 0
        while j < len(record):
            key, j = _varint(record, j)
            field, wire = key >> 3, key & 7
            if wire == 1:  # 64-bit: wall_time is field 1 (double)
                if field == 1:
                    (wall,) = struct.unpack_from("<d", record, j)
                j += 8
            elif wire == 0:  # varint: step is field 2 (int64)
                value, j = _varint(record, j)
                if field == 2:
                    step = value
            elif wire == 2:  # length-delimited (file_version, summary, ...)
                size, j = _varint(record, j)
                j += size
            elif wire == 5:
                j += 4
            else:
                break
        if wall is not None:
            out.append((wall, step))
    return out


def _phases(run_dir, started, ended):
    """Seconds of start-up, first epoch, other epochs and end, from the run's TensorBoard training log."""
    logs = os.path.join(run_dir, "logs", "train")
    files = sorted(f for f in os.listdir(logs) if f.startswith("events.")) if os.path.isdir(logs) else []
    if not files:
        return None
    events = event_times(os.path.join(logs, files[0]))
    if len(events) < 2:
        return None
    fit_start = events[0][0]  # the writer's first record, made in fit's on_train_begin
    epoch_end = {}
    for wall, step in events[1:]:
        epoch_end[step] = max(wall, epoch_end.get(step, wall))
    first, last = epoch_end[min(epoch_end)], epoch_end[max(epoch_end)]
    return {"start_up": fit_start - started, "first_epoch": first - fit_start, "other_epochs": last - first,
            "end": ended - last, "epochs_logged": len(epoch_end)}


def _command():
    """The installed ``keras-gan`` next to this interpreter, as a user runs it; else ``python -m keras_gan.cli``."""
    script = os.path.join(os.path.dirname(sys.executable), "keras-gan")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "keras_gan.cli"]


def _env(home):
    env = {k: v for k, v in os.environ.items() if k not in _CACHE_ENV}
    env["HOME"] = home
    env.setdefault("PYTHONUSERBASE", site.getuserbase())  # packages installed with --user stay importable
    return env


def _one(recipe, epochs, home, out_dir, caches, backend=None):
    args = ["train", "--output", out_dir, "--verbose", "1", "--epochs", str(epochs)]
    if backend:
        args += ["--backend", backend]
    if recipe == "previous":
        args += list(PREVIOUS)
    cmd = _command() + args
    fresh = not os.listdir(home)
    cache = os.path.join(home, ".cache", "keras_gan")  # keras-gan's cache folder in that HOME
    jax_cache = os.path.join(cache, "jax_compilation")
    started = time.time()
    proc = subprocess.run(cmd, env=_env(home), capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"`keras-gan {' '.join(args)}` exited with {proc.returncode}:\n" + "\n".join(tail))
    return {"recipe": recipe, "caches": caches, "empty_home_before": fresh, "epochs": epochs,
            "command": "keras-gan " + " ".join(args[:1] + args[3:]),  # without --output and its scratch folder
            "seconds": ended - started, "phases": _phases(out_dir, started, ended),
            "data_prepared_in_home": os.path.isdir(os.path.join(home, "tensorflow_datasets")),
            "form_cache_in_home": os.path.isdir(cache),
            "jax_programs_in_home": len(os.listdir(jax_cache)) if os.path.isdir(jax_cache) else 0}


def run(args):
    from keras_gan.bench.throughput import machine_info
    from keras_gan.errors import UsageError
    from keras_gan.files import write_json

    if args.rounds < 1:
        raise UsageError(f"--rounds {args.rounds} must be >= 1.")
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs {args.epochs} must be >= 1.")
    from keras_gan import config

    epochs = args.epochs or config.load("dcgan_digits").train.epochs  # what `keras-gan train` runs
    recipes = {"default": epochs} if args.no_peer else {"default": epochs, "previous": PREVIOUS_WORK * epochs}
    machine = machine_info()
    print(f"machine: {machine['summary']}", flush=True)
    plan = [(r, recipe, caches) for r in range(args.rounds) for caches in ("empty", "warm") for recipe in recipes]
    results = []
    with tempfile.TemporaryDirectory(prefix="keras-gan-first-run-") as scratch:
        for n, (r, recipe, caches) in enumerate(plan, 1):
            home = os.path.join(scratch, f"home-{r}-{recipe}")
            os.makedirs(home, exist_ok=True)
            out_dir = os.path.join(scratch, f"run-{r}-{recipe}-{caches}")
            head = f"[{n}/{len(plan)}] {recipe:8s} {caches:5s} caches:"
            running = f"{head} running `keras-gan train` ({recipes[recipe]} epochs) ..."
            print(running, end="", flush=True)
            try:
                res = _one(recipe, recipes[recipe], home, out_dir, caches, args.backend)
            except RuntimeError as err:  # the run's own error, its last lines; no JSON is written
                print(f"\nkeras-gan bench first-run: {err}", file=sys.stderr)
                return 1
            res["round"] = r
            results.append(res)
            shutil.rmtree(out_dir, ignore_errors=True)
            ph = res["phases"] or {}
            line = f"{head} {res['seconds']:6.1f} s" + (
                f"  (start-up {ph['start_up']:.1f}, first epoch {ph['first_epoch']:.1f}, other epochs "
                f"{ph['other_epochs']:.1f}, end {ph['end']:.1f})" if ph else "")
            print("\r" + line.ljust(len(running)), flush=True)
    report = {"machine": machine, "backend": args.backend or "keras-gan train's choice", "rounds": args.rounds,
              "epochs": recipes, "unset_in_runs": list(_CACHE_ENV),
              "previous_recipe": f"--epochs {PREVIOUS_WORK * epochs} " + " ".join(PREVIOUS), "runs": results,
              "summary": {}}
    seconds = {}  # (recipe, caches) -> one time per round, in round order
    for x in results:
        seconds.setdefault((x["recipe"], x["caches"]), []).append(x["seconds"])
    for (recipe, caches), times in seconds.items():
        report["summary"][f"{recipe}_{caches}_seconds"] = statistics.median(times)
    if "previous" in recipes:
        for caches in ("empty", "warm"):
            pairs = [a / b for a, b in zip(seconds[("default", caches)], seconds[("previous", caches)])]
            report["summary"][f"ratio_{caches}"] = statistics.median(pairs)
            report["summary"][f"ratio_{caches}_pairs"] = pairs
    write_json(args.json, report)
    print(_table(report))
    return 0


def _table(report):
    lines = [f"`keras-gan train` from the command to the prompt ({report['machine']['summary']}; backend: "
             f"{report['backend']}; median of {report['rounds']} round(s)):"]
    s = report["summary"]
    for recipe, epochs in report["epochs"].items():
        what = "default" if recipe == "default" else f"previous ({report['previous_recipe']})"
        lines.append(f"  {what:60s} {epochs:4d} epochs: empty caches {s[f'{recipe}_empty_seconds']:6.1f} s, "
                     f"warm {s[f'{recipe}_warm_seconds']:6.1f} s")
    if "ratio_empty" in s:
        lines.append(f"  default / previous: empty caches {s['ratio_empty']:.2f}x, warm {s['ratio_warm']:.2f}x "
                     "(issue 26 asks for at most 0.33x)")
    return "\n".join(lines)
