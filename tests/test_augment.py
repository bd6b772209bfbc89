"""DiffAugment and ADA (keras_gan.augment): numpy references, gradients, seeds, policies, the p controller."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_gan import augment, config
from keras_gan.errors import UsageError


def _images(n=6, size=8, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype(np.float32)


def _np_shift(img, ty, tx, reflect=False):
    """out[i, j] = img[i - ty, j - tx]; zero (or numpy 'reflect') outside."""
    h, w = img.shape[:2]
    pad = max(h, w)
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect" if reflect else "constant")
    return padded[pad - ty : pad - ty + h, pad - tx : pad - tx + w]


@pytest.mark.parametrize("reflect", [False, True])
def test_translate_matches_numpy(reflect):
    x = _images(4)
    ty, tx = np.array([0, 1, -2, 3]), np.array([2, -1, 0, -3])
    got = ops.convert_to_numpy(augment.translate(x, ty, tx, reflect=reflect))
    for i in range(4):
        np.testing.assert_allclose(got[i], _np_shift(x[i], ty[i], tx[i], reflect), atol=1e-6)


def test_cutout_and_color_match_numpy():
    x = _images(3)
    got = ops.convert_to_numpy(augment.cutout(x, np.array([0, 4, 7]), np.array([3, 4, 8]), 4, 4))
    for i, (cy, cx) in enumerate([(0, 3), (4, 4), (7, 8)]):
        expected = x[i].copy()
        expected[max(cy - 2, 0) : cy + 2, max(cx - 2, 0) : cx + 2] = 0.0
        np.testing.assert_array_equal(got[i], expected)
    f = np.array([0.5, 1.0, 2.0], np.float32)
    np.testing.assert_allclose(ops.convert_to_numpy(augment.adjust_brightness(x, f)), x + f[:, None, None, None])
    m = x.mean(-1, keepdims=True)
    np.testing.assert_allclose(ops.convert_to_numpy(augment.adjust_saturation(x, f)),
                               (x - m) * f[:, None, None, None] + m, atol=1e-6)
    m = x.mean((1, 2, 3), keepdims=True)
    np.testing.assert_allclose(ops.convert_to_numpy(augment.adjust_contrast(x, f)),
                               (x - m) * f[:, None, None, None] + m, atol=1e-6)


def test_diffaugment_translation_and_cutout_draws_are_in_the_papers_ranges():
    x = _images(32)
    moved = ops.convert_to_numpy(augment.diff_augment(x, "translation", seed=5))
    shifts = set()
    for i in range(len(x)):  # each image is x shifted by (ty, tx) in {-1, 0, 1}^2 (1/8 of 8, rounded)
        match = [(ty, tx) for ty in (-1, 0, 1) for tx in (-1, 0, 1) if np.allclose(moved[i], _np_shift(x[i], ty, tx))]
        assert len(match) == 1
        shifts.add(match[0])
    assert len(shifts) >= 5
    cut = ops.convert_to_numpy(augment.diff_augment(x, "cutout", seed=5))
    zeroed = cut == 0.0
    for i in range(len(x)):
        np.testing.assert_array_equal(cut[i][~zeroed[i]], x[i][~zeroed[i]])
        rows, cols = np.flatnonzero(zeroed[i].any((1, 2))), np.flatnonzero(zeroed[i].any((0, 2)))
        assert 2 <= len(rows) <= 4 and 2 <= len(cols) <= 4  # a 4x4 square, clipped at the border
        assert zeroed[i].sum() == len(rows) * len(cols) * 3


def test_seeds_same_tensor_same_augmentation_generator_advances():
    x = _images()
    gen = keras.random.SeedGenerator(3)
    s = gen.next()
    a = ops.convert_to_numpy(augment.diff_augment(x, None, s))
    b = ops.convert_to_numpy(augment.diff_augment(x, None, s))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ops.convert_to_numpy(augment.diff_augment(x, None, 11)),
                                  ops.convert_to_numpy(augment.diff_augment(x, None, 11)))
    c = ops.convert_to_numpy(augment.diff_augment(x, None, gen))
    d = ops.convert_to_numpy(augment.diff_augment(x, None, gen))
    assert not np.allclose(a, c) and not np.allclose(c, d)
    # One seed, real and fake: the same transformation (translation + cutout are linear: T(x + y) = T(x) + T(y)).
    y = _images(seed=1)
    t = lambda z: ops.convert_to_numpy(augment.diff_augment(z, "translation,cutout", s))  # noqa: E731
    np.testing.assert_allclose(t(x + y), t(x) + t(y), atol=1e-5)


@pytest.mark.parametrize("fn", [
    lambda x: augment.diff_augment(x, "translation,cutout,color", seed=1),
    lambda x: augment.diff_augment(x, "color", seed=1),
    lambda x: augment.ada_augment(x, 1.0, seed=1),
    lambda x: augment.ada_augment(x[..., :1], 1.0, seed=1),
], ids=["diffaugment", "diffaugment-color", "ada-rgb", "ada-gray"])
def test_augmentation_is_differentiable(fn):
    x = tf.constant(_images())
    w = tf.constant(_images(seed=9)[..., : 1 if fn(x).shape[-1] == 1 else 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(fn(x) * w)
    grad = tape.gradient(loss, x).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_gradient_of_a_linear_augmentation_is_its_adjoint():
    """For fixed draws, translation and cutout are linear maps T: <T x, w> = <x, grad_x <T x, w>>."""
    x, w = tf.constant(_images()), tf.constant(_images(seed=2))
    fn = lambda z: augment.diff_augment(z, "translation,cutout", seed=4)  # noqa: E731
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(fn(x) * w)
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(float(loss), float(np.sum(x.numpy() * grad)), rtol=1e-5)
    # The gradient of each output pixel is one input pixel (or none): entries are 0 or a w value.
    assert set(np.round(np.abs(grad).ravel(), 5)) <= set(np.round(np.abs(w.numpy()).ravel(), 5)) | {0.0}


def test_tf_function_with_a_seed_tensor_matches_eager():
    x = _images()
    seed = tf.constant([7, 0], tf.int64)
    traced = tf.function(lambda z, s: augment.diff_augment(z, None, s))
    np.testing.assert_allclose(traced(x, seed).numpy(), ops.convert_to_numpy(augment.diff_augment(x, None, seed)),
                               atol=1e-6)
    traced_ada = tf.function(lambda z, s: augment.ada_augment(z, 0.5, s))
    np.testing.assert_allclose(traced_ada(x, seed).numpy(), ops.convert_to_numpy(augment.ada_augment(x, 0.5, seed)),
                               atol=1e-5)


def test_off_is_identity_and_ada_at_p0_changes_nothing():
    x = _images()
    assert augment.apply(None, x) is x
    assert augment.from_config(config.from_dict({}).train) is None
    np.testing.assert_allclose(ops.convert_to_numpy(augment.ada_augment(x, 0.0, seed=3)), x, atol=1e-6)
    assert not np.allclose(ops.convert_to_numpy(augment.ada_augment(x, 1.0, seed=3)), x, atol=1e-2)


def test_ada_transformations_at_p1():
    x = _images(64, channels=3)
    out = ops.convert_to_numpy(augment.ada_augment(x, 1.0, seed=0, policy="blit"))
    # Blit only moves pixels: every output image is a permutation/reflection of its input's values.
    for i in range(8):
        assert set(np.round(out[i].ravel(), 5)) <= set(np.round(x[i].ravel(), 5))
    hue = ops.convert_to_numpy(augment.ada_augment(x, 1.0, seed=0, policy="color"))
    assert np.isfinite(hue).all() and not np.allclose(hue, x)


@pytest.mark.parametrize(
    "mode, policy, message",
    [
        ("diffaugment", "translation,zoom", "unknown augmentation 'zoom' for diffaugment; allowed: color, translation, cutout"),
        ("diffaugment", "color,,cutout", "has an empty name"),
        ("diffaugment", "", "has an empty name"),
        ("diffaugment", "color,color", "names an augmentation twice"),
        ("ada", "cutout", "unknown augmentation 'cutout' for ada; allowed: blit, color"),
        ("mixup", None, "train.augment = 'mixup' is not allowed"),
    ],
)
def test_policy_errors(mode, policy, message):
    with pytest.raises(UsageError, match=message):
        augment.parse_policy(policy, mode)
    assert augment.parse_policy("cutout, translation") == ("cutout", "translation")
    assert augment.parse_policy(None, "ada") == ("blit", "color")


def test_config_keys():
    cfg = config.from_dict({"train": {"augment": "diffaugment", "augment_policy": "translation,cutout"}})
    layer = augment.from_config(cfg.train)
    assert isinstance(layer, augment.DiffAugment) and layer.policy == "translation,cutout"
    ada = augment.from_config(config.from_dict({"train": {"augment": "ada", "ada_target": 0.5}}).train)
    assert isinstance(ada, augment.AdaptiveAugment) and ada.target == 0.5 and ada.kimg == 500.0
    for raw, message in [
        ({"train": {"augment": "cutmix"}}, "train.augment = 'cutmix' is not allowed; expected one of diffaugment, ada"),
        ({"train": {"augment_policy": "color"}}, "needs train.augment"),
        ({"train": {"augment": "ada", "augment_policy": "translation"}}, "unknown augmentation 'translation' for ada"),
        ({"train": {"augment": "ada", "ada_target": 1.5}}, "ada_target = 1.5 is out of range"),
        ({"train": {"ada_kimg": 0}}, "ada_kimg = 0.0 is out of range"),
    ]:
        with pytest.raises(UsageError, match=message):
            config.from_dict(raw)


def _reference_controller(batches, target, kimg, interval):
    """numpy: p after each step, ADA's rule (stylegan2-ada training_loop: adjust every `interval` steps)."""
    p, signs, n, out = 0.0, 0.0, 0, []
    for step, logits in enumerate(batches, 1):
        signs += np.sign(logits).sum()
        n += len(logits)
        if step % interval == 0:
            p = float(np.clip(p + np.sign(signs / n - target) * n / (kimg * 1000), 0.0, 1.0))
            signs, n = 0.0, 0
        out.append(p)
    return out


