"""train.steps_per_execution and train.intra_op_threads: speed settings that must not change training."""

import json
import math

import numpy as np
import pytest

from keras_gan import config
from keras_gan.training import checkpointing
from keras_gan.training import runs
from keras_gan.training import trainer

from _run_copies import assert_same_weights, copy_until

# 1797 digits, train split 1437 (tfds' split) / (32 x 2) = 22 steps per epoch.
RAW = {"data": {"batch_size": 32}, "model": {"base_filters": 8, "latent_dim": 16},
       "train": {"epochs": 2, "num_sample_images": 4, "d_steps": 2, "keep_checkpoints": 100}}


def _cfg(**train):
    raw = json.loads(json.dumps(RAW))
    raw["train"].update(train)
    return config.from_dict(raw)


@pytest.mark.parametrize("cap", [1, 2, 3, 4, 10, 11, 12, 22, 23, 100])
@pytest.mark.parametrize("steps", [1, 7, 22, 24, 89, 97, 179, 937])
def test_execution_steps_is_the_divisor_nearest_the_cap_by_ratio(cap, steps):
    k = runs.execution_steps(cap, steps)
    divisors = [d for d in range(1, steps + 1) if steps % d == 0]  # brute force
    assert steps % k == 0
    best = min(abs(math.log(d / cap)) for d in divisors)
    assert abs(math.log(k / cap)) == pytest.approx(best)
    nearest = [d for d in divisors if abs(math.log(d / cap)) == pytest.approx(best)]
    assert k == min(nearest)  # a tie goes to the shorter call
    assert k <= cap * cap


def test_execution_steps_runs_the_digits_batch_16_epoch_in_one_call():
    # 1,437 training digits: 89 steps an epoch at batch 16 (a prime), 179 at batch 8, 44 at batch 32
    assert runs.execution_steps(22, 89) == 89
    assert runs.execution_steps(22, 179) == 179
    assert runs.execution_steps(22, 44) == 22
    assert runs.execution_steps(22, 937) == 1  # 937 steps a call would be 42x the setting, one is 22x below


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The same 2-epoch run with one step per call and with 11 (two calls per 22-step epoch)."""
    out = {}
    for spe in (1, 11):
        run = tmp_path_factory.mktemp(f"spe{spe}") / "run"
        result = trainer.train(_cfg(steps_per_execution=spe, checkpoint_every_steps=5), str(run), verbose=0)
        assert result.failed is None
        out[spe] = (run, result)
    return out


def test_steps_per_execution_trains_the_same_model(trained):
    (a, _), (b, rb) = trained[1], trained[11]
    assert rb.model.steps_per_execution == 11
    assert_same_weights(a / "checkpoints" / "epoch-0002.keras", b / "checkpoints" / "epoch-0002.keras")
    ha, hb = (json.loads((r / "history.json").read_text()) for r in (a, b))
    np.testing.assert_allclose(hb["d_loss"], ha["d_loss"], rtol=1e-4)


def test_step_checkpoints_fall_on_call_boundaries_and_resume_exactly(trained, tmp_path):
    run, _ = trained[11]
    steps = sorted((c.epoch, c.step) for c in checkpointing.list_checkpoints(str(run)) if c.step)
    # every 5 steps, taken at the end of the 11-step call that crosses it
    assert steps == [(0, 11), (1, 11)]
    dest = tmp_path / "run"
    copy_until(run, dest, 1, 11)
    result = trainer.train(_cfg(steps_per_execution=11, checkpoint_every_steps=5), str(dest), resume=True,
                           verbose=0)
    assert (result.initial_epoch, result.initial_step) == (1, 11)
    assert_same_weights(run / "checkpoints" / "epoch-0002.keras", dest / "checkpoints" / "epoch-0002.keras")


def test_intra_op_threads_after_tensorflow_started_warns_and_trains(tmp_path):
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has run an op: the setting can no longer change
    current = tf.config.threading.get_intra_op_parallelism_threads()
    wanted = 3 if current != 3 else 2
    with pytest.warns(UserWarning, match=f"train.intra_op_threads = {wanted} not applied"):
        result = trainer.train(_cfg(epochs=1, intra_op_threads=wanted), str(tmp_path / "run"), verbose=0)
    assert result.failed is None
    assert tf.config.threading.get_intra_op_parallelism_threads() == current


def test_intra_op_threads_is_validated():
    from keras_gan.errors import UsageError

    with pytest.raises(UsageError, match="train.intra_op_threads = 0"):
        _cfg(intra_op_threads=0)


def test_resume_with_another_steps_per_execution_retraces_the_run(trained, tmp_path):
    # A one-step-per-call run resumed after 5 steps with 11 per call: the rest of epoch 1 (17 steps) runs
    # in one 17-step call (17 is prime, and 17/11 is nearer 1 than 11/1), epoch 2 in 11-step calls; the
    # result is the uninterrupted run's.
    run, _ = trained[1]
    dest = tmp_path / "run"
    copy_until(run, dest, 0, 5)
    result = trainer.train(_cfg(steps_per_execution=11, checkpoint_every_steps=5), str(dest), resume=True,
                           verbose=0)
    assert (result.initial_epoch, result.initial_step) == (0, 5)
    assert result.model.steps_per_execution == 11
    assert_same_weights(run / "checkpoints" / "epoch-0002.keras", dest / "checkpoints" / "epoch-0002.keras")
