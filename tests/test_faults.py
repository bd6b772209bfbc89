"""Faults and bad input: each case tried for real, and the README's fault table generated from the cases.

``python tests/test_faults.py`` prints the table; ``test_readme_fault_table_matches_the_cases``
fails when README.md's copy (between the ``fault-table`` markers) differs from it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "README.md")

# ------------------------------------------------------------------ the command-line cases
# (id, what is tried, argv with {run} {tmp} {file} ... placeholders, exit code, text of the one line)
CLI_CASES = [
    ("train-output-file", "`keras-gan train --output FILE` (FILE exists)", ["train", "--output", "{file}"],
     2, "--output '{file}' is a file; expected a run directory"),
    ("train-config-missing", "`keras-gan train --config missing.yaml`", ["train", "--config", "{tmp}/missing.yaml"],
     2, "config: no such file '{tmp}/missing.yaml'"),
    ("train-config-binary", "`keras-gan train --config F` (F is binary)", ["train", "--config", "{binary}"],
     2, "is not a text (UTF-8) YAML file"),
    ("train-resume-missing", "`keras-gan train --resume --output DIR` (DIR missing)",
     ["train", "--resume", "--output", "{tmp}/nowhere"], 2, "--resume: '{tmp}/nowhere' does not exist"),
    ("train-resume-change-model", "`keras-gan train --resume --set model.latent_dim=50` (run has 2)",
     ["train", "--resume", "--output", "{run}", "--set", "model.latent_dim=50"],
     2, "--resume: model.latent_dim is 2 in {run}/config.yaml, the override gives 50"),
    ("train-resume-all-corrupt", "`keras-gan train --resume`, every checkpoint truncated",
     ["train", "--resume", "--output", "{corrupt_run}"], 2, "no checkpoint of '{corrupt_run}' loads"),
    ("train-resume-locked", "`keras-gan train --resume` while another live process holds the run",
     ["train", "--resume", "--output", "{locked_run}"], 2, "is in use by process"),
    ("train-native-size", "`keras-gan train --set model.num_upsamplings=4` (the digits are 8x8)",
     ["train", "--set", "model.num_upsamplings=4", "--output", "{tmp}/native"],
     2, "model.num_upsamplings = 4 does not fit the native 8x8 images of 'digits'"),
    ("train-adam-beta", "`keras-gan train --set train.beta_1=1`", ["train", "--set", "train.beta_1=1", "--output",
     "{tmp}/beta"], 2, "config: train.beta_1 = 1.0 is out of range; expected a value in [0, 1)"),
    ("train-seed-negative", "`keras-gan train --set train.seed=-1`", ["train", "--set", "train.seed=-1", "--output",
     "{tmp}/seed"], 2, "config: train.seed = -1 is out of range; expected a value >= 0"),
    ("train-tpu-missing", "`keras-gan train --strategy tpu` on a machine with no TPU",
     ["train", "--strategy", "tpu", "--epochs", "1", "--output", "{tmp}/tpu"],
     2, "train.strategy = 'tpu' found no local or configured TPU"),
    ("bench-json-unwritable", "`keras-gan bench first-run --json FILE/out.json` (FILE is a file)",
     ["bench", "first-run", "--json", "{file}/out.json"],
     2, "--json '{file}' is a file; expected a directory"),
    ("sample-run-file", "`keras-gan sample --run FILE`", ["sample", "--run", "{file}", "--out", "{tmp}/s.png"],
     2, "--run '{file}' is a file; expected a run directory"),
    ("sample-run-missing", "`keras-gan sample --run DIR` (DIR missing)",
     ["sample", "--run", "{tmp}/nowhere", "--out", "{tmp}/s.png"], 2, "--run '{tmp}/nowhere' does not exist"),
    ("sample-run-newest-truncated", "`keras-gan sample --run DIR`, newest checkpoint truncated",
     ["sample", "--run", "{truncated_run}", "--num", "4", "--out", "{tmp}/s.png"],
     0, "epoch-0002.keras is truncated or not a .keras (zip) file"),
    ("sample-run-foreign-keras", "`keras-gan sample --run DIR`, its only checkpoint a zip that is no model",
     ["sample", "--run", "{foreign_run}", "--out", "{tmp}/s.png"], 2, "is a zip archive but not a Keras model file"),
    ("sample-onnx-truncated", "`keras-gan sample --onnx F` (F a truncated .onnx)",
     ["sample", "--onnx", "{truncated_onnx}", "--out", "{tmp}/s.png"],
     2, "--onnx '{truncated_onnx}' is not a readable ONNX model"),
    ("sample-onnx-foreign", "`keras-gan sample --onnx F` (F a text file)",
     ["sample", "--onnx", "{file}", "--out", "{tmp}/s.png"], 2, "--onnx '{file}' is not a readable ONNX model"),
    ("sample-onnx-dir", "`keras-gan sample --onnx DIR`", ["sample", "--onnx", "{tmp}", "--out", "{tmp}/s.png"],
     2, "--onnx '{tmp}' is a directory; expected an .onnx file"),
    ("sample-savedmodel-truncated", "`keras-gan sample --saved-model DIR` (saved_model.pb truncated)",
     ["sample", "--saved-model", "{truncated_savedmodel}", "--out", "{tmp}/s.png"],
     2, "--saved-model '{truncated_savedmodel}' is not a readable SavedModel"),
    ("sample-savedmodel-file", "`keras-gan sample --saved-model FILE`",
     ["sample", "--saved-model", "{file}", "--out", "{tmp}/s.png"],
     2, "--saved-model '{file}' is a file; expected a SavedModel directory"),
    ("sample-out-dir", "`keras-gan sample --out DIR.png` (a directory)",
     ["sample", "--run", "{run}", "--out", "{dir_png}"], 2, "--out '{dir_png}' is a directory; expected a file"),
    ("sample-out-unwritable", "`keras-gan sample --out /proc/s.png` (a folder no file can be made in)",
     ["sample", "--run", "{run}", "--out", "/proc/s.png"], 2, "--out '/proc' is not writable"),
    ("sample-num-too-many", "`keras-gan sample --num 5000000` (ran for minutes before)",
     ["sample", "--run", "{run}", "--num", "5000000", "--out", "{tmp}/s.png"],
     2, "--num must be from 1 to 10,000 (one grid), got 5000000"),
    ("sample-seed-negative", "`keras-gan sample --seed -1`", ["sample", "--run", "{run}", "--seed", "-1", "--out",
     "{tmp}/s.png"], 2, "argument --seed: -1 is out of range; expected a seed in [0, 4294967295]"),
    ("evaluate-seed-negative", "`keras-gan evaluate --seed -3` (a NumPy traceback before)",
     ["evaluate", "--run", "{run}", "--seed", "-3"], 2, "argument --seed: -3 is out of range"),
    ("export-out-file", "`keras-gan export --out FILE`", ["export", "--run", "{run}", "--out", "{file}"],
     2, "--out '{file}' is a file; expected a directory"),
    ("evaluate-run-file", "`keras-gan evaluate --run FILE`", ["evaluate", "--run", "{file}"],
     2, "--run '{file}' is not a directory"),
    ("evaluate-json-under-file", "`keras-gan evaluate --json FILE/x.json`",
     ["evaluate", "--run", "{run}", "--json", "{file}/x.json"], 2, "--json '{file}' is a file; expected a directory"),
    ("launch-processes-0", "`keras-gan launch --processes 0 train`", ["launch", "--processes", "0", "train"],
     2, "keras-gan launch: error: --processes 0 must be at least 1"),
    ("launch-port-range", "`keras-gan launch --processes 2 --port 99999 train`",
     ["launch", "--processes", "2", "--port", "99999", "train"], 2, "--port 99999 is not a TCP port; expected 1 to 65535"),
    ("analyze-out-file", "`keras-gan analyze disjoint-supports --out FILE`",
     ["analyze", "disjoint-supports", "--out", "{file}"], 2, "--out '{file}' is a file; expected a directory"),
]

# ------------------------------------------------------------------ faults tested by their own tests
FAULTS = [
    ("SIGTERM to `keras-gan train` mid-epoch",
     "finishes the step, writes `epoch-E-step-S.keras` (verified) and history, prints one `resume with:` line, "
     "exit 75; `--resume` ends with the weights of an uninterrupted run",
     "test_resume.py::test_sigterm_to_the_cli_exits_75_and_resume_matches"),
    ("SIGTERM / SIGINT at a given step (in process)",
     "same; the cut epoch is not recorded in history.json nor sampled; handlers put back",
     "test_resume.py::test_signal_mid_epoch_checkpoints_stops_and_resumes_to_the_same_weights"),
    ("signal on the last step of an epoch", "the epoch ends normally (checkpoint `epoch-E.keras`), then exit 75",
     "test_resume.py::test_signal_on_the_last_step_of_an_epoch_keeps_the_epoch"),
    ("SIGKILL mid-epoch, `train.checkpoint_every_steps` set",
     "`--resume` skips the consumed batches of the epoch; weights and history equal an uninterrupted run",
     "test_resume.py::test_resume_mid_epoch_equals_uninterrupted"),
    ("SIGKILL mid-epoch, epoch checkpoints only", "`--resume` continues from the last whole epoch",
     "test_train.py::test_resume_after_sigkill"),
    ("`--resume --set KEY=V` changing model, data or optimizer",
     "exit 2 naming the key, its stored and new value, and the keys allowed; config.yaml untouched",
     "test_resume.py::test_resume_override_that_changes_the_model_or_data_is_refused"),
    ("`--resume --set train.backend=jax` on a run trained on TensorFlow",
     "allowed, as `--backend jax` is (a `.keras` checkpoint loads on every backend): the run continues on JAX",
     "test_resume.py::test_resume_with_set_train_backend_trains_on_that_backend"),
    ("newest checkpoint truncated, then `--resume`",
     "a warning naming it; resumes from the newest one that loads and ends equal to an uninterrupted run",
     "test_faults.py::test_truncated_newest_checkpoint_falls_back_and_resume_recovers"),
    ("`KERAS_GAN_CONV_FORMS=fast keras-gan train`",
     "exit 2 before any work: `KERAS_GAN_CONV_FORMS='fast' is not allowed; expected one of autotune, static, plain.`",
     "test_faults.py::test_bad_conv_forms_variable_is_one_error"),
    ("a prepared digits (or mnist5k) folder with a shard missing or cut short, or an unreadable "
     "`dataset_info.json`",
     "one line naming the folder and the damage; the folder is removed and prepared again from the package's copy",
     "test_data.py::test_damaged_prepared_digits_are_prepared_again"),
    ("the same damage to a downloaded tfds data set (`mnist`)",
     "exit 2: `The prepared 'mnist' data set in DIR is damaged (WHY); delete that folder and prepare it again`; "
     "its files left as they are", "test_data.py::test_damaged_downloaded_dataset_is_one_error_and_kept"),
    ("`~/.cache/keras_gan/conv_forms.json` holding JSON of another shape (a list, `null`, a non-object entry)",
     "read as empty: the forms are timed again and the file written anew (it was a traceback at the first step)",
     "test_fast_conv.py::test_a_cache_file_of_another_shape_is_written_anew"),
    ("`~/tensorflow_datasets` (or `KERAS_GAN_DATA_DIR`) is a file",
     "exit 2: `The data directory 'PATH' is a file; expected a folder (KERAS_GAN_DATA_DIR or TFDS_DATA_DIR choose "
     "another).`", "test_data.py::test_a_data_directory_that_is_a_file_is_one_error"),
    ("the cached digits classifier cut short, or its `.json` unreadable (`keras-gan evaluate`)",
     "one line naming the cache; the classifier is trained again and the cache written anew",
     "test_metrics.py::test_an_unreadable_cached_classifier_is_trained_again"),
    ("a full disk (`keras-gan train`, `sample`, `export`; tried on a 300 KB tmpfs)",
     "exit 74 (EX_IOERR): `keras-gan CMD: error: no space left on device ...`; earlier checkpoints and files kept, "
     "no partial file", "test_faults.py::test_a_full_disk_is_one_line_and_exit_74"),
    ("only keras-gan's cache folder on a full disk, `keras-gan train --backend jax` (a 300 KB tmpfs)",
     "trains as usual; JAX's first cache warning shows, marked, and its others (35 in one epoch) do not",
     "test_jax_compilation_cache.py::test_cache_failures_are_shown_once_a_process"),
    ("`keras-gan train --set data.image_size=100000` (fits the network, not the memory), on each backend",
     "exit 71 (EX_OSERR): `out of memory: a tensor of shape [100, 80000000000] (29,802.3 GiB as float32) does not "
     "fit; make the model or the batch smaller ...`; no run directory left",
     "test_faults.py::test_out_of_memory_is_one_line_and_exit_71"),
    ("one byte of a checkpoint flipped", "its SHA-256 no longer matches the sidecar: skipped with a warning",
     "test_faults.py::test_flipped_byte_is_caught_by_the_checksum"),
    ("a save that writes a broken file", "caught by reopening it before the rename: not kept, RuntimeError",
     "test_faults.py::test_a_broken_write_is_never_kept"),
    ("lock file of a dead process", "taken over with a warning naming the pid",
     "test_faults.py::test_stale_lock_of_a_dead_process_is_taken_over"),
    ("lock file of a live process", "exit 2: run directory in use by process PID",
     "test_faults.py::test_live_lock_is_refused"),
    ("a worker of a 2-worker run SIGKILLed or SIGSTOPped mid-epoch",
     "the survivor prints one line (`a worker of the cluster was lost` / `no training progress`) and exits 76 "
     "within seconds, not hanging", "test_multiworker_faults.py::test_survivor_stops_with_one_line_when_a_worker_is_lost"),
    ("a worker of a 2-worker `keras-gan train` SIGKILLed mid-epoch, both restarted with `--resume`; then the chief "
     "SIGKILLed, both restarted again",
     "the survivor exits 76 each time; both workers resume from the newest step checkpoint (the dead chief's lock "
     "taken over with a warning, no scratch copy left behind); final weights and history equal an uninterrupted "
     "2-worker run",
     "test_multiworker_resume.py::test_killed_workers_then_both_restarted_with_resume_equal_an_uninterrupted_run"),
    ("no training step finishes within `train.step_timeout`", "StepWatchdog: one line, exit 76",
     "test_multiworker_faults.py::test_watchdog_fires_when_no_step_ends_in_time"),
    ("process 1 of a 2-process JAX run (`KERAS_DISTRIBUTION_*`) SIGTERMed mid-run, then both restarted with "
     "`--resume`", "both stop after the same step with a checkpoint, exit 75; the resumed run ends equal to an "
     "uninterrupted one",
     "test_jax_multiprocess.py::test_sigterm_to_one_process_stops_both_and_resume_equals_an_uninterrupted_run"),
    ("`keras-gan launch` SIGTERMed", "SIGTERM to every process; one stop line; the launcher returns 75",
     "test_jax_multiprocess.py::test_launch_forwards_sigterm_and_returns_the_worst_exit_code"),
    ("a process of a 2-process JAX run SIGKILLed",
     "process 1 lost: process 0 prints one line, exit 76, within seconds; process 0 lost: JAX ends process 1 at "
     "once (exit 134, JAX's message)",
     "test_jax_multiprocess.py::test_a_killed_process_ends_the_other_within_the_bound"),
    ("`KERAS_DISTRIBUTION_*` set with TensorFlow or without a JAX strategy, a bad process id or count",
     "exit 2, one line naming the variable and what is allowed",
     "test_jax_multiprocess.py::test_process_group_reads_kerass_variables_and_refuses_bad_values"),
    ("ONNX client: truncated model, unreadable `--z-file`, integer or NaN latents, too large a batch",
     "one `error:` line, exit 2, nothing sent", "test_faults.py::test_onnx_client_rejects_bad_files_and_batches"),
    ("REST/gRPC clients: wrong shape, dtype, NaN, labels, batch above the limit",
     "ValueError naming the value before a request is sent",
     "test_export.py::test_clients_reject_bad_batches_clearly"),
]


def fault_table():
    """The README's fault table, in Markdown."""
    lines = ["| input or fault tried | what happens | test |", "|---|---|---|"]
    for case_id, tried, _argv, code, text in CLI_CASES:
        shown = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), text)
        lines.append(f"| {tried} | exit {code}: `{shown}` | test_faults.py::test_cli[{case_id}] |")
    for tried, outcome, test in FAULTS:
        lines.append(f"| {tried} | {outcome} | {test} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ fixtures: a real run and real broken files

MLP = {"data": {"name": "ring8", "num_samples": 512, "batch_size": 64},
       "model": {"architecture": "mlp", "latent_dim": 2, "hidden_units": 8, "num_layers": 1},
       "train": {"epochs": 2, "num_sample_images": 16, "keep_checkpoints": 5}}


def _cfg(epochs=2):
    from keras_gan import config

    raw = json.loads(json.dumps(MLP))
    raw["train"]["epochs"] = epochs
    return config.from_dict(raw)


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """A real 2-epoch run (checkpoints after epochs 1 and 2)."""
    from keras_gan.training import trainer

    run = tmp_path_factory.mktemp("mlp") / "run"
    trainer.train(_cfg(), str(run), verbose=0)
    return run


def _truncate(path, keep=0.5):
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: int(len(data) * keep)])


