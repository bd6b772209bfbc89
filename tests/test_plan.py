"""keras_gan.training.plan: a config resolved once, before the trainer; the trainer reads only the plan.

Checked against independent sources: the digits' class count from scikit-learn, the ring's centers from the
closed form; the trainer and the run-directory code no longer read the data layer themselves (from their
source), and a plan made for another backend is refused in one line.
"""

import ast
import os

import numpy as np
import pytest

from keras_gan import config
from keras_gan.errors import UsageError
from keras_gan.training import plan, runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_digits_plan_carries_the_config_once():
    cfg = config.load("dcgan_digits")
    p = plan.resolve(cfg, backend="tensorflow")
    assert p.backend == "tensorflow"
    assert p.intra_op_threads == cfg.train.intra_op_threads
    assert p.source["name"] == "digits" and p.source["split"] == cfg.data.split
    assert p.source["image_size"] == cfg.data.image_size and p.source["with_labels"] is False
    assert p.num_classes is None and p.reference is None
    # every keyword the plan passes is one training_dataset takes
    import inspect

    from keras_gan import data

    assert set(p.source) <= set(inspect.signature(data.training_dataset).parameters)


def test_conditional_plan_counts_the_classes():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    p = plan.resolve(config.load("cdcgan_digits"), backend="tensorflow")
    assert p.num_classes == len(np.unique(sklearn_datasets.load_digits().target))  # 10
    assert p.source["with_labels"] is True


def test_mixture_plan_holds_the_ring_centers():
    p = plan.resolve(config.load("gan_ring8"), backend="jax")
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(p.reference, np.stack([np.cos(angles), np.sin(angles)], axis=1), atol=1e-12)


def test_conditional_mixture_has_one_class_per_mode():
    cfg = config.apply_overrides(config.load("gan_ring8"), ["model.conditional=true"])
    assert plan.resolve(cfg, backend="tensorflow").num_classes == 8


def test_conditional_model_on_unlabelled_data_is_refused_in_one_line(tmp_path):
    import tensorflow as tf

    for i in range(4):  # a folder of images, not in class subfolders: no labels
        pixels = np.full((8, 8, 1), 40 * i, np.uint8)
        tf.io.write_file(str(tmp_path / f"{i}.png"), tf.io.encode_png(pixels))
    cfg = config.apply_overrides(config.load("cdcgan_digits"),
                                 ["data.name=folder", f"data.path={tmp_path}"])
    with pytest.raises(UsageError, match="'folder' has no labels"):
        plan.resolve(cfg, backend="tensorflow")


def test_build_model_takes_the_plans_classes_or_works_them_out():
    cfg = config.load("cdcgan_digits")
    cfg = config.apply_overrides(cfg, ["model.base_filters=4"])
    assert runs.build_model(cfg, (8, 8, 1), num_classes=3).num_classes == 3  # the plan's, not re-read
    assert runs.build_model(cfg, (8, 8, 1)).num_classes == 10  # called without a plan: resolved here


def test_a_plan_for_another_backend_is_refused(tmp_path):
    import keras

    from keras_gan.training import trainer

    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    p = plan.resolve(config.load("dcgan_digits"), backend=other)
    with pytest.raises(UsageError, match=f"plan is for the {other} backend"):
        trainer.train(p, str(tmp_path / "run"), verbose=0)
    assert not os.path.exists(tmp_path / "run")  # refused before anything is written


def _names(path):
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    attributes = {f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
                  if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    return imported, attributes


def test_the_trainer_reads_the_data_layer_only_for_the_data_set():
    imported, attributes = _names("keras_gan/training/trainer.py")
    used = {a for a in attributes if a.startswith("data.")}
    assert used == {"data.training_dataset"}, used  # no source_options, num_classes, MIXTURES: the plan has them
    imported, attributes = _names("keras_gan/training/runs.py")
    assert not any(name == "keras_gan.data" or name.startswith("keras_gan.data.") for name in imported), imported


def test_spectral_norm_on_torch_is_one_line_before_anything_is_written():
    # it was a ValueError traceback from compile, after the run folder existed
    cfg = config.load("hinge_sn_ring8")
    assert cfg.model.spectral_norm
    with pytest.raises(UsageError, match="model.spectral_norm = true does not train on the torch backend"):
        plan.resolve(cfg, backend="torch")
    for backend in ("tensorflow", "jax"):
        assert plan.resolve(cfg, backend=backend).backend == backend
