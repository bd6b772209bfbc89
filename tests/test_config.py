import glob
import os
import subprocess
import sys

import pytest
import yaml

from keras_gan import config
from keras_gan.errors import UsageError


def test_default_yaml_is_the_default():
    # The main job differs from the dataclass defaults only in how often it writes grids and checkpoints
    # (a 22-step epoch is cheaper than either), its two speed settings and the moving average of G that it
    # samples from (configs/dcgan_digits.yaml).
    # Since issue 26 it also trains a third of the work: batch 32 for 100 epochs, sampling from a faster average.
    assert config.load("dcgan_digits") == config.from_dict(
        {"data": {"batch_size": 32}, "model": {"ema_decay": 0.995},
         "train": {"epochs": 100, "sample_every": 25, "checkpoint_every": 25, "steps_per_execution": 22,
                   "intra_op_threads": 1}}
    )


def test_train_without_config_runs_the_main_job_yaml(tmp_path):
    # `keras-gan train` with no --config must run configs/dcgan_digits.yaml itself, not the dataclass
    # defaults (which write a grid and a checkpoint every epoch).
    import argparse

    from keras_gan.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    cfg, _ = train._resolve(parser.parse_args(["--output", str(tmp_path / "run")]))
    assert cfg == config.load("dcgan_digits")
    assert (cfg.train.sample_every, cfg.train.checkpoint_every) == (25, 25)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(config.configs_dir(), "*.yaml"))))
def test_shipped_configs_load(path):
    cfg = config.load(path)
    assert cfg.train.epochs >= 1


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"train": {"epochz": 3}}, "unknown key 'train.epochz'; allowed keys in train: epochs,"),
        ({"trian": {}}, "unknown section 'trian'; allowed: data, model, train"),
        ({"train": {"epochs": "ten"}}, "train.epochs = 'ten' is not an integer"),
        ({"train": {"epochs": 0}}, r"train.epochs = 0 is out of range; expected a value >= 1"),
        ({"train": {"loss": "wgan"}}, "train.loss = 'wgan' is not allowed; expected one of minimax, non_saturating"),
        ({"model": {"prior": "cauchy"}}, "model.prior = 'cauchy' is not allowed; expected one of uniform, normal"),
        ({"train": {"jit_compile": "yes"}}, "train.jit_compile = 'yes' is not a boolean"),
        ({"train": {"g_learning_rate": "fast"}}, "train.g_learning_rate = 'fast' is not a number"),
        ({"train": {"g_learning_rate": float("nan")}}, "train.g_learning_rate = nan is not a finite number"),
        ({"train": {"r1_gamma": "inf"}}, "train.r1_gamma = 'inf' is not a finite number"),
        ({"model": {"architecture": "mlp"}}, "needs 2-D data"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(raw, message):
    with pytest.raises(UsageError, match=message):
        config.from_dict(raw)


def test_overrides_parse_yaml_values():
    cfg = config.apply_overrides(config.from_dict({}), ["train.d_steps=3", "data.image_size=null", "train.r1_gamma=1"])
    assert cfg.train.d_steps == 3 and cfg.data.image_size is None and cfg.train.r1_gamma == 1.0
    with pytest.raises(UsageError, match="expected section.key=value"):
        config.apply_overrides(cfg, ["epochs=3"])


def test_overrides_take_exponent_floats_that_yaml_reads_as_strings():
    # PyYAML (YAML 1.1) reads 4e-4 as the string '4e-4'; the config takes it as the number it is.
    import yaml

    assert yaml.safe_load("4e-4") == "4e-4"
    cfg = config.apply_overrides(config.from_dict({}), ["train.g_learning_rate=4e-4", "train.d_learning_rate=1E-3"])
    assert cfg.train.g_learning_rate == 0.0004 and cfg.train.d_learning_rate == 0.001
    assert config.from_dict({"train": {"beta_2": "0.99"}}).train.beta_2 == 0.99


def test_round_trip_through_yaml(tmp_path):
    cfg = config.apply_overrides(config.from_dict({}), ["train.loss=minimax"])
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml(cfg))
    assert config.load(str(path)) == cfg
    assert yaml.safe_load(path.read_text())["train"]["loss"] == "minimax"


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: 2\n  lr: 0.1\n")
    out = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "train", "--config", str(bad), "--output", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if l.startswith("keras-gan")]
    assert lines == ["keras-gan train: error: config: unknown key 'train.lr'; allowed keys in train: "
                     + ", ".join(f.name for f in config.dataclasses.fields(config.TrainConfig)) + "."]
    assert not (tmp_path / "run").exists()  # nothing written before validation


def _builds(size, n):
    """Whether the builder itself (networks.dcgan_layout) makes a DCGAN of this side with n layers."""
    from keras_gan import networks

    try:
        networks.dcgan_layout((size, size, 1), n)
        return True
    except ValueError:
        return False