@pytest.fixture(scope="module")
def paths(mlp_run, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    p = {"tmp": str(tmp), "run": str(mlp_run)}
    (tmp / "plain.txt").write_text("not a model\n")
    p["file"] = str(tmp / "plain.txt")
    (tmp / "binary.yaml").write_bytes(bytes(range(128, 256)))
    p["binary"] = str(tmp / "binary.yaml")
    (tmp / "dir.png").mkdir()
    p["dir_png"] = str(tmp / "dir.png")
    for name in ("truncated_run", "corrupt_run", "foreign_run", "locked_run"):
        shutil.copytree(mlp_run, tmp / name)
        p[name] = str(tmp / name)
    _truncate(tmp / "truncated_run" / "checkpoints" / "epoch-0002.keras")
    for f in (tmp / "corrupt_run" / "checkpoints").glob("*.keras"):
        _truncate(f)
    for f in (tmp / "foreign_run" / "checkpoints").glob("epoch-*"):
        f.unlink()
    with zipfile.ZipFile(tmp / "foreign_run" / "checkpoints" / "epoch-0001.keras", "w") as zf:
        zf.writestr("hello.txt", "a zip, but no model")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (tmp / "locked_run" / "train.lock").write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename}))
    # a real ONNX model, truncated
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["z"], ["images"])], "g",
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [None, 2])])
    model = helper.make_model(graph)
    model.metadata_props.add(key="latent_dim", value="2")
    onnx.save(model, str(tmp / "model.onnx"))
    _truncate(tmp / "model.onnx", 0.6)
    p["truncated_onnx"] = str(tmp / "model.onnx")
    # a real SavedModel, its graph truncated
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: x, input_signature=[tf.TensorSpec([None, 2])])
    tf.saved_model.save(module, str(tmp / "sm" / "1"))
    _truncate(tmp / "sm" / "1" / "saved_model.pb", 0.5)
    p["truncated_savedmodel"] = str(tmp / "sm")
    yield p
    sleeper.kill()
    sleeper.wait()


