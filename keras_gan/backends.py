"""Choosing the Keras backend of a run, before Keras is imported.

Keras 3 fixes its backend when it is first imported, from ``KERAS_BACKEND``
(or ``~/.keras/keras.json``). ``keras-gan train`` picks it in this order:
``--backend`` on the command line, then ``KERAS_BACKEND`` (as Keras users
expect), then the config's ``train.backend``, then TensorFlow. Each backend
needs its own package; a missing one is one clear error naming the pip
command. This module imports neither Keras nor a backend.

Example:

>>> from keras_gan import backends
>>> backends.choose(flag=None, configured="jax", environ={})
'jax'
>>> backends.choose(flag="torch", configured="jax", environ={"KERAS_BACKEND": "tensorflow"})
'torch'
"""

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
