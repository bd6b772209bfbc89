"""Test setup: two logical CPUs for tf.distribute tests (TensorFlow backend), a private tfds data dir.

The suite runs on TensorFlow; ``tests/test_portable.py`` also runs on JAX and torch (``tests/test_backends.py``
starts it under each in a subprocess).
"""

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Convolution forms by the fixed rule, not by timing: every test process takes the same forms, so runs in
# different processes (resume, multi-worker) compute the same sums bit for bit (keras_gan/kernels/_tf.py).
os.environ.setdefault("KERAS_GAN_CONV_FORMS", "static")
os.environ.setdefault("KERAS_GAN_DATA_DIR", os.path.join(tempfile.gettempdir(), "keras_gan_test_data"))

if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf  # noqa: E402

    # Must run before any tensor exists: split the CPU into two logical devices so
    # MirroredStrategy has two replicas (DESIGN.md, "tf.distribute on a CPU").
    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

import pytest  # noqa: E402


@pytest.fixture
def tiny_config():
    """A config that trains the DCGAN on digits in seconds."""
    from keras_gan import config

    return config.from_dict(
        {
            "data": {"batch_size": 32},
            "model": {"base_filters": 8, "latent_dim": 16},
            "train": {"epochs": 2, "num_sample_images": 16},
        }
    )
