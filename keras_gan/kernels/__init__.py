"""Backend kernels: the convolution and batch-norm forms that keras-gan's layers run on each Keras backend.

Internal (nothing here is public API); one module per backend, as Keras' own ``src/backend/<name>/``:

* ``_tf``: TensorFlow's stride-2 convolutions and transposed convolutions in the form timed fastest per shape
  on this machine (stock, sub-pixel, one matrix product over patches);
* ``_jax``: the JAX backend's custom-VJP transposed convolution and convolution (jax-ml/jax #31662) and their
  forms;
* ``_torch``: the torch backend's convolutions and batch norm on channels-last memory without layout copies;
* ``_forms``: what the TensorFlow and JAX choosers share (mode, padding arithmetic, the timed pick and its
  cache);
* ``_machine``: the CPU key that the cached choices are filed under.

The layers that call them are :mod:`keras_gan.networks`' ``FastConv2D``, ``FastConv2DTranspose`` and
``FusedBatchNormalization``; nothing here imports a layer above it.
"""
