"""Two worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy equal one process."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from _procs import free_port as _free_port

from keras_gan import models
from keras_gan.models import _keras_compat

WORKER = os.path.join(os.path.dirname(__file__), "_multiworker_worker.py")


def test_keras_still_has_the_hook_we_override():
    # The multi-worker work-around overrides a private Keras method; fail loudly if it goes away.
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    assert hasattr(TensorFlowTrainer, _keras_compat.SYMBOLIC_BUILD_HOOK), (
        f"Keras {keras.__version__} no longer has {_keras_compat.SYMBOLIC_BUILD_HOOK}; "
        f"the work-around was tested with Keras {_keras_compat.TESTED_KERAS}"
    )
    assert models.AdversarialModel._maybe_symbolic_build is not TensorFlowTrainer._maybe_symbolic_build


@pytest.mark.slow
def test_two_workers_equal_single_process(tmp_path):
    ports = [str(_free_port()), str(_free_port())]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    procs = [
        subprocess.Popen([sys.executable, WORKER, str(i), *ports, str(tmp_path / f"w{i}.npz")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (0, 1)
    ]
    single = subprocess.run([sys.executable, WORKER, "-1", *ports, str(tmp_path / "single.npz")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-2000:]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
    w0, w1, ws = (np.load(tmp_path / f"{n}.npz") for n in ("w0", "w1", "single"))
    np.testing.assert_array_equal(w0["iterations"], [12, 6])
    weights = [k for k in ws.files if k.startswith("arr_")]
    assert len(weights) > 4
    for k in weights:
        np.testing.assert_array_equal(w0[k], w1[k])  # both workers hold identical weights
        np.testing.assert_allclose(w0[k], ws[k], atol=1e-5)  # and they equal one process on the global batch
    assert not np.allclose(ws["arr_0"], 0)
