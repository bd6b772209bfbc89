"""Smoke test of ``keras-gan bench augment`` (tiny settings; the real run and its table are in the README)."""

import argparse
import json

import pytest

from keras_gan import cli
from keras_gan.bench import augment as bench


def _args(tmp_path, **overrides):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    argv = ["--json", str(tmp_path / "augment.json"), "--fractions", "10", "--augments", "none", "ada",
            "--seeds", "1", "--steps", "3", "--num-samples", "200"]
    args = parser.parse_args(argv)
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_tiny_run_writes_json_and_a_table(tmp_path, capsys):
    assert bench.run(_args(tmp_path)) == 0
    report = json.loads((tmp_path / "augment.json").read_text())
    cell = report["results"]["10%"]
    assert set(cell) == {"none", "ada"} and len(cell["ada"]["fid"]["values"]) == 1
    assert cell["none"]["fid"]["mean"] > report["baseline"]["fid"] > 0  # 3 steps are far from the data
    assert cell["none"]["ada_p"] is None and 0.0 <= cell["ada"]["ada_p"]["mean"] <= 1.0
    assert cell["none"]["train_images"] == 128  # 10% of the 1,437 train digits, in full batches of 64
    assert report["protocol"]["ada_kimg"] == bench.DEFAULT_ADA_KIMG and report["protocol"]["num_generated"] == 200
    out = capsys.readouterr().out
    assert "| 10% (128 images/epoch) |" in out and "[2/2]  10% ada" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fractions", "0"], "--fractions: 0 is not a percentage in [1, 100]"),
        (["--augments", "diffaugment", "--policy", "blit"], "unknown augmentation 'blit' for diffaugment"),
        (["--config", "gan_ring8"], "trains on 'ring8'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    code = cli.main(["bench", "augment", "--json", str(tmp_path / "x.json"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.json").exists()
