import numpy as np
import pytest

from keras_gan import losses

REAL = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
FAKE = np.array([2.0, -1.5, 0.3, 0.0, -6.0], np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def test_minimax_discriminator_loss_is_cross_entropy():
    expected = -np.log(_sigmoid(REAL)) - np.log(1.0 - _sigmoid(FAKE))
    np.testing.assert_allclose(losses.minimax_discriminator_loss(REAL, FAKE).numpy(), expected, rtol=1e-5)


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = np.log(1.0 - _sigmoid(FAKE))
    np.testing.assert_allclose(losses.minimax_generator_loss(FAKE).numpy(), expected, rtol=1e-5)


def test_non_saturating_generator_loss_is_minus_log_d():
    expected = -np.log(_sigmoid(FAKE))
    np.testing.assert_allclose(losses.non_saturating_generator_loss(FAKE).numpy(), expected, rtol=1e-5)


def test_stable_for_extreme_logits():
    big = np.array([80.0, -80.0], np.float32)
    assert np.all(np.isfinite(losses.minimax_discriminator_loss(big, -big).numpy()))
    np.testing.assert_allclose(losses.non_saturating_generator_loss(big).numpy(), [0.0, 80.0], atol=1e-6)


def test_wasserstein_hinge_least_squares():
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss(REAL, FAKE).numpy(), FAKE - REAL, rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_generator_loss(FAKE).numpy(), -FAKE, rtol=1e-6)
    hinge = np.maximum(0, 1 - REAL) + np.maximum(0, 1 + FAKE)
    np.testing.assert_allclose(losses.hinge_discriminator_loss(REAL, FAKE).numpy(), hinge, rtol=1e-6)
    np.testing.assert_allclose(losses.hinge_generator_loss(FAKE).numpy(), -FAKE, rtol=1e-6)
    ls = 0.5 * (REAL - 1) ** 2 + 0.5 * FAKE**2
    np.testing.assert_allclose(losses.least_squares_discriminator_loss(REAL, FAKE).numpy(), ls, rtol=1e-6)
    np.testing.assert_allclose(losses.least_squares_generator_loss(FAKE).numpy(), 0.5 * (FAKE - 1) ** 2, rtol=1e-6)


def test_accepts_column_logits():
    out = losses.minimax_discriminator_loss(REAL[:, None], FAKE[:, None])
    assert out.shape == (5,)


def test_optimum_is_minus_two_log_two():
    # At D = 1/2 everywhere (logit 0) the value function is -2 log 2 (notes 6.3.4).
    value = -losses.minimax_discriminator_loss([0.0], [0.0]).numpy()[0]
    assert value == pytest.approx(-2 * np.log(2), abs=1e-6)


def test_get_unknown_name_lists_names():
    with pytest.raises(ValueError, match="Unknown loss 'wgan'.*non_saturating"):
        losses.get("wgan")
