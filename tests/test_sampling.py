"""The generation tools (issue 27): --seeds, --truncation, --label, --interpolate; from a .keras file and a run.

Checked against closed forms and the model itself: truncation 0 gives the prior's mean sample, each seed's
sample is ``model.generate(1, seed)``, the walk's end frames are the two seeds' samples, a normal prior's walk
keeps its points on the great circle with linearly interpolated norms.
"""

import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_gan import cli, models
from keras_gan.commands.sample import parse_seeds
from keras_gan.errors import UsageError
from keras_gan.evaluation import images
from keras_gan.models import noise


def test_truncation_closed_form():
    z = np.random.default_rng(0).uniform(-1, 1, (5, 7)).astype(np.float32)
    for prior in ("uniform", "normal"):
        np.testing.assert_array_equal(noise.truncate(z, 1.0, prior), z)
        np.testing.assert_array_equal(noise.truncate(z, 0.0, prior), np.zeros_like(z))  # both priors' mean is 0
        np.testing.assert_allclose(noise.truncate(z, 0.3, prior), 0.3 * z, rtol=1e-6)
    with pytest.raises(ValueError, match="psi must be >= 0"):
        noise.truncate(z, -0.1, "normal")


def test_interpolation_paths():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), 2 * rng.standard_normal(16)
    path = noise.interpolate(a, b, 9, "normal").astype(np.float64)
    np.testing.assert_array_equal(path[0], a.astype(np.float32))
    np.testing.assert_array_equal(path[-1], b.astype(np.float32))
    t = np.linspace(0, 1, 9)
    norms = np.linalg.norm(path, axis=1)
    np.testing.assert_allclose(norms, (1 - t) * np.linalg.norm(a) + t * np.linalg.norm(b), rtol=1e-5)
    unit = path / norms[:, None]
    steps = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-3)  # even steps along the great circle
    basis = np.linalg.qr(np.stack([a, b], axis=1))[0]  # every point lies in the plane of a and b
    np.testing.assert_allclose(path - path @ basis @ basis.T, 0, atol=1e-5)
    line = noise.interpolate(a, b, 5, "uniform")
    np.testing.assert_allclose(line, [(1 - s) * a + s * b for s in np.linspace(0, 1, 5)], rtol=1e-6, atol=1e-6)


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("7, 2,10-11") == [7, 2, 10, 11]
    for bad in ("a", "3-1", "1,,2", "-4"):
        with pytest.raises(UsageError, match="--seeds"):
            parse_seeds(bad)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2, num_classes=3,
                         prior="normal")
    for w in model.generator.trainable_weights:  # not the initial weights: samples that differ visibly
        w.assign(np.random.default_rng(2).normal(0, 0.3, w.shape).astype("float32"))
    path = tmp_path_factory.mktemp("k") / "g.keras"
    model.save(path)
    return path, model


def _png(path):
    return np.asarray(Image.open(path))


def test_truncation_zero_gives_the_prior_mean_sample(keras_file, tmp_path):
    path, model = keras_file
    out = tmp_path / "t0.png"
    assert cli.main(["sample", "--keras", str(path), "--num", "4", "--truncation", "0", "--label", "1",
                     "--out", str(out)]) == 0
    mean = model.generate_from(np.zeros((4, 16), np.float32), labels=1)
    images.save_samples(mean, str(tmp_path / "want.png"))
    np.testing.assert_array_equal(_png(out), _png(tmp_path / "want.png"))
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["truncation"] == 0.0 and record["label"] == 1 and record["num"] == 4


def test_one_sample_per_seed(keras_file, tmp_path):
    path, model = keras_file
    out = tmp_path / "s.png"
    assert cli.main(["sample", "--keras", str(path), "--seeds", "3-5", "--label", "2", "--out", str(out)]) == 0
    want = np.concatenate([model.generate(1, seed=s, labels=2) for s in (3, 4, 5)])
    images.save_samples(want, str(tmp_path / "want.png"))
    np.testing.assert_array_equal(_png(out), _png(tmp_path / "want.png"))
    assert json.loads(out.with_suffix(".json").read_text())["seeds"] == [3, 4, 5]


def test_interpolation_end_frames_are_the_endpoint_samples(keras_file, tmp_path):
    path, model = keras_file
    out = tmp_path / "walk.gif"
    assert cli.main(["sample", "--keras", str(path), "--seeds", "3,8", "--interpolate", "6", "--out", str(out)]) == 0
    gif = Image.open(out)
    assert gif.n_frames == 6
    ends = [model.generate(1, seed=s, labels=0) for s in (3, 8)]
    for index, sample in ((0, ends[0]), (5, ends[1])):
        gif.seek(index)
        frame = np.asarray(gif.convert("L"))
        want = images.to_uint8(sample)[0, :, :, 0]
        scale = frame.shape[0] // want.shape[0]
        np.testing.assert_array_equal(frame, np.kron(want, np.ones((scale, scale), np.uint8)))
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["path"] == "spherical" and record["frames"] == 6 and record["seeds"] == [3, 8]
    strip = tmp_path / "walk.png"  # the same walk as one PNG row
    assert cli.main(["sample", "--keras", str(path), "--seeds", "3,8", "--interpolate", "6", "--out", str(strip)]) == 0
    assert _png(strip).shape[1] > 5 * _png(strip).shape[0]


@pytest.mark.parametrize("args, message", [
    (["--truncation", "-1"], "--truncation must be >= 0"),
    (["--interpolate", "1"], "--interpolate must be >= 2 frames"),
    (["--interpolate", "3", "--seeds", "4"], "needs at least two seeds"),
    (["--out", "x.gif"], "--out must be a .png file"),
    (["--seeds", "9-2"], "runs backwards"),
    (["--label", "7"], "--label 7 is out of range; expected 0..2"),
])
def test_bad_options_give_one_line(keras_file, tmp_path, capsys, args, message):
    path, _ = keras_file
    argv = ["sample", "--keras", str(path)] + args
    if "--out" not in args:
        argv += ["--out", str(tmp_path / ("w.gif" if "--interpolate" in args else "s.png"))]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not os.listdir(tmp_path)  # nothing written
