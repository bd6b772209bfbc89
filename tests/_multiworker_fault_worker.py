"""One worker of the killed-worker test (run by tests/test_multiworker_faults.py).

Usage: python _multiworker_fault_worker.py INDEX PORT0 PORT1 DIE_AT_STEP TIMEOUT HOW
Both workers train a small GAN under MultiWorkerMirroredStrategy with a
:class:`keras_gan.training.callbacks.StepWatchdog`; worker INDEX == 1 stops at step
DIE_AT_STEP: HOW = kill (SIGKILL: its sockets close, as a crashed process)
or stop (SIGSTOP: it hangs with its sockets open, as a machine that vanished).
Errors of the collectives end in keras_gan.training.checkpointing.cluster_error's line.
"""

import json
import os
import signal
import sys

index, port0, port1, die_at = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
timeout, how = float(sys.argv[5]), sys.argv[6]
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]}, "task": {"type": "worker", "index": index}}
)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402

from keras_gan import models
from keras_gan.training import callbacks  # noqa: E402

GLOBAL, STEPS = 16, 400
x = np.random.default_rng(0).normal(size=(GLOBAL * STEPS, 2)).astype("float32")
with strategy.scope():
    keras.utils.set_random_seed(0)
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=16, num_layers=2, seed=3)
    model.compile()


class Die(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if index == 1 and batch + 1 == die_at:
            print("worker 1: dying at step", batch + 1, flush=True)
            os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGSTOP)


data = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL, drop_remainder=True).repeat()
try:
    model.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0,
              callbacks=[Die(), callbacks.StepWatchdog(timeout, first_timeout=120)])
except Exception as e:  # noqa: BLE001
    from keras_gan.training.checkpointing import cluster_error

    line = cluster_error(e)
    if line is None:
        raise
    print(f"keras-gan train: error: {line}", file=sys.stderr, flush=True)
    os._exit(callbacks.StepWatchdog.EXIT_STALLED)
print("worker", index, "finished", flush=True)
