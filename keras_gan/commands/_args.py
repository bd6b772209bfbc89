"""Argument types shared by the commands: a bad value is argparse's one line (exit 2) naming what is allowed."""

import argparse

from keras_gan.config import MAX_SEED


def seed(text):
    """A ``--seed`` value: an integer in ``[0, 2**32 - 1]``, the range ``train.seed`` and NumPy accept."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; expected a seed in [0, {MAX_SEED}].") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is out of range; expected a seed in [0, {MAX_SEED}].")
    return value
