"""Choosing the Keras backend of a run, before Keras is imported.

Keras 3 fixes its backend when it is first imported, from ``KERAS_BACKEND``
(or ``~/.keras/keras.json``). ``keras-gan train`` picks it in this order:
``--backend`` on the command line, then ``KERAS_BACKEND`` (as Keras users
expect), then the config's ``train.backend``, then TensorFlow. Each backend
needs its own package; a missing one is one clear error naming the pip
command. Importing this module imports neither Keras nor a backend; :func:`start_devices`
starts them, inside :class:`quiet_native_start` where the start-up noise of a machine without a GPU is dropped.

Example:

>>> from keras_gan import backends
>>> backends.choose(flag=None, configured="jax", environ={})
'jax'
>>> backends.choose(flag="torch", configured="jax", environ={"KERAS_BACKEND": "tensorflow"})
'torch'
"""

import gc
import importlib.util
import os
import sys

from keras_gan.errors import UsageError

#: The Keras backends keras-gan trains on.
BACKENDS = ("jax", "tensorflow", "torch")

#: The package each backend needs and how to install it.
_PACKAGES = {
    "jax": ("jax", 'pip install "jax[cpu]"  (or "jax[cuda12]" on a GPU)'),
    "tensorflow": ("tensorflow", "pip install tensorflow"),
    "torch": ("torch", "pip install torch"),
}

#: Strategies (``train.strategy``) and the backends they run on.
STRATEGIES = {
    "default": BACKENDS,
    "mirrored": ("tensorflow",),
    "multiworker": ("tensorflow",),
    "tpu": ("tensorflow",),
    "data_parallel": ("jax",),
    "model_parallel": ("jax",),
}


def choose(flag=None, configured=None, environ=None):
    """The backend a run uses: ``flag``, else ``KERAS_BACKEND``, else ``configured``, else TensorFlow.

    Args:
        flag: ``--backend`` (or ``None``).
        configured: the config's ``train.backend`` (or ``None``).
        environ: the environment (default ``os.environ``).

    Returns:
        A name from :data:`BACKENDS`.

    Raises:
        UsageError: for a name that is not a supported backend.
    """
    environ = os.environ if environ is None else environ
    for source, name in (("--backend", flag), ("KERAS_BACKEND", environ.get("KERAS_BACKEND")),
                         ("train.backend", configured)):
        if name:
            if name not in BACKENDS:
                raise UsageError(f"{source} = {name!r} is not a backend keras-gan trains on; "
                                 f"expected one of {', '.join(BACKENDS)}.")
            return name
    return "tensorflow"


def select(name, strategy="default"):
    """Makes ``name`` this process's Keras backend (sets ``KERAS_BACKEND``) and checks it can run.

    Args:
        name: a name from :data:`BACKENDS`.
        strategy: the run's ``train.strategy``, checked against the backend.

    Returns:
        ``name``.

    Raises:
        UsageError: if the backend's package is not installed, Keras was
            already imported with another backend, or the strategy does not
            run on this backend.
    """
    if name not in BACKENDS:
        raise UsageError(f"backend {name!r} is not one of {', '.join(BACKENDS)}.")
    allowed = STRATEGIES.get(strategy, ())
    if name not in allowed:
        fitting = [s for s, b in STRATEGIES.items() if name in b]
        raise UsageError(
            f"train.strategy = {strategy!r} does not run on the {name} backend; "
            f"with {name} use one of {', '.join(fitting)}."
        )
    group = process_group()
    if group is not None and (name != "jax" or strategy not in ("data_parallel", "model_parallel")):
        raise UsageError(
            f"{DISTRIBUTION_ENV[1]}={group[0]} starts a multi-process run, which needs the jax backend and "
            f"train.strategy data_parallel or model_parallel (got backend {name!r}, strategy {strategy!r}); "
            "on TensorFlow use train.strategy=multiworker with TF_CONFIG, or unset the KERAS_DISTRIBUTION_* variables."
        )
    package, command = _PACKAGES[name]
    if importlib.util.find_spec(package) is None:
        raise UsageError(f"the {name} backend needs the {package!r} package, which is not installed: {command}")
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise UsageError(
                f"Keras is already imported with the {current} backend in this process; "
                f"set KERAS_BACKEND={name} before importing keras to use {name}."
            )
    os.environ["KERAS_BACKEND"] = name
    return name


#: The environment variables of Keras' multi-process entry point, ``keras.distribution.initialize``.
DISTRIBUTION_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                    "KERAS_DISTRIBUTION_PROCESS_ID")


