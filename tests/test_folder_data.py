"""data.name = folder: recursive image folders, crops, resizes, channels, labels, splits, bad input."""

import logging
import os

import numpy as np
import pytest
from PIL import Image

from keras_gan import config, data
from keras_gan.data import image_folder
from keras_gan.errors import UsageError


def _save(path, array, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "L" if array.ndim == 2 else "RGB"
    Image.fromarray(np.asarray(array, np.uint8), mode).save(path, format=fmt)


@pytest.fixture
def labelled(tmp_path):
    """cats: 3 RGB (png, jpg, bmp); dogs: 4 grayscale nested two levels (png, gif, bmp) + a corrupt file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pets"
    _save(str(root / "cats" / "a.png"), rng.integers(0, 256, (16, 16, 3)))
    _save(str(root / "cats" / "b.JPG"), np.full((20, 16, 3), 120), fmt="JPEG")
    _save(str(root / "cats" / "c.bmp"), rng.integers(0, 256, (16, 24, 3)))
    _save(str(root / "dogs" / "d.png"), rng.integers(0, 256, (16, 16)))
    _save(str(root / "dogs" / "deep" / "e.gif"), rng.integers(0, 256, (16, 16)))
    _save(str(root / "dogs" / "deep" / "er" / "f.bmp"), rng.integers(0, 256, (18, 16)))
    _save(str(root / "dogs" / "g.png"), rng.integers(0, 256, (16, 16)))
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 64, dtype=np.uint8)))
    (root / "README.txt").write_text("not an image")
    return root


def test_recursive_mixed_formats_and_labels_from_subfolders(labelled, caplog):
    with caplog.at_level(logging.WARNING, logger="keras_gan.data"):
        folder = image_folder.read(labelled, image_size=8)
    assert folder.class_names == ["cats", "dogs"]
    assert folder.files == ("cats/a.png", "cats/b.JPG", "cats/c.bmp", "dogs/d.png", "dogs/deep/e.gif",
                            "dogs/deep/er/f.bmp", "dogs/g.png")
    np.testing.assert_array_equal(folder.labels, [0, 0, 0, 1, 1, 1, 1])
    assert folder.images.shape == (7, 8, 8, 3) and folder.images.dtype == np.uint8  # mixed gray/RGB -> RGB
    assert folder.skipped == ("dogs/broken.png",)
    assert "skipped 1 unreadable" in caplog.text and "dogs/broken.png" in caplog.text
    assert data.num_classes("folder", path=str(labelled)) == 2


def test_unlabelled_when_images_sit_at_the_top(tmp_path):
    _save(str(tmp_path / "x.png"), np.zeros((8, 8)))
    _save(str(tmp_path / "sub" / "y.png"), np.zeros((8, 8)))
    folder = image_folder.read(tmp_path, image_size=8)
    assert folder.class_names == [] and (folder.labels == -1).all()
    assert data.num_classes("folder", path=str(tmp_path)) is None
    _, labels = data.load_arrays("folder", "train", path=str(tmp_path), image_size=8, holdout_fraction=0.0)
    assert labels is None


def test_center_crop_takes_the_middle_square(tmp_path):
    img = np.zeros((8, 14, 3), np.uint8)  # wide: 3 blue columns each side of an 8x8 red square
    img[..., 2] = 255
    img[:, 3:11] = [255, 0, 0]
    _save(str(tmp_path / "wide.png"), img)
    tall = np.transpose(img, (1, 0, 2)).copy()
    _save(str(tmp_path / "tall.png"), tall)
    folder = image_folder.read(tmp_path, image_size=8, channels=3)
    for x in folder.images:
        np.testing.assert_array_equal(x, np.broadcast_to([255, 0, 0], (8, 8, 3)))


def _triangle_downscale_by_2(x):
    """Antialiased bilinear /2 along both axes: taps 1/8, 3/8, 3/8, 1/8, renormalized at the edges."""
    w = np.array([1, 3, 3, 1], np.float64)

    def axis(a):
        n = a.shape[0] // 2
        out = np.empty((n,) + a.shape[1:])
        for i in range(n):
            idx = np.arange(2 * i - 1, 2 * i + 3)
            keep = (idx >= 0) & (idx < a.shape[0])
            ww = w[keep] / w[keep].sum()
            out[i] = np.tensordot(ww, a[idx[keep]], axes=1)
        return out

    return axis(axis(x.astype(np.float64)).swapaxes(0, 1)).swapaxes(0, 1)


def test_resize_is_antialiased_bilinear(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    _save(str(tmp_path / "noise.png"), img)
    got = image_folder.read(tmp_path, image_size=16, channels=1).images[0, ..., 0].astype(np.float64)
    expected = _triangle_downscale_by_2(img)
    assert np.abs(got - expected).max() <= 1.0  # uint8 rounding
    # Antialiasing matters: point sampling (every other pixel) is far from it.
    assert np.abs(img[::2, ::2] - expected).mean() > 20


def test_grayscale_and_rgb_conversion(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    gray = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    _save(str(tmp_path / "a_rgb.png"), rgb)
    _save(str(tmp_path / "b_gray.png"), gray)
    as_gray = image_folder.read(tmp_path, image_size=8, channels=1).images
    luma = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]  # ITU-R 601-2
    assert as_gray.shape == (2, 8, 8, 1)
    assert np.abs(as_gray[0, ..., 0] - luma).max() <= 1.0
    np.testing.assert_array_equal(as_gray[1, ..., 0], gray)
    as_rgb = image_folder.read(tmp_path, image_size=8, channels=3).images
    np.testing.assert_array_equal(as_rgb[0], rgb)
    np.testing.assert_array_equal(as_rgb[1], np.repeat(gray[..., None], 3, axis=-1))
    os.remove(tmp_path / "a_rgb.png")
    assert image_folder.read(tmp_path, image_size=8).images.shape[-1] == 1  # all gray -> 1 channel


def test_dataset_values_and_split(labelled):
    folder = image_folder.read(labelled, image_size=8)
    parts = image_folder.split_indices(folder, 0.25)
    # round(0.25 * 3) = 1 cat and round(0.25 * 4) = 1 dog held out.
    assert len(parts["test"]) == 2 and sorted(folder.labels[parts["test"]]) == [0, 1]
    assert sorted(np.concatenate([parts["train"], parts["test"]])) == list(range(7))
    x_train, y_train = data.load_arrays("folder", "train", image_size=8, path=str(labelled), holdout_fraction=0.25)
    x_test, y_test = data.load_arrays("folder", "test", image_size=8, path=str(labelled), holdout_fraction=0.25)
    np.testing.assert_allclose(x_train, folder.images[parts["train"]] / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y_test, folder.labels[parts["test"]])
    assert x_test.shape == (2, 8, 8, 3) and y_train.dtype == np.int32
    with pytest.raises(UsageError, match="no split 'test'; available: train .*holdout_fraction"):
        data.load_arrays("folder", "test", image_size=8, path=str(labelled), holdout_fraction=0.0)


def test_split_is_fixed_by_the_file_names_not_the_writing_order(tmp_path):
    rng = np.random.default_rng(3)
    names = [f"img{i:02d}.png" for i in range(20)]
    pics = {n: rng.integers(0, 256, (8, 8)) for n in names}
    for root, order in (("a", names), ("b", names[::-1])):
        for n in order:
            _save(str(tmp_path / root / "only" / n), pics[n])
    splits = [image_folder.split_indices(image_folder.read(tmp_path / r, image_size=8), 0.3) for r in "ab"]
    assert len(splits[0]["test"]) == 6
    np.testing.assert_array_equal(splits[0]["test"], splits[1]["test"])
    # Adding a file moves no other file between the splits.
    _save(str(tmp_path / "a" / "only" / "zz_new.png"), pics[names[0]])
    grown = image_folder.read(tmp_path / "a", image_size=8)
    test_files = {grown.files[i] for i in image_folder.split_indices(grown, 0.3)["test"]}
    old = image_folder.read(tmp_path / "b", image_size=8)
    old_test = {old.files[i] for i in splits[1]["test"]}
    assert len(test_files ^ old_test) <= 2


def _folder_of(tmp_path, n=40):
    rng = np.random.default_rng(4)
    for i in range(n):
        _save(str(tmp_path / f"c{i % 2}" / f"{i:03d}.png"), rng.integers(0, 256, (10, 10, 3)))
    return str(tmp_path)


def test_training_dataset_is_deterministic_by_seed_and_epoch(tmp_path):
    path = _folder_of(tmp_path)
    kw = dict(batch_size=8, image_size=8, path=path, holdout_fraction=0.1, with_labels=True)
    ds0, steps, shape = data.training_dataset("folder", seed=7, start_epoch=0, epochs=3, **kw)
    ds0_again, _, _ = data.training_dataset("folder", seed=7, start_epoch=0, epochs=3, **kw)
    ds1, _, _ = data.training_dataset("folder", seed=7, start_epoch=1, epochs=3, **kw)
    other, _, _ = data.training_dataset("folder", seed=8, start_epoch=0, epochs=1, **kw)
    a = [(x.numpy(), y.numpy()) for x, y in ds0]
    assert shape == (8, 8, 3) and steps == 36 // 8 and len(a) == 3 * steps
    for (x, y), (u, v) in zip(a, [(x.numpy(), y.numpy()) for x, y in ds0_again]):
        np.testing.assert_array_equal(x, u)
        np.testing.assert_array_equal(y, v)
    for (x, _), (u, _) in zip(a[steps:], [(x.numpy(), y.numpy()) for x, y in ds1]):
        np.testing.assert_array_equal(x, u)
    assert not np.array_equal(a[0][0], a[steps][0])  # epochs differ
    assert not np.array_equal(a[0][0], next(iter(other))[0].numpy())  # seeds differ
    # Labels travel with their images.
    folder = image_folder.read(path, image_size=8)
    lookup = {img.tobytes(): lab for img, lab in zip(folder.images, folder.labels)}
    for x, y in a[:steps]:
        assert [lookup[np.round((img + 1.0) * 127.5).astype(np.uint8).tobytes()] for img in x] == list(y)


def test_small_images_upscale_with_a_warning_or_fail(tmp_path, caplog):
    _save(str(tmp_path / "small.png"), np.zeros((6, 9)))
    _save(str(tmp_path / "big.png"), np.zeros((16, 16)))
    with caplog.at_level(logging.WARNING, logger="keras_gan.data"):
        folder = image_folder.read(tmp_path, image_size=12)
    assert folder.upscaled == ("small.png",) and folder.images.shape == (2, 12, 12, 1)
    assert "upscaled 1 image(s) smaller than 12x12: small.png (6x6)" in caplog.text
    with pytest.raises(UsageError, match=r"1 image\(s\) are smaller than data.image_size = 12 .*small.png \(6x6\)"):
        image_folder.read(tmp_path, image_size=12, small_images="error")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("x"), "is a file, not a directory"),
        (lambda p: p.mkdir(), "is empty"),
        (lambda p: (p.mkdir(), (p / "a.txt").write_text("x")), r"holds no PNG/JPEG/BMP/GIF images \(1 other files"),
        (lambda p: (p.mkdir(), (p / "a.png").write_bytes(b"garbage"), (p / "b.jpg").write_bytes(b"")),
         "none of its 2 image files could be read .*a.png, b.jpg"),
    ],
)
def test_bad_folders_give_one_clear_usage_error(tmp_path, make, message):
    target = tmp_path / "imgs"
    make(target)
    with pytest.raises(UsageError, match=message) as info:
        data.load("folder", path=str(target), image_size=8, batch_size=1)
    assert "\n" not in str(info.value) and "data.path" in str(info.value)


def test_config_and_cli_option(tmp_path, labelled):
    with pytest.raises(UsageError, match="data.name = 'folder' needs data.path"):
        config.from_dict({"data": {"name": "folder"}})
    with pytest.raises(UsageError, match="read only with data.name = 'folder'"):
        config.from_dict({"data": {"path": str(tmp_path)}})
    with pytest.raises(UsageError, match="holdout_fraction = 1.0 is out of range"):
        config.from_dict({"data": {"name": "folder", "path": "x", "holdout_fraction": 1.0}})
    with pytest.raises(UsageError, match="small_images = 'shrink' is not allowed"):
        config.from_dict({"data": {"small_images": "shrink"}})
    from keras_gan.commands import train

    parser = __import__("argparse").ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--data", str(labelled), "--set", "data.image_size=8",
                              "--output", str(tmp_path / "run")])
    cfg, _ = train._resolve(args)
    assert cfg.data.name == "folder" and cfg.data.path == str(labelled)
    assert cfg.train.intra_op_threads is None  # the digits config's one thread per op is for small images
    args = parser.parse_args(["--data", str(labelled), "--set", "train.intra_op_threads=2",
                              "--output", str(tmp_path / "run")])
    assert train._resolve(args)[0].train.intra_op_threads == 2


def test_cli_bad_folder_exits_2_and_writes_nothing(tmp_path, capsys):
    from keras_gan import cli

    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(tmp_path / "missing"), "--output", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not exist" in err[0] and "missing" in err[0]
    assert not out.exists()