def test_ada_controller_matches_the_papers_rule():
    rng = np.random.default_rng(0)
    # An overfitting D (real logits nearly all positive, r_t ~ 0.95 > 0.6), then one near chance (r_t ~ 0.2).
    batches = [rng.normal(2.0, 1.0, 16) for _ in range(40)] + [rng.normal(-0.3, 1.0, 16) for _ in range(40)]
    layer = augment.AdaptiveAugment(target=0.6, kimg=1.0, interval=4)
    got = [float(ops.convert_to_numpy(layer.update(b.astype(np.float32)))) for b in batches]
    expected = _reference_controller(batches, 0.6, 1.0, 4)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # p moves only every 4th step, by 4 * 16 images / 1000 each time.
    assert got[:4] == pytest.approx([0, 0, 0, 0.064]) and got[39] == pytest.approx(10 * 0.064)
    assert got[-1] < got[39]  # falls once it does not
    assert float(ops.convert_to_numpy(layer.p)) == pytest.approx(expected[-1])
    assert any(v is layer.p for v in layer.non_trainable_variables) and not layer.trainable_variables


def test_ada_p_settles_where_the_overfitting_heuristic_meets_the_target():
    """A simulated D whose r_t falls as augmentation rises: r_t = 0.95 - p; p must settle near 0.35."""
    rng = np.random.default_rng(1)
    layer = augment.AdaptiveAugment(target=0.6, kimg=12.8, interval=4)  # steps of 4 * 64 / 12800 = 0.02
    history = []
    for _ in range(400):
        p = float(ops.convert_to_numpy(layer.p))
        positive = rng.uniform(size=64) < (1 + (0.95 - p)) / 2  # E[sign] = 0.95 - p
        history.append(float(ops.convert_to_numpy(layer.update(np.where(positive, 1.0, -1.0).astype(np.float32)))))
    tail = np.array(history[200:])
    assert abs(tail.mean() - 0.35) < 0.1 and tail.min() > 0.1