def process_group(environ=None):
    """The multi-process run the ``KERAS_DISTRIBUTION_*`` variables describe, or ``None`` for one process.

    ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator's ``host:port`` first, or all of them),
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID`` are the variables
    ``keras.distribution.initialize`` reads; on a TPU pod or under SLURM JAX finds the addresses itself,
    so only the number of processes need be set there.

    Args:
        environ: the environment (default ``os.environ``).

    Returns:
        ``(num_processes, process_id)`` (``process_id`` is ``None`` where JAX is to find it), or ``None``
        when no variable is set or the number of processes is 1.

    Raises:
        UsageError: a variable that is not a number, or a process id outside ``0..N-1``.

    Example:

    >>> process_group({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:1234",
    ...                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1"})
    (2, 1)
    >>> process_group({}) is None
    True
    """
    environ = os.environ if environ is None else environ
    if not any(environ.get(k) for k in DISTRIBUTION_ENV):
        return None
    numbers = {}
    for key, low in ((DISTRIBUTION_ENV[1], 1), (DISTRIBUTION_ENV[2], 0)):
        text = environ.get(key)
        if text is None or text == "":
            numbers[key] = None
            continue
        try:
            numbers[key] = int(text)
        except ValueError:
            numbers[key] = None
        if numbers[key] is None or numbers[key] < low:
            raise UsageError(f"{key}={text!r} must be a whole number >= {low}.")
    n, i = numbers[DISTRIBUTION_ENV[1]], numbers[DISTRIBUTION_ENV[2]]
    if n is None:
        raise UsageError(f"{', '.join(k for k in DISTRIBUTION_ENV if environ.get(k))} is set but "
                         f"{DISTRIBUTION_ENV[1]} is not; set it to the number of processes of the run.")
    if i is not None and i >= n:
        raise UsageError(f"{DISTRIBUTION_ENV[2]}={i} must be below {DISTRIBUTION_ENV[1]}={n} (ids 0..{n - 1}).")
    if n > 1 and not environ.get(DISTRIBUTION_ENV[0]) and i is not None:
        raise UsageError(f"{DISTRIBUTION_ENV[1]}={n}: set {DISTRIBUTION_ENV[0]} to the address (host:port) of "
                         "process 0, the coordinator.")
    return None if n == 1 else (n, i)


def start_processes(name):
    """Joins this process to its multi-process run through ``keras.distribution.initialize`` (no-op for one process).

    Call it after Keras is imported and before anything touches a device. On CPU, JAX's cross-process
    collectives are switched to gloo where this JAX version has none chosen.

    Args:
        name: the backend of this process (only JAX runs multi-process here; :func:`select` refuses the rest).

    Returns:
        ``(num_processes, process_id)`` after joining, or ``None`` for a single process.
    """
    group = process_group()
    if group is None or name != "jax":
        return None
    import jax
    import keras

    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "none", ""):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize()
    return jax.process_count(), jax.process_index()


#: Native start-up lines that mean nothing on a machine without an NVIDIA GPU (TensorFlow logs them from C++
#: before Python can configure logging; TF_CPP_MIN_LOG_LEVEL no longer silences them, tensorflow #100442).
_NOISE_ANYWHERE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "rebuild TensorFlow with the appropriate compiler flags",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
)
_NOISE_WITHOUT_GPU = ("Could not find cuda drivers on your machine", "failed call to cuInit")


def has_nvidia_gpu():
    """Whether this machine shows an NVIDIA GPU to its processes (``/dev/nvidiactl`` or ``/proc/driver/nvidia``)."""
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")


