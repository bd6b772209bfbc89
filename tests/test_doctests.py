"""The docstring examples of the modules whose examples are self-contained run as written.

(``metrics``, ``features`` and ``export`` show illustrative calls on a trained model and real data; their
behaviour is covered by their own tests.)
"""

import doctest
import importlib

import pytest

MODULES = ["losses", "networks", "optimizers", "models", "models.adversarial", "models.noise", "models.vae", "backends",
           "training.runs", "divergences", "data", "config", "training.callbacks", "bench.throughput", "files", "kernels._jax", "kernels._forms", "models._backend",
           "training.plan"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"keras_gan.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.attempted > 0, f"keras_gan.{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in keras_gan.{name} failed"
