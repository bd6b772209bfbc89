"""keras_gan.models._direct: a functional model's layers called directly on torch equal ``model(x)`` bit for bit.

The eager torch step runs the players through :func:`keras_gan.models._backend.apply`, which skips Keras'
``Layer.__call__`` per layer. Compared with ``model(x, training=...)`` on fresh copies of the same weights:
outputs, gradients of every trainable weight and the input, and the batch-norm moving statistics written,
for the DCGAN players (plain, conditional, spectral norm, packed), the MLP players, in float32 and mixed
bfloat16, training and inference (in float32 the DCGAN players' layers all run by their torch ops directly);
and one whole ``train_step`` through each path. torch runs in a subprocess
(it cannot share a process with TensorFlow here).
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_WORKER = r"""
import json, sys
import numpy as np
import keras, torch
from keras_gan import models, networks
from keras_gan.models import _backend, _direct

report = {}


def arrays(tensors):
    return [np.asarray(t.detach().float().cpu().numpy(), np.float64) for t in tensors]


def run(build, make_inputs, training, path):
    keras.utils.set_random_seed(0)
    model = build()
    inputs = make_inputs()
    x0 = inputs[0] if isinstance(inputs, list) else inputs
    x0 = x0.clone().requires_grad_(True) if x0.dtype.is_floating_point else x0
    inputs = [x0] + inputs[1:] if isinstance(inputs, list) else x0
    out = model(inputs, training=training) if path == "keras" else _direct.call(model, inputs, training)
    params = [v.value for v in model.trainable_variables]
    wrt = params + ([x0] if x0.requires_grad else [])
    grads = torch.autograd.grad((out.float() ** 2).sum(), wrt, allow_unused=True)
    grads = [g if g is not None else torch.zeros(()) for g in grads]
    stats = [v.value for v in model.non_trainable_variables]
    return arrays([out]) + arrays(grads) + arrays(stats), str(out.dtype), model


def compare(name, build, make_inputs):
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_dtype_policy(policy)
        for training in (True, False):
            want, want_dtype, model = run(build, make_inputs, training, "keras")
            got, got_dtype, _ = run(build, make_inputs, training, "direct")
            diff = max(float(np.abs(a - b).max()) if a.size else 0.0 for a, b in zip(want, got))
            report[f"{name}|{policy}|{'train' if training else 'infer'}"] = {
                "max_abs_diff": diff, "arrays": len(want), "dtypes": [want_dtype, got_dtype],
                "planned": _direct._plan(model) is not None,
                "scale": max(float(np.abs(a).max()) if a.size else 0.0 for a in want)}
    keras.mixed_precision.set_dtype_policy("float32")


def images(n=6, size=8, channels=1):
    return lambda: torch.tensor(np.random.default_rng(1).uniform(-1, 1, (n, size, size, channels)), dtype=torch.float32)


def noise(n=6, dim=16):
    return lambda: torch.tensor(np.random.default_rng(2).standard_normal((n, dim)), dtype=torch.float32)


labels = lambda: torch.tensor([0, 1, 2, 0, 1, 2], dtype=torch.int32)
compare("dcgan_g", lambda: networks.dcgan_generator((8, 8, 1), latent_dim=16, base_filters=8), noise())
compare("dcgan_d", lambda: networks.dcgan_discriminator((8, 8, 1), base_filters=8), images())
compare("dcgan_g_cond", lambda: networks.dcgan_generator((8, 8, 1), latent_dim=16, base_filters=8, num_classes=3),
        lambda: [noise()(), labels()])
compare("dcgan_d_cond_sn", lambda: networks.dcgan_discriminator((8, 8, 1), base_filters=8, num_classes=3,
                                                                spectral_norm=True),
        lambda: [images()(), labels()])
compare("dcgan_d_packed", lambda: networks.dcgan_discriminator((8, 8, 1), base_filters=8, num_packed=2), images())
compare("mlp_g", lambda: networks.mlp_generator(data_dim=2, latent_dim=2), noise(dim=2))
compare("mlp_d", lambda: networks.mlp_discriminator(data_dim=2), noise(dim=2))

# which layers of the float32 DCGAN players (the digits shape) run by their torch ops directly
for name, build in (("g", lambda: networks.dcgan_generator((8, 8, 1), latent_dim=16, base_filters=8,
                                                           num_upsamplings=2)),
                    ("d", lambda: networks.dcgan_discriminator((8, 8, 1), base_filters=8, num_upsamplings=2))):
    plan = _direct._plan(build())
    report[f"direct_{name}"] = [[type(step[0]).__name__, step[-1] is not None] for step in plan["steps"]]

# the trackers' torch path against keras.metrics.Mean's own update_state and result
fast, plain = keras.metrics.Mean(name="a"), keras.metrics.Mean(name="b")
for values in (torch.tensor(0.3), torch.tensor([0.1, 0.7, 0.25]), torch.tensor(2.5, dtype=torch.bfloat16)):
    _backend.update_mean(fast, values)
    plain.update_state(values)
report["mean"] = {"fast": [float(fast.total.value), float(fast.count.value), float(_backend.mean_result(fast))],
                  "keras": [float(plain.total.value), float(plain.count.value), float(plain.result())],
                  "empty": float(_backend.mean_result(keras.metrics.Mean()))}