class quiet_native_start:
    """Holds back TensorFlow's native start-up noise on standard error while the backend and devices start.

    Everything the process writes to file descriptor 2 inside the block goes to a temporary file;
    at the end the lines that are known noise are dropped (CUDA-driver and ``cuInit`` lines only where
    the machine has no NVIDIA GPU, where they are no news) and every other line is written to
    standard error, in order: real warnings still show. Hand-written because the noise comes from
    C++ at import, before any Python logging setting can apply.

    Example:

    >>> with quiet_native_start():  # doctest: +SKIP
    ...     import tensorflow as tf
    ...     tf.config.list_physical_devices()
    """

    def __enter__(self):
        import faulthandler
        import tempfile

        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        # A crash inside the block (a native library's segfault) still reaches the real standard error.
        self._faults_were_on = faulthandler.is_enabled()
        self._faults = os.fdopen(os.dup(self._saved), "w")
        faulthandler.enable(file=self._faults)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        import faulthandler

        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        faulthandler.disable()
        self._faults.close()
        if self._faults_were_on:  # back on, to standard error (a captured sys.stderr has no descriptor)
            for stream in (sys.stderr, sys.__stderr__):
                try:
                    faulthandler.enable(file=stream)
                    break
                except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is an OSError
                    continue
        self._file.seek(0)
        text = self._file.read().decode(errors="replace")
        self._file.close()
        noise = _NOISE_ANYWHERE + (() if has_nvidia_gpu() else _NOISE_WITHOUT_GPU)
        kept = [line for line in text.splitlines() if not any(n in line for n in noise)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
            sys.stderr.flush()
        return False


#: Optional packages that Keras and TensorFlow import at start-up whenever they are installed, for features
#: keras-gan's commands never use: Keras' scikit-learn wrappers (which pull in SciPy's statistics), its pandas
#: DataFrame input, its matplotlib plotting helpers (the whole package: ``keras.src.visualization`` also imports
#: ``matplotlib.patches``), TensorFlow Lite's JAX converter (reached through ``tf.compat.v1``), and SciPy's sparse
#: matrices (TensorFlow's legacy ``tf.compat.v1`` Keras checks its inputs with ``scipy.sparse.issparse``: 0.09 s).
#: Hiding them took ``import keras`` from 4.0-4.2 s to 2.5-2.7 s on a 2-core Xeon (docs/performance.md).
_START_UP_EXTRAS = ("sklearn", "pandas", "matplotlib", "jax", "scipy")


_PAUSED_COLLECTOR = []  # [True] while pause_collector_until_keras holds Python's collector off


def pause_collector_until_keras():
    """Turns Python's garbage collector off until :func:`import_keras` has imported Keras (the program's start).

    Importing TensorFlow and Keras makes about a million long-lived objects and little garbage, and the
    collector ran full passes over them as they came: 0.4-0.5 s of ``keras-gan train --epochs 1`` on a 2-core
    AMD EPYC. After the import they are frozen (``gc.freeze``: later passes skip them) and the collector runs
    again. Called by the ``keras-gan`` program (:func:`keras_gan.cli.program`), not by library code: a process
    that never imports Keras keeps the collector off.
    """
    if gc.isenabled():
        gc.disable()
        _PAUSED_COLLECTOR.append(True)


def _resume_collector():
    if _PAUSED_COLLECTOR:
        _PAUSED_COLLECTOR.clear()
        gc.freeze()
        gc.enable()


def import_keras():
    """Imports Keras on the backend already chosen, without loading the optional packages it does not need.

    While Keras (and TensorFlow under it) is first imported, the packages of :data:`_START_UP_EXTRAS` that
    are not loaded yet are hidden from the import system, so Keras' and TensorFlow's optional imports of them
    take their not-installed branch; right after, they are importable again as usual (keras-gan itself
    imports matplotlib and scikit-learn where it draws or prepares data). JAX and SciPy stay visible unless
    ``KERAS_BACKEND`` names another backend. Hand-written: neither Keras nor TensorFlow has a switch for it.
    In the process that called it, Keras' scikit-learn wrappers, its DataFrame input and its plotting helpers
    are then unavailable; the commands use none of them. Not for library users: it is the commands' start.

    Returns:
        The ``keras`` module.

    Example:

    >>> keras = import_keras()  # doctest: +SKIP
    >>> "sklearn" in sys.modules  # doctest: +SKIP
    False
    """
    if "keras" in sys.modules:
        _resume_collector()
        return sys.modules["keras"]
    # JAX (and its sparse module, which Keras' JAX backend imports, SciPy) stay for the JAX backend
    keep = () if os.environ.get("KERAS_BACKEND") in ("tensorflow", "torch") else ("jax", "scipy")
    hidden = [m for m in _START_UP_EXTRAS if m not in sys.modules and m not in keep]
    for m in hidden:
        sys.modules[m] = None  # an import of it raises ModuleNotFoundError, which both catch
    try:
        import keras
    finally:
        for m in hidden:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]
        _resume_collector()
    if keras.backend.backend() == "jax":
        use_jax_compilation_cache()
    return keras


#: Bound of the JAX compilation cache where JAX can evict from it (it needs the ``filelock`` package for that).
JAX_CACHE_MAX_BYTES = 1 << 30


