"""Workers of a 2-worker run SIGKILLed mid-epoch, both restarted with --resume: the weights of a run never stopped.

Real processes: two ``keras-gan train --strategy multiworker`` workers on 127.0.0.1
ports (tests/_multiworker_resume_worker.py). A victim SIGKILLs itself after a
fixed training step, so the newest checkpoint is known in advance; the survivor
must exit 76 with one line. Both are restarted with ``--resume``; the second
time the chief is the victim (its lock is left behind); after the last restart
the run must end with the weights and history of an uninterrupted 2-worker run.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from _procs import free_port as _free_port, wait_for
from keras_gan.training import checkpointing

WORKER = os.path.join(os.path.dirname(__file__), "_multiworker_resume_worker.py")

# ring8, 512 points, 32 per replica x 2 workers: 8 global steps per epoch; a checkpoint every 2 steps.
EPOCHS, STEPS, EVERY = 3, 8, 2
ARGS = ["--strategy", "multiworker", "--epochs", str(EPOCHS)] + [
    x for kv in ("data.name=ring8", "data.num_samples=512", "data.batch_size=32", "model.architecture=mlp",
                 "model.latent_dim=2", "model.hidden_units=16", "model.num_layers=2", "train.num_sample_images=16",
                 f"train.checkpoint_every_steps={EVERY}", "train.keep_checkpoints=100",
                 # one step per call and the dataclass defaults, not the digits main config's settings
                 "train.steps_per_execution=1", "train.checkpoint_every=1", "train.sample_every=1",
                 "model.ema_decay=null", "train.intra_op_threads=null")
    for x in ("--set", kv)
]
LOST = "keras-gan train: error: a worker of the cluster was lost"


@pytest.fixture
def pairs():
    """Starts worker pairs; whatever still runs at the end of the test is killed."""
    started = []

    def start(tmp_path, name, run, args, die_at=(0, 0)):
        ports = [str(_free_port()), str(_free_port())]
        scratch = tmp_path / f"tmp-{name}"  # TMPDIR: where a non-chief worker keeps its scratch copy
        scratch.mkdir()
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
               "TMPDIR": str(scratch)}
        pair = {"name": name, "logs": [tmp_path / f"{name}-w{i}.log" for i in (0, 1)], "procs": []}
        started.append(pair)
        for i in (0, 1):
            with open(pair["logs"][i], "w") as fh:
                pair["procs"].append(subprocess.Popen(
                    [sys.executable, WORKER, str(i), *ports, str(die_at[i]), "--", "--output", str(run), "--quiet",
                     *args], env=env, stdout=fh, stderr=subprocess.STDOUT))
        return pair

    yield start
    for pair in started:
        for p in pair["procs"]:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


def _wait(*pairs, timeout=240):
    """Waits until every worker of ``pairs`` has ended (at most ``timeout`` s); [(returncode, output)] per pair."""
    flat = wait_for([p for pair in pairs for p in pair["procs"]], [log for pair in pairs for log in pair["logs"]],
                    timeout, [f"{pair['name']} worker {i}" for pair in pairs for i in range(len(pair["procs"]))])
    each = iter(flat)
    return [[next(each) for _ in pair["procs"]] for pair in pairs]


def _scratch_copies(tmp_path, name):
    return sorted(p.name for p in (tmp_path / f"tmp-{name}").iterdir() if p.name.startswith("keras_gan_worker_"))


def _weights(path):
    return [w.numpy() for w in checkpointing.load_keras_file(str(path)).weights]


def _assert_survivor_stopped(results, victim, stage):
    """The victim died by SIGKILL; the survivor printed one line and exited 76."""
    assert results[victim][0] == -signal.SIGKILL, f"{stage}: " + results[victim][1][-3000:]
    code, out = results[1 - victim]
    assert code == 76, f"{stage}: " + out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("keras-gan train: error:")]
    assert len(lines) == 1 and lines[0].startswith(LOST), f"{stage}: " + out[-3000:]
    assert "restart every worker with --resume" in lines[0] and "Traceback" not in out


def _assert_resumed(results, stage, stale_lock, steps_left):
    for code, out in results:
        assert code == 0, f"{stage}: " + out[-3000:]
        assert "Traceback" not in out
        # both workers loaded the same mid-epoch checkpoint: they run the rest of its epoch only
        assert f"{steps_left}/{steps_left} - " in out, f"{stage}: " + out[-3000:]
    assert ("taking over a stale lock of process" in results[0][1]) == stale_lock, results[0][1][-3000:]


@pytest.mark.slow
def test_killed_workers_then_both_restarted_with_resume_equal_an_uninterrupted_run(pairs, tmp_path):
    run, reference = tmp_path / "run", tmp_path / "reference"

    # 0. an uninterrupted 2-worker run of the same config, beside
    # 1. a run whose non-chief worker is SIGKILLed after global step 11 (epoch 2, step 3)
    ref, cut = _wait(pairs(tmp_path, "reference", reference, ARGS),
                     pairs(tmp_path, "cut1", run, ARGS, die_at=(0, STEPS + 3)))
    for code, out in ref:
        assert code == 0, "reference: " + out[-3000:]
    assert _scratch_copies(tmp_path, "reference") == []
    _assert_survivor_stopped(cut, victim=1, stage="cut1")
    found = [(c.epoch, c.step) for c in checkpointing.list_checkpoints(str(run))]
    assert found[-2:] == [(1, 0), (1, 2)] and (0, EVERY) in found, found  # nothing after the last step is saved
    assert not (run / checkpointing.LOCK_NAME).exists()  # the surviving chief released its lock

    # 2. both restarted with --resume (from epoch 1 + step 2); this time the chief is SIGKILLed
    #    at its 9th step (global step 19: epoch 3, step 3), leaving its lock behind
    (cut,) = _wait(pairs(tmp_path, "cut2", run, ["--resume"], die_at=(9, 0)))
    _assert_survivor_stopped(cut, victim=0, stage="cut2")
    assert f"{STEPS - 2}/{STEPS - 2} - " in cut[1][1]  # the rest of epoch 2 was trained
    assert "stale lock" not in cut[0][1]
    found = [(c.epoch, c.step) for c in checkpointing.list_checkpoints(str(run))]
    assert found[-2:] == [(2, 0), (2, 2)], found
    assert (run / checkpointing.LOCK_NAME).exists()
    assert _scratch_copies(tmp_path, "cut2") == []  # the surviving non-chief removed its scratch copy

    # 3. both restarted again: the rest of epoch 3
    (done,) = _wait(pairs(tmp_path, "resume", run, ["--resume"]))
    _assert_resumed(done, "resume", stale_lock=True, steps_left=STEPS - 2)
    assert f"epochs 3..{EPOCHS}" in done[0][1]
    assert not (run / checkpointing.LOCK_NAME).exists()
    assert _scratch_copies(tmp_path, "resume") == []

    last = checkpointing.checkpoint_name(EPOCHS)
    a, b = _weights(run / "checkpoints" / last), _weights(reference / "checkpoints" / last)
    assert len(a) == len(b) > 4
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
    ha, hb = (json.loads((r / "history.json").read_text()) for r in (reference, run))
    assert hb["epoch"] == list(range(1, EPOCHS + 1))
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(hb[key], ha[key], rtol=1e-5)