# the generator's moving average on torch: the rule for trainable weights, copies for the batch-norm statistics
keras.utils.set_random_seed(0)
ema_model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8, num_upsamplings=2, ema_decay=0.75)
ema_model.compile(d_steps=1, jit_compile=False)
ema0 = [v.numpy().copy() for v in ema_model.ema_generator.weights]
ema_model.train_step(torch.tensor(np.random.default_rng(4).uniform(-1, 1, (8, 8, 8, 1)), dtype=torch.float32))
errors, copied, moved = [], [], []
for e0, e1, w in zip(ema0, ema_model.ema_generator.weights, ema_model.generator.weights):
    e1, w1 = e1.numpy(), w.numpy()
    if w.trainable:
        want = 0.75 * e0.astype(np.float64) + 0.25 * w1
        errors.append(float(np.abs(e1 - want).max() / (np.abs(want).max() + 1e-12)))
        moved.append(bool(np.abs(e1 - e0).max() > 0))
    else:
        copied.append(bool(np.array_equal(e1, w1)))
report["ema"] = {"errors": errors, "copied": copied, "moved": moved}
# FusedAdam's slots take their variable's memory layout (the re-strided kernels'), so the update's ops share one
opt = ema_model.d_optimizer
report["slot_layouts"] = [[list(v.value.stride()), list(opt._momentums[opt._get_variable_index(v)].value.stride()),
                           list(opt._velocities[opt._get_variable_index(v)].value.stride())]
                          for v in ema_model.discriminator.trainable_variables]

# a non-functional model takes the ordinary call
seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
report["sequential_planned"] = _direct._plan(seq) is not None
sub = keras.layers.Dense(2); sub.build((None, 3))
report["layer_falls_back"] = bool(np.allclose(arrays([_direct.call(sub, torch.ones(1, 3), True)])[0],
                                              arrays([sub(torch.ones(1, 3))])[0]))

# one whole train step through each path, from the same weights and data
def step(direct):
    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(8, 8, 1), latent_dim=16, base_filters=8)
    model.compile(d_steps=2, jit_compile=False)
    if not direct:
        _backend.apply = lambda m, x, t: m(x, training=t)
    real = torch.tensor(np.random.default_rng(3).uniform(-1, 1, (8, 8, 8, 1)), dtype=torch.float32)
    logs = model.train_step(real)
    return {k: float(v) for k, v in logs.items()}, [v.numpy() for v in model.weights]

direct_logs, direct_w = step(True)
keras_logs, keras_w = step(False)
report["step"] = {"logs_equal": direct_logs == keras_logs, "logs": direct_logs,
                  "weights_max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(direct_w, keras_w)),
                  "weights": len(direct_w)}
print("REPORT" + json.dumps(report))
"""


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", _WORKER], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT"):])


def _cases(report):
    return {k: v for k, v in report.items() if "|" in k}


def test_every_player_is_planned_and_bit_identical(report):
    cases = _cases(report)
    assert len(cases) == 7 * 2 * 2
    for name, r in cases.items():
        assert r["planned"], name
        assert r["arrays"] >= 3, name  # output, at least one gradient, and more
        assert r["scale"] > 0, name  # the comparison is not between zeros
        assert r["max_abs_diff"] == 0.0, (name, r)
        assert r["dtypes"][0] == r["dtypes"][1], (name, r["dtypes"])


def test_mixed_precision_runs_in_bfloat16(report):
    # the autocast the direct path opens is the one __call__ opens: the generator's last layer is float32
    assert report["dcgan_g|mixed_bfloat16|train"]["dtypes"] == ["torch.float32", "torch.float32"]


def test_float32_dcgan_layers_run_by_their_torch_ops(report):
    """Every layer of the float32 DCGAN players has a direct function (the cases above prove them bit-identical)."""
    for name in ("direct_g", "direct_d"):
        kinds = report[name]
        assert len(kinds) >= 6, kinds
        assert all(direct for _, direct in kinds), kinds
    assert {"Dense", "FastConv2DTranspose", "FusedBatchNormalization", "ReLU", "Reshape"} <= {
        k for k, _ in report["direct_g"]}
    assert {"FastConv2D", "FusedBatchNormalization", "LeakyReLU", "Flatten", "Dense"} <= {
        k for k, _ in report["direct_d"]}


def test_trackers_torch_path_equals_keras_mean(report):
    m = report["mean"]
    assert m["fast"] == m["keras"], m
    assert m["keras"][1] == 5.0 and abs(m["keras"][2] - (0.3 + 0.1 + 0.7 + 0.25 + 2.5) / 5) < 1e-6, m
    assert m["empty"] == 0.0


def test_generator_moving_average_follows_the_rule_on_torch(report):
    e = report["ema"]
    assert len(e["errors"]) >= 6 and max(e["errors"]) < 1e-6, e
    assert any(e["moved"]), e
    assert len(e["copied"]) >= 2 and all(e["copied"]), e


def test_optimizer_slots_share_their_variables_layout(report):
    layouts = report["slot_layouts"]
    assert all(var == m == v for var, m, v in layouts), layouts
    assert any(var[-1] != 1 for var, _, _ in layouts), layouts  # a re-strided kernel is among them


def test_models_it_cannot_plan_take_the_ordinary_call(report):
    assert report["sequential_planned"] is False  # Sequential wraps its functional model: the ordinary call
    assert report["layer_falls_back"] is True


def test_a_whole_train_step_is_identical(report):
    s = report["step"]
    assert s["logs_equal"], s
    assert s["weights"] > 10
    assert s["weights_max_abs_diff"] == 0.0, s