def use_jax_compilation_cache(folder=None):
    """Keeps JAX's compiled programs on disk, so that a second run of a command does not compile them again.

    Points JAX's persistent compilation cache at ``jax_compilation`` in keras-gan's cache folder
    (:func:`keras_gan.files.cache_folder`) and caches every program, not only those that took a second to
    compile (JAX's default): a digits run compiles about a hundred small programs (the eager ops of building
    the networks, the sampling and the checkpoint) besides the training step, and together they cost as much
    as the step. Where the ``filelock`` package is installed the cache is bounded to
    :data:`JAX_CACHE_MAX_BYTES`, least recently used first, and its reads and writes are locked (processes
    that share the folder, such as parallel runs, never read a half-written entry). The commands call it on the
    JAX backend; library users can call it before their first ``jit``.

    JAX's own settings win: with ``JAX_COMPILATION_CACHE_DIR`` (or ``jax_compilation_cache_dir``) set, or the
    cache switched off (``JAX_ENABLE_COMPILATION_CACHE=false``), nothing is changed. A folder that cannot be
    written leaves the cache off, silently: JAX would warn on every program otherwise; and where the folder
    fills up during the run, JAX's warnings about entries it cannot write or read show once, not once a program.

    Args:
        folder: the cache folder (default ``jax_compilation`` in keras-gan's cache folder).

    Returns:
        The folder JAX now caches to, or ``None`` where this left JAX as it was.

    Example:

    >>> use_jax_compilation_cache()  # doctest: +SKIP
    '/home/me/.cache/keras_gan/jax_compilation'
    """
    import jax

    from keras_gan.files import cache_folder, probe_writable

    if jax.config.jax_compilation_cache_dir or not jax.config.jax_enable_compilation_cache:
        return None
    folder = folder or os.path.join(cache_folder(), "jax_compilation")
    try:
        os.makedirs(folder, exist_ok=True)
        probe_writable(folder)
    except OSError:
        return None
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    if "JAX_COMPILATION_CACHE_MAX_SIZE" not in os.environ and importlib.util.find_spec("filelock") is not None:
        jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_MAX_BYTES)
    jax.config.update("jax_compilation_cache_dir", folder)
    _show_one_cache_failure()
    return folder


#: How JAX's warnings for a compiled program it could not read from or write to its persistent cache begin
#: (jax/_src/compiler.py).
_CACHE_FAILURES = ("Error reading persistent compilation cache entry", "Error writing persistent compilation cache entry")


def _show_one_cache_failure():
    """Makes JAX's warnings about its persistent cache show once a process, not once a program.

    On a full disk JAX warns for every program it cannot write or read (35 warnings, 70 lines, in a one-epoch
    digits run whose own files were fine), each with another program's name, so no ``warnings`` filter action can
    keep just the first: Python's "once" keys on the whole text. Done by wrapping ``warnings.showwarning``, the
    hook Python documents for this; every other warning passes through unchanged. Installed once.
    """
    import warnings

    show = warnings.showwarning
    if getattr(show, "_keras_gan_cache_failures", False):
        return
    shown = []

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if str(message).startswith(_CACHE_FAILURES):
            if shown:
                return None
            shown.append(True)
            message = f"{message} (later failures of JAX's compilation cache in this run are not reported)"
        return show(message, category, filename, lineno, file, line)

    showwarning._keras_gan_cache_failures = True
    warnings.showwarning = showwarning


def start_quietly():
    """Imports Keras on the backend already chosen and starts its devices inside :class:`quiet_native_start`.

    For the commands that load a trained model (``evaluate``, ``sample``, ``export``, the in-process
    benchmarks): on a machine without a GPU they then print no CUDA-driver or ``cuInit`` line, as
    ``keras-gan train`` does not. TensorFlow's devices are started only where TensorFlow is installed
    (a JAX or PyTorch machine may have none).

    Returns:
        The names of the devices Keras will use, e.g. ``["CPU:0"]``, or ``None`` without TensorFlow.

    Example:

    >>> start_quietly()  # doctest: +SKIP
    ['CPU:0']
    """
    import importlib.util

    with quiet_native_start():
        keras = import_keras()

        if importlib.util.find_spec("tensorflow") is None:
            return None
        return start_devices(keras.backend.backend())


def start_devices(name):
    """Starts the backend's devices (where CUDA is first probed), so that its start-up messages come now.

    Args:
        name: the backend of this process.

    Returns:
        The names of the devices Keras will use, e.g. ``["CPU:0"]``.
    """
    import tensorflow as tf  # the input pipeline's runtime, on every backend

    found = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
    if name == "jax":
        import jax

        found = [f"{d.platform.upper()}:{d.id}" for d in jax.devices()]
    elif name == "torch":
        import torch

        found = ["CUDA:0"] if torch.cuda.is_available() else ["CPU:0"]
    return found
