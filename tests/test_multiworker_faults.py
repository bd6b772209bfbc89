"""A worker lost mid-run (two processes on 127.0.0.1): the survivor stops with one clear line, in bounded time."""

import os
import subprocess
import sys
import time

import pytest
from _procs import free_port as _free_port

WORKER = os.path.join(os.path.dirname(__file__), "_multiworker_fault_worker.py")


def _run_pair(how, timeout):
    ports = [str(_free_port()), str(_free_port())]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = [subprocess.Popen([sys.executable, WORKER, str(i), *ports, "40", str(timeout), how], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    try:
        deadline = time.time() + 240
        while time.time() < deadline and procs[0].poll() is None:
            time.sleep(0.2)
        died_at = time.time()
        out0, _ = procs[0].communicate(timeout=5)
        return procs[0].returncode, out0, died_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "stop"])
def test_survivor_stops_with_one_line_when_a_worker_is_lost(how):
    start = time.time()
    code, out, _ = _run_pair(how, timeout=8)
    assert code == 76, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("keras-gan train: error:")]
    assert len(lines) == 1, out[-3000:]
    # a closed socket fails the next collective at once; a hung peer is caught by TensorFlow's
    # peer health check or, whichever comes first, by the StepWatchdog
    expected = ("a worker of the cluster was lost",) if how == "kill" else (
        "a worker of the cluster was lost", "no training progress for")
    assert lines[0].startswith(tuple(f"keras-gan train: error: {e}" for e in expected)), lines[0]
    assert "restart every worker with --resume" in lines[0]
    assert "worker 0 finished" not in out
    assert time.time() - start < 200


def test_watchdog_fires_when_no_step_ends_in_time():
    import keras
    import numpy as np

    from keras_gan import models
    from keras_gan.training import callbacks

    fired = []

    class Hang(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                time.sleep(2.5)  # a step that never finishes, as a collective waiting for a dead peer

    dog = callbacks.StepWatchdog(1.0, first_timeout=60, exit=fired.append)
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=4, num_layers=1)
    model.compile()
    x = np.zeros((64, 2), "float32")
    model.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[Hang(), dog])
    assert fired == [callbacks.StepWatchdog.EXIT_STALLED]
    assert "no training progress for" in dog.fired and "epoch 1, after step 2" in dog.fired


def test_watchdog_stays_quiet_on_a_healthy_run():
    import numpy as np

    from keras_gan import models
    from keras_gan.training import callbacks

    fired = []
    dog = callbacks.StepWatchdog(5.0, exit=fired.append)
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=4, num_layers=1)
    model.compile()
    model.fit(np.zeros((64, 2), "float32"), batch_size=8, epochs=2, verbose=0, callbacks=[dog])
    assert fired == [] and dog.fired is None