def test_image_size_is_checked_against_the_networks_own_layout():
    # the config's check and the builder's (networks.dcgan_layout) agree on every size and layer count
    default = config.load("dcgan_digits")
    for size in range(2, 41):
        for n in (None, 1, 2, 3, 4):
            value = "null" if n is None else n
            builds = _builds(size, n)
            try:
                config.apply_overrides(default, [f"data.image_size={size}", f"model.num_upsamplings={value}"])
                accepted = True
            except UsageError as e:
                accepted = False
                assert f"data.image_size = {size}" in str(e)
            assert accepted == builds, (size, n)


def test_cli_image_size_that_fits_no_dcgan_exits_2_naming_sizes_that_fit(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "train", "--set", "data.image_size=7", "--output",
         str(tmp_path / "run")], capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [l for l in out.stderr.splitlines() if l.startswith("keras-gan")]
    assert lines == ["keras-gan train: error: config: data.image_size = 7 does not fit model.num_upsamplings = 2: "
                     "the side must be a multiple of 2**2 = 4 (nearest: 4, 8); an odd size fits no number of "
                     "stride-2 layers."]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_native_size_check_agrees_with_the_builder():
    # For data.image_size null the trainer checks the data set's own side: accepted exactly when
    # networks.dcgan_layout builds, and the message names layer counts that do build.
    import re

    for size in range(2, 41):
        for n in (None, 1, 2, 3, 4, 5):
            builds = _builds(size, n)
            try:
                config.check_native_size("digits", size, n)
                accepted = True
            except UsageError as e:
                accepted = False
                named = re.search(r"num_upsamplings = ([\d, or]+) \(or null\) fits them", str(e))
                if named:
                    for k in map(int, re.findall(r"\d+", named.group(1))):
                        assert _builds(size, k), (size, k)  # each one named builds
            assert accepted == builds, (size, n)


def test_adam_betas_and_seed_are_range_checked():
    import numpy as np

    default = config.load("dcgan_digits")
    for key in ("beta_1", "beta_2"):
        for good in (0.0, 0.5, 0.999):
            assert getattr(config.apply_overrides(default, [f"train.{key}={good}"]).train, key) == good
        for bad in (1.0, 2.0, -0.1):
            with pytest.raises(UsageError, match=rf"train\.{key} = {bad} is out of range"):
                config.apply_overrides(default, [f"train.{key}={bad}"])
    # the seed's bounds are NumPy's: every accepted seed seeds a RandomState, every refused one does not
    for seed in (0, 1, config.MAX_SEED, config.MAX_SEED + 1, -1):
        try:
            np.random.RandomState(seed)
            numpy_takes = True
        except ValueError:
            numpy_takes = False
        try:
            config.apply_overrides(default, [f"train.seed={seed}"])
            accepted = True
        except UsageError as e:
            accepted = False
            assert f"train.seed = {seed} is out of range" in str(e)
        assert accepted == numpy_takes, seed


@pytest.mark.slow  # a new interpreter that imports TensorFlow and reads the digits (~8 s); test_faults has the line
def test_cli_layers_that_do_not_fit_the_native_size_exit_2_and_leave_no_run(tmp_path):
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "keras_gan.cli", "train", "--set", "model.num_upsamplings=4", "--output", str(run)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = [l for l in out.stderr.splitlines() if l.startswith("keras-gan")]
    assert lines == ["keras-gan train: error: config: model.num_upsamplings = 4 does not fit the native 8x8 images "
                     "of 'digits': the side must be a multiple of 2**4 = 16; model.num_upsamplings = 1, 2 or 3 "
                     "(or null) fits them, or set data.image_size to a multiple of 16."]
    assert not run.exists()  # no config.yaml, no checkpoint, not even the empty folder


def test_train_run_again_without_output_starts_a_new_run_beside_the_last(tmp_path, monkeypatch):
    """The README's first command run a second time ended in exit 2 ("runs/dcgan_digits already holds a run").
    Without --output the next free runs/<name>-N is taken instead; nothing is overwritten, and an explicit
    --output that holds a run is still refused."""
    import argparse

    from keras_gan.commands import train
    from keras_gan.errors import UsageError

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    monkeypatch.chdir(tmp_path)
    assert train._resolve(parser.parse_args([]))[1] == os.path.join("runs", "dcgan_digits")  # a first run
    for taken in ("dcgan_digits", "dcgan_digits-2"):
        (tmp_path / "runs" / taken / "checkpoints").mkdir(parents=True)
        (tmp_path / "runs" / taken / "checkpoints" / "epoch-0001.keras").write_bytes(b"")
    (tmp_path / "runs" / "dcgan_digits-3").write_text("a file")  # neither a run nor a place for one
    (tmp_path / "runs" / "dcgan_digits-4").mkdir()  # an empty folder: free
    assert train._resolve(parser.parse_args([]))[1] == os.path.join("runs", "dcgan_digits-4")
    with pytest.raises(UsageError, match="already holds a run; pass --resume"):
        train._resolve(parser.parse_args(["--output", os.path.join("runs", "dcgan_digits")]))
