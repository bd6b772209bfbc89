"""One worker of the kill-then-resume test (run by tests/test_multiworker_resume.py).

Usage: python _multiworker_resume_worker.py INDEX PORT0 PORT1 DIE_AT -- KERAS-GAN-TRAIN-ARGS...
Runs ``keras-gan train ARGS`` (the real command line) as worker INDEX of a
two-worker cluster on 127.0.0.1. DIE_AT > 0: this worker SIGKILLs itself when
its DIE_AT-th training step of this process has ended (after that step's
callbacks, so a checkpoint due at that step is written first), as a machine
that crashes mid-run; 0: it never does. Exits with the command's exit code.
"""

import json
import os
import signal
import sys

index, port0, port1, die_at = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
if sys.argv[5] != "--":
    raise SystemExit("usage: _multiworker_resume_worker.py INDEX PORT0 PORT1 DIE_AT -- ARGS...")
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]}, "task": {"type": "worker", "index": index}}
)

from keras_gan import cli  # noqa: E402

if die_at > 0:
    from keras_gan.training import trainer  # noqa: E402  (imports Keras: the backend is tensorflow, set by the caller)

    import keras  # noqa: E402

    class _Die(keras.callbacks.Callback):
        done = 0

        def on_train_batch_end(self, batch, logs=None):
            _Die.done += 1
            if _Die.done == die_at:
                print(f"worker {index}: SIGKILL after step {die_at}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    _train = trainer.train

    def _train_and_die(*args, **kwargs):
        kwargs["extra_callbacks"] = (*kwargs.get("extra_callbacks", ()), _Die())
        return _train(*args, **kwargs)

    trainer.train = _train_and_die

sys.exit(cli.main(["train", *sys.argv[6:]]))
