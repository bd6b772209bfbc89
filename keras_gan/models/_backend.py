"""The per-backend part of the training step, and nothing else.

The step bodies of :class:`~keras_gan.models.AdversarialModel` and
:class:`~keras_gan.models.VAE` are written once, with ``keras.ops``; what
differs between the JAX, TensorFlow and PyTorch backends of Keras 3 is here:

* :func:`run_step`: how the backend's trainer calls ``train_step`` (JAX passes
  the whole state and wants it back; TensorFlow and torch update variables
  in place);
* :func:`value_and_grad`: a loss and its gradients with respect to a list of
  variables (``tf.GradientTape``; ``jax.value_and_grad`` of a pure function
  in a ``keras.StatelessScope``; ``torch.autograd.grad``);
* :func:`input_gradient`: the gradient of a scalar with respect to an input
  tensor, differentiable again (the WGAN-GP and R1 penalties);
* :func:`stateless_uniform`: counter-based random numbers, a pure function
  of a ``[2]`` integer seed (so noise is fresh every step, reproducible on
  resume, and never frozen at trace time);
* :func:`apply`: a player's forward pass (on torch, its layers' ``call`` run
  directly, :mod:`keras_gan.models._direct`: the eager step would otherwise pay
  Keras' per-layer ``__call__`` bookkeeping at every step);
* :func:`serialize_optimizer` / :func:`deserialize_optimizer`: optimizer configs that load on every backend
  (torch's built-in optimizers are subclasses in a torch-only module);
* :func:`ndtri`, :func:`replica_context`, :func:`no_grad`, :func:`check_batch`.

On JAX every function below that runs a model opens its own
``keras.StatelessScope`` mapping *all* variables given to it (nested scopes
do not fall back to the outer one), and hands writes made inside (batch-norm
statistics, spectral-norm vectors) back to the enclosing scope, so the
JAX step has the same side effects as the TensorFlow one.
"""

import contextlib

import keras


def backend():
    """The Keras backend name: ``"jax"``, ``"tensorflow"`` or ``"torch"``."""
    return keras.backend.backend()


# ----------------------------------------------------------------- the step
def apply(model, inputs, training):
    """``model(inputs, training=training)``; on torch, the same ops without ``Layer.__call__`` per layer.

    Args:
        model: a built functional ``keras.Model`` (the generator or the discriminator).
        inputs: its inputs.
        training: the ``training`` flag for its layers.

    Returns:
        The model's outputs (bit-identical to ``model(inputs, training=training)``).
    """
    if backend() == "torch":
        from keras_gan.models import _direct

        return _direct.call(model, inputs, training)
    return model(inputs, training=training)


def run_step(model, step, args, groups):
    """Calls ``step(data)`` the way this backend's trainer calls ``train_step``/``test_step``.

    Args:
        model: the ``keras.Model``.
        step: ``step(data) -> logs``, written with stateful variable updates.
        args: the arguments Keras passed: ``(data,)``, or ``(state, data)`` on JAX.
        groups: on JAX, the variable lists the state is made of, in order
            (``[trainable, non_trainable, optimizer, metrics]`` for training).

    Returns:
        ``logs`` (TensorFlow, torch), or ``(logs, new_state)`` (JAX).
    """
    if backend() != "jax":
        (data,) = args
        logs = step(data)
        if backend() == "tensorflow":
            from keras_gan.models import _keras_compat

            logs = _keras_compat.step_logs(model.distribute_strategy, logs)
        return logs
    state, data = args
    mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = tuple([scope.get_current_value(v) for v in group] for group in groups)
    return logs, new_state


def jit_compile(value):
    """``jit_compile`` for ``Model.compile``: ``value`` if given, else this backend's default.

    JAX: ``True`` (an unjitted JAX step runs op by op). TensorFlow: ``False``
    (XLA made the DCGAN step's transposed convolutions slower on CPU; README).
    torch: ``False`` (``torch.compile`` is opt-in).
    """
    return (backend() == "jax") if value is None else bool(value)