def test_layers_serialize():
    for layer in (augment.DiffAugment("color,cutout", seed=3), augment.AdaptiveAugment(0.5, 100.0, policy="blit")):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        x = _images()
        assert ops.convert_to_numpy(clone(x, seed=1)).shape == x.shape
    with pytest.raises(ValueError, match="target must be in"):
        augment.AdaptiveAugment(target=2.0)


_OTHER_BACKEND = textwrap.dedent(
    """
    import numpy as np, keras
    from keras import ops
    from keras_gan import augment
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    seed = keras.random.SeedGenerator(2).next()
    for f in (lambda z, s: augment.diff_augment(z, None, s), lambda z, s: augment.ada_augment(z, 0.7, s)):
        a = ops.convert_to_numpy(f(x, seed))
        assert a.shape == x.shape and np.isfinite(a).all() and not np.allclose(a, x)
        assert np.array_equal(a, ops.convert_to_numpy(f(x, seed)))
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        jitted = jax.jit(lambda z, s: augment.diff_augment(z, None, s))
        np.testing.assert_allclose(jitted(x, seed), augment.diff_augment(x, None, seed), atol=1e-5)
        grad = jax.grad(lambda z: (augment.diff_augment(z, None, seed) * x).sum())(x)
        ada_grad = jax.grad(lambda z: (augment.ada_augment(z, 1.0, seed) * x).sum())(x)
        # The controller inside a jitted stateless step (how a JAX train_step threads state).
        ada = augment.AdaptiveAugment(kimg=0.016, interval=1)

        def step(values, logits, z):
            with keras.StatelessScope(state_mapping=list(zip(ada.variables, values))) as scope:
                out = ada(z, seed=seed)
                ada.update(logits)
            return out, [scope.get_current_value(v) for v in ada.variables]

        out, values = jax.jit(step)([v.value for v in ada.variables], np.ones(16, "float32"), x)
        assert abs(float(values[[v.name for v in ada.variables].index("p")]) - 1.0) < 1e-6
        np.testing.assert_allclose(out, x, atol=1e-6)  # p was 0 during this step's augmentation
    else:
        import torch
        z = torch.tensor(x, requires_grad=True)
        (augment.diff_augment(z, None, seed) * torch.tensor(x)).sum().backward()
        grad = z.grad.numpy()
        z = torch.tensor(x, requires_grad=True)
        (augment.ada_augment(z, 1.0, seed) * torch.tensor(x)).sum().backward()
        ada_grad = z.grad.numpy()
    for g in (np.asarray(grad), np.asarray(ada_grad)):
        assert np.isfinite(g).all() and np.abs(g).sum() > 0
    layer = augment.AdaptiveAugment(kimg=0.016, interval=1)
    p = float(ops.convert_to_numpy(layer.update(np.ones(16, "float32"))))
    assert abs(p - 1.0) < 1e-6, p
    print("ok", backend)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_runs_on_other_backends(backend):
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", _OTHER_BACKEND], env=env, capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ok {backend}" in done.stdout
