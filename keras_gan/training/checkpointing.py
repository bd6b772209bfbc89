"""Checkpoints that survive faults: step-level names, verification on write, fallback on read, run locks.

A run's ``checkpoints/`` folder holds::

    epoch-0003.keras               after 3 whole epochs
    epoch-0003-step-000120.keras   after 3 whole epochs and 120 steps of the 4th
    epoch-0003-step-000120.json    beside each: its SHA-256, size, position and the
                                   running means of the epoch so far (for history.json)

Every checkpoint is written to a temporary name, reopened and checked (a zip
archive with ``metadata.json``, ``config.json`` and ``model.weights.h5``, every
member's CRC intact), renamed into place, and its checksum recorded beside it.
On resume the newest checkpoint that passes the checks and loads is used; a
corrupt or truncated newer one is named in a warning and skipped, so a fault
costs one checkpoint interval. :class:`RunLock` makes a run directory belong to
one training process at a time.

Keras' own ``keras.callbacks.BackupAndRestore`` is not used: it keeps one
backup that is deleted when ``fit`` ends, and it has no checksum, no fallback
to an older backup, no lock and no way to carry a GAN's run directory (both
optimizers, history, samples) from one ``keras-gan train --resume`` to the next;
:class:`keras_gan.training.callbacks.Checkpoint` writes these files instead.
"""

import hashlib
import json
import os
import re
import socket
import sys
import time
import typing
import zipfile

from keras_gan.errors import UsageError, first_line

CHECKPOINT_RE = re.compile(r"^epoch-(\d{4,})(?:-step-(\d{6,}))?\.keras$")
KERAS_MEMBERS = ("metadata.json", "config.json", "model.weights.h5")
LOCK_NAME = "train.lock"

#: Exit code of ``keras-gan train`` stopped by SIGTERM or SIGINT after writing a
#: checkpoint (EX_TEMPFAIL of sysexits.h: "try again"): rerun with ``--resume``.
EXIT_INTERRUPTED = 75

#: Config keys that ``keras-gan train --resume --set`` may change: they change how
#: long the run goes, what it writes and where it runs, not the model, its optimizers
#: or its data (the two speed settings change results by round-off only). ``train.backend``
#: is one, as the ``--backend`` flag: a ``.keras`` checkpoint loads on every backend (the
#: noise then differs: not bit-for-bit).
RESUME_OVERRIDES = (
    "train.epochs",
    "train.checkpoint_every",
    "train.checkpoint_every_steps",
    "train.keep_checkpoints",
    "train.sample_every",
    "train.num_sample_images",
    "train.strategy",
    "train.tpu",
    "train.backend",
    "train.step_timeout",
    "train.steps_per_execution",
    "train.intra_op_threads",
    "data.data_dir",
)


def warn(message):
    """Prints one ``warning:`` line on stderr."""
    print(f"keras-gan: warning: {message}", file=sys.stderr, flush=True)


class CheckpointFile(typing.NamedTuple):
    """One checkpoint of a run: ``epoch`` whole epochs plus ``step`` steps of the next one."""

    epoch: int
    step: int
    path: str

    @property
    def name(self):
        return os.path.basename(self.path)


def checkpoint_name(epoch, step=0):
    """``epoch-NNNN.keras`` (``step`` 0) or ``epoch-NNNN-step-SSSSSS.keras``."""
    return f"epoch-{epoch:04d}.keras" if not step else f"epoch-{epoch:04d}-step-{step:06d}.keras"


def sidecar_path(path):
    """The JSON file beside a checkpoint (checksum, position, running logs)."""
    return path[: -len(".keras")] + ".json"


