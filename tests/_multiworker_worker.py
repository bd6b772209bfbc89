"""One worker of the two-process MultiWorkerMirroredStrategy test (run by tests/test_multiworker.py).

Usage: python _multiworker_worker.py INDEX PORT0 PORT1 OUT.npz   (INDEX -1: single process, no strategy)
Both workers and the single process train the same model from the same
weights on the same global batches; each writes its final weights.
"""

import json
import os
import sys

index, port0, port1, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if index >= 0:
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]}, "task": {"type": "worker", "index": index}}
    )
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy() if index >= 0 else tf.distribute.get_strategy()

import keras  # noqa: E402

from keras_gan import models  # noqa: E402

GLOBAL, K, STEPS = 16, 2, 6
x = np.random.default_rng(0).normal(size=(GLOBAL * STEPS, 2)).astype("float32")

with strategy.scope():
    keras.utils.set_random_seed(0)
    model = models.GAN(data_dim=2, latent_dim=2, hidden_units=16, num_layers=2, seed=3)
    model.compile(d_steps=K)

batches = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL, drop_remainder=True)
if index >= 0:
    per_replica = GLOBAL // strategy.num_replicas_in_sync

    def shard(ctx):
        # Replica r takes rows [r * per_replica, (r + 1) * per_replica) of every global batch.
        r = ctx.input_pipeline_id
        return batches.map(lambda b: b[r * per_replica : (r + 1) * per_replica])

    data = strategy.distribute_datasets_from_function(shard)
else:
    data = batches
history = model.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0).history
np.savez(out, *[w.numpy() for w in model.weights], d_loss=np.array(history["d_loss"]),
         iterations=np.array([int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy())]))
print("worker", index, "done", history)
