"""FusedAdam: Keras' Adam rule on TensorFlow's fused kernel, checked against numpy and keras.optimizers.Adam."""

import keras
import numpy as np
import tensorflow as tf

from keras_gan.optimizers import FusedAdam


def _numpy_adam(w, grads, lr, b1, b2, eps):
    m, v = np.zeros_like(w), np.zeros_like(w)
    w = w.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def _run(make_opt, w0, grads, strategy=None):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        w = keras.Variable(w0)
        opt = make_opt()
        opt.build([w])

    @tf.function
    def step(g):
        def replica_fn(g):
            opt.apply_gradients([(g, w)])
        strategy.run(replica_fn, args=(g,))

    for g in grads:
        step(tf.constant(g))
    return w.numpy()


def _problem(seed=0, shape=(4, 3), steps=6):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=shape).astype("float32")
    return w0, [rng.normal(size=shape).astype("float32") for _ in range(steps)]


def test_matches_numpy_and_keras_adam():
    w0, grads = _problem()
    kw = dict(learning_rate=1e-2, beta_1=0.5, beta_2=0.999, epsilon=1e-7)
    fused = _run(lambda: FusedAdam(**kw), w0, grads)
    want = _numpy_adam(w0, grads, 1e-2, 0.5, 0.999, 1e-7)
    np.testing.assert_allclose(fused, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, _run(lambda: keras.optimizers.Adam(**kw), w0, grads), rtol=1e-5, atol=1e-6)
    assert np.abs(fused - w0).max() > 1e-2  # it moved


def test_update_is_one_fused_op():
    opt = FusedAdam(1e-3)
    w = keras.Variable(np.ones((3,), "float32"))
    opt.build([w])
    graph = tf.function(lambda g: opt.apply_gradients([(g, w)])).get_concrete_function(
        tf.TensorSpec((3,), tf.float32)
    ).graph
    ops = {op.type for op in graph.get_operations()}
    assert "ResourceApplyAdam" in ops
    assert "AssignSubVariableOp" not in ops  # no per-op Keras update left


def test_falls_back_to_keras_for_amsgrad_and_sparse_gradients():
    w0, grads = _problem(1)
    kw = dict(learning_rate=1e-2, amsgrad=True)
    np.testing.assert_allclose(
        _run(lambda: FusedAdam(**kw), w0, grads), _run(lambda: keras.optimizers.Adam(**kw), w0, grads), rtol=1e-6, atol=1e-7
    )
    # an Embedding's gradient is tf.IndexedSlices
    emb_f, emb_k = keras.layers.Embedding(5, 2), keras.layers.Embedding(5, 2)
    emb_f.build(), emb_k.build()
    emb_k.embeddings.assign(emb_f.embeddings)
    for layer, opt in ((emb_f, FusedAdam(1e-1)), (emb_k, keras.optimizers.Adam(1e-1))):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant([1, 3, 3])) ** 2)
        (grad,) = tape.gradient(loss, layer.trainable_variables)
        assert isinstance(grad, tf.IndexedSlices)
        opt.apply_gradients([(grad, layer.embeddings)])
    np.testing.assert_allclose(emb_f.embeddings.numpy(), emb_k.embeddings.numpy(), rtol=1e-6)


def _fit_regression(make_opt, strategy):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=make_opt(), loss="mse")
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=3, verbose=0, shuffle=False)
    return [w.numpy() for w in model.weights]


def test_mirrored_strategy_equals_one_device_and_keras():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    mirrored = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    one = tf.distribute.get_strategy()
    got = _fit_regression(lambda: FusedAdam(1e-2), mirrored)
    for want in (_fit_regression(lambda: FusedAdam(1e-2), one), _fit_regression(lambda: keras.optimizers.Adam(1e-2), mirrored)):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_loss_scaling_and_serialization(tmp_path):
    w0, grads = _problem(3)
    def scaled():
        return keras.optimizers.LossScaleOptimizer(FusedAdam(1e-2))

    def plain():
        return keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2))

    np.testing.assert_allclose(_run(scaled, w0, grads), _run(plain, w0, grads), rtol=1e-5, atol=1e-6)
    opt = FusedAdam(learning_rate=3e-4, beta_1=0.5)
    back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(opt))
    assert type(back) is FusedAdam and back.get_config() == opt.get_config()


_TORCH_CHECK = r"""
import json, sys
import numpy as np
import keras
from keras_gan.optimizers import FusedAdam

problem = json.loads(sys.argv[1])
def run(make_opt, count=None):
    ws = [keras.Variable(np.array(w0, "float32")) for w0 in problem["w0"]]
    opt = make_opt()
    opt.build(ws)
    calls = [0]
    plain = opt.update_step
    def counting(*args):
        calls[0] += 1
        return plain(*args)
    opt.update_step = counting
    for gs in problem["grads"]:
        opt.apply([keras.ops.convert_to_tensor(np.array(g, "float32")) for g in gs], ws)
    return [keras.ops.convert_to_numpy(w).tolist() for w in ws], calls[0]
kw = dict(learning_rate=1e-2, beta_1=0.5, beta_2=0.999, epsilon=1e-7)
fused, fused_calls = run(lambda: FusedAdam(**kw))
keras_adam, _ = run(lambda: keras.optimizers.Adam(**kw))
ams, _ = run(lambda: FusedAdam(amsgrad=True, **kw))
keras_ams, _ = run(lambda: keras.optimizers.Adam(amsgrad=True, **kw))
print(json.dumps(dict(fused=fused, fused_calls=fused_calls, keras=keras_adam, ams=ams, keras_ams=keras_ams,
                      backend=keras.backend.backend())))
"""


def test_torch_backend_updates_all_variables_together_with_keras_rule():
    """On torch, FusedAdam takes Keras' multi-tensor path (no per-variable update_step) with Adam's numbers."""
    import json
    import os
    import subprocess
    import sys

    import pytest

    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w0 = [rng.normal(size=(4, 3)), rng.normal(size=(5,))]
    grads = [[rng.normal(size=w.shape) for w in w0] for _ in range(6)]
    problem = json.dumps({"w0": [w.tolist() for w in w0], "grads": [[g.tolist() for g in gs] for gs in grads]})
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _TORCH_CHECK, problem], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["backend"] == "torch"
    assert got["fused_calls"] == 0  # the multi-tensor path, not Keras' per-variable update_step
    for i, w in enumerate(w0):
        want = _numpy_adam(w.astype("float32"), [np.float32(gs[i]) for gs in grads], 1e-2, 0.5, 0.999, 1e-7)
        np.testing.assert_allclose(got["fused"][i], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["fused"][i], got["keras"][i], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["ams"][i], got["keras_ams"][i], rtol=1e-6, atol=1e-7)
        assert np.abs(np.asarray(got["fused"][i]) - w).max() > 1e-2  # it moved
