"""Multi-process JAX training (keras.distribution.initialize) with real processes on 127.0.0.1.

Each process is a real ``keras-gan train`` (or ``keras-gan launch``) with Keras' variables
``KERAS_DISTRIBUTION_JOB_ADDRESSES`` / ``_NUM_PROCESSES`` / ``_PROCESS_ID``; the reference is one
process with as many virtual CPU devices as the processes have together, so both run the same
global batches and noise. Checked: the final weights and history equal the reference's; only
process 0 writes the run directory (the others' scratch copies are gone at the end); SIGTERM to
process 1 stops both at the same step with a checkpoint (exit 75) and ``--resume`` on both ends
equal to an uninterrupted run; SIGKILL of one process ends the other within a bound (exit 76 and
one line when process 1 is lost).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from _procs import free_port as _free_port, wait_for
from keras_gan import backends
from keras_gan.errors import UsageError

pytest.importorskip("jax")

# The digits DCGAN (the default config) on half the train split: 11 global steps of 2 x 32 an epoch.
SETS = [x for kv in ("data.split=train[:50%]", "train.checkpoint_every=1") for x in ("--set", kv)]
CLI = [sys.executable, "-m", "keras_gan.cli"]


def _env(tmp_path, name, devices=1, **extra):
    scratch = tmp_path / f"tmp-{name}"  # TMPDIR: where process 1 keeps its scratch copy
    scratch.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_DISTRIBUTION_")}
    env.update(KERAS_BACKEND="jax", CUDA_VISIBLE_DEVICES="", TMPDIR=str(scratch), JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", **extra)
    return env


def _run(cmd, env, log, timeout=300):
    with open(log, "w") as fh:
        p = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, log.read_text()


def _start_pair(tmp_path, name, args, port=None):
    """Two ``keras-gan train`` processes of one run, started directly (the test knows their pids)."""
    port = port or _free_port()
    procs, logs = [], []
    for i in (0, 1):
        env = _env(tmp_path, name, KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                   KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(i))
        log = tmp_path / f"{name}-p{i}.log"
        logs.append(log)
        with open(log, "w") as fh:  # the child writes through its own copy of the descriptor
            procs.append(subprocess.Popen(CLI + ["train", *args], env=env, stdout=fh, stderr=subprocess.STDOUT))
    return procs, logs


def _wait(procs, logs, timeout=300):
    return wait_for(procs, logs, timeout)


def _weights(run):
    from keras_gan.training import checkpointing

    newest = checkpointing.list_checkpoints(str(run))[-1]
    return [w.numpy() for w in checkpointing.load_keras_file(newest.path).weights]


def _history(run):
    import json

    return json.loads((run / "history.json").read_text())


def _files(run):
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and "logs" not in p.parts)


def _assert_equal_runs(a, b, atol):
    wa, wb = _weights(a), _weights(b)
    assert len(wa) == len(wb) > 0
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)
    ha, hb = _history(a), _history(b)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(ha[key], hb[key], atol=max(atol, 1e-5))


# --------------------------------------------------------------------------- without processes


def test_process_group_reads_kerass_variables_and_refuses_bad_values():
    env = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:9", "KERAS_DISTRIBUTION_NUM_PROCESSES": "4",
           "KERAS_DISTRIBUTION_PROCESS_ID": "3"}
    assert backends.process_group(env) == (4, 3)
    assert backends.process_group({**env, "KERAS_DISTRIBUTION_NUM_PROCESSES": "1",
                                   "KERAS_DISTRIBUTION_PROCESS_ID": "0"}) is None
    assert backends.process_group({}) is None
    # a TPU pod / SLURM job: the count alone, JAX finds the rest
    assert backends.process_group({"KERAS_DISTRIBUTION_NUM_PROCESSES": "8"}) == (8, None)
    job = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:9"}
    for bad, named in (({**job, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "4"},
                        "KERAS_DISTRIBUTION_PROCESS_ID=4 must be below KERAS_DISTRIBUTION_NUM_PROCESSES=2"),
                       ({**job, "KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, "KERAS_DISTRIBUTION_NUM_PROCESSES='two'"),
                       ({**job, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "-1"},
                        "KERAS_DISTRIBUTION_PROCESS_ID='-1'"),
                       ({**job, "KERAS_DISTRIBUTION_PROCESS_ID": "0"}, "KERAS_DISTRIBUTION_NUM_PROCESSES is not"),
                       ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1"},
                        "set KERAS_DISTRIBUTION_JOB_ADDRESSES")):
        with pytest.raises(UsageError) as e:
            backends.process_group(bad)
        assert named in str(e.value) and "\n" not in str(e.value)


def test_multi_process_needs_jax_and_a_keras_distribution(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "127.0.0.1:9")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    for backend, strategy in (("jax", "default"), ("tensorflow", "multiworker")):
        with pytest.raises(UsageError, match="needs the jax backend and train.strategy data_parallel"):
            backends.select(backend, strategy)


def test_launch_refuses_bad_input_in_one_line(tmp_path):
    for args, named in ((["--processes", "0", "--", "train"], "--processes 0"),
                        (["--processes", "2"], "after -- give the keras-gan command"),
                        (["--processes", "2", "--", "fly"], "'fly'"),
                        (["--processes", "2", "--devices-per-process", "0", "--", "train"], "--devices-per-process 0")):
        p = subprocess.run(CLI + ["launch", *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], p.stderr


def test_launch_gives_each_process_its_id_and_the_coordinator():
    from keras_gan.commands import launch

    envs = launch.environments(3, 4321, devices_per_process=2, environ={"XLA_FLAGS": "--xla_foo=1"})
    assert [e["KERAS_DISTRIBUTION_PROCESS_ID"] for e in envs] == ["0", "1", "2"]
    assert {e["KERAS_DISTRIBUTION_JOB_ADDRESSES"] for e in envs} == {"127.0.0.1:4321"}
    assert {e["KERAS_DISTRIBUTION_NUM_PROCESSES"] for e in envs} == {"3"}
    assert envs[0]["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=2"
    assert envs[0]["KERAS_BACKEND"] == "jax"
    assert launch._code(-9) == 137 and launch._code(76) == 76


def test_stop_on_signal_stops_where_the_sync_point_says():
    """With ``sync``, the stop comes from the agreed step, not from a local signal (here: step 5 of 8)."""
    import keras

    from keras_gan.training import callbacks

    asked = []

    class Ck:
        guard, steps_per_epoch, epoch, position, stopped = None, 8, 0, 0, False
        run_dir, last_saved = "unused", None

        def _global(self):
            return self.epoch * 8 + self.position

        def save(self, epoch, step, logs=None):
            self.last_saved = (epoch, step)
            return type("W", (), {"path": f"ck-{epoch}-{step}"})()

    ck = Ck()
    stop = callbacks.StopOnSignal(ck, sync=lambda step: asked.append(step) or step == 5)
    assert signal.SIGTERM not in stop.signals  # JAX's preemption service owns SIGTERM
    stop.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    for batch in range(8):
        ck.position = batch + 1
        stop.on_train_batch_end(batch)
        if getattr(stop.model, "stop_training", False):
            break
    assert asked == [1, 2, 3, 4, 5]
    assert stop.stopped == {"signal": "SIGTERM", "epoch": 0, "step": 5, "checkpoint": "ck-0-5"}

    # Three steps a call (steps_per_execution): every id is still asked; the stop comes after the call
    # whose steps hold the agreed one.
    asked.clear()
    ck.position, ck.last_saved = 0, None
    stop = callbacks.StopOnSignal(ck, sync=lambda step: asked.append(step) or step == 5)
    stop.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    for call in range(3):
        ck.position = 3 * call + 3 if call < 2 else 8
        stop.on_train_batch_end(ck.position - 1)
        if getattr(stop.model, "stop_training", False):
            break
    assert asked == [3, 4, 5] and stop.stopped["step"] == 6


# --------------------------------------------------------------------------- real processes


@pytest.mark.slow
def test_launch_two_processes_data_parallel_equals_one_process(tmp_path):
    """The issue's command: two processes of one device each against one process of two devices."""
    ref, two = tmp_path / "ref", tmp_path / "two"
    args = ["train", "--backend", "jax", "--strategy", "data_parallel", "--epochs", "2", *SETS, "--quiet"]
    code, out = _run(CLI + args + ["--output", str(ref)], _env(tmp_path, "ref", devices=2), tmp_path / "ref.log")
    assert code == 0, out[-3000:]
    code, out = _run(CLI + ["launch", "--processes", "2", "--", *args, "--output", str(two)],
                     _env(tmp_path, "two"), tmp_path / "two.log")
    assert code == 0, out[-3000:]
    assert out.count("run directory:") == 1 and "Traceback" not in out  # process 0 alone reports
    _assert_equal_runs(ref, two, atol=1e-6)
    assert _files(two) == _files(ref)  # one run directory, as one process writes it
    assert list((tmp_path / "tmp-two").iterdir()) == []  # process 1's scratch copy is gone
    assert len(_history(two)["d_loss"]) == 2


