"""`keras-gan bench first-run`: the main job's time from the command to the prompt, split into phases."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_gan.bench import first_run


def test_event_times_match_tensorflows_own_reader(tmp_path):
    """The hand-written reader against TensorFlow's: the same wall times and steps, record for record."""
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in (0, 1, 2, 7, 300):
            tf.summary.scalar("loss", 0.5 * step, step=step)
            tf.summary.scalar("other", -1.0, step=step)
        tf.summary.image("img", np.zeros((1, 4, 4, 3), np.float32), step=300)  # a long length-delimited field
    writer.close()
    (path,) = tmp_path.glob("events.*")
    expected = [(e.wall_time, e.step) for e in tf.compat.v1.train.summary_iterator(str(path))]
    got = first_run.event_times(str(path))
    assert len(got) == len(expected) == 12
    assert [s for _, s in got] == [s for _, s in expected]
    np.testing.assert_array_equal([w for w, _ in got], [w for w, _ in expected])


def test_bad_rounds_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "keras_gan.cli", "bench", "first-run", "--rounds", "0", "--json",
                          str(tmp_path / "x.json")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "--rounds 0 must be >= 1" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_one_round_from_an_empty_home_and_warm(tmp_path):
    """Four real runs at 1 (and 3) epochs: each exits 0, the empty HOME gets the digits and the form cache, the
    phases add up to the run's time, and the ratios are the runs' own quotients."""
    out_json = tmp_path / "first_run.json"
    out = subprocess.run([sys.executable, "-m", "keras_gan.cli", "bench", "first-run", "--epochs", "1", "--json",
                          str(out_json)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "default / previous: empty caches" in out.stdout
    report = json.loads(out_json.read_text())
    runs = report["runs"]
    assert [(r["recipe"], r["caches"]) for r in runs] == [
        ("default", "empty"), ("previous", "empty"), ("default", "warm"), ("previous", "warm")]
    for r in runs:
        assert r["empty_home_before"] == (r["caches"] == "empty")
        assert r["data_prepared_in_home"] and r["form_cache_in_home"]
        p = r["phases"]
        assert p["epochs_logged"] == r["epochs"] == (1 if r["recipe"] == "default" else 3)
        parts = [p["start_up"], p["first_epoch"], p["other_epochs"], p["end"]]
        assert min(parts) >= 0 and abs(sum(parts) - r["seconds"]) < 1e-6, (parts, r["seconds"])
    seconds = {(r["recipe"], r["caches"]): r["seconds"] for r in runs}
    for caches in ("empty", "warm"):
        assert report["summary"][f"ratio_{caches}"] == pytest.approx(
            seconds[("default", caches)] / seconds[("previous", caches)])