@pytest.mark.filterwarnings("ignore:train.intra_op_threads")  # in-process runs after TensorFlow's first op
@pytest.mark.parametrize("case_id, tried, argv, code, text", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli(paths, capsys, case_id, tried, argv, code, text):
    from keras_gan import cli

    argv = [a.format(**paths) for a in argv]
    text = text.format(**paths)
    try:
        returned = cli.main(argv)
    except SystemExit as e:  # argparse's own errors (a bad --seed) exit from inside parse_args
        returned = e.code
    assert returned == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert text in err, err
    lines = [line for line in err.splitlines() if line.startswith(("keras-gan", "Warning", "warning"))]
    if code == 2:
        assert len([line for line in lines if ": error: " in line]) == 1, err


class ResourceExhaustedError(Exception):
    """Stands for TensorFlow's error of the same name (a SavedModel export onto a full disk)."""


@pytest.mark.parametrize("error, line", [
    (OSError(28, "No space left on device", "{tmp}/full/s.json"), "no space left on device while writing '{tmp}/full'"),
    (OSError(122, "Disk quota exceeded"), "disk quota exceeded"),
    (ResourceExhaustedError("{tmp}/x/variables_temp/part-00000; No space left on device"),
     "no space left on device (ResourceExhaustedError while writing a file)"),
])
def test_a_full_disk_is_one_line_and_exit_74(paths, monkeypatch, capsys, error, line):
    """A fault sweep on a 300 KB tmpfs: `keras-gan train`, `sample` and `export` onto a full disk each ended in a
    traceback (OSError ENOSPC from Keras' save, TensorFlow's ResourceExhaustedError from SaveV2). Now one line and
    sysexits' EX_IOERR; here the write is made to fail as the full disk did."""
    from keras_gan import cli, files

    if isinstance(error, OSError) and error.filename:
        error.filename = error.filename.format(**paths)

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(files, "write_json", full)
    out = os.path.join(paths["tmp"], "full", "s.png")
    assert cli.main(["sample", "--run", paths["run"], "--num", "4", "--out", out]) == cli.EXIT_STORAGE == 74
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"keras-gan sample: error: {line.format(**paths)}" in err, err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("error, line", [
    (ResourceExhaustedError("{{function_node StatelessRandomNormalV2}} OOM when allocating tensor with "
                            "shape[100,80000000000] and type float on /job:localhost/device:CPU:0"),
     "out of memory: a tensor of shape [100, 80000000000] (29,802.3 GiB as float32) does not fit"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory: you tried to "
                  "allocate 32000000000000 bytes"), "out of memory (RuntimeError)"),
    (MemoryError(), "out of memory (MemoryError)"),
])
def test_out_of_memory_is_one_line_and_exit_71(paths, monkeypatch, capsys, error, line):
    """A fault sweep: `keras-gan train --set data.image_size=100000` (a size that fits the network) ended in a
    traceback from the first allocation on every backend (TensorFlow's OOM, XLA's RESOURCE_EXHAUSTED, torch's
    allocator). Now one line with the tensor's size where the error gives it, and what to make smaller."""
    from keras_gan import cli, files

    monkeypatch.setattr(files, "write_json", lambda *a, **k: (_ for _ in ()).throw(error))
    out = os.path.join(paths["tmp"], "oom.png")
    assert cli.main(["sample", "--run", paths["run"], "--num", "4", "--out", out]) == cli.EXIT_MEMORY == 71
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"keras-gan sample: error: {line}; make the model or the batch smaller (data.image_size" in err, err


