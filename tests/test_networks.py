import keras
import numpy as np
import pytest

from keras_gan import networks


@pytest.mark.parametrize(
    "shape,ups,base",
    [((8, 8, 1), 2, 8), ((28, 28, 1), None, 8), ((32, 32, 3), None, 8), ((64, 64, 3), None, 4)],
)
def test_dcgan_shapes_and_range(shape, ups, base):
    g = networks.dcgan_generator(shape, latent_dim=10, base_filters=base, num_upsamplings=ups)
    d = networks.dcgan_discriminator(shape, base_filters=base, num_upsamplings=ups)
    z = np.random.default_rng(0).uniform(-1, 1, (3, 10)).astype("float32") * 50  # saturate tanh
    x = g(z, training=False).numpy()
    assert x.shape == (3,) + shape
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert d(x).shape == (3, 1)


def test_figure_13_9_layout():
    """64x64x3, base 128: z(100) -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3."""
    g = networks.dcgan_generator((64, 64, 3), latent_dim=100, base_filters=128)
    shapes = [l.output.shape[1:] for l in g.layers if l.name.startswith(("reshape", "deconv")) and "_" not in l.name]
    assert shapes == [(4, 4, 1024), (8, 8, 512), (16, 16, 256), (32, 32, 128), (64, 64, 3)]
    deconvs = [l for l in g.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert len(deconvs) == 4
    assert all(l.kernel_size == (5, 5) and l.strides == (2, 2) for l in deconvs)
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in g.layers) == 4  # none at the output
    assert g.layers[-1].activation.__name__ == "tanh"
    d = networks.dcgan_discriminator((64, 64, 3), base_filters=128)
    convs = [l for l in d.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [128, 256, 512, 1024]
    assert all(c.strides == (2, 2) for c in convs)
    assert not any("Pool" in type(l).__name__ for l in d.layers)
    lrelu = [l for l in d.layers if type(l).__name__ == "LeakyReLU"]
    assert len(lrelu) == 4 and all(abs(l.negative_slope - 0.2) < 1e-7 for l in lrelu)
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in d.layers) == 3  # not after the first conv


def test_weights_start_from_normal_0_02():
    g = networks.dcgan_generator((32, 32, 3), latent_dim=100, base_filters=32)
    kernel = g.get_layer("deconv1").kernel.numpy()
    assert abs(kernel.mean()) < 2e-3
    assert kernel.std() == pytest.approx(0.02, rel=0.05)


def test_layout_errors_name_the_value():
    with pytest.raises(ValueError, match=r"\(8, 6, 1\)"):
        networks.dcgan_layout((8, 6, 1))
    with pytest.raises(ValueError, match="num_upsamplings=3"):
        networks.dcgan_layout((28, 28, 1), num_upsamplings=3)
    assert networks.dcgan_layout((28, 28, 1)) == (7, 2)
    assert networks.dcgan_layout((64, 64, 3)) == (4, 4)


def test_mlp_players():
    g = networks.mlp_generator(data_dim=2, latent_dim=3)
    d = networks.mlp_discriminator(data_dim=2)
    assert g(np.zeros((5, 3), "float32")).shape == (5, 2)
    assert d(np.zeros((5, 2), "float32")).shape == (5, 1)


def test_discriminator_width_is_its_own_and_g_is_unchanged():
    # model.discriminator_filters = d: D's convolutions have d, 2d, ... channels; G is the same network as
    # without it, and the config passes the key through to the model it builds.
    from keras_gan import config
    from keras_gan.errors import UsageError
    from keras_gan.training import runs

    def kernels(net):
        return [tuple(w.shape) for w in net.weights if len(w.shape) == 4]

    for size, ups, base, d in ((8, 2, 64, 32), (8, 2, 64, 16), (32, 3, 8, 12)):
        cfg = config.apply_overrides(config.load("dcgan_digits"), [
            f"model.base_filters={base}", f"model.num_upsamplings={ups}", f"model.discriminator_filters={d}",
            f"data.image_size={size}"])
        narrow = runs.build_model(cfg, (size, size, 1))
        mirror = runs.build_model(config.apply_overrides(cfg, ["model.discriminator_filters=null"]), (size, size, 1))
        assert kernels(narrow.discriminator) == [(5, 5, 1 if i == 0 else d * 2 ** (i - 1), d * 2**i)
                                                 for i in range(ups)]
        assert kernels(mirror.discriminator) == [(5, 5, 1 if i == 0 else base * 2 ** (i - 1), base * 2**i)
                                                 for i in range(ups)]
        assert kernels(narrow.generator) == kernels(mirror.generator)
        x = np.zeros((3, size, size, 1), "float32")
        assert tuple(narrow.discriminator(x).shape) == (3, 1)
    with pytest.raises(UsageError, match="model.discriminator_filters = 32 sets the DCGAN's discriminator"):
        config.apply_overrides(config.load("gan_ring8"), ["model.discriminator_filters=32"])