def steps_per_execution(value):
    """``steps_per_execution`` as this backend runs it: ``value``, except 1 on torch.

    Keras' torch trainer runs one step per call (it raises for more); a config or a checkpoint written on
    another backend may ask for more.

    Example:

    >>> steps_per_execution(22) == (1 if backend() == "torch" else 22)
    True
    """
    return 1 if backend() == "torch" else int(value)


def apply_gradients(optimizer, grads, variables):
    """``optimizer.apply(grads, variables)``; on JAX a ``LossScaleOptimizer`` goes through ``stateless_apply``.

    Its ``apply`` updates its own variables inside ``ops.cond`` branches, which under the JAX trainer's trace
    leaked tracers (``mixed_float16`` on JAX ended in ``UnexpectedTracerError``); ``stateless_apply`` is the
    form Keras' own JAX trainer uses, and its results are assigned back into the enclosing scope.
    """
    if backend() == "jax" and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        new_vars, new_opt = optimizer.stateless_apply([v.value for v in optimizer.variables], grads,
                                                      [v.value for v in variables])
        for v, value in zip(list(variables) + list(optimizer.variables), list(new_vars) + list(new_opt)):
            v.assign(value)
        return
    optimizer.apply(grads, variables)


def loss_scale(optimizer):
    """The factor ``optimizer.scale_loss`` multiplies a loss by (``LossScaleOptimizer``'s dynamic scale under
    ``mixed_float16``, else 1), read where it is called.

    Read before a loss function runs under :func:`value_and_grad`, not inside it: on JAX the loss runs in a
    ``keras.StatelessScope`` that maps the model's variables only, and the loss-scale variable read there had
    no value (``mixed_float16`` on JAX ended in "'NoneType' object is not callable"). ``scale_loss`` is a
    product with one scalar in Keras, so ``loss * loss_scale(opt)`` equals ``opt.scale_loss(loss)``.
    """
    return optimizer.scale_loss(keras.ops.ones((), "float32"))


def serialize_optimizer(optimizer):
    """An optimizer's Keras config that loads on every backend (for ``get_compile_config``).

    Keras' torch backend swaps its built-in optimizers for subclasses in ``keras.src.backend.torch.optimizers``,
    and ``keras.saving.serialize_keras_object`` records that module: a checkpoint trained on torch then
    imported torch wherever it was loaded (after TensorFlow: a segfault in ``triton``; measured with a WGAN's
    RMSprop). The built-in's public module is recorded instead; every backend maps it back to its own class.

    Example:

    >>> serialize_optimizer(keras.optimizers.RMSprop(1e-3))["module"]
    'keras.optimizers'
    """
    return _portable_optimizer_config(keras.saving.serialize_keras_object(optimizer))


def _portable_optimizer_config(config):
    """``config`` with a backend-specific Keras optimizer module replaced by ``keras.optimizers`` (also for
    checkpoints written before :func:`serialize_optimizer`)."""
    if isinstance(config, dict) and str(config.get("module", "")).startswith("keras.src.backend."):
        config = dict(config, module="keras.optimizers", registered_name=None)
    return config


