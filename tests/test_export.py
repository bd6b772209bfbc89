"""Export to SavedModel and ONNX: parity with Keras, signatures, metadata, atomic writes, clients, CLI.

Parity is checked three ways on the same latents: the Keras generator in this
process, the SavedModel loaded by ``tf.saved_model.load`` in a subprocess that
never imports keras_gan, and ONNX Runtime in that subprocess.
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from keras_gan import export, models, networks
from keras_gan.models import noise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.join(ROOT, "export")
BATCHES = (1, 7, 64)
ATOL = 1e-5

sys.path.insert(0, KIT)
import client_common  # noqa: E402
import grpc_client  # noqa: E402
import onnx_client  # noqa: E402
import rest_client  # noqa: E402


# ------------------------------------------------------------------ models
def _randomize(model, seed):
    """Weights (and batch-norm statistics) large enough that outputs fill the range.

    The moving statistics differ from a batch's own, so an export that ran
    batch norm in training mode would not match.
    """
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        if v.path.endswith(("gamma", "moving_variance")):
            value = rng.uniform(0.5, 1.5, shape)
        elif v.path.endswith(("beta", "moving_mean", "bias")):
            value = rng.normal(0.0, 0.3, shape)
        else:  # kernels and embeddings
            value = rng.normal(0.0, 1.5 / np.sqrt(np.prod(shape[:-1])), shape)
        v.assign(value.astype(v.dtype))
    return model


def _conditional_generator(latent_dim=8, num_classes=5):
    """A small conditional generator: Embedding(label) concatenated with z, then a DCGAN-like head."""
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    x = layers.Concatenate()([z, layers.Embedding(num_classes, 4, name="embed")(label)])
    x = layers.Dense(4 * 4 * 8)(x)
    x = layers.Reshape((4, 4, 8))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(1, 3, strides=2, padding="same")(x)
    return keras.Model([z, label], layers.Activation("tanh")(x), name="cgen")


def _cases():
    dcgan8 = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    dcgan32 = models.DCGAN(image_shape=(32, 32, 3), latent_dim=24, base_filters=8, prior="normal")
    for seed, m in enumerate((dcgan8, dcgan32)):
        _randomize(m.generator, seed)
    mlp = _randomize(networks.mlp_generator(data_dim=2, latent_dim=4, hidden_units=16), 2)
    cond = _randomize(_conditional_generator(), 3)
    # name -> (what is exported, generator, latent_dim, prior, num_classes)
    return {
        "dcgan8": (dcgan8, dcgan8.generator, 16, "uniform", None),
        "dcgan32": (dcgan32, dcgan32.generator, 24, "normal", None),
        "mlp": (mlp, mlp, 4, "normal", None),
        "cond": (cond, cond, 8, "uniform", 5),
    }


def _keras(generator, z, labels=None):
    out = generator(z, training=False) if labels is None else generator([z, labels], training=False)
    return keras.ops.convert_to_numpy(out)


_SUBPROCESS = r"""
import json, sys
import numpy as np
import onnxruntime as ort
import tensorflow as tf

cases, out_path, kit = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
sys.path.insert(0, kit)
import onnx_client  # the session options every keras_gan ONNX session uses
results = {}
for name, case in cases.items():
    inputs = np.load(case["inputs"])
    serve = tf.saved_model.load(case["saved_model"]).signatures["serving_default"]
    session = ort.InferenceSession(case["onnx"], onnx_client.session_options(), providers=["CPUExecutionProvider"])
    for b in case["batches"]:
        feed = {"z": inputs[f"z{b}"]}
        if f"label{b}" in inputs:
            feed["label"] = inputs[f"label{b}"]
        results[f"{name}/savedmodel/{b}"] = serve(**{k: tf.constant(v) for k, v in feed.items()})["images"].numpy()
        results[f"{name}/onnx/{b}"] = session.run(["images"], feed)[0]