@pytest.mark.slow
def test_model_parallel_shards_weights_across_processes_and_equals_one_process(tmp_path):
    """model_parallel over 2 processes of 1 device: every wide weight has half on each process."""
    ref, two = tmp_path / "ref", tmp_path / "two"
    args = ["--backend", "jax", "--strategy", "model_parallel", "--set", "train.model_parallel_size=2",
            "--epochs", "1", *SETS, "--quiet"]
    code, out = _run(CLI + ["train", *args, "--output", str(ref)], _env(tmp_path, "ref", devices=2),
                     tmp_path / "ref.log")
    assert code == 0, out[-3000:]
    procs, logs = _start_pair(tmp_path, "two", [*args, "--output", str(two)])
    for code, out in _wait(procs, logs):
        assert code == 0, out[-3000:]
    _assert_equal_runs(ref, two, atol=2e-6)  # the reductions cross processes: round-off only


@pytest.mark.slow
def test_sigterm_to_one_process_stops_both_and_resume_equals_an_uninterrupted_run(tmp_path):
    ref, run = tmp_path / "ref", tmp_path / "run"
    args = ["--backend", "jax", "--strategy", "data_parallel", "--epochs", "6", *SETS, "--quiet",
            "--set", "train.keep_checkpoints=100"]
    code, out = _run(CLI + ["train", *args, "--output", str(ref)], _env(tmp_path, "ref", devices=2),
                     tmp_path / "ref.log")
    assert code == 0, out[-3000:]

    procs, logs = _start_pair(tmp_path, "cut", [*args, "--output", str(run)])
    deadline = time.time() + 240
    while not (run / "checkpoints" / "epoch-0001.keras").exists() and time.time() < deadline:
        assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGTERM)  # the non-coordinator: process 0 must stop at the same step
    results = _wait(procs, logs)
    for code, out in results:
        assert code == 75, out[-3000:]
    line = [x for x in results[0][1].splitlines() if x.startswith("keras-gan train: stopped by SIGTERM")]
    assert len(line) == 1 and "--resume" in line[0], results[0][1][-3000:]
    assert "Traceback" not in results[1][1]

    procs, logs = _start_pair(tmp_path, "resume", ["--output", str(run), "--resume", "--quiet"])
    for code, out in _wait(procs, logs):
        assert code == 0, out[-3000:]
    _assert_equal_runs(ref, run, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0])