def test_other_errors_still_raise(paths, monkeypatch):
    """Only storage faults become one line: a bug keeps its traceback."""
    from keras_gan import cli, files

    monkeypatch.setattr(files, "write_json", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["sample", "--run", paths["run"], "--num", "4", "--out", os.path.join(paths["tmp"], "b.png")])


def test_bad_conv_forms_variable_is_one_error(monkeypatch, tmp_path, capsys):
    """A bad KERAS_GAN_CONV_FORMS ended in a traceback from the first convolution (a fault sweep found it)."""
    from keras_gan import cli

    monkeypatch.setenv("KERAS_GAN_CONV_FORMS", "fast")
    assert cli.main(["train", "--epochs", "1", "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "keras-gan train: error: KERAS_GAN_CONV_FORMS='fast' is not allowed; expected one of autotune" in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def _bench_names():
    from keras_gan.commands import bench

    return [b.replace("_", "-") for b in bench._benchmarks()]


@pytest.mark.parametrize("name", _bench_names())
@pytest.mark.parametrize("json_name, message", [
    ("{file}/out.json", "--json '{file}' is a file; expected a directory"),
    ("{tmp}/out.txt", "--json must name a .json file, got '{tmp}/out.txt'"),
])
def test_every_benchmark_checks_its_json_before_it_starts(paths, capsys, monkeypatch, name, json_name, message):
    """A fault sweep found `keras-gan bench first-run --json PATH` running for minutes and failing only when it
    wrote PATH: every benchmark now refuses a --json it could not write before any work (the benchmark itself
    is replaced by one that fails the test if it is reached)."""
    import sys

    from keras_gan import cli

    argv = ["bench", name, "--json", json_name.format(**paths)]
    reached = []
    parsed = cli._parser().parse_args(argv)
    module = sys.modules[parsed._bench_run.__module__]
    monkeypatch.setattr(module, "run", lambda args: reached.append(args) or 0)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"keras-gan bench: error: {message.format(**paths)}" in err, err
    assert "Traceback" not in err
    assert not reached
    # the same benchmark with a good name is dispatched (the check refuses only bad names)
    good = ["bench", name, "--json", os.path.join(paths["tmp"], f"{name}.json")]
    assert cli.main(good) == 0 and len(reached) == 1


def _help_argvs():
    from keras_gan import cli
    from keras_gan.commands import bench

    return ([[c, "--help"] for c in cli.COMMANDS]
            + [["bench", b.replace("_", "-"), "--help"] for b in bench._benchmarks()])


@pytest.mark.parametrize("argv", _help_argvs(), ids=" ".join)
def test_every_help_prints(argv, capsys):
    """`--help` of every command and benchmark prints its usage and exits 0 (a bare % in a help string
    made argparse raise on `keras-gan bench --help`)."""
    from keras_gan import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: keras-gan {' '.join(argv[:-1])}"), out[:200]


# ------------------------------------------------------------------ checkpoints


def test_truncated_newest_checkpoint_falls_back_and_resume_recovers(mlp_run, tmp_path, capfd):
    import keras

    from keras_gan.training import checkpointing
    from keras_gan.training import trainer

    run = tmp_path / "run"
    shutil.copytree(mlp_run, run)
    newest = run / "checkpoints" / "epoch-0002.keras"
    _truncate(newest)
    assert "truncated" in checkpointing.verify_keras_file(str(newest))
    result = trainer.train(_cfg(), str(run), resume=True, verbose=0)
    err = capfd.readouterr().err
    assert f"checkpoint {newest} is truncated" in err and "Falling back" in err
    assert result.initial_epoch == 1  # one checkpoint interval lost, no more
    assert checkpointing.verify_keras_file(str(newest)) is None  # rewritten whole
    a = keras.models.load_model(str(newest)).weights
    b = keras.models.load_model(str(mlp_run / "checkpoints" / "epoch-0002.keras")).weights
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-5)


def test_flipped_byte_is_caught_by_the_checksum(mlp_run, tmp_path, capfd):
    from keras_gan.training import checkpointing

    run = tmp_path / "run"
    shutil.copytree(mlp_run, run)
    newest = run / "checkpoints" / "epoch-0002.keras"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    assert checkpointing.verify_keras_file(str(newest)) is not None
    ckpt, _ = checkpointing.load_newest(str(run))
    assert (ckpt.epoch, ckpt.step) == (1, 0)
    assert "epoch-0002.keras" in capfd.readouterr().err
    for ck in checkpointing.list_checkpoints(str(run)):
        _truncate(ck.path)
    from keras_gan.errors import UsageError

    with pytest.raises(UsageError, match="no checkpoint of .* loads: checkpoint .*epoch-0002.keras .*epoch-0001.keras"):
        checkpointing.load_newest(str(run))


def test_a_broken_write_is_never_kept(tmp_path):
    from keras_gan.training import checkpointing

    class Broken:
        def save(self, path):
            with open(path, "wb") as fh:
                fh.write(b"PK\x03\x04 half a zip")

    with pytest.raises(RuntimeError, match="right after writing it; it was not kept"):
        checkpointing.save_checkpoint(Broken(), str(tmp_path), 3, 7)
    assert os.listdir(tmp_path / "checkpoints") == []


# ------------------------------------------------------------------ run lock


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capfd):
    from keras_gan.training import checkpointing

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "train.lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    with checkpointing.RunLock(str(tmp_path)) as lock:
        assert json.loads((tmp_path / "train.lock").read_text())["pid"] == os.getpid()
        assert lock.held
    assert f"taking over a stale lock of process {dead.pid}" in capfd.readouterr().err
    assert not (tmp_path / "train.lock").exists()


