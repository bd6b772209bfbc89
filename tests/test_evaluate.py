"""Tests of the evaluation pipeline: the core, ``keras-gan evaluate`` and the callback."""

import json
import math
import os
import types

import numpy as np
import pytest

from keras_gan import cli, data
from keras_gan.evaluation import features
from keras_gan.evaluation import metrics
from keras_gan.commands import evaluate as evaluate_cmd


@pytest.fixture(scope="module", autouse=True)
def digits_cache(tmp_path_factory):
    """A private cache with the digits classifier, trained once for this module."""
    directory = str(tmp_path_factory.mktemp("keras_gan_cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_GAN_CACHE", directory)
        features.load_digits_classifier(verbose=0)
        yield directory


@pytest.fixture(scope="module")
def digits():
    train, _ = data.load_arrays("digits", "train")
    test, _ = data.load_arrays("digits", "test")
    return train, test


class _SequentialModel:
    """A stand-in generator that returns rows of a fixed array in order, whatever the seed."""

    def __init__(self, images):
        self.images, self.next = images, 0
        self.epoch = 7

    def generate(self, num, seed=0):
        out = self.images[self.next : self.next + num]
        self.next += num
        return out


def _config(name, image_size=None):
    return types.SimpleNamespace(data=types.SimpleNamespace(name=name, image_size=image_size, data_dir=None))


# ----------------------------------------------------------------- core
def test_real_generator_scores_like_the_baseline_and_noise_does_not(digits):
    train, test = digits

    def resample_real(n, seed):  # a "perfect" generator: draws from the real train split
        return train[np.random.default_rng(seed).choice(len(train), n)]

    def noise(n, seed):
        return np.random.default_rng(seed).uniform(-1, 1, size=(n, 8, 8, 1)).astype(np.float32)

    common = dict(num_samples=1000, verbose=0, kid_subsets=20)
    baseline = metrics.evaluate(train[:1000], test, **common)
    good = metrics.evaluate(resample_real, test, **common)
    bad = metrics.evaluate(noise, test, **common)
    assert good["fid"] < 1.5 * baseline["fid"] and bad["fid"] > 5 * baseline["fid"]
    assert bad["kid_mean"] > 10 * max(good["kid_mean"], baseline["kid_mean"])
    assert good["precision"] > 0.5 and bad["precision"] < 0.1
    assert good["is_mean"] > 8 and bad["is_mean"] < good["is_mean"]
    assert good["settings"]["num_generated"] == 1000


# ------------------------------------------------------------------ CLI
def _run_cli(argv, capsys):
    code = cli.main(["evaluate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_generated_equal_to_baseline_gives_equal_numbers(digits, monkeypatch, tmp_path, capsys):
    # The generator returns the train split in order: the generated column must equal the baseline column.
    train, _ = digits
    monkeypatch.setattr(evaluate_cmd, "_load_run", lambda d, e=None: (_config("digits"), _SequentialModel(train)))
    out_json = str(tmp_path / "eval.json")
    code, out, err = _run_cli(["--run", str(tmp_path), "--json", out_json, "--kid-subsets", "10"], capsys)
    assert code == 0, err
    result = json.load(open(out_json))
    assert result["num_samples"] == 1437 == result["num_baseline"]  # default: the baseline split's size
    assert result["real_split"] == "test" and result["baseline_split"] == "train" and result["num_real"] == 360
    assert result["epoch"] == 7 and result["seed"] == 0
    assert result["extractor"]["name"] == "digits" and result["extractor"]["classifier"]["test_accuracy"] > 0.9
    assert set(result["generated"]) == {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall",
                                        "density", "coverage"}
    assert result["generated"] == result["baseline"]
    assert result["density_coverage_k"] == 5 and "coverage (higher is better)" in out
    assert result["kid_subset_size"] == 360 and result["is_splits"] == 10
    assert "FID" in out and "train vs test (baseline)" in out and "Wrote" in out
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # atomic write left no temp file


def test_cli_end_to_end_on_a_run_directory(tmp_path, capsys):
    from keras_gan import config as config_lib
    from keras_gan.training import runs

    cfg = config_lib.from_dict({"model": {"base_filters": 8, "latent_dim": 8}})
    run_dir = str(tmp_path / "run")
    runs.write_text(os.path.join(run_dir, "config.yaml"), config_lib.to_yaml(cfg))
    model = runs.compile_model(runs.build_model(cfg, sample_shape=(8, 8, 1)), cfg)
    os.makedirs(os.path.join(run_dir, "checkpoints"))
    model.save(runs.checkpoint_path(run_dir, 1))
    code, out, err = _run_cli(
        ["--run", run_dir, "--num-samples", "300", "--metrics", "fid,kid,precision_recall", "--seed", "3"], capsys
    )
    assert code == 0, err
    result = json.load(open(os.path.join(run_dir, "evaluation.json")))  # the default --json
    assert result["epoch"] == 1 and result["num_samples"] == 300 and result["num_baseline"] == 300
    assert result["metrics"] == ["fid", "kid", "precision_recall"] and "is_mean" not in result["generated"]
    for key in ("fid", "kid_mean", "precision", "recall"):
        assert math.isfinite(result["generated"][key]) and math.isfinite(result["baseline"][key])
    # An untrained generator is far worse than real data.
    assert result["generated"]["fid"] > 3 * result["baseline"]["fid"]
    assert "image" in out  # the progress bars


def test_cli_mixture_run_reports_mode_metrics(monkeypatch, tmp_path, capsys):
    spec = data.MIXTURES["ring8"]
    collapsed = np.repeat(spec["centers"][2:3], 2500, axis=0).astype(np.float32)
    monkeypatch.setattr(
        evaluate_cmd, "_load_run", lambda d, e=None: (_config("ring8"), _SequentialModel(collapsed))
    )
    out_json = str(tmp_path / "modes.json")
    code, out, err = _run_cli(["--run", str(tmp_path), "--json", out_json], capsys)
    assert code == 0, err
    result = json.load(open(out_json))
    assert result["kind"] == "mixture" and result["num_samples"] == 2500
    assert result["generated"]["modes_covered"] == 1
    assert result["generated"]["reverse_kl"] == pytest.approx(math.log(8))
    assert result["baseline"]["modes_covered"] == 8 and result["baseline"]["reverse_kl"] < 0.02
    assert "modes covered" in out and "1 / 8" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--run", "/no/such/run"], "is not a directory"),
        (["--num-samples", "1"], "--num-samples must be >= 2, got 1"),
        (["--metrics", "fid,lpips"], "allowed names are fid, kid, is, precision_recall"),
        (["--baseline-split", "test"], "must differ from --real-split"),
        (["--extractor", "inception", "--inception-weights", "/no/weights.h5"], "cannot download"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, message, digits, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(
        evaluate_cmd, "_load_run", lambda d, e=None: (_config("digits"), _SequentialModel(digits[0]))
    )
    if "--run" not in argv:
        argv = ["--run", str(tmp_path), *argv]
    code, out, err = _run_cli(argv, capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_rejects_a_directory_that_is_not_a_run(tmp_path, capsys):
    code, _, err = _run_cli(["--run", str(tmp_path)], capsys)
    assert code == 2 and "config.yaml" in err


# ------------------------------------------------------------- callback
def test_evaluation_callback_logs_into_history(digits):
    from keras_gan import models

    _, test = digits
    gan = models.DCGAN(image_shape=(8, 8, 1), latent_dim=8, base_filters=8, num_upsamplings=2)
    gan.compile()
    callback = metrics.EvaluationCallback(test, every=2, num_samples=200, metrics=("fid", "kid"), verbose=0)
    history = gan.fit(data.load("digits", batch_size=32).take(2), epochs=3, callbacks=[callback], verbose=0)
    # Evaluated after epochs 2 and 3 (the last epoch always is).
    assert history.history["eval_epoch"] == [1, 2]
    assert len(history.history["eval_fid"]) == 2 and len(history.history["d_loss"]) == 3
    assert [r["epoch"] for r in callback.results] == [1, 2]
    # The logged number is the metric of the model's samples with the callback's seed.
    expected = metrics.evaluate(gan.generate, test, num_samples=200, metrics=("fid",), verbose=0)["fid"]
    assert history.history["eval_fid"][-1] == pytest.approx(expected, rel=1e-6)


def test_evaluation_callback_mode_metrics():
    from keras_gan import models

    spec = data.MIXTURES["ring8"]
    gan = models.GAN(data_dim=2, latent_dim=2)
    gan.compile()
    callback = metrics.EvaluationCallback(centers=spec["centers"], std=spec["std"], num_samples=500, verbose=0)
    history = gan.fit(data.load("ring8", batch_size=50, num_samples=200), epochs=1, callbacks=[callback], verbose=0)
    expected = metrics.mode_metrics(gan.generate(500, 0), spec["centers"], spec["std"])
    assert history.history["eval_modes_covered"] == [expected["modes_covered"]]
    assert history.history["eval_reverse_kl"] == [pytest.approx(expected["reverse_kl"])]
    with pytest.raises(ValueError, match="either `real`"):
        metrics.EvaluationCallback()
    with pytest.raises(ValueError, match="every must be >= 1"):
        metrics.EvaluationCallback(np.zeros((4, 8, 8, 1)), every=0)


def test_the_classifier_cache_follows_keras_gans_cache_folder(monkeypatch, tmp_path):
    """KERAS_GAN_CACHE_DIR moves every cache of keras-gan (the convolution forms and JAX's programs already
    followed it, the classifiers did not); KERAS_GAN_CACHE, the classifiers' own older name, still wins."""
    from keras_gan.evaluation import features
    from keras_gan.kernels import _forms

    monkeypatch.delenv("KERAS_GAN_CACHE", raising=False)
    monkeypatch.setenv("KERAS_GAN_CACHE_DIR", str(tmp_path / "all"))
    assert features.cache_dir() == str(tmp_path / "all")
    assert os.path.dirname(_forms._path("conv_forms.json")) == str(tmp_path / "all")
    monkeypatch.setenv("KERAS_GAN_CACHE", str(tmp_path / "classifiers"))
    assert features.cache_dir() == str(tmp_path / "classifiers")
    monkeypatch.delenv("KERAS_GAN_CACHE_DIR")
    monkeypatch.delenv("KERAS_GAN_CACHE")
    assert features.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "keras_gan")