import rest_client, grpc_client  # the deployment kit must stand alone too
results["modules"] = np.array(sorted(m for m in sys.modules if m.split(".")[0] == "keras_gan"), dtype=object)
np.savez(out_path, **results)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every case exported to both formats, run by the subprocess; the Keras outputs beside."""
    root = tmp_path_factory.mktemp("exports")
    rng = np.random.default_rng(0)
    info, keras_out, spec = {}, {}, {}
    for name, (obj, generator, latent_dim, prior, num_classes) in _cases().items():
        kwargs = {"prior": prior} if obj is generator else {}
        sm = export.export_saved_model(obj, root / name / "saved_model", version=1, **kwargs)
        onnx_path = export.export_onnx(obj, root / name / "generator.onnx", **kwargs)
        inputs = {}
        for b in BATCHES:
            z = (rng.uniform(-1, 1, (b, latent_dim)) if prior == "uniform" else rng.normal(size=(b, latent_dim)))
            inputs[f"z{b}"] = z.astype(np.float32)
            labels = None
            if num_classes:
                labels = inputs[f"label{b}"] = rng.integers(0, num_classes, b).astype(np.int32)
            keras_out[f"{name}/{b}"] = _keras(generator, inputs[f"z{b}"], labels)
        np.savez(root / f"{name}_inputs.npz", **inputs)
        info[name] = {"saved_model": sm, "onnx": onnx_path, "inputs": str(root / f"{name}_inputs.npz"),
                      "batches": list(BATCHES)}
        spec[name] = {"obj": obj, "generator": generator, "latent_dim": latent_dim, "prior": prior,
                      "num_classes": num_classes, "inputs": inputs}
    (root / "cases.json").write_text(json.dumps(info))
    (root / "runner.py").write_text(_SUBPROCESS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, str(root / "runner.py"), str(root / "cases.json"), str(root / "out.npz"), KIT],
        env=env, cwd=str(root), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outside = dict(np.load(root / "out.npz", allow_pickle=True))
    return {"root": root, "info": info, "keras": keras_out, "outside": outside, "spec": spec}


# ------------------------------------------------------------------ parity
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", ["dcgan8", "dcgan32", "mlp", "cond"])
def test_parity_keras_savedmodel_onnx(exported, name, batch):
    expected = exported["keras"][f"{name}/{batch}"]
    saved = exported["outside"][f"{name}/savedmodel/{batch}"]
    onnx_out = exported["outside"][f"{name}/onnx/{batch}"]
    assert saved.shape == onnx_out.shape == expected.shape
    assert expected.shape[0] == batch
    if batch > 1:  # the comparison means something only if the outputs vary
        assert expected.std() > 0.1
    assert np.max(np.abs(saved - expected)) < ATOL
    assert np.max(np.abs(onnx_out - expected)) < ATOL


def test_subprocess_never_imported_keras_gan(exported):
    assert list(exported["outside"]["modules"]) == []


def test_export_runs_batch_norm_in_inference_mode(exported):
    """A training-mode export would differ: the check above can fail."""
    spec = exported["spec"]["dcgan8"]
    z = spec["inputs"]["z7"]
    weights = spec["generator"].get_weights()
    train_mode = keras.ops.convert_to_numpy(spec["generator"](z, training=True))
    spec["generator"].set_weights(weights)  # training=True moved the batch-norm statistics
    assert np.max(np.abs(train_mode - exported["outside"]["dcgan8/savedmodel/7"])) > 1e-2


# ---------------------------------------------------------------- signatures
def _parse_saved_model_cli(text):
    """``saved_model_cli show --all`` -> {signature: {"inputs"|"outputs": {name: (dtype, shape)}}}."""
    text = text.split("Concrete Functions:")[0]
    sigs = {}
    for block in re.split(r"signature_def\['", text)[1:]:
        name = block.split("'", 1)[0]
        entries = re.findall(r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: ([^\n]+)", block)
        sigs[name] = {"inputs": {}, "outputs": {}}
        for kind, key, dtype, shape in entries:
            sigs[name][kind][key] = (dtype, shape.strip())
    sigs.pop("__saved_model_init_op", None)
    return sigs


def test_saved_model_cli_lists_named_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    procs = {
        name: subprocess.Popen([cli, "show", "--all", "--dir", exported["info"][name]["saved_model"]],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for name in ("dcgan8", "cond")
    }
    shown = {name: _parse_saved_model_cli(p.communicate(timeout=120)[0]) for name, p in procs.items()}
    assert shown["dcgan8"] == {
        "serving_default": {"inputs": {"z": ("DT_FLOAT", "(-1, 16)")},
                            "outputs": {"images": ("DT_FLOAT", "(-1, 8, 8, 1)")}},
        "sample": {"inputs": {"batch_size": ("DT_INT32", "()"), "seed": ("DT_INT64", "()")},
                   "outputs": {"images": ("DT_FLOAT", "(-1, 8, 8, 1)"), "z": ("DT_FLOAT", "(-1, 16)")}},
    }
    assert shown["cond"] == {
        "serving_default": {"inputs": {"z": ("DT_FLOAT", "(-1, 8)"), "label": ("DT_INT32", "(-1)")},
                            "outputs": {"images": ("DT_FLOAT", "(-1, 8, 8, 1)")}},
        "sample": {"inputs": {"batch_size": ("DT_INT32", "()"), "seed": ("DT_INT64", "()"),
                              "label": ("DT_INT32", "(-1)")},
                   "outputs": {"images": ("DT_FLOAT", "(-1, 8, 8, 1)"), "z": ("DT_FLOAT", "(-1, 8)")}},
    }


@pytest.mark.parametrize("name", ["dcgan8", "dcgan32", "mlp", "cond"])
def test_onnx_passes_checker_and_keeps_metadata(exported, name):
    import onnx

    spec, info = exported["spec"][name], exported["info"][name]
    model = onnx.load(info["onnx"])
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    with open(os.path.join(info["saved_model"], "assets", export.METADATA_FILENAME)) as f:
        saved = json.load(f)
    assert props["export_format"] == "onnx" and saved["export_format"] == "saved_model"
    shared = ("latent_dim", "prior", "image_shape", "conditional", "num_classes", "output", "inputs",
              "versions", "model", "source", "max_batch_size", "training_config", "format")
    assert {k: props[k] for k in shared} == {k: saved[k] for k in shared}
    assert props["latent_dim"] == spec["latent_dim"] and props["prior"] == spec["prior"]
    assert props["num_classes"] == spec["num_classes"]
    assert props["image_shape"] == list(spec["generator"].output.shape[1:])
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert [(i.name, dims(i)) for i in model.graph.input] == [("z", ["batch", spec["latent_dim"]])] + (
        [("label", ["batch"])] if spec["num_classes"] else [])
    assert [(o.name, dims(o)) for o in model.graph.output] == [("images", ["batch"] + props["image_shape"])]


def _options(options):
    import onnxruntime as ort

    return {"level": options.graph_optimization_level, "mode": options.execution_mode,
            "intra": options.intra_op_num_threads, "inter": options.inter_op_num_threads,
            "spin": options.get_session_config_entry("session.intra_op.allow_spinning"),
            "all": options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "sequential": options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL}


@pytest.mark.parametrize("threads,spin", [(0, False), (1, False), (3, True)])
def test_client_and_library_use_the_same_session_options(threads, spin):
    library = _options(export.onnx_session_options(threads, spin))
    client = _options(onnx_client.session_options(threads, spin))
    assert library == client
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert library["all"] and library["sequential"] and library["inter"] == 1
    assert library["intra"] == (threads or cores) and library["spin"] == ("1" if spin else "0")
    with pytest.raises(ValueError, match="threads must be an integer >= 0"):
        export.onnx_session_options(-1)


def test_onnx_export_takes_the_forms_onnx_runtime_runs_fastest(exported):
    """Traced with the stock ops whatever KERAS_GAN_CONV_FORMS says; tiny maps as one matrix product; BN folded."""
    import onnx

    assert os.environ.get("KERAS_GAN_CONV_FORMS") == "static"  # which would write the RGB layer sub-pixel
    for name in ("dcgan8", "dcgan32"):
        model = onnx.load(exported["info"][name]["onnx"])
        ops = [n.op_type for n in model.graph.node]
        rewrites = json.loads({p.key: p.value for p in model.metadata_props}["graph_rewrites"])
        assert "DepthToSpace" not in ops and ops.count("ConvTranspose") == (1 if name == "dcgan8" else 3), ops
        assert any("folded Reshape, Transpose, BatchNormalization" in r for r in rewrites), rewrites
    ops = [n.op_type for n in onnx.load(exported["info"]["dcgan8"]["onnx"]).graph.node]
    # 2x2x16 -> 4x4x8 is one 64x128 matrix product with its batch norm folded in; 4x4x8 -> 8x8x1 stays ConvTranspose
    assert ops[:6] == ["MatMul", "Add", "Relu", "MatMul", "Add", "Reshape"] and "BatchNormalization" not in ops
    session = export.onnx_session(exported["info"]["dcgan8"]["onnx"])
    assert _options(session.get_session_options()) == _options(export.onnx_session_options())
    z = exported["spec"]["dcgan8"]["inputs"]["z64"]
    assert np.max(np.abs(session.run(["images"], {"z": z})[0] - exported["keras"]["dcgan8/64"])) < ATOL


def test_saved_model_serves_the_trained_forward_forms_without_custom_gradients(exported, caplog):
    """The sub-pixel form training runs for the RGB layer is what TF Serving runs, and loading warns of nothing
    (a SavedModel whose functions carry custom gradients logs "unsaved custom gradients" at every load)."""
    import logging

    assert os.environ.get("KERAS_GAN_CONV_FORMS") == "static"  # the RGB layer's forward is sub-pixel
    with caplog.at_level(logging.WARNING):
        loaded = tf.saved_model.load(exported["info"]["dcgan8"]["saved_model"])
    assert not [r for r in caplog.records if "custom gradient" in r.getMessage()], caplog.text
    graph = loaded.signatures["serving_default"].graph.as_graph_def()
    ops = {n.op for f in graph.library.function for n in f.node_def} | {n.op for n in graph.node}
    assert "DepthToSpace" in ops and "IdentityN" not in ops, sorted(ops)


def test_unoptimized_onnx_export_is_the_tf2onnx_graph(tmp_path, monkeypatch):
    import onnx

    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    _randomize(model.generator, 7)
    path = export.export_onnx(model, tmp_path / "g.onnx", optimize=False)
    onnx_model = onnx.load(path)
    ops = [n.op_type for n in onnx_model.graph.node]
    assert ops.count("BatchNormalization") == 2 and "DepthToSpace" in ops  # static rule: RGB layer sub-pixel
    assert "graph_rewrites" not in {p.key for p in onnx_model.metadata_props}
    assert max(export.check_parity(model, path).values()) < ATOL

    # a rewrite that fails leaves the (stock-op) tf2onnx graph, with a warning and a note in the metadata
    from keras_gan.export import _onnx_graph

    def broken(proto):
        proto.graph.ClearField("node")  # half-done damage must not leak into the file
        raise KeyError("boom")

    monkeypatch.setattr(_onnx_graph, "optimize", broken)
    with pytest.warns(RuntimeWarning, match="graph rewrites skipped"):
        path = export.export_onnx(model, tmp_path / "h.onnx")
    assert export.read_metadata(path)["graph_rewrites"] == ["none: the rewrite failed (KeyError: 'boom')"]
    assert "ConvTranspose" in [n.op_type for n in onnx.load(path).graph.node]
    assert max(export.check_parity(model, path).values()) < ATOL


# --------------------------------------------------------------- sampling
@pytest.mark.parametrize("name", ["dcgan8", "dcgan32"])
def test_sample_signature_and_sample_exported_match_generate(exported, name):
    model, info = exported["spec"][name]["obj"], exported["info"][name]
    expected = model.generate(10, seed=3)
    z_expected = model.sample_latent(10, seed=3).numpy()
    images, z = export.load_saved_model_generator(info["saved_model"]).sample(10, seed=3)
    np.testing.assert_array_equal(z, z_expected)
    assert np.max(np.abs(images - expected)) < ATOL
    for path in (os.path.dirname(info["saved_model"]), info["onnx"]):  # base dir: highest version
        assert np.max(np.abs(export.sample_exported(path, 10, seed=3) - expected)) < ATOL


def test_conditional_sampling_uses_labels(exported):
    spec, info = exported["spec"]["cond"], exported["info"]["cond"]
    z = tf.random.stateless_uniform([6, 8], tf.constant([5, 0], tf.int64), -1.0, 1.0).numpy()
    labels = np.array([0, 1, 2, 3, 4, 0], np.int32)
    expected = _keras(spec["generator"], z, labels)
    for path in (info["saved_model"], info["onnx"]):
        assert np.max(np.abs(export.sample_exported(path, 6, seed=5) - expected)) < ATOL  # default i % 5
        assert np.max(np.abs(export.sample_exported(path, 6, 5, labels=labels) - expected)) < ATOL
    images, _ = export.load_saved_model_generator(info["saved_model"]).sample(6, 5, label=labels)
    assert np.max(np.abs(images - expected)) < ATOL
    assert export.read_metadata(info["onnx"])["num_classes"] == 5  # from the Embedding that reads the label
    with pytest.raises(ValueError, match=r"label values must be in \[0, 5\)"):
        export.onnx_generate(info["onnx"], z, np.full(6, 7, np.int32))
    with pytest.raises(ValueError, match="labels must hold num=6"):
        export.sample_exported(info["onnx"], 6, 0, labels=[1, 2])


def test_uint8_export_quantizes_like_numpy(tmp_path):
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    _randomize(model.generator, 7)
    sm = export.export_saved_model(model, tmp_path / "sm", uint8=True)
    onnx_path = export.export_onnx(model, tmp_path / "g.onnx", uint8=True)
    float_images = model.generate(64, seed=1).astype(np.float64)
    expected = np.clip(np.round((float_images + 1.0) * 127.5), 0, 255)
    for path in (sm, onnx_path):
        got = export.sample_exported(path, 64, seed=1)
        assert got.dtype == np.uint8
        diff = np.abs(got.astype(np.float64) - expected)
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.99  # one level at most, at a .5 boundary
        assert got.min() < 30 and got.max() > 225  # the full range is used
    assert export.read_metadata(sm)["output"] == {
        "name": "images", "dtype": "uint8", "range": [0, 255], "layout": "NHWC", "shape": [None, 8, 8, 1]}


def test_ema_generator_is_exported_when_present(tmp_path):
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    model.ema_generator = _randomize(keras.models.clone_model(model.generator), 11)
    _randomize(model.generator, 12)
    z = model.sample_latent(7, seed=0).numpy()
    path = export.export_saved_model(model, tmp_path / "sm")
    got = export.load_saved_model_generator(path)(z)
    assert np.max(np.abs(got - _keras(model.ema_generator, z))) < ATOL
    assert np.max(np.abs(got - _keras(model.generator, z))) > 1e-2
    assert export.read_metadata(path)["source"] == "ema_generator"


# ------------------------------------------------------------ atomic writes
def _fingerprint(directory):
    out = {}
    for dirpath, _, files in os.walk(directory):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, directory)] = fh.read()
    return out


def test_failed_export_leaves_previous_export_intact(tmp_path, monkeypatch):
    first = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    second = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    _randomize(first.generator, 1)
    _randomize(second.generator, 2)
    base, onnx_path = tmp_path / "gan", tmp_path / "gan.onnx"
    version_dir = export.export_saved_model(first, base, version=1)
    export.export_onnx(first, onnx_path)
    before_sm, before_onnx = _fingerprint(version_dir), onnx_path.read_bytes()

    real_save = tf.saved_model.save

    def save_then_crash(obj, path, **kwargs):
        real_save(obj, path, **kwargs)  # a complete write ...
        os.remove(os.path.join(path, "saved_model.pb"))  # ... half undone
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        export.export_saved_model(second, base, version=1)
    monkeypatch.undo()

    import onnx

    def write_half_then_crash(proto, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(proto.SerializeToString()[:100])
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save", write_half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        export.export_onnx(second, onnx_path)
    monkeypatch.undo()

    # A verification failure must not replace anything either.
    monkeypatch.setattr(export.parity, "_keras_outputs", lambda *a: np.full((7, 8, 8, 1), 5.0, np.float32))
    with pytest.raises(RuntimeError, match="does not match the Keras generator"):
        export.export_saved_model(second, base, version=1)
    monkeypatch.undo()

    assert _fingerprint(version_dir) == before_sm
    assert onnx_path.read_bytes() == before_onnx
    assert sorted(os.listdir(base)) == ["1"] and sorted(os.listdir(tmp_path)) == ["gan", "gan.onnx"]
    z = first.sample_latent(7, seed=0).numpy()
    assert np.max(np.abs(export.load_saved_model_generator(base)(z) - _keras(first.generator, z))) < ATOL

    # A successful export replaces the version, and leaves nothing else behind.
    export.export_saved_model(second, base, version=1)
    assert np.max(np.abs(export.load_saved_model_generator(base)(z) - _keras(second.generator, z))) < ATOL
    assert sorted(os.listdir(base)) == ["1"]


def test_bad_arguments_name_the_value(tmp_path):
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2)
    with pytest.raises(ValueError, match="prior='normal' contradicts the model's prior 'uniform'"):
        export.export_saved_model(model, tmp_path, prior="normal")
    with pytest.raises(ValueError, match="version must be an integer >= 1, got 0"):
        export.export_saved_model(model, tmp_path, version=0)
    with pytest.raises(ValueError, match="opset must be an integer from 13 to 18"):
        export.export_onnx(model, tmp_path / "g.onnx", opset=9)
    with pytest.raises(ValueError, match=r"uint8=True needs an image generator.*\[batch, 2\]"):
        export.export_saved_model(networks.mlp_generator(), tmp_path, uint8=True)
    with pytest.raises(ValueError, match="prior must be one of"):
        export.export_saved_model(networks.mlp_generator(), tmp_path, prior="laplace")
    a, b, c = keras.Input((4,)), keras.Input((4,)), keras.Input((4,))
    three = keras.Model([a, b, c], layers.Add()([a, b, c]))
    with pytest.raises(ValueError, match="one input z"):
        export.export_saved_model(three, tmp_path)
    with pytest.raises(ValueError, match="must be a keras_gan AdversarialModel or a generator keras.Model"):
        export.export_onnx("generator.keras", tmp_path / "g.onnx")
    with pytest.raises(ValueError, match="does not exist"):
        export.sample_exported(tmp_path / "missing.onnx", 4, seed=0)
    with pytest.raises(ValueError, match="neither a SavedModel directory nor a directory of numbered versions"):
        export.read_metadata(tmp_path)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ clients
def _signature_def_map(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto.meta_graphs[0].signature_def


def _tf_serving_metadata_json(saved_model_dir):
    """What TF Serving answers to GET /v1/models/gan/metadata (the SignatureDefMap as JSON)."""
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    defs = get_model_metadata_pb2.SignatureDefMap()
    for key, value in _signature_def_map(saved_model_dir).items():
        defs.signature_def[key].CopyFrom(value)
    return {"model_spec": {"name": "gan", "signature_name": "", "version": "1"},
            "metadata": {"signature_def": json_format.MessageToDict(defs, preserving_proto_field_name=True)}}


def _rows_to_tensors(instances, signature):
    """TF Serving's row format: stack each named input across instances, with the signature's dtype."""
    return {k: tf.constant(np.asarray([row[k] for row in instances], dtype=signature["inputs"][k]["dtype"]))
            for k in instances[0]}


def test_rest_requests_match_the_signature(exported):
    spec, info = exported["spec"]["cond"], exported["info"]["cond"]
    metadata = json.loads(json.dumps(_tf_serving_metadata_json(info["saved_model"])))
    signature = rest_client.signature_from_metadata(metadata)
    assert rest_client.model_spec_from_signature(signature) == (8, True)
    loaded = tf.saved_model.load(info["saved_model"])

    z, labels = spec["inputs"]["z7"], spec["inputs"]["label7"]
    body = json.loads(json.dumps(rest_client.build_predict_request(z, labels, 8, True, num_classes=5)))
    assert body["signature_name"] == "serving_default" and set(body["instances"][0]) == {"z", "label"}
    feed = _rows_to_tensors(body["instances"], signature)
    images = loaded.signatures["serving_default"](**feed)["images"].numpy()
    expected = _keras(spec["generator"], z, labels)
    assert np.max(np.abs(images - expected)) < ATOL
    # TF Serving drops the output name when a signature has one output.
    parsed = rest_client.parse_predict_response({"predictions": images.tolist()})
    np.testing.assert_allclose(np.asarray(parsed, np.float32), images)
    parsed = rest_client.parse_predict_response({"predictions": [{"images": x} for x in images.tolist()]})
    np.testing.assert_allclose(np.asarray(parsed, np.float32), images)
    with pytest.raises(RuntimeError, match="label out of range"):
        rest_client.parse_predict_response({"error": "label out of range"})

    sample_sig = rest_client.signature_from_metadata(metadata, "sample")
    body = rest_client.build_sample_request(7, 5, labels.tolist(), conditional=True, num_classes=5)
    feed = {k: tf.constant(v, dtype=sample_sig["inputs"][k]["dtype"]) for k, v in body["inputs"].items()}
    out = loaded.signatures["sample"](**feed)
    z5 = tf.random.stateless_uniform([7, 8], tf.constant([5, 0], tf.int64), -1.0, 1.0).numpy()
    np.testing.assert_array_equal(out["z"].numpy(), z5)
    assert np.max(np.abs(out["images"].numpy() - _keras(spec["generator"], z5, labels))) < ATOL
    with pytest.raises(ValueError, match=r"no signature 'predict'; it has \['sample', 'serving_default'\]"):
        rest_client.signature_from_metadata(metadata, "predict")


def test_grpc_requests_match_the_signature(exported):
    spec, info = exported["spec"]["cond"], exported["info"]["cond"]
    defs = _signature_def_map(info["saved_model"])
    assert grpc_client.model_spec_from_signature(defs["serving_default"]) == (8, True)
    z, labels = spec["inputs"]["z7"], spec["inputs"]["label7"]
    request = grpc_client.build_predict_request(z, labels, 8, True, num_classes=5, model_name="gan", version=1)
    grpc_client.check_request(request, defs["serving_default"])
    assert (request.model_spec.name, request.model_spec.signature_name, request.model_spec.version.value) == (
        "gan", "serving_default", 1)
    loaded = tf.saved_model.load(info["saved_model"])
    feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    images = loaded.signatures["serving_default"](**feed)["images"].numpy()
    assert np.max(np.abs(images - _keras(spec["generator"], z, labels))) < ATOL

    sample = grpc_client.build_sample_request(7, 5, labels, conditional=True, num_classes=5)
    grpc_client.check_request(sample, defs["sample"])
    with pytest.raises(ValueError, match=r"inputs \['label', 'z'\] differ from the signature's \['batch_size'"):
        grpc_client.check_request(request, defs["sample"])
    unchecked = grpc_client.build_predict_request(np.zeros((2, 6)), [0, 1], conditional=True)
    with pytest.raises(ValueError, match=r"input 'z' has shape \[2, 6\], the signature wants \[-1, 8\]"):
        grpc_client.check_request(unchecked, defs["serving_default"])


@pytest.mark.parametrize("z,labels,message", [
    (np.zeros((2, 7)), [0, 1], "z[0] has 7 values, but the model's latent size is 8"),
    ([["a"] * 8, [0.0] * 8], [0, 1], "z[0][0] is 'a' (str); z must hold numbers (float32)"),
    ([[True] * 8], [0], "z[0][0] is True (bool)"),
    ([[float("nan")] * 8], [0], "z[0][0] is nan; z must be finite"),
    (np.zeros(8), [0], "z[0] is 0.0 (float); z must be 2-D"),
    (np.zeros((2, 8)), [0, 1.5], "labels[1] is 1.5 (float); labels must be integers (int32)"),
    (np.zeros((2, 8)), [0, 5], "labels[1] is 5, outside [0, 5)"),
    (np.zeros((2, 8)), [0], "labels must be a list of 2 integers"),
    (np.zeros((2, 8)), None, "The model is conditional"),
    (np.zeros((5000, 8)), [0] * 5000, "batch of 5000 is too large: at most 1024 rows per request"),
    ([], [], "z is empty"),
])
def test_clients_reject_bad_batches_clearly(z, labels, message):
    with pytest.raises(ValueError) as err:
        rest_client.build_predict_request(z, labels, latent_dim=8, conditional=True, num_classes=5)
    assert message in str(err.value)
    with pytest.raises(ValueError) as err:
        grpc_client.build_predict_request(z, labels, latent_dim=8, conditional=True, num_classes=5)
    assert message in str(err.value)
    metadata = {"latent_dim": 8, "conditional": True, "num_classes": 5, "max_batch_size": 1024}
    with pytest.raises(ValueError) as err:
        onnx_client.build_feed(z, labels, metadata)
    assert message in str(err.value)


def test_sample_request_validation():
    with pytest.raises(ValueError, match="batch_size must be an integer from 1 to 1024, got 0"):
        rest_client.build_sample_request(0, 1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        grpc_client.build_sample_request(4, 1.5)
    with pytest.raises(ValueError, match="not conditional"):
        rest_client.build_sample_request(2, 0, labels=[1, 2])
    assert rest_client.build_sample_request(3, 9) == {"signature_name": "sample",
                                                      "inputs": {"batch_size": 3, "seed": 9}}


def test_onnx_client_writes_a_grid_and_its_numbers(exported, tmp_path):
    from PIL import Image

    spec, info = exported["spec"]["dcgan8"], exported["info"]["dcgan8"]
    out = tmp_path / "grid.png"
    assert onnx_client.main([info["onnx"], "--num", "6", "--seed", "4", "--out", str(out)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 8 + 1, 3 * 8 + 2)  # ceil(sqrt(6)) = 3 columns, 2 rows, 1-pixel gaps
    data = json.loads((tmp_path / "grid.json").read_text())
    pixels = np.asarray(data["images_uint8"], np.uint8)
    z = np.asarray(data["z"], np.float32)
    assert z.shape == (6, 16) and np.abs(z).max() <= 1.0  # uniform prior from the metadata
    expected = np.clip(np.round((_keras(spec["generator"], z).astype(np.float64) + 1) * 127.5), 0, 255)
    assert np.abs(pixels.astype(np.float64) - expected).max() <= 1
    np.testing.assert_array_equal(grid[9:17, 0:8], pixels[3, ..., 0])  # row 1, column 0 is image 3
    np.testing.assert_array_equal(grid[0:8, 18:26], pixels[2, ..., 0])  # row 0, column 2 is image 2
    assert onnx_client.main([info["onnx"], "--num", "2000", "--out", str(out)]) == 2  # batch too large


def test_models_config_is_a_valid_model_server_config():
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(KIT, "models.config")) as f:
        config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("gan", "/models/gan", "tensorflow")


def test_client_draws_follow_the_prior():
    uniform = np.asarray(client_common.draw_latent(2000, 4, "uniform", seed=0))
    normal = np.asarray(client_common.draw_latent(2000, 4, "normal", seed=0))
    assert uniform.min() >= -1 and uniform.max() <= 1 and abs(uniform.var() - 1 / 3) < 0.02
    assert abs(normal.mean()) < 0.05 and abs(normal.std() - 1) < 0.05


# --------------------------------------------------------------- CLI, bench
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from keras_gan import config
    from keras_gan.training import runs

    cfg = config.from_dict({"model": {"latent_dim": 16, "base_filters": 8, "num_upsamplings": 2}})
    model = runs.build_model(cfg, sample_shape=(8, 8, 1))
    _randomize(model.generator, 5)
    directory = tmp_path_factory.mktemp("run")
    runs.write_text(str(directory / "config.yaml"), config.to_yaml(cfg))
    os.makedirs(directory / "checkpoints")
    model.save(runs.checkpoint_path(str(directory), 3))
    return directory, model


def test_cli_export_writes_both_formats_and_a_report(run_dir, capsys):
    from keras_gan import cli

    directory, model = run_dir
    out = directory / "out"
    assert cli.main(["export", "--run", str(directory), "--out", str(out), "--version", "2"]) == 0
    report = json.loads((out / "export.json").read_text())
    assert report["epoch"] == 3
    assert report["formats"]["savedmodel"]["path"] == str(out / "saved_model" / "2")
    assert all(v < ATOL for f in report["formats"].values() for v in f["max_abs_diff"].values())
    for fmt in ("savedmodel", "onnx"):
        assert report["formats"][fmt]["metadata"]["training_config"]["model"]["latent_dim"] == 16
    expected = model.generate(5, seed=2)
    for path in (out / "saved_model", out / "generator.onnx"):
        assert np.max(np.abs(export.sample_exported(path, 5, seed=2) - expected)) < ATOL
    assert "docker run" in capsys.readouterr().out
    for flag, path in (("--saved-model", out / "saved_model"), ("--onnx", out / "generator.onnx")):
        png = directory / f"grid{flag}.png"
        assert cli.main(["sample", flag, str(path), "--num", "4", "--seed", "2", "--out", str(png)]) == 0
        assert png.stat().st_size > 0 and json.loads(png.with_suffix(".json").read_text())["seed"] == 2
        # the generation tools on an export: given (truncated) latents, the same images as the model
        z = noise.truncate(export.draw_exported_latents(path, 3, seed=4), 0.5, "uniform")
        np.testing.assert_allclose(z, noise.truncate(model.sample_latent(3, 4), 0.5, "uniform"), atol=1e-6)
        assert np.max(np.abs(export.generate_exported(path, z) - model.generate_from(z))) < ATOL
        walk = directory / f"walk{flag}.gif"
        assert cli.main(["sample", flag, str(path), "--seeds", "0-2", "--truncation", "0.7", "--interpolate", "3",
                         "--out", str(walk)]) == 0
        assert json.loads(walk.with_suffix(".json").read_text())["frames"] == 5  # 3 + 3 - the shared middle one

    assert cli.main(["export", "--run", str(directory), "--format", "tflite"]) == 2
    assert "--format 'tflite': allowed values are savedmodel, onnx" in capsys.readouterr().err
    assert cli.main(["export", "--run", str(directory / "nope")]) == 2


def test_bench_inference_reports_every_runtime(run_dir, tmp_path, monkeypatch):
    import argparse

    from keras_gan.bench import inference

    # The onnxruntime row must time a session of export.onnx_session (the client's options), no other.
    made = []
    real = export.onnx_session

    class Counted:
        def __init__(self, session):
            self.session, self.runs = session, 0

        def run(self, *args, **kwargs):
            self.runs += 1
            return self.session.run(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.session, name)

    def spy(path, threads=None, spin=False):
        made.append((os.path.basename(str(path)), threads, spin, Counted(real(path, threads, spin))))
        return made[-1][-1]

    monkeypatch.setattr(export, "onnx_session", spy)
    directory, _ = run_dir
    parser = argparse.ArgumentParser()
    inference.add_arguments(parser)
    args = parser.parse_args(["--run", str(directory), "--json", str(tmp_path / "b.json"), "--min-time", "0",
                              "--min-calls", "3", "--warmup", "1", "--batch-sizes", "1,4", "--threads", "1",
                              "--baseline"])
    assert inference.run(args) == 0
    report = json.loads((tmp_path / "b.json").read_text())
    rows = {(r["runtime"], r["batch_size"]): r for r in report["results"]}
    assert set(rows) == {(rt, b) for rt in inference.RUNTIMES + (inference.BASELINE,) for b in (1, 4)}
    bench_sessions = [m for m in made if m[0] == "generator.onnx"]
    assert [(m[1], m[2]) for m in bench_sessions] == [(1, False)]
    timed = sum(rows[("onnxruntime", b)]["calls"] + 1 + 1 for b in (1, 4))  # timed + warmup + parity call
    assert bench_sessions[0][-1].runs == timed
    assert report["settings"]["onnxruntime_intra_op_threads"] == 1 and report["settings"]["onnx_graph_rewrites"]
    assert report["machine"]["cores"] >= 1 and report["table"].startswith("machine: ")
    for (_, batch), r in rows.items():
        assert r["calls"] >= 3 and r["max_abs_diff_vs_keras"] < ATOL
        assert r["latency_ms_p90"] >= r["latency_ms_median"] > 0
        # images/s is the batch over the mean latency
        assert abs(r["images_per_second"] - batch / (r["latency_ms_mean"] / 1e3)) < 1e-6 * r["images_per_second"]