def test_live_lock_is_refused(tmp_path):
    from keras_gan.training import checkpointing
    from keras_gan.errors import UsageError

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "train.lock").write_text(json.dumps({"pid": live.pid, "host": os.uname().nodename}))
        with pytest.raises(UsageError, match=f"in use by process {live.pid}"):
            checkpointing.RunLock(str(tmp_path)).acquire()
        assert json.loads((tmp_path / "train.lock").read_text())["pid"] == live.pid  # left alone
    finally:
        live.kill()
        live.wait()


def test_training_holds_the_lock_and_releases_it(tmp_path):
    import keras

    from keras_gan.training import trainer

    seen = []

    class Look(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(json.loads((tmp_path / "run" / "train.lock").read_text())["pid"])

    trainer.train(_cfg(epochs=1), str(tmp_path / "run"), verbose=0, extra_callbacks=[Look()])
    assert seen == [os.getpid()] and not (tmp_path / "run" / "train.lock").exists()


# ------------------------------------------------------------------ the ONNX client


def test_onnx_client_rejects_bad_files_and_batches(paths, tmp_path, capsys):
    sys.path.insert(0, os.path.join(HERE, "..", "export"))
    import client_common
    import onnx_client

    assert onnx_client.main([paths["truncated_onnx"], "--out", str(tmp_path / "g.png")]) == 2
    assert f"model {paths['truncated_onnx']!r} is not a readable ONNX model" in capsys.readouterr().err
    assert onnx_client.main([paths["file"], "--out", str(tmp_path / "g.png")]) == 2
    assert "is not a readable ONNX model" in capsys.readouterr().err
    meta = {"latent_dim": 2, "conditional": False, "max_batch_size": 8}
    for z, message in [
        (np.zeros((2, 2), np.int64), "z has dtype int64; expected floating-point"),
        (np.array([[0.0, np.nan]]), "z[0][1] is nan; z must be finite"),
        (np.zeros((9, 2), np.float32), "batch of 9 is too large: at most 8 rows"),
        (np.zeros((2, 3), np.float32), "z[0] has 3 values, but the model's latent size is 2"),
    ]:
        with pytest.raises(ValueError) as e:
            onnx_client.build_feed(z, None, meta)
        assert message in str(e.value)
    assert client_common.validate_batch(np.zeros((1, 2), np.float32), latent_dim=2)[0] == [[0.0, 0.0]]


# ------------------------------------------------------------------ the README table


def test_readme_fault_table_matches_the_cases():
    text = open(README).read()
    match = re.search(r"<!-- fault-table:start -->\n(.*?)<!-- fault-table:end -->", text, re.S)
    assert match, "README.md has no fault table (<!-- fault-table:start --> ... <!-- fault-table:end -->)"
    assert match.group(1) == fault_table(), "README's fault table is stale: run `python tests/test_faults.py`"


def test_every_fault_names_a_test_that_exists():
    for _tried, _outcome, test in FAULTS:
        file, name = test.split("::")
        source = open(os.path.join(HERE, file)).read()
        assert re.search(rf"^def {name}\(", source, re.M), test


if __name__ == "__main__":
    # Rewrites README.md's fault table from the cases above.
    table = fault_table()
    text = open(README).read()
    new, n = re.subn(r"(<!-- fault-table:start -->\n).*?(<!-- fault-table:end -->)",
                     lambda m: m.group(1) + table + m.group(2), text, flags=re.S)
    if n != 1:
        sys.exit("README.md has no <!-- fault-table:start --> ... <!-- fault-table:end --> section")
    open(README, "w").write(new)
    print(table, end="")


def test_the_program_freezes_its_objects_before_the_interpreter_shuts_down(monkeypatch, capsys):
    """`keras-gan` (the console script) freezes the process's objects after the command, so Python's shutdown
    collections skip them (1.0-1.2 s of every command after TensorFlow was imported, on a 2-core AMD EPYC);
    `cli.main`, which tests and scripts call in their own processes, leaves the collector alone."""
    import configparser
    import gc

    from keras_gan import cli

    setup = configparser.ConfigParser()
    setup.read(os.path.join(os.path.dirname(__file__), os.pardir, "setup.cfg"))
    assert setup["options.entry_points"]["console_scripts"].strip() == "keras-gan = keras_gan.cli:program"
    monkeypatch.setattr(sys, "argv", ["keras-gan", "train", "--set", "data.batch_size=0"])
    assert gc.get_freeze_count() == 0
    try:
        assert cli.main() == 2 and gc.get_freeze_count() == 0 and gc.isenabled()
        assert cli.program() == 2  # the bad value is still one line and exit 2
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()  # refused before Keras was imported: the program left the collector off
    assert "data.batch_size" in capsys.readouterr().err


def test_the_program_collects_no_garbage_while_keras_is_imported():
    """The program pauses the collector; import_keras freezes what the import made and turns it on again."""
    code = ("import gc, sys; from keras_gan import backends; backends.select('tensorflow'); "
            "backends.pause_collector_until_keras(); off = not gc.isenabled(); backends.import_keras(); "
            "print(off, gc.isenabled(), gc.get_freeze_count() > 100000, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-4:] == ["True", "True", "True", "True"], out