def test_a_killed_process_ends_the_other_within_the_bound(tmp_path, victim):
    """Process 1 lost: process 0 prints one line and exits 76. Process 0 (JAX's coordinator) lost: JAX's
    coordination service ends process 1 itself at once (its own fatal message; keras-gan's line when the
    failed collective is seen first): either way within the bound."""
    run = tmp_path / "run"
    args = ["--backend", "jax", "--strategy", "data_parallel", "--epochs", "50", *SETS, "--quiet"]
    procs, logs = _start_pair(tmp_path, "kill", [*args, "--output", str(run)])
    deadline = time.time() + 240
    while not (run / "checkpoints" / "epoch-0001.keras").exists() and time.time() < deadline:
        time.sleep(0.05)
    procs[victim].kill()
    killed = time.time()
    while procs[1 - victim].poll() is None and time.time() < killed + 60:
        time.sleep(0.1)
    survivor = procs[1 - victim]
    assert survivor.poll() is not None, "the survivor did not notice the lost process within 60 s"
    out = logs[1 - victim].read_text()
    if victim == 1:
        assert survivor.returncode == 76, out[-3000:]
        lines = [x for x in out.splitlines() if x.startswith("keras-gan train: error:")]
        assert len(lines) == 1 and "restart every worker with --resume" in lines[0], out[-3000:]
        assert "Traceback" not in out
    else:
        assert survivor.returncode in (76, -signal.SIGABRT), out[-3000:]
    from keras_gan.training import checkpointing

    assert checkpointing.list_checkpoints(str(run))  # the checkpoints written before are intact


@pytest.mark.slow
def test_launch_forwards_sigterm_and_returns_the_worst_exit_code(tmp_path):
    run = tmp_path / "run"
    with open(tmp_path / "launch.log", "w") as fh:
        p = subprocess.Popen(CLI + ["launch", "--processes", "2", "--", "train", "--backend", "jax", "--strategy",
                                    "data_parallel", "--epochs", "50", *SETS, "--quiet", "--output", str(run)],
                             env=_env(tmp_path, "launch"), stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while not (run / "checkpoints" / "epoch-0001.keras").exists() and time.time() < deadline:
        assert p.poll() is None, (tmp_path / "launch.log").read_text()[-3000:]
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    out = (tmp_path / "launch.log").read_text()
    assert p.returncode == 75, out[-3000:]
    assert out.count("keras-gan train: stopped by SIGTERM") == 1 and "Traceback" not in out, out[-3000:]
    assert "keras-gan launch: exit codes of processes 0..1: [75, 75]" in out
    from keras_gan.training import checkpointing

    newest = checkpointing.list_checkpoints(str(run))[-1]
    assert (newest.epoch, newest.step) > (1, 0) and newest.epoch < 50