def list_checkpoints(run_dir):
    """Every checkpoint of a run (epoch-level and mid-epoch), oldest first, as :class:`CheckpointFile`."""
    directory = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = CHECKPOINT_RE.match(name)
        if match:
            found.append(CheckpointFile(int(match.group(1)), int(match.group(2) or 0), os.path.join(directory, name)))
    return sorted(found)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sidecar(path):
    """The JSON beside checkpoint ``path``, or ``None`` if there is none or it is unreadable."""
    try:
        with open(sidecar_path(path)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def verify_keras_file(path, check_sidecar=True):
    """What is wrong with a ``.keras`` file, or ``None`` if it looks whole.

    Checks that it is a zip archive holding ``metadata.json``, ``config.json`` and
    ``model.weights.h5`` whose CRCs match, and (``check_sidecar``) that its SHA-256
    equals the one recorded beside it when it was written.

    Args:
        path: the file.
        check_sidecar: also compare with the checksum file, if there is one.

    Returns:
        ``None``, or a short reason ("is truncated or not a zip archive", ...).
    """
    if not os.path.exists(path):
        return "does not exist"
    if os.path.isdir(path):
        return "is a directory, not a .keras file"
    size = os.path.getsize(path)
    if size == 0:
        return "is empty (0 bytes)"
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [m for m in KERAS_MEMBERS if m not in names]
            if missing:
                return f"is a zip archive but not a Keras model file (no {', '.join(missing)})"
            bad = zf.testzip()
            if bad is not None:
                return f"is corrupt: member {bad} fails its CRC check"
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        return f"is truncated or not a .keras (zip) file ({size} bytes: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if check_sidecar:
        info = read_sidecar(path)
        if info and info.get("sha256"):
            if info.get("bytes") is not None and info["bytes"] != size:
                return f"has {size} bytes, but {info['bytes']} were written (see {os.path.basename(sidecar_path(path))})"
            if _sha256(path) != info["sha256"]:
                return f"does not match the SHA-256 recorded when it was written ({os.path.basename(sidecar_path(path))})"
    return None


def save_checkpoint(model, run_dir, epoch, step=0, steps_per_epoch=None, logs=None):
    """Saves ``model`` as the checkpoint at (``epoch``, ``step``), verified and with its checksum.

    The file is written to a temporary name, checked with :func:`verify_keras_file`,
    renamed, and then its JSON sidecar (SHA-256, size, position, ``logs``) is written.

    Args:
        model: the model to save (``model.save``).
        run_dir: the run directory.
        epoch: whole epochs done.
        step: steps done of the next epoch (0: an epoch-level checkpoint).
        steps_per_epoch: recorded in the sidecar.
        logs: the epoch's running logs at this step (recorded; used to complete
            ``history.json`` after a mid-epoch resume).

    Returns:
        The :class:`CheckpointFile` written.

    Raises:
        RuntimeError: if the written file does not pass verification (nothing is renamed).
    """
    from keras_gan.files import atomic_path, write_json

    path = os.path.join(run_dir, "checkpoints", checkpoint_name(epoch, step))
    with atomic_path(path) as tmp, _values_on_this_process(model):
        model.save(tmp)
        reason = verify_keras_file(tmp, check_sidecar=False)
        if reason:
            raise RuntimeError(f"checkpoint {path} {reason} right after writing it; it was not kept")
        digest, size = _sha256(tmp), os.path.getsize(tmp)
        if os.path.exists(sidecar_path(path)):
            os.remove(sidecar_path(path))  # a stale checksum must never describe the new file
    info = {"epoch": int(epoch), "step": int(step), "steps_per_epoch": steps_per_epoch, "sha256": digest,
            "bytes": size, "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "logs": {k: float(v) for k, v in (logs or {}).items() if _is_float(v)}}
    write_json(sidecar_path(path), info)
    return CheckpointFile(int(epoch), int(step), path)


class _values_on_this_process:
    """While saving: every JAX variable whose value is spread over other processes' devices holds its whole value.

    A weight that ``model_parallel`` shards across processes has no complete copy on any one of them, and
    ``model.save`` reads each weight on the host. Inside the block such values are gathered
    (``multihost_utils.process_allgather``, a collective: every process saves, the others to their scratch
    copy) and put back afterwards. Any other run: nothing changes.
    """

    def __init__(self, model):
        self.model, self.swapped = model, []

    def __enter__(self):
        import keras

        if keras.backend.backend() != "jax":
            return self
        import jax

        if jax.process_count() == 1:
            return self
        from jax.experimental import multihost_utils

        for v in _all_variables(self.model):
            value = v.value
            if isinstance(value, jax.Array) and not _complete_here(value):
                self.swapped.append((v, value))
        if self.swapped:
            gathered = multihost_utils.process_allgather([value for _, value in self.swapped], tiled=True)
            for (v, _), whole in zip(self.swapped, gathered):
                v._value = whole  # read by model.save only; restored on exit
        return self

    def __exit__(self, *exc):
        for v, value in self.swapped:
            v._value = value
        self.swapped = []
        return False


def _all_variables(model):
    """The model's variables and its optimizers' (what ``model.save`` writes), each once."""
    import keras

    seen, found = set(), []
    optimizers = [o for o in vars(model).values() if isinstance(o, keras.optimizers.Optimizer)]
    for v in [*model.variables, *(v for o in optimizers for v in o.variables)]:
        if id(v) not in seen:
            seen.add(id(v))
            found.append(v)
    return found


def _complete_here(value):
    """Whether this process's shards of a JAX array cover all of it."""
    if value.is_fully_addressable or value.is_fully_replicated:
        return True
    import numpy as np

    covered = np.zeros(value.shape, bool)
    for shard in value.addressable_shards:
        covered[shard.index] = True
    return bool(covered.all())


def _is_float(value):
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def prune_checkpoints(run_dir, keep):
    """Deletes all but the newest ``keep`` checkpoints (and their sidecars)."""
    for ckpt in list_checkpoints(run_dir)[: -int(keep)]:
        for p in (ckpt.path, sidecar_path(ckpt.path)):
            if os.path.exists(p):
                os.remove(p)


def load_keras_file(path, what="checkpoint"):
    """``keras.models.load_model(path)`` with a :class:`UsageError` naming the file if it cannot load."""
    reason = verify_keras_file(path)
    if reason:
        raise UsageError(f"{what} {path} {reason}.")
    import keras

    from keras_gan import models  # noqa: F401  (registers the keras_gan classes for loading)

    try:
        return keras.models.load_model(path)
    except Exception as e:  # a foreign or damaged file: one line, not a traceback
        raise UsageError(f"{what} {path} does not load: {type(e).__name__}: {first_line(e)}") from None


def load_newest(run_dir, candidates=None):
    """Loads the newest checkpoint of a run that passes verification and loads.

    A newer checkpoint that fails is named in a warning on stderr and skipped.

    Args:
        run_dir: the run directory.
        candidates: the :class:`CheckpointFile` list to choose from (default: all).

    Returns:
        ``(CheckpointFile, model)``.

    Raises:
        UsageError: if there is no checkpoint, or none loads (every reason listed).
    """
    found = list_checkpoints(run_dir) if candidates is None else list(candidates)
    if not found:
        raise UsageError(f"{run_dir!r} has no checkpoints (checkpoints/epoch-NNNN.keras).")
    failures = []
    for ckpt in reversed(found):
        try:
            model = load_keras_file(ckpt.path)
        except UsageError as e:
            failures.append(str(e))
            if ckpt is not found[0]:
                warn(f"{e} Falling back to an older checkpoint.")
            continue
        return ckpt, model
    raise UsageError(f"no checkpoint of {run_dir!r} loads: " + " ".join(failures))


# ---------------------------------------------------------------------------------------- run lock


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) holds no run directory
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunLock:
    """A run directory owned by one process: ``train.lock`` holds the owner's pid and host.

    A lock left by a process that is gone (same host, pid not running) is taken
    over with a warning; a live owner is a :class:`UsageError`.

    Args:
        run_dir: the run directory (created if missing).

    Example:

    >>> with RunLock("runs/x"):  # doctest: +SKIP
    ...     pass
    """

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK_NAME)
        self.held = False

    def _owner(self):
        try:
            with open(self.path) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def acquire(self):
        os.makedirs(self.run_dir, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:  # being written right now, or garbage: look again
                    time.sleep(0.1)
                    owner = self._owner()
                pid, host = (owner or {}).get("pid"), (owner or {}).get("host")
                if isinstance(pid, int) and pid == os.getpid() and host == me["host"]:
                    raise UsageError(f"run directory {self.run_dir!r} is already locked by this process ({self.path}).")
                if isinstance(pid, int) and host == me["host"] and not _pid_alive(pid):
                    warn(f"{self.path}: taking over a stale lock of process {pid}, which is no longer running.")
                    os.remove(self.path)
                    continue
                if owner is None:
                    warn(f"{self.path}: taking over an unreadable lock file.")
                    os.remove(self.path)
                    continue
                raise UsageError(
                    f"run directory {self.run_dir!r} is in use by process {pid} on {host} "
                    f"(lock file {self.path}); wait for it to finish, or delete the lock if that process is gone."
                )
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise UsageError(f"could not lock run directory {self.run_dir!r} ({self.path}).")

    def release(self):
        if self.held:
            owner = self._owner()
            if owner and owner.get("pid") == os.getpid() and os.path.exists(self.path):
                os.remove(self.path)
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# ------------------------------------------------------------------------------- resume overrides


def check_resume_config(stored, resumed, run_dir):
    """Raises if ``resumed`` changes anything but :data:`RESUME_OVERRIDES` of the ``stored`` config.

    Args:
        stored: the :class:`~keras_gan.config.Config` in the run's ``config.yaml``.
        resumed: the same with the ``--resume`` overrides applied.
        run_dir: named in the message.

    Raises:
        UsageError: naming the first changed key, its stored and its new value.
    """
    old, new = stored.to_dict(), resumed.to_dict()
    for section in old:
        for key in old[section]:
            name = f"{section}.{key}"
            if old[section][key] != new[section].get(key) and name not in RESUME_OVERRIDES:
                raise UsageError(
                    f"--resume: {name} is {old[section][key]!r} in {os.path.join(run_dir, 'config.yaml')}, "
                    f"the override gives {new[section].get(key)!r}; a resumed run keeps its model and data "
                    f"(keys that may change on --resume: {', '.join(RESUME_OVERRIDES)})."
                )


# ------------------------------------------------------------------------------- lost workers

_CLUSTER_ERRORS = ("UnavailableError", "AbortedError", "CancelledError", "DeadlineExceededError")


def _gloo_lost(error):
    text = str(error)
    return "Gloo" in text and any(w in text for w in ("Connection closed", "Connection reset", "Broken pipe",
                                                       "Timed out", "failed"))


def cluster_error(error):
    """One line for a collective that failed because a worker of the cluster was lost, else ``None``.

    Under JAX's multi-process runs on CPU the peers' next gloo collective fails the same way (a
    ``ValueError`` or ``XlaRuntimeError`` naming gloo and the closed connection).
    Under ``MultiWorkerMirroredStrategy`` a worker that dies closes its sockets and
    the others' next collective fails at once with one of TensorFlow's
    ``UnavailableError`` / ``AbortedError`` / ``CancelledError`` /
    ``DeadlineExceededError`` (a hung worker is caught by
    :class:`keras_gan.training.callbacks.StepWatchdog` instead).
    """
    if type(error).__name__ not in _CLUSTER_ERRORS and not _gloo_lost(error):
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    told = [line for line in lines if "aborted" in line.lower() or "unavailable" in line.lower()
            or "connection" in line.lower()] or lines or ["?"]
    return (f"a worker of the cluster was lost ({type(error).__name__}: {told[0][:200]}); "
            "checkpoints are intact: restart every worker with --resume.")
