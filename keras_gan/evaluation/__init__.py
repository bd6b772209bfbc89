"""Evaluation: how good a generator is, and the pictures that show it.

* :mod:`~keras_gan.evaluation.features`: feature extractors (InceptionV3, the digits and MNIST classifiers
  trained here) and their on-disk cache;
* :mod:`~keras_gan.evaluation.metrics`: FID, KID, precision/recall, mode coverage, ``evaluate``;
* :mod:`~keras_gan.evaluation.images`: image grids and their PNG files.

Below :mod:`keras_gan.training` (whose callbacks draw grids) and above :mod:`keras_gan.data` and
:mod:`keras_gan.models`. The old names ``keras_gan.metrics``, ``keras_gan.features`` and ``keras_gan.images``
still import these modules.
"""