def deserialize_optimizer(config):
    """The optimizer of a config written by :func:`serialize_optimizer` or, before it, by Keras itself."""
    return keras.saving.deserialize_keras_object(_portable_optimizer_config(config))


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _jax_pure(fn, traced, others):
    """``fn`` as a pure function of the traced variables' values; returns (output, others' new values)."""

    def pure(traced_values, other_values, *args):
        mapping = list(zip(traced, traced_values)) + list(zip(others, other_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            out = fn(*args)
        return out, [scope.get_current_value(v) for v in others]

    return pure


def _resolve(variables):
    return variables() if callable(variables) else variables


def counter_dtype():
    """The integer dtype of noise counters: int64 on TensorFlow (its optimizer step counter), else int32."""
    return "int64" if backend() == "tensorflow" else "int32"


def value_and_grad(fn, variables, all_variables):
    """Runs ``fn() -> (loss, aux)`` and differentiates ``loss`` with respect to ``variables``.

    Args:
        fn: a function of no arguments returning a scalar loss and any
            auxiliary outputs (reported values, logits).
        variables: the ``keras.Variable`` list to differentiate against.
        all_variables: every variable ``fn`` may read, or a function returning
            them (only JAX needs them: it maps them all in its scope); writes
            ``fn`` makes to them are kept.

    Returns:
        ``(loss, aux, grads)`` with ``grads`` aligned with ``variables``
        (``None`` where ``loss`` does not depend on a variable).
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = fn()
        return loss, aux, tape.gradient(loss, variables)
    if name == "jax":
        import jax

        traced_ids = {id(v) for v in variables}
        others = [v for v in _unique(_resolve(all_variables)) if id(v) not in traced_ids]
        pure = _jax_pure(fn, variables, others)

        def loss_fn(traced_values, other_values):
            (loss, aux), updates = pure(traced_values, other_values)
            return loss, (aux, updates)

        (loss, (aux, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            [v.value for v in variables], [v.value for v in others]
        )
        for v, new in zip(others, updates):
            v.assign(new)
        return loss, aux, grads
    if name == "torch":
        import torch

        loss, aux = fn()
        params = [v.value for v in variables]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return loss, aux, list(grads)
    raise NotImplementedError(f"keras_gan supports the jax, tensorflow and torch backends, not {name!r}.")


def input_gradient(fn, x, all_variables):
    """The gradient of the scalar ``fn(x)`` with respect to the tensor ``x``, itself differentiable.

    Used by the gradient penalties: the outer :func:`value_and_grad` then
    differentiates the gradient's norm with respect to the discriminator's
    weights (a second-order term).

    Args:
        fn: ``fn(x) -> scalar``.
        x: a float tensor.
        all_variables: every variable ``fn`` reads, or a function returning them (JAX).

    Returns:
        A tensor of ``x``'s shape.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            out = fn(x)
        return tape.gradient(out, x)
    if name == "jax":
        import jax

        variables = _unique(_resolve(all_variables))
        pure = _jax_pure(fn, [], variables)
        grad, updates = jax.grad(lambda x_, values: pure([], values, x_), has_aux=True)(
            x, [v.value for v in variables]
        )
        for v, new in zip(variables, updates):
            v.assign(new)
        return grad
    if name == "torch":
        import torch

        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
        return grad
    raise NotImplementedError(f"keras_gan supports the jax, tensorflow and torch backends, not {name!r}.")


def no_grad():
    """A context in which updates are not recorded for autodiff (``torch.no_grad`` on torch)."""
    if backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


@contextlib.contextmanager
def inference():
    """A context for calls whose results are never differentiated (sampling): :func:`no_grad`, and on
    TensorFlow each convolution runs its chosen forward form without a custom gradient, so the backward
    forms of a new batch size are neither chosen nor timed (the training run's first sample grid, 64 images,
    timed four backward shapes it never used)."""
    with no_grad():
        if backend() == "tensorflow":
            from keras_gan.kernels import _tf as _conv

            with _conv._forward_only():
                yield
        else:
            yield


# ---------------------------------------------------------------- metrics
def update_mean(metric, values):
    """``metric.update_state(values)`` for a ``keras.metrics.Mean``; on torch, in place by two torch ops.

    Keras' ``Mean.update_state`` on torch is about a dozen ``keras.ops`` calls (casts, a sum, two
    ``assign_add``), each converting its arguments again: 0.5 ms of the digits step for four trackers. The
    torch path adds the same sum and count to the variables' own tensors, where that is what Keras would do
    (an exact ``Mean``, a float32 tensor of rank 0 or 1, no sample weight, outside a stateless scope).

    Args:
        metric: a ``keras.metrics.Mean``.
        values: a scalar or a ``[n]`` tensor.
    """
    if backend() == "torch" and type(metric) is keras.metrics.Mean and not keras.src.backend.in_stateless_scope():
        import torch

        if isinstance(values, torch.Tensor) and values.dim() <= 1 and metric.dtype == "float32":
            with torch.no_grad():
                v = values.detach()
                v = v if v.dtype == torch.float32 else v.float()
                metric.total._value.add_(v.sum())
                metric.count._value.add_(float(v.shape[0]) if v.dim() else 1.0)
            return
    metric.update_state(values)


def mean_result(metric):
    """``metric.result()`` for a ``keras.metrics.Mean``; on torch, Keras' ``divide_no_nan`` by torch ops directly."""
    if backend() == "torch" and type(metric) is keras.metrics.Mean and not keras.src.backend.in_stateless_scope():
        import torch

        total, count = metric.total._value, metric.count._value
        if total.dtype == torch.float32 and count.dtype == torch.float32:
            safe = torch.where(count == 0, torch.ones_like(count), count)
            return torch.where(count == 0, 0, torch.divide(total, safe))
    return metric.result()


def moving_average_update(averages, sources, decay):
    """``average <- decay * average + (1 - decay) * source`` for each pair of variables (the generator's EMA).

    On torch, :func:`keras_gan.kernels._torch.moving_average` (two multi-tensor ops in place outside a
    stateless scope, where Keras' ``assign`` of ``decay * a + (1 - decay) * w`` is five ``keras.ops`` calls a
    variable: 0.8 ms of a digits step for the generator's twelve weights); elsewhere those ``assign`` calls.

    Args:
        averages: the ``keras.Variable`` list to update.
        sources: the variables they follow, in the same order.
        decay: the factor on the old average.
    """
    if backend() == "torch":
        from keras_gan.kernels import _torch as _torch_ops

        _torch_ops.moving_average(averages, sources, decay, keras.src.backend.in_stateless_scope())
        return
    for a, w in zip(averages, sources):
        a.assign(decay * a + (1.0 - decay) * w)


def copy_values(targets, sources):
    """``target.assign(source)`` for each pair; on torch outside a stateless scope, ``copy_`` into the tensors."""
    if backend() == "torch" and not keras.src.backend.in_stateless_scope():
        import torch

        with torch.no_grad():
            for t, s in zip(targets, sources):
                t._value.copy_(s._value)
        return
    for t, s in zip(targets, sources):
        t.assign(keras.ops.copy(s))


# ------------------------------------------------------------------ noise
def stateless_uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
    """Uniform random numbers in ``[minval, maxval)``, a pure function of ``seed``.

    TensorFlow: Philox (``tf.random.stateless_uniform(alg="philox")``, the same
    numbers on CPU, under XLA and in exported graphs); JAX: threefry keyed by
    the seed; torch: a ``torch.Generator`` seeded by it. The backends draw
    different numbers from the same seed.

    Args:
        shape: output shape (ints or scalar tensors).
        seed: integer tensor of shape ``[2]``.
        minval, maxval: the range.
        dtype: ``"float32"`` or ``"int32"`` (then ``maxval`` is exclusive).

    Returns:
        A tensor of ``shape``.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        if isinstance(shape, (list, tuple)):
            shape = tf.stack([tf.cast(d, tf.int32) for d in shape]) if _has_tensor(shape) else list(shape)
        return tf.random.stateless_uniform(
            shape, tf.cast(seed, tf.int64), minval=minval, maxval=maxval, dtype=dtype, alg="philox"
        )
    if name == "jax":
        import jax
        import jax.numpy as jnp

        seed = jnp.asarray(seed).astype(jnp.uint32)
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(0), seed[0]), seed[1])
        shape = tuple(int(s) for s in shape)
        if dtype == "int32":
            return jax.random.randint(key, shape, int(minval), int(maxval), dtype=jnp.int32)
        return jax.random.uniform(key, shape, dtype=jnp.float32, minval=minval, maxval=maxval)
    if name == "torch":
        import torch

        from keras.src.backend.torch.core import get_device

        # a torch tensor's .tolist() skips keras.ops' conversion; anything else goes through numpy
        s = seed if isinstance(seed, torch.Tensor) else keras.ops.convert_to_numpy(seed)
        s = [int(v) for v in s.reshape(-1).tolist()]
        generator = torch.Generator(device=get_device())
        generator.manual_seed((s[0] * 0x9E3779B97F4A7C15 + s[1]) % (1 << 63))
        shape = tuple(int(v) for v in shape)
        if dtype == "int32":
            return torch.randint(int(minval), int(maxval), shape, generator=generator, device=get_device(),
                                 dtype=torch.int32)
        u = torch.rand(shape, generator=generator, device=get_device(), dtype=torch.float32)
        return u * (maxval - minval) + minval
    raise NotImplementedError(f"keras_gan supports the jax, tensorflow and torch backends, not {name!r}.")


def seed_pair(seed, counter):
    """``[seed, counter]``: a stateless draw's seed, an integer tensor of shape ``[2]`` in ``counter``'s dtype.

    Example:

    >>> tuple(seed_pair(7, keras.ops.convert_to_tensor(3)).shape)
    (2,)
    """
    if backend() == "torch":  # the same stack, without keras.ops' conversions (a tenth of a step's noise draw)
        import torch

        counter = torch.as_tensor(counter).reshape(())
        return torch.stack([torch.full((), int(seed), dtype=counter.dtype, device=counter.device), counter])
    return keras.ops.stack([keras.ops.cast(int(seed), counter.dtype), counter])


def ndtri(u):
    """The inverse of the standard normal CDF (``keras.ops`` has none)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.math.ndtri(u)
    if name == "jax":
        import jax

        return jax.scipy.special.ndtri(u)
    import torch

    return torch.special.ndtri(u)


def _has_tensor(shape):
    return any(not isinstance(s, int) for s in shape)


def replica_context():
    """``(num_replicas, replica_id)`` of the running step.

    Under ``tf.distribute`` each replica runs the step on its shard; on JAX
    (``keras.distribution``) the step is one SPMD program over the global
    batch, and torch runs one process per device: both are ``(1, 0)`` here.
    """
    if backend() == "tensorflow":
        import tensorflow as tf

        ctx = tf.distribute.get_replica_context()
        if ctx is not None:
            return ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group
        return 1, 0
    return 1, 0


def num_replicas_in_sync():
    """The number of replicas a loss is averaged over by the gradient all-reduce (1 off tf.distribute)."""
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1


def replica_sum(x):
    """``x`` summed over the replicas of a ``tf.distribute`` step; ``x`` itself elsewhere (one device, JAX, torch)."""
    if backend() == "tensorflow":
        import tensorflow as tf

        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            return ctx.all_reduce("sum", x)
    return x


def check_batch(real, k):
    """``real``, checked to hold a multiple of ``k`` rows (statically, or at run time on TensorFlow)."""
    static = real.shape[0]
    if static is not None:
        if static % k != 0:
            raise ValueError(
                f"Each batch must hold d_steps * M samples; got a batch of {static} "
                f"with d_steps={k}. Batch the dataset by a multiple of d_steps."
            )
        return real
    import tensorflow as tf  # only TensorFlow graphs have unknown batch sizes

    check = tf.debugging.assert_equal(
        tf.shape(real)[0] % k, 0,
        message=f"Each batch must hold d_steps * M samples with d_steps={k}; "
        "batch the dataset by a multiple of d_steps (drop_remainder=True).",
    )
    with tf.control_dependencies([check]):
        return tf.identity(real)
